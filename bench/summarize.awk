# summarize.awk — turns bench/results/mutex.csv into Markdown tables.
#
#   awk -f bench/stats.awk -f bench/summarize.awk [-v long=1] bench/results/mutex.csv
#
# For every (workload, threads, metric, impl): min, median and max over rounds and
# "x glibc", the median over rounds of value / glibc's value in the same round
# (bench/stats.awk). Then the goals of bench/README.md are checked on the medians.

BEGIN {
	nthr = split("1 2 4 8 16 64", THREADS, " ")
}

# A miss whose min..max ranges overlap the target is flagged as within the noise.
function verdict(met, overlap) { return met ? "MET" : (overlap ? "MISSED (ranges overlap: within round-to-round noise)" : "MISSED") }

function label(impl) {
	return impl == "floor" ? "floor (not a lock)" : impl == "go" ? "go (sync.Mutex)" : \
		impl == "shim" ? "shim (pthread API)" : impl
}

END {
	set_impls("gosync glibc shim adaptive nsync absl mutex3 go floor")
	print "Cells are median (min..max) over " maxround " rounds; \"x glibc\" is the median of"
	print "per-round ratios to glibc's default mutex in the same round."
	print ""

	print "### (a) Uncontended lock+unlock pair, 1 thread"
	print ""
	print "\"mt process\": the same loop after a second thread was started and joined (glibc"
	print "skips its atomics' lock prefix in a process that never had a second thread)."
	print ""
	printf "| %-18s | %-26s | %-8s | %-26s | %-8s | %-10s |\n", "impl", "ns per pair", "x glibc", "ns per pair, mt process", "x glibc", "instr/pair"
	print "|--------------------|----------------------------|----------|----------------------------|----------|------------|"
	for (i = 1; i <= nimpl; i++) {
		im = IMPLS[i]
		if (!has("uncontended", 1, "ns_per_pair", im)) continue
		ins = ((("callgrind", 1, "instr_per_pair", im) in once) ? fmt(once["callgrind", 1, "instr_per_pair", im]) : "-")
		printf "| %-18s | %-26s | %-8s | %-26s | %-8s | %-10s |\n", label(im), cell("uncontended", 1, "ns_per_pair", im, 1),
			ratio(stat("uncontended", 1, "ns_per_pair", im, "ratio")), cell("uncontended_mt", 1, "ns_per_pair", im, 1),
			ratio(stat("uncontended_mt", 1, "ns_per_pair", im, "ratio")), ins
	}
	print ""

	pw = (("privwork", 1, "ns", "glibc") in once) ? sprintf(" (private work measured at %.0f ns)", once["privwork", 1, "ns", "glibc"]) : ""
	print "### (b) Contended throughput: short critical section + ~100 ns private work" pw
	print ""
	print "fair = min/max ops per thread (1 = even). Acquire latency from a sample of every 16th lock. csw/kop: context switches (voluntary + involuntary) per 1000 lock+unlock pairs."
	print ""
	printf "| %-3s | %-18s | %-26s | %-8s | %-22s | %-8s | %-26s | %-26s | %-7s |\n", "thr", "impl", "Mops/s", "x glibc", "fair (min/max ops)", "p50 ns", "p99 ns", "max us", "csw/kop"
	print "|-----|--------------------|----------------------------|----------|------------------------|----------|----------------------------|----------------------------|---------|"
	for (t = 1; t <= nthr; t++) {
		T = THREADS[t]
		for (i = 1; i <= nimpl; i++) {
			im = IMPLS[i]
			if (!has("contended", T, "mops", im)) continue
			printf "| %-3s | %-18s | %-26s | %-8s | %-22s | %-8s | %-26s | %-26s | %-7s |\n", T, label(im),
				cell("contended", T, "mops", im, 1), ratio(stat("contended", T, "mops", im, "ratio")),
				cell("contended", T, "fairness", im, 1), fmt(stat("contended", T, "lat_p50_ns", im, "med")),
				cell("contended", T, "lat_p99_ns", im, 1), cell("contended", T, "lat_max_ns", im, 0.001), fmt(stat("contended", T, "csw_per_kop", im, "med"))
		}
	}
	print ""

	print "### (c) Go's lockskew: holder holds 100 us back to back; another thread wants the lock every 1 ms"
	print ""
	printf "| %-18s | %-20s | %-26s | %-26s | %-28s | %-8s |\n", "impl", "acquisitions", "wait p50 us", "wait p99 us", "wait max us", "max x glibc"
	print "|--------------------|----------------------|----------------------------|----------------------------|------------------------------|----------|"
	for (i = 1; i <= nimpl; i++) {
		im = IMPLS[i]
		if (!has("lockskew", 2, "wait_max_us", im)) continue
		printf "| %-18s | %-20s | %-26s | %-26s | %-28s | %-8s |\n", label(im), cell("lockskew", 2, "acquisitions", im, 1),
			cell("lockskew", 2, "wait_p50_us", im, 1), cell("lockskew", 2, "wait_p99_us", im, 1),
			cell("lockskew", 2, "wait_max_us", im, 1), ratio(stat("lockskew", 2, "wait_max_us", im, "ratio"))
	}
	print ""

	for (kk in once) { split(kk, p, SUBSEP); if (p[1] == "counter") cthr = p[2] }
	for (kk in n) { split(kk, p, SUBSEP); if (p[1] == "counter") cthr = p[2] }
	print "### (d) " cthr " threads increment one shared counter under the lock: wall time"
	print ""
	printf "| %-18s | %-26s | %-8s |\n", "impl", "wall ms", "x glibc"
	print "|--------------------|----------------------------|----------|"
	for (i = 1; i <= nimpl; i++) {
		im = IMPLS[i]
		if (!has("counter", cthr, "wall_ms", im)) continue
		printf "| %-18s | %-26s | %-8s |\n", label(im), cell("counter", cthr, "wall_ms", im, 1), ratio(stat("counter", cthr, "wall_ms", im, "ratio"))
	}
	print ""

	# --- goals (medians) ---
	print "### Goals (gosync, on medians)"
	print ""
	g = stat("uncontended", 1, "ns_per_pair", "gosync", "ratio")
	m3 = stat("uncontended", 1, "ns_per_pair", "mutex3", "med"); gs = stat("uncontended", 1, "ns_per_pair", "gosync", "med")
	printf "- (a) <= 0.80x glibc and <= mutex3: %s x glibc, %s ns vs mutex3 %s ns -> %s\n", sprintf("%.2f", g), fmt(gs), fmt(m3),
		verdict(g <= 0.8 && gs <= m3, 0)
	gm = stat("uncontended_mt", 1, "ns_per_pair", "gosync", "ratio")
	m3m = stat("uncontended_mt", 1, "ns_per_pair", "mutex3", "med"); gsm = stat("uncontended_mt", 1, "ns_per_pair", "gosync", "med")
	if (gm != "")
		printf "- (a) same, in a multi-threaded process: %s x glibc, %s ns vs mutex3 %s ns -> %s\n", sprintf("%.2f", gm), fmt(gsm), fmt(m3m),
			verdict(gm <= 0.8 && gsm <= m3m, 0)
	fl = stat("uncontended", 1, "ns_per_pair", "floor", "med"); flm = stat("uncontended_mt", 1, "ns_per_pair", "floor", "med")
	if (fl != "" && gs != "")
		printf "- (a) within 2x of the floor: %s ns vs %s ns (%.2fx); mt process %s ns vs %s ns (%.2fx) -> %s\n", fmt(gs), fmt(fl), gs / fl,
			fmt(gsm), fmt(flm), (flm ? gsm / flm : 0), verdict(gs <= 2 * fl && (flm == "" || gsm <= 2 * flm), 0)
	for (t = 1; t <= nthr; t++) {
		T = THREADS[t]
		if (!has("contended", T, "mops", "gosync")) continue
		best = ""; bestim = ""
		np = split("glibc adaptive nsync absl", peers, " ")
		for (j = 1; j <= np; j++) {
			v = stat("contended", T, "mops", peers[j], "med")
			if (v != "" && (best == "" || v > best)) { best = v; bestim = peers[j] }
		}
		gv = stat("contended", T, "mops", "gosync", "med")
		gf = stat("contended", T, "fairness", "gosync", "med"); lf = stat("contended", T, "fairness", "glibc", "med")
		printf "- (b) %2s threads: gosync %s Mops/s vs best peer %s %s (%+.0f%%); fairness %s vs glibc %s -> %s\n", T,
			fmt(gv), bestim, fmt(best), best ? 100 * (gv / best - 1) : 0, fmt(gf), fmt(lf),
			verdict(gv >= best && gf >= lf, stat("contended", T, "mops", "gosync", "max") >= stat("contended", T, "mops", bestim, "min") && stat("contended", T, "fairness", "gosync", "max") >= stat("contended", T, "fairness", "glibc", "min"))
	}
	# gosync against Go's sync.Mutex. Above GOMAXPROCS goroutines wait in Go's run
	# queues and park in user space, so those rows are not kernel threads against
	# kernel threads (bench/README.md, The Go peer).
	for (t = 1; t <= nthr; t++) {
		T = THREADS[t]
		if (!has("contended", T, "mops", "gosync") || !has("contended", T, "mops", "go")) continue
		gv = stat("contended", T, "mops", "gosync", "med"); ov = stat("contended", T, "mops", "go", "med")
		printf "- (b) %2s threads >= Go's sync.Mutex%s: gosync %s Mops/s, go %s (%+.0f%%) -> %s\n", T,
			(T + 0 > 2) ? " (goroutines, not oversubscribed threads)" : "", fmt(gv), fmt(ov), ov ? 100 * (gv / ov - 1) : 0,
			verdict(gv >= ov, stat("contended", T, "mops", "gosync", "max") >= stat("contended", T, "mops", "go", "min"))
	}
	wm = stat("lockskew", 2, "wait_max_us", "gosync", "med"); wx = stat("lockskew", 2, "wait_max_us", "gosync", "max")
	printf "- (c) worst wait <= 2 ms: median over rounds %s us, worst round %s us (glibc median %s us) -> %s\n", fmt(wm), fmt(wx),
		fmt(stat("lockskew", 2, "wait_max_us", "glibc", "med")), (wx <= 2000) ? "MET" : (wm <= 2000 ? "MET in the median round, MISSED in the worst" : "MISSED")
	dg = stat("counter", cthr, "wall_ms", "gosync", "med"); dn = stat("counter", cthr, "wall_ms", "nsync", "med")
	printf "- (d) wall time <= nsync: gosync %s ms vs nsync %s ms -> %s\n", fmt(dg), fmt(dn), verdict(dg <= dn, stat("counter", cthr, "wall_ms", "gosync", "min") <= stat("counter", cthr, "wall_ms", "nsync", "max"))
	print ""

	if (long) long_table()
}
