# summarize_sync.awk — turns bench/results/sync.csv into Markdown tables.
#
#   awk -f bench/stats.awk -f bench/summarize_sync.awk [-v long=1] bench/results/sync.csv
#
# Same method as the mutex summary (bench/stats.awk): min, median and max over rounds;
# "x glibc" is the median over rounds of value / the glibc row's value in the same
# round. For each workload the "glibc" row is what a C programmer would use with
# glibc alone (see bench/README.md). No goals are checked: the last section lists,
# per headline metric, whether gosync's median is better or worse than glibc's and
# the best peer's, and whether the min..max ranges overlap (noise).

function cg(met, impl) { return ((("callgrind", 1, met, impl) in once) ? fmt(once["callgrind", 1, met, impl]) : "-") }

# One "| impl | cell | x glibc |" table for a single metric.
function simple(wl, thr, met, unit, scale, cgmet,    i, im) {
	printf "| %-8s | %-28s | %-8s |%s\n", "impl", unit, "x glibc", cgmet != "" ? " instr/op (callgrind) |" : ""
	printf "|----------|------------------------------|----------|%s\n", cgmet != "" ? "----------------------|" : ""
	for (i = 1; i <= nimpl; i++) {
		im = IMPLS[i]
		if (!has(wl, thr, met, im)) continue
		printf "| %-8s | %-28s | %-8s |%s\n", im, cell(wl, thr, met, im, scale), ratio(stat(wl, thr, met, im, "ratio")),
			cgmet != "" ? sprintf(" %-20s |", cg(cgmet, im)) : ""
	}
	print ""
}

# gosync against glibc and the best other peer on one metric; hib: higher is better.
function glance(what, wl, thr, met, hib, scale, unit,    g, l, i, im, v, best, bim, r, w, ov) {
	if (!has(wl, thr, met, "gosync") || !has(wl, thr, met, "glibc")) return
	g = stat(wl, thr, met, "gosync", "med"); l = stat(wl, thr, met, "glibc", "med")
	r = stat(wl, thr, met, "gosync", "ratio")
	best = ""; bim = ""
	for (i = 1; i <= nimpl; i++) {
		im = IMPLS[i]
		if (im ~ /^(gosync|shim|shim_pw)$/ || !has(wl, thr, met, im)) continue # shim: gosync too
		v = stat(wl, thr, met, im, "med")
		if (best == "" || (hib ? v > best : v < best)) { best = v; bim = im }
	}
	w = (hib ? r >= 1 : r <= 1) ? "better" : "WORSE"
	ov = stat(wl, thr, met, "gosync", "max") >= stat(wl, thr, met, "glibc", "min") && stat(wl, thr, met, "gosync", "min") <= stat(wl, thr, met, "glibc", "max")
	printf "| %-34s | %-12s | %-12s | %-8s | %-24s | %-20s |\n", what, fmt(g * scale) " " unit, fmt(l * scale) " " unit,
		sprintf("%.2fx", r), w (ov ? " (ranges overlap)" : ""), bim " " fmt(best * scale) " " unit
}

END {
	set_impls("gosync glibc shim glibc_pw shim_pw nsync absl barrier go")
	print "Cells are median (min..max) over " maxround " rounds; \"x glibc\" is the median of per-round"
	print "ratios to the glibc row of the same workload in the same round. One-thread rows run in a"
	print "multi-threaded process. instr/op: callgrind instructions per operation, loop included"
	print "(deterministic, one run)."
	print ""

	print "### 1. RWMutex"
	print ""
	print "glibc = pthread_rwlock_t default kind (prefers readers); glibc_pw = kind"
	print "PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP; nsync = nsync_mu (readers: nsync_mu_rlock);"
	print "absl = absl::Mutex (readers: ReaderLock); go = Go's sync.RWMutex (goroutines, GOMAXPROCS ="
	print "usable CPUs; fast paths inlined by Go's compiler); shim, shim_pw = the glibc and glibc_pw"
	print "code linked with -lgosync-pthread (the drop-in shim: reader-preferring gs_rwmutex mode,"
	print "and gs_rwmutex)."
	print ""
	print "Uncontended rlock + read + runlock, 1 thread:"
	print ""
	simple("rwmutex_uncontended", 1, "ns_per_pair", "ns per pair", 1, "instr_rlock_pair")
	print "Read-mostly throughput: each operation is a write (lock, 4 counters++) with probability"
	print "1 % or 10 %, else a read (rlock, read the 4 counters, runlock), then ~100 ns of private"
	print "work. fair = min/max operations per thread. Writer wait: time in lock (every write);"
	print "reader wait p99: time in rlock (every 16th read). csw/kop: context switches (voluntary +"
	print "involuntary) per 1000 operations. 8 threads on 2 CPUs is oversubscribed."
	print ""
	printf "| %-6s | %-3s | %-8s | %-24s | %-8s | %-20s | %-9s | %-22s | %-24s | %-9s | %-7s |\n", "writes", "thr", "impl", "Mops/s", "x glibc", "fair", "wr p50 us", "wr wait p99 us", "wr wait max us", "rd p99 us", "csw/kop"
	print "|--------|-----|----------|--------------------------|----------|----------------------|-----------|------------------------|--------------------------|-----------|---------|"
	split("rwmutex_1pct rwmutex_10pct", rwl, " "); split("1% 10%", rwn, " ")
	for (x = 1; x <= 2; x++)
		for (T = 1; T <= 64; T++)
			for (i = 1; i <= nimpl; i++) {
				im = IMPLS[i]
				if (!has(rwl[x], T, "mops", im)) continue
				printf "| %-6s | %-3s | %-8s | %-24s | %-8s | %-20s | %-9s | %-22s | %-24s | %-9s | %-7s |\n", rwn[x], T, im,
					cell(rwl[x], T, "mops", im, 1), ratio(stat(rwl[x], T, "mops", im, "ratio")),
					cell(rwl[x], T, "fairness", im, 1), fmt(stat(rwl[x], T, "wr_wait_p50_us", im, "med")),
					cell(rwl[x], T, "wr_wait_p99_us", im, 1), cell(rwl[x], T, "wr_wait_max_us", im, 1),
					fmt(stat(rwl[x], T, "rd_wait_p99_us", im, "med")), fmt(stat(rwl[x], T, "csw_per_kop", im, "med"))
			}
	print ""

	print "### 2. Cond"
	print ""
	print "glibc = pthread_cond_t + pthread_mutex_t; gosync = gs_cond_t + gs_mutex_t; nsync = nsync_cv + nsync_mu;"
	print "absl = absl::CondVar + absl::Mutex; go = sync.Cond + sync.Mutex (goroutines: a Go waiter parks in"
	print "Go's scheduler, not in the kernel, so its wakeups are not the kernel round trips of the C rows)."
	print ""
	print "Ping-pong: two threads pass a turn back and forth (predicate + signal, signalled with the"
	print "mutex held), one condition variable per side:"
	print ""
	simple("cond_pingpong", 2, "ns_per_roundtrip", "ns per round trip", 1, "")
	print "Broadcast to N waiters asleep in wait (broadcast with the mutex held): time from the"
	print "broadcast until all N have returned from wait and acquired the mutex (and until the"
	print "first has); percentiles over the repetitions of one run, then median over rounds."
	print ""
	printf "| %-3s | %-8s | %-26s | %-8s | %-26s | %-20s |\n", "N", "impl", "all passed p50 us", "x glibc", "all passed p90 us", "first passed p50 us"
	print "|-----|----------|----------------------------|----------|----------------------------|----------------------|"
	for (T = 1; T <= 64; T++)
		for (i = 1; i <= nimpl; i++) {
			im = IMPLS[i]
			if (!has("cond_broadcast", T, "all_p50_us", im)) continue
			printf "| %-3s | %-8s | %-26s | %-8s | %-26s | %-20s |\n", T, im, cell("cond_broadcast", T, "all_p50_us", im, 1),
				ratio(stat("cond_broadcast", T, "all_p50_us", im, "ratio")), cell("cond_broadcast", T, "all_p90_us", im, 1),
				fmt(stat("cond_broadcast", T, "first_p50_us", im, "med"))
		}
	print ""

	print "### 3. WaitGroup: fork/join cycle, 1 waiter + 4 workers"
	print ""
	print "Per cycle the waiter arms the join (add 4), opens a gate the workers wait on, waits for"
	print "the 4 done's, and re-arms the gate. gosync = gs_waitgroup_t for gate and join; glibc = a"
	print "wait group written as pthread_mutex + pthread_cond + counter; barrier = pthread_barrier"
	print "of 5 for gate and join (a barrier-only program could fuse them into one barrier per"
	print "cycle); absl = Abseil has no reusable wait group: a one-shot absl::Notification as the gate"
	print "and an absl::BlockingCounter as the join, made afresh each cycle (part of the cost); go ="
	print "sync.WaitGroup (goroutines, see Cond). nsync has no reusable counter (nsync_counter is"
	print "one-shot) and no row."
	print ""
	simple("waitgroup_cycle", 4, "ns_per_cycle", "us per cycle", 0.001, "")

	print "### 4. Once, fast path (after the first call)"
	print ""
	print "glibc = pthread_once; nsync = nsync_run_once; absl = absl::call_once; go = sync.Once (its fast"
	print "path, one atomic load, is inlined into the loop by Go's compiler; the C peers pay a call)."
	print ""
	simple("once_fast", 1, "ns_per_call", "ns per call", 1, "instr_once_call")

	print "### 5. Semaphore"
	print ""
	print "glibc = sem_t (sem_wait / sem_post); gosync = gs_sem_t (FIFO, weighted) with n = 1. Abseil and"
	print "Go have no semaphore: absl = a count under an absl::Mutex, acquire = LockWhen(count > 0);"
	print "go = a buffered channel of capacity n (send to acquire, receive to release)."
	print ""
	print "Uncontended acquire + counter++ + release, 1 thread, capacity 1:"
	print ""
	simple("sem_uncontended", 1, "ns_per_pair", "ns per pair", 1, "instr_sem_pair")
	for (kk in n) { split(kk, p, SUBSEP); if (p[1] == "sem_contended") sthr = p[2] }
	print "Contended: " sthr " threads, capacity 2; each holds a unit for ~100 ns of work, then ~100 ns"
	print "outside. Acquire wait sampled on every 16th acquire."
	print ""
	printf "| %-8s | %-26s | %-8s | %-22s | %-24s | %-26s | %-7s |\n", "impl", "Mops/s", "x glibc", "fair", "acquire p99 us", "acquire max us", "csw/kop"
	print "|----------|----------------------------|----------|------------------------|--------------------------|----------------------------|---------|"
	for (i = 1; i <= nimpl; i++) {
		im = IMPLS[i]
		if (!has("sem_contended", sthr, "mops", im)) continue
		printf "| %-8s | %-26s | %-8s | %-22s | %-24s | %-26s | %-7s |\n", im, cell("sem_contended", sthr, "mops", im, 1),
			ratio(stat("sem_contended", sthr, "mops", im, "ratio")), cell("sem_contended", sthr, "fairness", im, 1),
			cell("sem_contended", sthr, "acq_p99_us", im, 1), cell("sem_contended", sthr, "acq_max_us", im, 1),
			fmt(stat("sem_contended", sthr, "csw_per_kop", im, "med"))
	}
	print ""

	print "### gosync at a glance"
	print ""
	print "better / WORSE by the median per-round ratio to glibc (the x glibc column); \"ranges"
	print "overlap\": gosync's and glibc's min..max over rounds overlap, so the difference may be"
	print "round-to-round noise. Values are medians over rounds."
	print ""
	printf "| %-34s | %-12s | %-12s | %-8s | %-24s | %-20s |\n", "metric", "gosync", "glibc", "x glibc", "vs glibc", "best other peer"
	print "|------------------------------------|--------------|--------------|----------|--------------------------|----------------------|"
	glance("rlock+runlock, 1 thread", "rwmutex_uncontended", 1, "ns_per_pair", 0, 1, "ns")
	for (x = 1; x <= 2; x++)
		for (T = 1; T <= 64; T++)
			if (has(rwl[x], T, "mops", "gosync")) glance("rwmutex " rwn[x] " writes, " T " thr, Mops/s", rwl[x], T, "mops", 1, 1, "")
	glance("cond ping-pong round trip", "cond_pingpong", 2, "ns_per_roundtrip", 0, 0.001, "us")
	for (T = 1; T <= 64; T++)
		if (has("cond_broadcast", T, "all_p50_us", "gosync")) glance("cond broadcast to " T ", all passed", "cond_broadcast", T, "all_p50_us", 0, 1, "us")
	glance("waitgroup cycle (vs mutex+cond)", "waitgroup_cycle", 4, "ns_per_cycle", 0, 0.001, "us")
	glance("once fast path", "once_fast", 1, "ns_per_call", 0, 1, "ns")
	glance("sem acquire+release, 1 thread", "sem_uncontended", 1, "ns_per_pair", 0, 1, "ns")
	glance("sem " sthr " thr cap 2, Mops/s", "sem_contended", sthr, "mops", 1, 1, "")
	print ""

	if (long) long_table()
}
