#!/bin/sh
# plots.sh — PNG plots (gnuplot) and the Markdown report of a benchmark run.
#
#   sh bench/plots.sh [RESULTS_DIR]      (default bench/results; run from the repo root)
#
# Reads RESULTS_DIR/{mutex,sync,value}.csv and lockskew_cdf.csv (and the run's date /
# machine / command lines from the head of RESULTS_DIR/mutex.md) and writes
#   contended_mops.png   contended mutex throughput vs threads, median over rounds,
#                        min..max as error bars, one line per implementation
#   lockskew_cdf.png     lockskew: the CDF of the wanting thread's waits (all rounds
#                        pooled), log x, one curve per implementation; below it the
#                        tail (fraction of waits longer than x, log y)
#   lockskew_wait.png    lockskew: wait p50 / p99 / max per implementation (medians
#                        over rounds), log scale
#   value_readers.png    atomic value: ns per read vs readers (1 writer churning)
#   sync_vs_glibc.png    the rest of sync: each implementation's cost relative to the
#                        glibc row of every headline cell (median per-round ratio;
#                        throughput inverted), log scale, lower is better
#   report.md            the summary tables, the plots, and how noisy the run was
# Without gnuplot the report is still written, without the plots. Implementations
# not named in the lists below are plotted after those that are.
set -eu

res=${1:-bench/results}
for f in mutex sync value; do
	[ -f "$res/$f.csv" ] || { echo "plots.sh: $res/$f.csv missing (run make bench first)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

MUTEX_IMPLS="gosync glibc shim adaptive nsync absl mutex3 go floor"
SYNC_IMPLS="gosync shim glibc_pw shim_pw nsync absl barrier go"
VALUE_IMPLS="gosync urcu_bp urcu_bp_sym pthread_rwlock gs_rwmutex nsync_mu absl_mutex go go_value go_rwmutex"
# The headline cell of every rest-of-sync workload: workload:threads:metric:label:inverted
# (a ~ in a label is a space).
SYNC_SPEC="rwmutex_uncontended:1:ns_per_pair:rlock+runlock:0 rwmutex_1pct:2:mops:rw~1%~2~thr:1
rwmutex_1pct:8:mops:rw~1%~8~thr:1 rwmutex_10pct:2:mops:rw~10%~2~thr:1 rwmutex_10pct:8:mops:rw~10%~8~thr:1
cond_pingpong:2:ns_per_roundtrip:cond~ping-pong:0 cond_broadcast:4:all_p50_us:broadcast~to~4:0
cond_broadcast:16:all_p50_us:broadcast~to~16:0 waitgroup_cycle:4:ns_per_cycle:wait-group~cycle:0
once_fast:1:ns_per_call:once~fast~path:0 sem_uncontended:1:ns_per_pair:sem~1~thr:0
sem_contended:4:mops:sem~4~thr~cap~2:1"
pd() { awk -f bench/stats.awk -f bench/plotdata.awk "$@"; }

pd -v mode=series -v pwl=contended -v pmet=mops -v pimpls="$MUTEX_IMPLS" "$res/mutex.csv" >"$tmp/contended.dat"
pd -v mode=bars -v pwl=lockskew -v pthr=2 -v pmets="wait_p50_us wait_p99_us wait_max_us" -v pimpls="$MUTEX_IMPLS" \
	"$res/mutex.csv" >"$tmp/lockskew.dat"
pd -v mode=series -v pwl=readers_1writer -v pmet=ns_per_read -v pimpls="$VALUE_IMPLS" "$res/value.csv" >"$tmp/value.dat"
pd -v mode=ratios -v pspec="$SYNC_SPEC" -v pimpls="$SYNC_IMPLS" "$res/sync.csv" >"$tmp/sync.dat"

# The lockskew CDF: one block per implementation ("wait_us quantile"), and the plot
# clauses that draw them, with COL for the y column (titles carry the sample count).
cdfplot=
if [ -f "$res/lockskew_cdf.csv" ]; then
	awk -F, -v order="$MUTEX_IMPLS" -v dat="$tmp/cdf.dat" -v clauses="$tmp/cdf.plot" '
		NR == 1 { next }
		!($1 in rows) { seq[++ns] = $1; cnt[$1] = $3 }
		{ rows[$1] = rows[$1] ($5 > 0.001 ? $5 : 0.001) " " $4 "\n" }
		END {
			no = split(order, o, " ")
			for (i = 1; i <= no; i++) if (o[i] in rows) { l[++nl] = o[i]; done[o[i]] = 1 }
			for (i = 1; i <= ns; i++) if (!(seq[i] in done)) l[++nl] = seq[i]
			for (i = 1; i <= nl; i++) {
				printf "%s%s", (i > 1 ? "\n\n" : ""), rows[l[i]] >dat
				printf "%s\"%s\" index %d using 1:COL with lines lw %s title \"%s, %d\"", (i > 1 ? ", " : ""),
					dat, i - 1, (l[i] == "gosync" ? 3.5 : 1.8), l[i], cnt[l[i]] >clauses
			}
		}' "$res/lockskew_cdf.csv"
	[ -s "$tmp/cdf.plot" ] && cdfplot=$(cat "$tmp/cdf.plot")
fi

plots=
if command -v gnuplot >/dev/null 2>&1; then
	if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
		dev=pngcairo; font=' font "sans,11"'
	else
		dev=png; font=
	fi
	term="$dev size 960,600$font"
	# gnuplot's default colours repeat after 8 lines; the value plot has 10.
	lts='set linetype 9 lc rgb "#8c564b"; set linetype 10 lc rgb "#e377c2"; set linetype 11 lc rgb "#7f7f7f"
set linetype 12 lc rgb "#bcbd22"; set linetype 13 lc rgb "#17becf"; set linetype 14 lc rgb "#000080"
set linetype cycle 14'
	cnames=$(sed -n '1s/^# impls: //p' "$tmp/contended.dat")
	vnames=$(sed -n '1s/^# impls: //p' "$tmp/value.dat")
	snames=$(sed -n '1s/^# impls: //p' "$tmp/sync.dat")
	cdf_cdf=$(printf '%s' "$cdfplot" | sed 's/COL/2/g')
	cdf_tail=$(printf '%s' "$cdfplot" | sed 's/COL/(1 - $2 > 0 ? 1 - $2 : 1\/0)/g')
	gnuplot <<EOF
set terminal $term
set termoption noenhanced
$lts
set key outside right top
set grid ytics lc rgb "#dddddd"

set output "$res/contended_mops.png"
set title "Contended mutex: throughput vs threads (median over rounds, bars: min..max)"
set xlabel "threads (goroutines for go)"
set ylabel "Mops/s (all threads' lock+unlock pairs per us)"
set logscale x 2
set xtics (1, 2, 4, 8, 16, 64)
set xrange [0.8:80]
set yrange [0:*]
names = "$cnames"
plot for [i=1:words(names)] "$tmp/contended.dat" index (i-1) using 1:2:3:4 \
	with yerrorlines lw (word(names, i) eq "gosync" ? 3.5 : 1.5) pt 7 title word(names, i)

set output "$res/value_readers.png"
set title "Atomic value: ns per read with 1 writer storing continuously (median, bars: min..max)"
set xlabel "reader threads"
set ylabel "ns per read (log scale)"
set logscale xy
set xtics (1, 2, 4)
set xrange [0.8:5]
set yrange [*:*]
names = "$vnames"
plot for [i=1:words(names)] "$tmp/value.dat" index (i-1) using 1:2:3:4 \
	with yerrorlines lw (word(names, i) eq "gosync" ? 3.5 : 1.5) pt 7 title word(names, i)

unset logscale
set output "$res/lockskew_wait.png"
set title "Lockskew: wait of a thread wanting the lock every 1 ms from a 100 us holder (medians over rounds)"
set xlabel "implementation"
set ylabel "wait, us (log scale)"
set logscale y
set yrange [1:*]
set xrange [*:*]
set xtics auto
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set arrow 1 from graph 0, first 2000 to graph 1, first 2000 nohead dt 2 lw 2 lc rgb "#aa0000"
set label 1 "2 ms goal" at graph 0.01, first 2600 tc rgb "#aa0000"
plot "$tmp/lockskew.dat" using 2:xtic(1) title "p50", "" using 3 title "p99", "" using 4 title "max"
unset arrow 1
unset label 1

set output "$res/sync_vs_glibc.png"
set terminal $dev size 1100,600$font
set termoption noenhanced
$lts
set title "The rest of sync: cost relative to glibc in the same round (median ratio; throughput inverted)"
set xlabel ""
set ylabel "x glibc (log scale; below 1: better than glibc)"
set yrange [*:*]
set datafile missing "-"
set xtics rotate by 30 right
set bmargin 6
set arrow 2 from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "#000000"
names = "$snames"
plot for [i=1:words(names)] "$tmp/sync.dat" using (column(i + 1)):xtic(1) title word(names, i)
EOF
	if [ -n "$cdfplot" ]; then
		gnuplot <<EOF
set terminal $dev size 960,860$font
set termoption noenhanced
$lts
set output "$res/lockskew_cdf.png"
set multiplot layout 2,1 title "Lockskew: waits of a thread wanting the lock every 1 ms from a 100 us holder\n(every wait of every round; legend: implementation, waits)"
set lmargin at screen 0.09
set rmargin at screen 0.76
set key outside right top
set grid xtics ytics lc rgb "#dddddd"
set logscale x
set format x "%g"
set arrow 1 from first 2000, graph 0 to first 2000, graph 1 nohead dt 2 lw 2 lc rgb "#aa0000"
set label 1 "2 ms goal" at first 2200, graph 0.08 tc rgb "#aa0000"
set xlabel "wait, us (log scale)"
set ylabel "fraction of waits <= x"
set yrange [0:1]
plot $cdf_cdf
set ylabel "fraction of waits > x (log scale)"
set logscale y
set yrange [0.0001:1]
set format y "%g"
unset label 1
unset key
plot $cdf_tail
unset multiplot
EOF
	fi
	plots=yes
else
	echo "note: gnuplot not found: report without plots (Debian: apt-get install gnuplot-nox)" >&2
fi

# How noisy: (max - min) / median over rounds of the headline metrics.
NOISE_METS="mops ns_per_pair ns_per_read ns_per_store ns_per_call ns_per_roundtrip ns_per_cycle wall_ms all_p50_us"
for f in mutex sync value; do
	pd -v mode=noise -v pmets="$NOISE_METS" "$res/$f.csv"
done | sort -n >"$tmp/noise.txt"

{
	echo "# gosync benchmark report"
	echo
	# The run's date, machine, command and load: the header lines of mutex.md.
	[ -f "$res/mutex.md" ] && awk '/^- / { if ($2 != "workloads") print; seen = 1; next } seen { exit }' "$res/mutex.md"
	echo "- workloads and method: bench/README.md; raw rows: $res/{mutex,sync,value}.csv; every metric's"
	echo "  min / median / max: $res/{mutex,sync,value}.md"
	echo
	echo "## How noisy this run was"
	echo
	awk '
		{ v[++m] = $1; line[m] = $0 }
		END {
			if (m == 0) { print "Only one round: no spread to report."; exit }
			p50 = v[int((m + 1) / 2)]; p90 = v[int(0.9 * m + 0.5) < 1 ? 1 : int(0.9 * m + 0.5)]
			printf "Spread = (max - min) / median over rounds, for the %d headline cells (throughput, ns per\n", m
			printf "operation, wall time; not the tail latencies, which are noisier by nature).\n\n"
			printf "- median spread %.0f %%, 90th percentile %.0f %%, widest %.0f %%\n", p50, p90, v[m]
			printf "- differences smaller than the spread of the two cells compared are not evidence\n\n"
			printf "The five widest:\n\n| spread | workload | threads | metric | impl |\n|---|---|---|---|---|\n"
			for (i = m; i > m - 5 && i >= 1; i--) { split(line[i], p, " "); printf "| %s %% | %s | %s | %s | %s |\n", p[1], p[2], p[3], p[4], p[5] }
			print ""
		}' "$tmp/noise.txt"
	if [ -n "$plots" ]; then
		echo "## Plots"
		echo
		echo "![contended mutex throughput vs threads](contended_mops.png)"
		echo
		if [ -n "$cdfplot" ]; then
			echo "![lockskew wait CDF per implementation](lockskew_cdf.png)"
			echo
		fi
		echo "![lockskew wait p50, p99, max per implementation](lockskew_wait.png)"
		echo
		echo "![atomic value: ns per read vs readers](value_readers.png)"
		echo
		echo "![the rest of sync: cost relative to glibc](sync_vs_glibc.png)"
		echo
	fi
	echo "## Mutex"
	echo
	awk -f bench/stats.awk -f bench/summarize.awk "$res/mutex.csv"
	echo "## The rest of sync"
	echo
	awk -f bench/stats.awk -f bench/summarize_sync.awk "$res/sync.csv"
	echo "## The atomic value"
	echo
	awk -f bench/stats.awk -f bench/summarize_value.awk "$res/value.csv"
} >"$res/report.md"
echo "report: $res/report.md${plots:+ (plots: $res/contended_mops.png ${cdfplot:+$res/lockskew_cdf.png }$res/lockskew_wait.png $res/value_readers.png $res/sync_vs_glibc.png)}"
