// Command bench_go is the Go peer of gosync's benchmark: the workloads of
// bench/bench_mutex.c, bench/bench_sync.c (rwmutex, once) and bench/bench_value.c,
// written with Go's own sync and sync/atomic packages, printing the same CSV rows
// "impl,workload,threads,metric,value" with impl "go".
//
// One binary, three names (bench/bench.mk links them): the basename of argv[0]
// selects the command line it answers, so bench/run.sh calls it like the C binaries:
//
//	bench_mutex_go uncontended|uncontended_mt ITERS REPS | contended THREADS MS |
//	               lockskew MS | counter THREADS ITERS | privwork
//	bench_sync_go  rwunc ITERS REPS | rw THREADS PERMILLE MS | once ITERS REPS
//	               (the other bench_sync workloads print nothing, as a C binary
//	               without the primitive does)
//	bench_value_go uncontended ITERS REPS | readers N MS | store ITERS REPS
//
// Under any other name the first argument picks the set: bench_go mutex contended 4 300.
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

const impl = "go"

var set string // "mutex", "sync" or "value"

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

func runLockskew(ms int64) {
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

// ---- value: atomic.Pointer to an immutable configuration {a, b = a + 1} ------------------
// The writer publishes a new object per store; the garbage collector reclaims the old
// ones (Go's counterpart of call_rcu), and its cost lands where it lands.

type obj struct{ a, b int64 }

var cfg atomic.Pointer[obj]

func newObj(a int64) *obj { return &obj{a: a, b: a + 1} }

// readOne: load, use; false on a torn object.
func readOne(sum *int64) bool {
	o := cfg.Load()
	a, b := o.a, o.b
	*sum += a
	return b == a+1
}

var sink int64

func valueUncontended(iters int64, reps int) {
	best := 1e30
	var sum int64
	for r := 0; r < reps; r++ {
		ok := true
		t0 := nanotime()
		for i := int64(0); i < iters; i++ {
			ok = readOne(&sum) && ok
		}
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
				for k := 0; k < 64; k++ {
					ok = readOne(&sum) && ok
				}
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
			cfg.Store(newObj(i))
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
			cfg.Store(newObj(i))
		}
		if ns := float64(nanotime()-t0) / float64(iters); ns < best {
			best = ns
		}
	}
	if o := cfg.Load(); o.b != o.a+1 || o.a != iters-1 {
		die("last store not seen")
	}
	row("store", 1, "ns_per_store", best)
}

// ---- main ----------------------------------------------------------------------------

func usage() {
	fmt.Fprint(os.Stderr, "usage: bench_mutex_go uncontended|uncontended_mt [ITERS [REPS]] | contended [THREADS [MS]] |\n"+
		"                      lockskew [MS] | counter [THREADS [ITERS]] | privwork\n"+
		"       bench_sync_go  rwunc [ITERS [REPS]] | rw [THREADS [PERMILLE [MS]]] | once [ITERS [REPS]]\n"+
		"       bench_value_go uncontended ITERS REPS | readers N MS | store ITERS REPS\n"+
		"       (or bench_go mutex|sync|value ARGS...)\n")
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
	switch {
	case strings.HasPrefix(base, "bench_mutex"):
		set = "mutex"
	case strings.HasPrefix(base, "bench_sync"):
		set = "sync"
	case strings.HasPrefix(base, "bench_value"):
		set = "value"
	case len(args) > 0 && (args[0] == "mutex" || args[0] == "sync" || args[0] == "value"):
		set, args = args[0], args[1:]
	default:
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
		runLockskew(arg(1, 2000))
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
	case "sync pingpong", "sync broadcast", "sync wgcycle", "sync semunc", "sync semcont":
		// Not implemented for Go: no rows, as a C binary without the primitive.
	case "value uncontended", "value readers", "value store":
		cfg.Store(newObj(0))
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
