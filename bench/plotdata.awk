# plotdata.awk — data files for bench/plots.sh (gnuplot), from a results CSV.
#
#   awk -f bench/stats.awk -f bench/plotdata.awk -v mode=series -v pwl=W -v pmet=M \
#       -v pimpls="a b c" [-v scale=S] FILE.csv
#       one block per implementation that has rows (blocks separated by two blank
#       lines, gnuplot's "index"): "x median min max" over rounds, x = the threads
#       column, values times scale. The first line is "# pimpls: NAMES" (the order of
#       the blocks).
#   awk ... -v mode=bars -v pwl=W -v pthr=T -v pmets="m1 m2 m3" -v pimpls="..." FILE.csv
#       one line per implementation: "impl med(m1) med(m2) ...".
#   awk ... -v mode=ratios -v pspec="wl:thr:met:label:inv ..." -v pimpls="..." FILE.csv
#       one line per spec: "\"label\" r1 r2 ..." (a ~ in label is a space), ri =
#       implementation i's median per-round ratio to glibc (stats.awk), inverted when
#       inv is 1 (throughput: so that every column reads as cost relative to glibc,
#       lower is better); "-" where missing. glibc itself is left out (always 1).
#       The first line is "# pimpls: NAMES" (the implementations that have a ratio
#       somewhere, the columns' order).
# In every mode, implementations found in the CSV but not in pimpls come after
# those of pimpls (stats.awk's set_impls), so a new column is plotted too.
#   awk ... -v mode=noise -v pmets="m1 m2 ..." FILE.csv [FILE.csv ...]
#       how much the rounds disagreed: for every (workload, threads, metric, impl)
#       with a metric in pmets and two rounds or more, (max - min) / median in %, one
#       line each: "spread workload threads metric impl".

END {
	if (scale == "") scale = 1
	set_impls(pimpls)
	ni = 0
	for (i = 1; i <= nimpl; i++) if (!(mode == "ratios" && IMPLS[i] == "glibc")) im[++ni] = IMPLS[i]
	if (mode == "series") {
		names = ""
		for (i = 1; i <= ni; i++) {
			xs = ""
			for (k in n) { split(k, p, SUBSEP); if (p[1] == pwl && p[3] == pmet && p[4] == im[i]) xs = xs " " p[2] }
			if (xs == "") continue
			names = names (names == "" ? "" : " ") im[i]
			nx = split(xs, xa, " ")
			for (a = 2; a <= nx; a++) for (b = a; b > 1 && xa[b - 1] + 0 > xa[b] + 0; b--) { t = xa[b]; xa[b] = xa[b - 1]; xa[b - 1] = t }
			blk[i] = ""
			for (a = 1; a <= nx; a++)
				blk[i] = blk[i] sprintf("%s %g %g %g\n", xa[a], stat(pwl, xa[a], pmet, im[i], "med") * scale,
					stat(pwl, xa[a], pmet, im[i], "min") * scale, stat(pwl, xa[a], pmet, im[i], "max") * scale)
		}
		print "# impls: " names
		first = 1
		for (i = 1; i <= ni; i++) {
			if (!(i in blk)) continue
			if (!first) printf "\n\n"
			printf "%s", blk[i]
			first = 0
		}
	} else if (mode == "bars") {
		nm = split(pmets, mm, " ")
		for (i = 1; i <= ni; i++) {
			if (!has(pwl, pthr, mm[1], im[i])) continue
			line = im[i]
			for (j = 1; j <= nm; j++) line = line " " stat(pwl, pthr, mm[j], im[i], "med") * scale
			print line
		}
	} else if (mode == "ratios") {
		ns = split(pspec, sp, " ")
		names = ""; nk = 0
		for (i = 1; i <= ni; i++) {
			any = 0
			for (j = 1; j <= ns; j++) { split(sp[j], f, ":"); if (stat(f[1], f[2], f[3], im[i], "ratio") != "") any = 1 }
			if (!any) continue
			keep[++nk] = im[i]; names = names (names == "" ? "" : " ") im[i]
		}
		print "# impls: " names
		for (j = 1; j <= ns; j++) {
			split(sp[j], f, ":")
			gsub(/~/, " ", f[4])
			line = "\"" f[4] "\""
			for (i = 1; i <= nk; i++) {
				r = stat(f[1], f[2], f[3], keep[i], "ratio")
				line = line " " (r == "" || r == 0 ? "-" : sprintf("%.4g", f[5] == 1 ? 1 / r : r))
			}
			print line
		}
	} else if (mode == "noise") {
		nm = split(pmets, mm, " ")
		for (j = 1; j <= nm; j++) want[mm[j]] = 1
		for (k in n) {
			split(k, p, SUBSEP)
			if (!(p[3] in want) || n[k] < 2) continue
			md = stat(p[1], p[2], p[3], p[4], "med")
			if (md <= 0) continue
			printf "%.1f %s %s %s %s\n", 100 * (stat(p[1], p[2], p[3], p[4], "max") - stat(p[1], p[2], p[3], p[4], "min")) / md, p[1], p[2], p[3], p[4]
		}
	}
}
