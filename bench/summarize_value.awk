# summarize_value.awk — turns bench/results/value.csv into Markdown tables.
#
#   awk -f bench/stats.awk -f bench/summarize_value.awk bench/results/value.csv
#
# The seeds' read-mostly experiment (bench/bench_value.c): a pointer to a
# configuration read by every thread while one writer replaces it. Cells are median
# (min..max) over rounds; "speedup" is pthread_rwlock's median ns per read divided by
# the implementation's (higher is better), the headline of the seeds' comparison.

BEGIN {
	what["gosync"] = "gs_value (through libgosync.so)"
	what["urcu_bp"] = "raw liburcu-bp, inline read side"
	what["urcu_bp_sym"] = "raw liburcu-bp, out-of-line calls"
	what["pthread_rwlock"] = "pthread_rwlock (glibc default)"
	what["gs_rwmutex"] = "gs_rwmutex"
	what["nsync_mu"] = "nsync_mu (readers: nsync_mu_rlock)"
	what["absl_mutex"] = "absl::Mutex (readers: ReaderLock)"
	what["go"] = "Go atomic.Pointer (old versions left to the GC)"
	what["go_value"] = "Go atomic.Value (old versions left to the GC)"
	what["go_rwmutex"] = "Go sync.RWMutex around a pointer"
}

function name(im) { return (im in what) ? what[im] : im }

function vcell(wl, thr, met, im) {
	if (!has(wl, thr, met, im)) return "-"
	return fmt(stat(wl, thr, met, im, "med")) " (" fmt(stat(wl, thr, met, im, "min")) ".." fmt(stat(wl, thr, met, im, "max")) ")"
}

function speedup(wl, thr, met, im,    b, v) {
	if (!has(wl, thr, met, im) || !has(wl, thr, met, "pthread_rwlock")) return "-"
	b = stat(wl, thr, met, "pthread_rwlock", "med"); v = stat(wl, thr, met, im, "med")
	return v > 0 ? sprintf("%.1fx", b / v) : "-"
}

END {
	set_impls("gosync urcu_bp urcu_bp_sym pthread_rwlock gs_rwmutex nsync_mu absl_mutex go go_value go_rwmutex")
	print "Cells are median (min..max) over " maxround " rounds; speedup = pthread_rwlock's ns per"
	print "read / this implementation's, from the medians."
	print ""
	print "### Uncontended read: read section + load + use, 1 thread, ns"
	print ""
	print "instr/read: callgrind instructions per read, loop included (deterministic, one run; C only)."
	print ""
	print "| implementation | ns per read | speedup | instr/read |"
	print "|---|---|---|---|"
	for (i = 1; i <= nimpl; i++)
		if (has("uncontended", 1, "ns_per_read", IMPLS[i]))
			printf "| %s | %s | %s | %s |\n", name(IMPLS[i]), vcell("uncontended", 1, "ns_per_read", IMPLS[i]),
				speedup("uncontended", 1, "ns_per_read", IMPLS[i]),
				((("callgrind", 1, "instr_per_read", IMPLS[i]) in once) ? fmt(once["callgrind", 1, "instr_per_read", IMPLS[i]]) : "-")
	print ""
	print "### 1 writer storing continuously + N readers: ns per read (speedup), and stores/s"
	print ""
	print "| implementation | 1 reader | 2 readers | 4 readers | stores/s with 4 readers |"
	print "|---|---|---|---|---|"
	for (i = 1; i <= nimpl; i++) {
		im = IMPLS[i]
		if (!has("readers_1writer", 1, "ns_per_read", im)) continue
		printf "| %s |", name(im)
		for (t = 1; t <= 4; t *= 2)
			printf " %s (%s) |", vcell("readers_1writer", t, "ns_per_read", im), speedup("readers_1writer", t, "ns_per_read", im)
		printf " %s |\n", vcell("readers_1writer", 4, "stores_per_sec", im)
	}
	print ""
	print "### Store (publish + retire the old version), 1 thread, ns"
	print ""
	print "| implementation | ns per store |"
	print "|---|---|"
	for (i = 1; i <= nimpl; i++)
		if (has("store", 1, "ns_per_store", IMPLS[i]))
			printf "| %s | %s |\n", name(IMPLS[i]), vcell("store", 1, "ns_per_store", IMPLS[i])
	print ""

	# The issue's goals for the read-mostly rows, on medians, 4 readers + 1 writer.
	print "### Goals (gs_value, 1 writer + 4 readers, on medians)"
	print ""
	g = stat("readers_1writer", 4, "ns_per_read", "gosync", "med")
	rl = stat("readers_1writer", 4, "ns_per_read", "pthread_rwlock", "med")
	if (g != "" && rl != "")
		printf "- >= 15x pthread_rwlock's reads: %.1fx (%s ns vs %s ns) -> %s\n", rl / g, fmt(g), fmt(rl), (rl / g >= 15) ? "MET" : "MISSED"
	split("go_value go", gov, " ")
	for (j = 1; j <= 2; j++) {
		gv = stat("readers_1writer", 4, "ns_per_read", gov[j], "med")
		if (g == "" || gv == "") continue
		printf "- within 1.5x of %s: %.2fx (%s ns vs %s ns) -> %s%s\n", name(gov[j]), g / gv, fmt(g), fmt(gv),
			(g <= 1.5 * gv) ? "MET" : "MISSED", j == 2 ? " (for information: Go 1.19 does not inline the generic atomic.Pointer.Load)" : ""
	}
	print ""
}
