# stats.awk — what summarize.awk (mutex rows) and summarize_sync.awk (the rest of
# sync) share: reading rows and min / median / max / ratio-to-glibc over rounds.
# Load it first: awk -f bench/stats.awk -f bench/summarize.awk FILE.
#
# Input rows: round,impl,workload,threads,metric,value (header line skipped).
# Round 0 rows are one-off measurements (calibration, callgrind), kept in once[];
# rounds 1..R are the timed rounds. "ratio" is the median over rounds of
# value / glibc's value in the same round (so a noisy round moves both).

BEGIN { FS = "," }

NR == 1 && $1 == "round" { next }

{
	r = $1; impl = $2; wl = $3; thr = $4; met = $5; v = $6 + 0
	if (!(impl in impl_seen)) { impl_seen[impl] = 1; impl_seq[++nimpl_seen] = impl }
	if (r == 0) { once[wl, thr, met, impl] = v; next }
	k = wl SUBSEP thr SUBSEP met SUBSEP impl
	if (!(k in n)) n[k] = 0
	vals[k, ++n[k]] = v
	round_of[k, n[k]] = r
	byround[wl, thr, met, impl, r] = v
	if (!((wl, thr, met) in seenm)) { seenm[wl, thr, met] = 1; order[++norder] = wl SUBSEP thr SUBSEP met }
	if (r > maxround) maxround = r
}

# Median of a[1..m] (sorted in place).
function median(a, m,    i, j, t) {
	for (i = 2; i <= m; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	if (m == 0) return ""
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}

# stat(wl, thr, met, impl, which): "min" "med" "max" or "ratio" ("" if no data).
function stat(wl, thr, met, impl, which,    k, i, m, a, b, lo, hi) {
	k = wl SUBSEP thr SUBSEP met SUBSEP impl
	if (!(k in n)) return ""
	m = 0; lo = ""; hi = ""
	delete a
	for (i = 1; i <= n[k]; i++) {
		if (which == "ratio") {
			if (!((wl, thr, met, "glibc", round_of[k, i]) in byround)) continue
			b = byround[wl, thr, met, "glibc", round_of[k, i]]
			if (b == 0) continue
			a[++m] = vals[k, i] / b
		} else {
			a[++m] = vals[k, i]
			if (lo == "" || vals[k, i] < lo) lo = vals[k, i]
			if (hi == "" || vals[k, i] > hi) hi = vals[k, i]
		}
	}
	if (which == "min") return lo
	if (which == "max") return hi
	return median(a, m)
}

function fmt(v) {
	if (v == "") return "-"
	if (v >= 1000) return sprintf("%.0f", v)
	if (v >= 100) return sprintf("%.1f", v)
	if (v >= 10) return sprintf("%.2f", v)
	return sprintf("%.3g", v)
}

function ratio(v) { return v == "" ? "-" : sprintf("%.2fx", v) }

# "median (min..max)", values scaled by s.
function cell(wl, thr, met, impl, s,    md) {
	md = stat(wl, thr, met, impl, "med")
	if (md == "") return "-"
	return fmt(md * s) " (" fmt(stat(wl, thr, met, impl, "min") * s) ".." fmt(stat(wl, thr, met, impl, "max") * s) ")"
}

function has(wl, thr, met, impl) { return (wl SUBSEP thr SUBSEP met SUBSEP impl) in n }

# Every metric: min / median / max over rounds and the median ratio to glibc, for the
# implementations IMPLS[1..nimpl].
function long_table(    o, p, i, im) {
	print "### Every metric (min / median / max over rounds, median ratio to glibc)"
	print ""
	print "| workload | thr | metric | impl | min | median | max | x glibc |"
	print "|---|---|---|---|---|---|---|---|"
	for (o = 1; o <= norder; o++) {
		split(order[o], p, SUBSEP)
		for (i = 1; i <= nimpl; i++) {
			im = IMPLS[i]
			if (!has(p[1], p[2], p[3], im)) continue
			printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", p[1], p[2], p[3], im,
				fmt(stat(p[1], p[2], p[3], im, "min")), fmt(stat(p[1], p[2], p[3], im, "med")),
				fmt(stat(p[1], p[2], p[3], im, "max")), ratio(stat(p[1], p[2], p[3], im, "ratio"))
		}
	}
	print ""
}

# set_impls(LIST): IMPLS[1..nimpl] = the names in LIST (the order the tables show),
# then every other implementation found in the input, in the order first seen (a
# new column shows up without editing the summaries).
function set_impls(list,    i, known) {
	nimpl = split(list, IMPLS, " ")
	for (i = 1; i <= nimpl; i++) known[IMPLS[i]] = 1
	for (i = 1; i <= nimpl_seen; i++)
		if (!(impl_seq[i] in known)) IMPLS[++nimpl] = impl_seq[i]
}
