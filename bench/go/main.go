// Command bench_go is the Go peer of gosync's benchmark: the workloads of
// bench/bench_mutex.c, bench/bench_sync.c and bench/bench_value.c, written with Go's
// own sync and sync/atomic packages (and a buffered channel as the semaphore: Go's
// sync has none), printing the same CSV rows "impl,workload,threads,metric,value".
//
// One binary, several names (bench/bench.mk links them): the basename of argv[0],
// bench_<set>_<impl>, selects the command line it answers and the name it prints,
// so bench/run.sh calls it like the C binaries:
//
//	bench_mutex_go uncontended|uncontended_mt ITERS REPS | contended THREADS MS |
//	               lockskew MS [SAMPLES_FILE] | counter THREADS ITERS | privwork
//	bench_sync_go  rwunc ITERS REPS | rw THREADS PERMILLE MS | pingpong MS |
//	               broadcast N REPS | wgcycle MS | once ITERS REPS |
//	               semunc ITERS REPS | semcont THREADS CAP MS
//	bench_value_go uncontended ITERS REPS | readers N MS | store ITERS REPS
//	               (go: atomic.Pointer; bench_value_go_value: atomic.Value;
//	               bench_value_go_rwmutex: a pointer under a sync.RWMutex)
//
// Under any other name the first argument picks the set (and, after a colon, the
// implementation): bench_go mutex contended 4 300, bench_go value:go_value readers 2 200.
//
// "Threads" are goroutines, GOMAXPROCS is the number of CPUs the process may use
// (runtime.NumCPU reads the affinity mask), whatever GOMAXPROCS says in the
// environment. Every workload checks its counters and exits 1 on a mismatch.
// Standard library only.
package main

import (
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	_ "unsafe" // go:linkname
)

// nanotime is the runtime's monotonic clock (one vDSO clock_gettime), cheaper than
// time.Now, which reads the wall clock too. It stands in for the C side's rdtsc.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

var (
	impl = "go" // the name printed in the rows: "go", or for value "go_value" / "go_rwmutex"
	set  string // "mutex", "sync" or "value"
)

func die(what string) {
	fmt.Fprintf(os.Stderr, "bench_%s %s: %s\n", set, impl, what)
	os.Exit(1)
}

// row prints one CSV row; bench_value's rows use %.3f, the others %.6g, as in C.
func row(workload string, threads int, metric string, v float64) {
	if set == "value" {
		fmt.Printf("%s,%s,%d,%s,%.3f\n", impl, workload, threads, metric, v)
	} else {
		fmt.Printf("%s,%s,%d,%s,%s\n", impl, workload, threads, metric, strconv.FormatFloat(v, 'g', 6, 64))
	}
}

// ---- shared state: every item alone on 128-byte lines ----------------------------

type paddedMutex struct {
	_  [128]byte
	mu sync.Mutex
	_  [128]byte
}

type paddedRW struct {
	_  [128]byte
	mu sync.RWMutex
	_  [128]byte
}

type line struct {
	v uint64
	_ [120]byte
}

const nlines = 4

var (
	theLock paddedMutex
	theRW   paddedRW
	_       [128]byte
	shared  [nlines]line
	stop    struct {
		_ [128]byte
		atomic.Int32
		_ [128]byte
	}
)

func stopping() bool { return stop.Load() != 0 }

// starter: n goroutines call ready(); the caller waits for all, reads the clock,
// and releases them together.
type starter struct {
	wg  sync.WaitGroup
	go_ chan struct{}
}

func newStarter(n int) *starter {
	s := &starter{go_: make(chan struct{})}
	s.wg.Add(n)
	return s
}
func (s *starter) ready()   { s.wg.Done(); <-s.go_ }
func (s *starter) waitAll() { s.wg.Wait() }
func (s *starter) release() { close(s.go_) }

func contextSwitches() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Nvcsw + ru.Nivcsw)
}

// ---- log-linear histogram of ns (16 sub-buckets per power of two), as in C ---------

const (
	hsub     = 16
	hbuckets = 48 * hsub
)

type hist struct {
	n          [hbuckets]uint64
	count, max uint64
}

func hbucket(v uint64) int {
	if v < hsub {
		return int(v)
	}
	msb := bits.Len64(v) - 1
	b := (msb-3)*hsub + int((v>>(msb-4))&(hsub-1))
	if b >= hbuckets {
		b = hbuckets - 1
	}
	return b
}

func hvalue(b int) float64 {
	if b < hsub {
		return float64(b)
	}
	e, m := b/hsub+3, b%hsub
	lo := float64(uint64(hsub+m) << (e - 4))
	return lo + float64(uint64(1)<<(e-4))/2
}

func (h *hist) add(v uint64) {
	h.n[hbucket(v)]++
	h.count++
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	for b := range h.n {
		h.n[b] += o.n[b]
	}
	h.count += o.count
	if o.max > h.max {
		h.max = o.max
	}
}

func (h *hist) percentile(p float64) float64 {
	rank := uint64(p*float64(h.count) + 0.999999)
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for b := 0; b < hbuckets; b++ {
		seen += h.n[b]
		if seen >= rank {
			if v := hvalue(b); v < float64(h.max) {
				return v
			}
			return float64(h.max)
		}
	}
	return float64(h.max)
}

// privateWork: the ~100 ns of dependent multiply-adds outside the lock (92, as in C).
func privateWork(x uint64) uint64 {
	for i := 0; i < 92; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// goMultithreaded mirrors the C side's "mt" setup; a Go process always has several
// threads, so this only keeps the sequence of events the same.
func goMultithreaded() {
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
}

// ---- (a) uncontended -----------------------------------------------------------------

func runUncontended(iters int64, reps int, mt bool) {
	if mt {
		goMultithreaded()
	}
	mu := &theLock.mu
	best := 1e30
	for r := 0; r < reps; r++ {
		t0 := nanotime()
		for i := int64(0); i < iters; i++ {
			mu.Lock()
			shared[0].v++
			mu.Unlock()
		}
		if ns := float64(nanotime()-t0) / float64(iters); ns < best {
			best = ns
		}
	}
	if shared[0].v != uint64(iters)*uint64(reps) {
		die("counter mismatch")
	}
	w := "uncontended"
	if mt {
		w = "uncontended_mt"
	}
	row(w, 1, "ns_per_pair", best)
}

// ---- (b) contended -------------------------------------------------------------------

const sampleEvery = 16

type worker struct {
	_      [128]byte
	ops    uint64
	writes uint64
	sink   uint64
	bad    bool
	h, rh  hist
	_      [128]byte
}

func runContended(n int, ms int64) {
	w := make([]worker, n)
	st := newStarter(n)
	var done sync.WaitGroup
	done.Add(n)
	mu := &theLock.mu
	csw0 := contextSwitches()
	for i := 0; i < n; i++ {
		go func(w *worker, seed uint64) {
			defer done.Done()
			x, ops := seed, uint64(0)
			st.ready()
			for !stopping() {
				sample := ops%sampleEvery == 0
				var t0, lat int64
				if sample {
					t0 = nanotime()
				}
				mu.Lock()
				if sample {
					lat = nanotime() - t0
				}
				for k := 0; k < nlines; k++ {
					shared[k].v++
				}
				mu.Unlock()
				if sample {
					w.h.add(uint64(lat))
				}
				ops++
				x = privateWork(x)
			}
			w.ops, w.sink = ops, x
		}(&w[i], uint64(i)+1)
	}
	st.waitAll()
	t0 := nanotime()
	st.release()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	stop.Store(1)
	t1 := nanotime()
	done.Wait()

	var total, mx uint64
	mn := ^uint64(0)
	var all hist
	for i := range w {
		total += w[i].ops
		if w[i].ops < mn {
			mn = w[i].ops
		}
		if w[i].ops > mx {
			mx = w[i].ops
		}
		all.merge(&w[i].h)
	}
	csw := contextSwitches() - csw0
	for k := 0; k < nlines; k++ {
		if shared[k].v != total {
			die("counter mismatch")
		}
	}
	fair, cpk := 0.0, 0.0
	if mx > 0 {
		fair = float64(mn) / float64(mx)
	}
	if total > 0 {
		cpk = csw * 1000 / float64(total)
	}
	row("contended", n, "mops", float64(total)/(float64(t1-t0)/1e3))
	row("contended", n, "fairness", fair)
	row("contended", n, "lat_p50_ns", all.percentile(0.50))
	row("contended", n, "lat_p99_ns", all.percentile(0.99))
	row("contended", n, "lat_max_ns", float64(all.max))
	row("contended", n, "csw_per_kop", cpk)
}

func runPrivwork() {
	x, iters, best := uint64(1), 2000000, 1e30
	for r := 0; r < 5; r++ {
		t0 := nanotime()
		for i := 0; i < iters; i++ {
			x = privateWork(x)
		}
		if ns := float64(nanotime()-t0) / float64(iters); ns < best {
			best = ns
		}
	}
	row("privwork", 1, "ns", best+float64(x&1)*1e-9)
}

// ---- (c) lockskew ----------------------------------------------------------------------

const (
	holdNs      = 100000  // the holder keeps the lock 100 us, busy
	wantEveryNs = 1000000 // the other goroutine wants it every 1 ms
)

// samples: "" or a file that gets every wait in ns, one per line, in order.
func runLockskew(ms int64, samples string) {
	mu := &theLock.mu
	waits := make([]int64, 0, ms*2+16)
	var holderOps uint64
	st := newStarter(2)
	var done sync.WaitGroup
	done.Add(2)
	go func() { // holder
		defer done.Done()
		ops := uint64(0)
		st.ready()
		for !stopping() {
			mu.Lock()
			until := nanotime() + holdNs
			for nanotime() < until {
			}
			shared[0].v++
			mu.Unlock()
			ops++
		}
		holderOps = ops
	}()
	go func() { // wanter
		defer done.Done()
		st.ready()
		for !stopping() {
			time.Sleep(wantEveryNs)
			t0 := nanotime()
			mu.Lock()
			t1 := nanotime()
			shared[0].v++
			mu.Unlock()
			if len(waits) < cap(waits) {
				waits = append(waits, t1-t0)
			}
		}
	}()
	st.waitAll()
	st.release()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	stop.Store(1)
	done.Wait()

	if shared[0].v != holderOps+uint64(len(waits)) {
		die("counter mismatch")
	}
	if samples != "" {
		var b strings.Builder
		for _, w := range waits {
			b.WriteString(strconv.FormatInt(w, 10))
			b.WriteByte('\n')
		}
		if err := os.WriteFile(samples, []byte(b.String()), 0o644); err != nil {
			die("cannot write the samples file")
		}
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	var p50, p99, mx float64
	if n := len(waits); n > 0 {
		p50 = float64(waits[(n-1)/2])
		p99 = float64(waits[int(float64(n-1)*0.99+0.5)])
		mx = float64(waits[n-1])
	}
	row("lockskew", 2, "acquisitions", float64(len(waits)))
	row("lockskew", 2, "wait_p50_us", p50/1e3)
	row("lockskew", 2, "wait_p99_us", p99/1e3)
	row("lockskew", 2, "wait_max_us", mx/1e3)
	row("lockskew", 2, "holder_ops", float64(holderOps))
}

// ---- (d) counter -----------------------------------------------------------------------

func runCounter(n int, iters int64) {
	mu := &theLock.mu
	st := newStarter(n)
	var done sync.WaitGroup
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			st.ready()
			for j := int64(0); j < iters; j++ {
				mu.Lock()
				shared[0].v++
				mu.Unlock()
			}
		}()
	}
	st.waitAll()
	t0 := nanotime()
	st.release()
	done.Wait()
	t1 := nanotime()
	if shared[0].v != uint64(n)*uint64(iters) {
		die("counter mismatch")
	}
	row("counter", n, "wall_ms", float64(t1-t0)/1e6)
}

// ---- sync: RWMutex ---------------------------------------------------------------------

func runRWUnc(iters int64, reps int) {
	goMultithreaded()
	rw := &theRW.mu
	shared[0].v = 1
	var sum uint64
	best := 1e30
	for r := 0; r < reps; r++ {
		t0 := nanotime()
		for i := int64(0); i < iters; i++ {
			rw.RLock()
			sum += shared[0].v
			rw.RUnlock()
		}
		if ns := float64(nanotime()-t0) / float64(iters); ns < best {
			best = ns
		}
	}
	rw.Lock() // every read lock was given back: a writer gets in (the watchdog ends a hang)
	rw.Unlock()
	if sum != uint64(iters)*uint64(reps) {
		die("read sum mismatch")
	}
	row("rwmutex_uncontended", 1, "ns_per_pair", best)
}

func xorshift(s *uint64) uint64 {
	x := *s
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	*s = x
	return x
}

func runRW(n, permille int, ms int64) {
	rw := &theRW.mu
	w := make([]worker, n)
	st := newStarter(n)
	var done sync.WaitGroup
	done.Add(n)
	csw0 := contextSwitches()
	for i := 0; i < n; i++ {
		go func(w *worker, seed uint64) {
			defer done.Done()
			x, ops, writes := seed, uint64(0), uint64(0)
			st.ready()
			for !stopping() {
				if xorshift(&seed)%1000 < uint64(permille) {
					t0 := nanotime()
					rw.Lock()
					t1 := nanotime()
					for k := 0; k < 4; k++ {
						shared[k].v++
					}
					rw.Unlock()
					w.h.add(uint64(t1 - t0)) // writer wait: every write
					writes++
				} else {
					sample := ops%sampleEvery == 0
					var t0, t1 int64
					if sample {
						t0 = nanotime()
					}
					rw.RLock()
					if sample {
						t1 = nanotime()
					}
					v0 := shared[0].v
					for k := 1; k < 4; k++ {
						if shared[k].v != v0 {
							w.bad = true // a reader overlapped a writer
						}
					}
					rw.RUnlock()
					if sample {
						w.rh.add(uint64(t1 - t0))
					}
				}
				ops++
				x = privateWork(x)
			}
			w.ops, w.writes, w.sink = ops, writes, x
		}(&w[i], 0x9E3779B97F4A7C15^(uint64(i+1)*0x100000001b3))
	}
	st.waitAll()
	t0 := nanotime()
	st.release()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	stop.Store(1)
	t1 := nanotime()
	done.Wait()

	var total, writes, mx uint64
	mn := ^uint64(0)
	var rh, wh hist
	for i := range w {
		if w[i].bad {
			die("rwmutex: a reader saw a half-done write")
		}
		total += w[i].ops
		writes += w[i].writes
		if w[i].ops < mn {
			mn = w[i].ops
		}
		if w[i].ops > mx {
			mx = w[i].ops
		}
		rh.merge(&w[i].rh)
		wh.merge(&w[i].h)
	}
	csw := contextSwitches() - csw0
	for k := 0; k < 4; k++ {
		if shared[k].v != writes {
			die("rwmutex: write counter mismatch (two writers at once)")
		}
	}
	wl := "rwmutex"
	switch permille {
	case 10:
		wl = "rwmutex_1pct"
	case 100:
		wl = "rwmutex_10pct"
	}
	share, fair, cpk := 0.0, 0.0, 0.0
	if total > 0 {
		share = float64(writes) / float64(total)
		cpk = csw * 1000 / float64(total)
	}
	if mx > 0 {
		fair = float64(mn) / float64(mx)
	}
	row(wl, n, "mops", float64(total)/(float64(t1-t0)/1e3))
	row(wl, n, "write_share", share)
	row(wl, n, "fairness", fair)
	row(wl, n, "rd_wait_p99_us", rh.percentile(0.99)/1e3)
	row(wl, n, "wr_wait_p50_us", wh.percentile(0.50)/1e3)
	row(wl, n, "wr_wait_p99_us", wh.percentile(0.99)/1e3)
	row(wl, n, "wr_wait_max_us", float64(wh.max)/1e3)
	row(wl, n, "csw_per_kop", cpk)
}

// ---- sync: Once ------------------------------------------------------------------------

var (
	theOnce   sync.Once
	onceValue uint64
	onceRuns  int
)

func onceFn() { onceRuns++; onceValue = 3 }

func runOnce(iters int64, reps int) {
	goMultithreaded()
	theOnce.Do(onceFn) // the first call runs the function; not timed
	var sum uint64
	best := 1e30
	for r := 0; r < reps; r++ {
		t0 := nanotime()
		for i := int64(0); i < iters; i++ {
			theOnce.Do(onceFn)
			sum += onceValue
		}
		if ns := float64(nanotime()-t0) / float64(iters); ns < best {
			best = ns
		}
	}
	if onceRuns != 1 || sum != 3*uint64(iters)*uint64(reps) {
		die("once: the function ran more than once, or its write was not seen")
	}
	row("once_fast", 1, "ns_per_call", best)
}

// ---- sync: Cond -------------------------------------------------------------------------

// The mutex the Cond workloads share, and one sync.Cond per side (ping-pong) or one
// for all (broadcast), as in C.
var (
	cmu struct {
		_  [128]byte
		mu sync.Mutex
		_  [128]byte
	}
	stopped bool // under cmu.mu
)

// Ping-pong: side s waits on its own Cond until turn == s, passes the turn and
// signals the other side (mutex held). token counts handoffs and must alternate.
func runPingpong(ms int64) {
	mu := &cmu.mu
	cv := [2]*sync.Cond{sync.NewCond(mu), sync.NewCond(mu)}
	var turn int
	var token uint64
	var count [2]uint64
	bad := false
	st := newStarter(2)
	var done sync.WaitGroup
	done.Add(2)
	for s := 0; s < 2; s++ {
		go func(s int) {
			defer done.Done()
			st.ready()
			mu.Lock()
			for {
				for turn != s && !stopped {
					cv[s].Wait()
				}
				if stopped {
					break
				}
				if token%2 != uint64(s) {
					bad = true
				}
				token++
				count[s]++
				turn = 1 - s
				cv[1-s].Signal()
			}
			mu.Unlock()
		}(s)
	}
	st.waitAll()
	t0 := nanotime()
	st.release()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	mu.Lock()
	stopped = true
	trips := count[0]
	t1 := nanotime()
	cv[0].Broadcast()
	cv[1].Broadcast()
	mu.Unlock()
	done.Wait()
	if bad || token != count[0]+count[1] || count[0]-count[1] > 1 {
		die("cond ping-pong: turns did not alternate")
	}
	if trips == 0 {
		die("cond ping-pong: no round trip")
	}
	row("cond_pingpong", 2, "ns_per_roundtrip", float64(t1-t0)/float64(trips))
}

// Broadcast to n waiters blocked in Wait, as in C: once all n wait (and 300 us more,
// so they are parked), main bumps gen and broadcasts with the mutex held; each
// waiter, back from Wait and holding the mutex, counts itself out and stamps the
// clock. Sample: the last stamp (and the first) minus the broadcast's.
func runBroadcast(n int, reps int64) {
	mu := &cmu.mu
	cv := sync.NewCond(mu)
	var gen uint64
	var waiting, passed int
	var tb, first, last int64
	seen := make([]int64, n)
	bad := false
	all := make([]int64, reps)
	firsts := make([]int64, reps)
	st := newStarter(n)
	var done sync.WaitGroup
	done.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer done.Done()
			st.ready()
			mu.Lock()
			for {
				g := gen
				waiting++
				for gen == g {
					cv.Wait()
				}
				if gen != g+1 {
					bad = true // a generation went by unseen
				}
				if stopped {
					break
				}
				now := nanotime()
				passed++
				if passed == 1 {
					first = now
				}
				if passed == n {
					last = now
				}
				seen[i]++
			}
			mu.Unlock()
		}(i)
	}
	st.waitAll()
	st.release()
	for r := int64(0); r <= reps; r++ {
		for { // until all n wait again
			mu.Lock()
			w, p, f, l := waiting, passed, first, last
			mu.Unlock()
			if w == n {
				if r > 0 {
					if p != n {
						die("cond broadcast: not every waiter passed")
					}
					all[r-1] = l - tb
					firsts[r-1] = f - tb
				}
				break
			}
			time.Sleep(20 * time.Microsecond)
		}
		time.Sleep(300 * time.Microsecond)
		mu.Lock()
		waiting, passed = 0, 0
		if r == reps {
			stopped = true
		}
		gen++
		tb = nanotime()
		cv.Broadcast()
		mu.Unlock()
	}
	done.Wait()
	for i := range seen {
		if seen[i] != reps {
			die("cond broadcast: a waiter missed a broadcast")
		}
	}
	if bad {
		die("cond broadcast: a generation went unseen")
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	pct := func(v []int64, p float64) float64 {
		if len(v) == 0 {
			return 0
		}
		return float64(v[int(float64(len(v)-1)*p+0.5)])
	}
	row("cond_broadcast", n, "all_p50_us", pct(all, 0.5)/1e3)
	row("cond_broadcast", n, "all_p90_us", pct(all, 0.9)/1e3)
	row("cond_broadcast", n, "first_p50_us", pct(firsts, 0.5)/1e3)
}

// ---- sync: WaitGroup fork/join cycle -------------------------------------------------------

// As in C: per cycle k main arms the join (Add 4), opens gate[k%2] (Done on a count
// of 1), waits on the join, checks the stamps and re-arms the gate (Add 1) - after
// every Wait on it returned, as sync.WaitGroup's reuse rule asks.
const wgWorkers = 4

type paddedWG struct {
	_  [128]byte
	wg sync.WaitGroup
	_  [128]byte
}

func runWGCycle(ms int64) {
	var gate [2]paddedWG
	var join paddedWG
	var cycle, last atomic.Uint64
	var stamp [wgWorkers]line
	var wbad atomic.Bool
	gate[0].wg.Add(1)
	gate[1].wg.Add(1)
	st := newStarter(wgWorkers)
	var done sync.WaitGroup
	done.Add(wgWorkers)
	for i := 0; i < wgWorkers; i++ {
		go func(i int) {
			defer done.Done()
			st.ready()
			for k := uint64(0); ; k++ {
				gate[k&1].wg.Wait()
				if cycle.Load() != k {
					wbad.Store(true) // passed the gate before it was opened
				}
				atomic.StoreUint64(&stamp[i].v, k)
				stop := last.Load() != 0
				join.wg.Done()
				if stop {
					return
				}
			}
		}(i)
	}
	st.waitAll()
	st.release()
	t0 := nanotime()
	deadline := t0 + ms*1000000
	var k uint64
	for ; ; k++ {
		stop := k%16 == 0 && nanotime() >= deadline
		if stop {
			last.Store(1)
		}
		cycle.Store(k)
		join.wg.Add(wgWorkers)
		gate[k&1].wg.Done()
		join.wg.Wait()
		for i := range stamp {
			if atomic.LoadUint64(&stamp[i].v) != k {
				die("waitgroup: wait returned before every worker was done")
			}
		}
		gate[k&1].wg.Add(1)
		if stop {
			break
		}
	}
	t1 := nanotime()
	done.Wait()
	if wbad.Load() {
		die("waitgroup: a worker passed a closed gate")
	}
	row("waitgroup_cycle", wgWorkers, "ns_per_cycle", float64(t1-t0)/float64(k+1))
}

// ---- sync: semaphore = a buffered channel (Go's sync has none) ---------------------------
// acquire = send into a channel of capacity CAP, release = receive: what Go code
// uses for "at most CAP at once".

func runSemUnc(iters int64, reps int) {
	goMultithreaded()
	sem := make(chan struct{}, 1)
	best := 1e30
	for r := 0; r < reps; r++ {
		t0 := nanotime()
		for i := int64(0); i < iters; i++ {
			sem <- struct{}{}
			shared[0].v++
			<-sem
		}
		if ns := float64(nanotime()-t0) / float64(iters); ns < best {
			best = ns
		}
	}
	if shared[0].v != uint64(iters)*uint64(reps) || len(sem) != 0 {
		die("semaphore: counter or units mismatch")
	}
	row("sem_uncontended", 1, "ns_per_pair", best)
}

func runSemCont(n, capacity int, ms int64) {
	sem := make(chan struct{}, capacity)
	var inside struct {
		_ [128]byte
		atomic.Int32
		_ [128]byte
	}
	w := make([]worker, n)
	st := newStarter(n)
	var done sync.WaitGroup
	done.Add(n)
	csw0 := contextSwitches()
	for i := 0; i < n; i++ {
		go func(w *worker, seed uint64) {
			defer done.Done()
			x, ops := seed, uint64(0)
			st.ready()
			for !stopping() {
				sample := ops%sampleEvery == 0
				var t0, t1 int64
				if sample {
					t0 = nanotime()
				}
				sem <- struct{}{}
				if sample {
					t1 = nanotime()
				}
				if inside.Add(1) > int32(capacity) {
					w.bad = true
				}
				x = privateWork(x) // ~100 ns holding a unit
				inside.Add(-1)
				<-sem
				if sample {
					w.h.add(uint64(t1 - t0))
				}
				ops++
				x = privateWork(x)
			}
			w.ops, w.sink = ops, x
		}(&w[i], uint64(i)+1)
	}
	st.waitAll()
	t0 := nanotime()
	st.release()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	stop.Store(1)
	t1 := nanotime()
	done.Wait()
	var total, mx uint64
	mn := ^uint64(0)
	var h hist
	for i := range w {
		if w[i].bad {
			die("semaphore: more holders than units")
		}
		total += w[i].ops
		if w[i].ops < mn {
			mn = w[i].ops
		}
		if w[i].ops > mx {
			mx = w[i].ops
		}
		h.merge(&w[i].h)
	}
	csw := contextSwitches() - csw0
	if len(sem) != 0 {
		die("semaphore: units lost or gained")
	}
	fair, cpk := 0.0, 0.0
	if mx > 0 {
		fair = float64(mn) / float64(mx)
	}
	if total > 0 {
		cpk = csw * 1000 / float64(total)
	}
	row("sem_contended", n, "mops", float64(total)/(float64(t1-t0)/1e3))
	row("sem_contended", n, "fairness", fair)
	row("sem_contended", n, "acq_p50_ns", h.percentile(0.50))
	row("sem_contended", n, "acq_p99_us", h.percentile(0.99)/1e3)
	row("sem_contended", n, "acq_max_us", float64(h.max)/1e3)
	row("sem_contended", n, "csw_per_kop", cpk)
}

// ---- value: an immutable configuration {a, b = a + 1} behind one of three ----------------
//   go          atomic.Pointer[obj]: a plain pointer load;
//   go_value    atomic.Value holding a *obj: Load plus the type assertion;
//   go_rwmutex  a plain pointer read under sync.RWMutex's RLock, swapped under Lock.
// The writer publishes a new object per store; the garbage collector reclaims the old
// ones (Go's counterpart of call_rcu), and its cost lands where it lands.

type obj struct{ a, b int64 }

var (
	cfg   atomic.Pointer[obj]
	cfgV  atomic.Value
	cfgRW struct {
		_  [128]byte
		mu sync.RWMutex
		p  *obj
		_  [128]byte
	}
)

func newObj(a int64) *obj { return &obj{a: a, b: a + 1} }

func storeObj(o *obj) {
	switch impl {
	case "go_value":
		cfgV.Store(o)
	case "go_rwmutex":
		cfgRW.mu.Lock()
		cfgRW.p = o
		cfgRW.mu.Unlock()
	default:
		cfg.Store(o)
	}
}

// reads does n reads (load, use) of the current implementation, adding every a to
// *sum; false if an object was torn. One switch per call, outside the loops, so each
// loop's read is inlined as a Go user's would be.
func reads(n int64, sum *int64) bool {
	ok := true
	s := *sum
	switch impl {
	case "go_value":
		for i := int64(0); i < n; i++ {
			o := cfgV.Load().(*obj)
			a, b := o.a, o.b
			s += a
			ok = ok && b == a+1
		}
	case "go_rwmutex":
		for i := int64(0); i < n; i++ {
			cfgRW.mu.RLock()
			o := cfgRW.p
			a, b := o.a, o.b
			cfgRW.mu.RUnlock()
			s += a
			ok = ok && b == a+1
		}
	default:
		for i := int64(0); i < n; i++ {
			o := cfg.Load()
			a, b := o.a, o.b
			s += a
			ok = ok && b == a+1
		}
	}
	*sum = s
	return ok
}

var sink int64

func valueUncontended(iters int64, reps int) {
	best := 1e30
	var sum int64
	for r := 0; r < reps; r++ {
		t0 := nanotime()
		ok := reads(iters, &sum)
		ns := float64(nanotime()-t0) / float64(iters)
		if !ok {
			die("torn read")
		}
		if ns < best {
			best = ns
		}
	}
	sink += sum
	row("uncontended", 1, "ns_per_read", best)
}

func valueReaders(n int, ms int64) {
	type reader struct {
		_         [128]byte
		reads, ns int64
		bad       bool
		_         [128]byte
	}
	r := make([]reader, n)
	var done sync.WaitGroup
	var stores int64
	done.Add(n + 1)
	for i := 0; i < n; i++ {
		go func(r *reader) {
			defer done.Done()
			var sum, cnt int64
			ok := true
			t0 := nanotime()
			for !stopping() {
				ok = reads(64, &sum) && ok
				cnt += 64
			}
			r.ns, r.reads, r.bad = nanotime()-t0, cnt, !ok
			atomic.AddInt64(&sink, sum)
		}(&r[i])
	}
	go func() {
		defer done.Done()
		i := int64(1)
		for !stopping() {
			storeObj(newObj(i))
			i++
		}
		stores = i - 1
	}()
	t0 := nanotime()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	stop.Store(1)
	done.Wait()
	perRead := 0.0
	for i := range r {
		if r[i].bad {
			die("torn read")
		}
		reads := r[i].reads
		if reads == 0 {
			reads = 1
		}
		perRead += float64(r[i].ns) / float64(reads)
	}
	secs := float64(nanotime()-t0) / 1e9
	row("readers_1writer", n, "ns_per_read", perRead/float64(n))
	row("readers_1writer", n, "stores_per_sec", float64(stores)/secs)
}

func valueStore(iters int64, reps int) {
	best := 1e30
	for r := 0; r < reps; r++ {
		t0 := nanotime()
		for i := int64(0); i < iters; i++ {
			storeObj(newObj(i))
		}
		if ns := float64(nanotime()-t0) / float64(iters); ns < best {
			best = ns
		}
	}
	var sum int64
	if !reads(1, &sum) || sum != iters-1 {
		die("last store not seen")
	}
	row("store", 1, "ns_per_store", best)
}

// ---- main ----------------------------------------------------------------------------

func usage() {
	fmt.Fprint(os.Stderr, "usage: bench_mutex_go uncontended|uncontended_mt [ITERS [REPS]] | contended [THREADS [MS]] |\n"+
		"                      lockskew [MS [SAMPLES_FILE]] | counter [THREADS [ITERS]] | privwork\n"+
		"       bench_sync_go  rwunc [ITERS [REPS]] | rw [THREADS [PERMILLE [MS]]] | pingpong [MS] |\n"+
		"                      broadcast [N [REPS]] | wgcycle [MS] | once [ITERS [REPS]] |\n"+
		"                      semunc [ITERS [REPS]] | semcont [THREADS [CAP [MS]]]\n"+
		"       bench_value_go[_value|_rwmutex] uncontended ITERS REPS | readers N MS | store ITERS REPS\n"+
		"       (or bench_go mutex|sync|value[:go_value|:go_rwmutex] ARGS...)\n")
	os.Exit(2)
}

func main() {
	runtime.GOMAXPROCS(runtime.NumCPU())
	time.AfterFunc(120*time.Second, func() { // watchdog: a lost wakeup fails the run
		fmt.Fprintln(os.Stderr, "bench go: watchdog: still running after 120 s")
		os.Exit(1)
	})

	args := os.Args[1:]
	base := filepath.Base(os.Args[0])
	for _, s := range []string{"mutex", "sync", "value"} {
		if strings.HasPrefix(base, "bench_"+s+"_") {
			set, impl = s, strings.TrimPrefix(base, "bench_"+s+"_")
		} else if set == "" && len(args) > 0 && (args[0] == s || strings.HasPrefix(args[0], s+":")) {
			set, impl = s, strings.TrimPrefix(strings.TrimPrefix(args[0], s), ":")
			args = args[1:]
		}
	}
	if impl == "" {
		impl = "go"
	}
	if set == "" || (impl != "go" && !(set == "value" && (impl == "go_value" || impl == "go_rwmutex"))) {
		usage()
	}
	w := ""
	if len(args) > 0 {
		w = args[0]
	}
	// arg(i, def): the i-th number after the workload (1-based), def if absent.
	arg := func(i int, def int64) int64 {
		if i >= len(args) {
			return def
		}
		v, err := strconv.ParseInt(args[i], 10, 64)
		if err != nil || v <= 0 {
			die("bad numeric argument")
		}
		return v
	}

	switch set + " " + w {
	case "mutex uncontended":
		runUncontended(arg(1, 20000000), int(arg(2, 5)), false)
	case "mutex uncontended_mt":
		runUncontended(arg(1, 20000000), int(arg(2, 5)), true)
	case "mutex contended":
		runContended(int(arg(1, 2)), arg(2, 1000))
	case "mutex lockskew":
		samples := ""
		if len(args) > 2 {
			samples = args[2]
		}
		runLockskew(arg(1, 2000), samples)
	case "mutex counter":
		runCounter(int(arg(1, 30)), arg(2, 100000))
	case "mutex privwork":
		runPrivwork()
	case "sync rwunc":
		runRWUnc(arg(1, 10000000), int(arg(2, 5)))
	case "sync rw":
		runRW(int(arg(1, 2)), int(arg(2, 10)), arg(3, 1000))
	case "sync once":
		runOnce(arg(1, 10000000), int(arg(2, 5)))
	case "sync pingpong":
		runPingpong(arg(1, 1000))
	case "sync broadcast":
		runBroadcast(int(arg(1, 4)), arg(2, 500))
	case "sync wgcycle":
		runWGCycle(arg(1, 1000))
	case "sync semunc":
		runSemUnc(arg(1, 10000000), int(arg(2, 5)))
	case "sync semcont":
		runSemCont(int(arg(1, 4)), int(arg(2, 2)), arg(3, 1000))
	case "value uncontended", "value readers", "value store":
		storeObj(newObj(0))
		if len(args) < 3 {
			usage()
		}
		switch w {
		case "uncontended":
			valueUncontended(arg(1, 1), int(arg(2, 1)))
		case "readers":
			valueReaders(int(arg(1, 1)), arg(2, 1))
		case "store":
			valueStore(arg(1, 1), int(arg(2, 1)))
		}
	default:
		usage()
	}
}
