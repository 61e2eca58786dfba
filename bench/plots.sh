#!/bin/sh
# plots.sh — PNG plots (gnuplot) and the Markdown report of a benchmark run.
#
#   sh bench/plots.sh [RESULTS_DIR]      (default bench/results; run from the repo root)
#
# Reads RESULTS_DIR/{mutex,sync,value}.csv (and the run's date / machine / command
# lines from the head of RESULTS_DIR/mutex.md) and writes
#   contended_mops.png   contended mutex throughput vs threads, median over rounds,
#                        min..max as error bars, one line per implementation
#   lockskew_wait.png    lockskew: the wanting thread's wait p50 / p99 / max per
#                        implementation (medians over rounds), log scale
#   value_readers.png    atomic value: ns per read vs readers (1 writer churning)
#   report.md            the summary tables, the plots, and how noisy the run was
# Without gnuplot the report is still written, without the plots.
set -eu

res=${1:-bench/results}
for f in mutex sync value; do
	[ -f "$res/$f.csv" ] || { echo "plots.sh: $res/$f.csv missing (run make bench first)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

MUTEX_IMPLS="gosync glibc adaptive nsync absl mutex3 go floor"
VALUE_IMPLS="gosync urcu_bp urcu_bp_sym pthread_rwlock gs_rwmutex go"
pd() { awk -f bench/stats.awk -f bench/plotdata.awk "$@"; }

pd -v mode=series -v pwl=contended -v pmet=mops -v pimpls="$MUTEX_IMPLS" "$res/mutex.csv" >"$tmp/contended.dat"
pd -v mode=bars -v pwl=lockskew -v pthr=2 -v pmets="wait_p50_us wait_p99_us wait_max_us" -v pimpls="$MUTEX_IMPLS" \
	"$res/mutex.csv" >"$tmp/lockskew.dat"
pd -v mode=series -v pwl=readers_1writer -v pmet=ns_per_read -v pimpls="$VALUE_IMPLS" "$res/value.csv" >"$tmp/value.dat"

plots=
if command -v gnuplot >/dev/null 2>&1; then
	if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
		term='pngcairo size 960,600 font "sans,11"'
	else
		term='png size 960,600'
	fi
	cnames=$(sed -n '1s/^# impls: //p' "$tmp/contended.dat")
	vnames=$(sed -n '1s/^# impls: //p' "$tmp/value.dat")
	gnuplot <<EOF
set terminal $term
set termoption noenhanced
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
EOF
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
		echo "![lockskew wait p50, p99, max per implementation](lockskew_wait.png)"
		echo
		echo "![atomic value: ns per read vs readers](value_readers.png)"
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
echo "report: $res/report.md${plots:+ (plots: $res/contended_mops.png $res/lockskew_wait.png $res/value_readers.png)}"
