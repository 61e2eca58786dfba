#!/bin/sh
# run.sh — drives the benchmark binaries round-robin and summarises.
#
#   sh bench/run.sh BINDIR        (QUICK=1 in the environment for the short run;
#                                  RESULTS=DIR to write somewhere else than bench/results)
#
# Run from the repository root (bench/bench.mk does). POSIX sh + awk only.
# Every measurement is its own process. Within a round, each workload configuration
# runs every implementation back to back (the lists below, in that order; a binary
# without the workload prints nothing), so neighbouring numbers saw the same machine;
# rounds repeat that R times. Each round runs the mutex rows, then the rest-of-sync
# rows, then the atomic-value rows. The Go peer (bench/go) and Abseil are optional:
# each is left out with a note when its binaries were not built (no Go toolchain, no
# libabsl-dev). The lockskew runs write every wait to BINDIR/samples/, which becomes
# RESULTS/lockskew_cdf.csv (a decimated CDF per implementation, all rounds pooled).
# Then callgrind instruction counts (round 0 rows), the summaries, and
# bench/plots.sh (the PNGs, gnuplot, and RESULTS/report.md).
#
# An implementation is a binary BINDIR/bench_<set>_<name> that prints CSV rows with
# its name; a new column is its name added to a list below (and a build rule in
# bench/bench.mk, or any executable of that name, e.g. a wrapper script). The
# summaries and plots show every implementation found in the CSVs.
set -eu

bindir=${1:?usage: run.sh BINDIR}
quick=${QUICK:-}
[ "$quick" = 0 ] && quick=

if [ -n "$quick" ]; then
	ROUNDS=3; A_ITERS=2000000; A_REPS=3; B_MS=100; C_MS=300; D_ITERS=10000
	S_ITERS=1000000; ONCE_ITERS=5000000; S_MS=100; BC_REPS=50; CG_N=100000
	cmdline="make bench QUICK=1"
else
	ROUNDS=5; A_ITERS=10000000; A_REPS=5; B_MS=1000; C_MS=2000; D_ITERS=100000
	S_ITERS=10000000; ONCE_ITERS=20000000; S_MS=1000; BC_REPS=500; CG_N=200000
	cmdline="make bench"
fi
# The implementations of each set, in the order they run and are shown.
IMPLS="gosync glibc shim adaptive nsync absl mutex3 go floor"
SYNC_IMPLS="gosync glibc shim glibc_pw shim_pw nsync absl barrier go"
VALUE_IMPLS="gosync urcu urcu_sym rwlock rwmutex nsync absl go go_value go_rwmutex"
OPTIONAL="absl go go_value go_rwmutex" # dropped with a note when not built

THREADS="1 2 4 8 16 64"
D_THREADS=30
# CG_N: operations in each callgrind run (instructions per operation, below).
# Rest of sync (bench_sync.c): S_ITERS / ONCE_ITERS operations per one-thread run
# (best of A_REPS), S_MS per throughput run, BC_REPS broadcasts per broadcast run.
RW_THREADS="2 8"
RW_PERMILLE="10 100" # 1 % and 10 % writes
BC_WAITERS="4 16"
SEM_THREADS=4; SEM_CAP=2
# The atomic value (bench_value.c): S_ITERS reads and S_ITERS / 20 stores per one-thread
# run (best of A_REPS), S_MS per 1-writer + N-readers run.
V_READERS="1 2 4"

resdir=${RESULTS:-bench/results}
csv=$resdir/mutex.csv
md=$resdir/mutex.md
tmp=$resdir/mutex.csv.tmp
scsv=$resdir/sync.csv
smd=$resdir/sync.md
stmp=$resdir/sync.csv.tmp
vcsv=$resdir/value.csv
vmd=$resdir/value.md
vtmp=$resdir/value.csv.tmp
mkdir -p "$resdir"

# keep SET LIST...: LIST without the optional implementations whose binary is missing
# (a note each); a missing required one stops the run.
keep() {
	k=$1; shift
	for i in "$@"; do
		if [ -x "$bindir/bench_${k}_$i" ]; then
			printf '%s ' "$i"
		elif case " $OPTIONAL " in *" $i "*) true ;; *) false ;; esac; then
			echo "note: $bindir/bench_${k}_$i not built (no Go toolchain or no libabsl-dev): running without it" >&2
		else
			echo "missing $bindir/bench_${k}_$i" >&2
			return 1
		fi
	done
}
IMPLS=$(keep mutex $IMPLS)
SYNC_IMPLS=$(keep sync $SYNC_IMPLS)
VALUE_IMPLS=$(keep value $VALUE_IMPLS)

# Every lockskew wait, one file per implementation and round (not kept in RESULTS:
# the CDF below is what stays).
sampdir=$bindir/samples
mkdir -p "$sampdir"
rm -f "$sampdir"/lockskew_*.txt

echo "round,impl,workload,threads,metric,value" >"$tmp"
echo "round,impl,workload,threads,metric,value" >"$stmp"
echo "round,impl,workload,threads,metric,value" >"$vtmp"
failures=0

# runin BENCH CSV ROUND IMPL ARGS... : one process of bench_BENCH_IMPL, its rows
# tagged with the round and appended to CSV.
runin() {
	b=$1; f=$2; r=$3; i=$4; shift 4
	if out=$("$bindir/bench_${b}_$i" "$@"); then
		printf '%s\n' "$out" | awk -v r="$r" 'NF { print r "," $0 }' >>"$f"
	else
		echo "  FAILED: bench_${b}_$i $*" >&2
		failures=$((failures + 1))
	fi
}
run() { runin mutex "$tmp" "$@"; }   # run ROUND IMPL ARGS...
srun() { runin sync "$stmp" "$@"; }  # srun ROUND IMPL ARGS...
vrun() { runin value "$vtmp" "$@"; } # vrun ROUND IMPL ARGS...

started=$(date +%s)
load0=$(cut -d" " -f1-3 /proc/loadavg)
run 0 glibc privwork

r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "round $r/$ROUNDS (at $(( $(date +%s) - started )) s)" >&2
	for i in $IMPLS; do run "$r" "$i" uncontended "$A_ITERS" "$A_REPS"; done
	for i in $IMPLS; do run "$r" "$i" uncontended_mt "$A_ITERS" "$A_REPS"; done
	for t in $THREADS; do
		for i in $IMPLS; do
			# The floor spins without ever sleeping: not run oversubscribed.
			[ "$i" = floor ] && [ "$t" -gt 2 ] && continue
			run "$r" "$i" contended "$t" "$B_MS"
		done
	done
	for i in $IMPLS; do [ "$i" = floor ] || run "$r" "$i" lockskew "$C_MS" "$sampdir/lockskew_${i}_r$r.txt"; done
	for i in $IMPLS; do [ "$i" = floor ] || run "$r" "$i" counter "$D_THREADS" "$D_ITERS"; done

	# The rest of sync (bench_sync.c).
	for i in $SYNC_IMPLS; do srun "$r" "$i" rwunc "$S_ITERS" "$A_REPS"; done
	for p in $RW_PERMILLE; do
		for t in $RW_THREADS; do
			for i in $SYNC_IMPLS; do srun "$r" "$i" rw "$t" "$p" "$S_MS"; done
		done
	done
	for i in $SYNC_IMPLS; do srun "$r" "$i" pingpong "$S_MS"; done
	for n in $BC_WAITERS; do
		for i in $SYNC_IMPLS; do srun "$r" "$i" broadcast "$n" "$BC_REPS"; done
	done
	for i in $SYNC_IMPLS; do srun "$r" "$i" wgcycle "$S_MS"; done
	for i in $SYNC_IMPLS; do srun "$r" "$i" once "$ONCE_ITERS" "$A_REPS"; done
	for i in $SYNC_IMPLS; do srun "$r" "$i" semunc "$S_ITERS" "$A_REPS"; done
	for i in $SYNC_IMPLS; do srun "$r" "$i" semcont "$SEM_THREADS" "$SEM_CAP" "$S_MS"; done

	# The atomic value (bench_value.c).
	for i in $VALUE_IMPLS; do vrun "$r" "$i" uncontended "$S_ITERS" "$A_REPS"; done
	for n in $V_READERS; do
		for i in $VALUE_IMPLS; do vrun "$r" "$i" readers "$n" "$S_MS"; done
	done
	for i in $VALUE_IMPLS; do vrun "$r" "$i" store "$((S_ITERS / 20))" "$A_REPS"; done
	r=$((r + 1))
done

# The lockskew latency CDF: every implementation's waits of all rounds, sorted, down
# to 112 quantiles (bench/cdf.awk).
echo "impl,rounds,samples,quantile,wait_us" >"$resdir/lockskew_cdf.csv.tmp"
for i in $IMPLS; do
	set -- "$sampdir"/lockskew_"${i}"_r*.txt
	[ -f "$1" ] || continue
	cat "$@" | sort -n | awk -v impl="$i" -v rounds=$# -f bench/cdf.awk >>"$resdir/lockskew_cdf.csv.tmp"
done
mv "$resdir/lockskew_cdf.csv.tmp" "$resdir/lockskew_cdf.csv"

# Instruction counts: deterministic, so one run each is enough, and the runs (no
# timing in them) go two at a time. Each binary runs its one-thread timed loop out of
# line in a function named cg_*, after one untimed operation (lazy binding and other
# one-time costs); callgrind counts only inside cg_* (--toggle-collect), so the count
# over N operations / N is the cost per operation, loop included (+ 20 / N for the
# function's entry and exit). For the C implementations that have the workload (a
# short native run prints a row, whose first field is the name the CSVs use).
if command -v valgrind >/dev/null 2>&1; then
	echo "callgrind instruction counts (at $(( $(date +%s) - started )) s)" >&2
	cgdir=$bindir/callgrind
	rm -rf "$cgdir"
	mkdir -p "$cgdir"
	cgrow() { # cgrow SET IMPL WORKLOAD METRIC: one round-0 CSV row on stdout
		bin=$bindir/bench_$1_$2
		name=$("$bin" "$3" 1000 1 | awk -F, 'NR == 1 { print $1 }')
		[ -n "$name" ] || return 0
		# --trace-children: an implementation may be a wrapper script around a binary;
		# its shell (and anything else without cg_*) collects 0.
		valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='cg_*' \
			--trace-children=yes "$bin" "$3" "$CG_N" 1 2>&1 >/dev/null |
			awk -v n="$CG_N" -v i="$name" -v m="$4" '/Collected :/ { s += $NF; k = 1 }
				END { if (k) printf "0,%s,callgrind,1,%s,%.2f\n", i, m, s / n }'
	}
	ncg=0
	cgjob() { # cgjob SET IMPL WORKLOAD METRIC, two at a time
		case $2 in go | go_*) return 0 ;; esac # the Go binaries: callgrind counts are for C
		cgrow "$@" >"$cgdir/$1.$(printf %03d $ncg)" &
		ncg=$((ncg + 1))
		[ $((ncg % 2)) -ne 0 ] || wait
	}
	for i in $IMPLS; do cgjob mutex "$i" uncontended instr_per_pair; done
	for wm in rwunc:instr_rlock_pair once:instr_once_call semunc:instr_sem_pair; do
		for i in $SYNC_IMPLS; do cgjob sync "$i" "${wm%%:*}" "${wm#*:}"; done
	done
	for i in $VALUE_IMPLS; do cgjob value "$i" uncontended instr_per_read; done
	wait
	cat "$cgdir"/mutex.* >>"$tmp" 2>/dev/null || true
	cat "$cgdir"/sync.* >>"$stmp" 2>/dev/null || true
	cat "$cgdir"/value.* >>"$vtmp" 2>/dev/null || true
fi
echo "summaries and plots (at $(( $(date +%s) - started )) s)" >&2
mv "$tmp" "$csv"
mv "$stmp" "$scsv"
mv "$vtmp" "$vcsv"
elapsed=$(( $(date +%s) - started ))
load1=$(cut -d" " -f1-3 /proc/loadavg)

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ncpu=$(getconf _NPROCESSORS_ONLN)
usable=$(nproc 2>/dev/null || echo "$ncpu")
# header TITLE RAWCSV: the lines every summary starts with.
header() {
	echo "# $1"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- CPU: ${cpu:-unknown}, $ncpu online, $usable usable"
	echo "- kernel: $(uname -sr), $(ldd --version 2>/dev/null | awk 'NR == 1 { print "glibc " $NF }'), compiler: $(${CC:-cc} --version | awk 'NR == 1')"
	echo "- command: \`$cmdline\` ($ROUNDS rounds, $elapsed s for all rows together)"
	echo "- load average (1 5 15 min) before: $load0, after: $load1 (other work on the machine shows here)"
	echo "- workloads and method: bench/README.md; raw rows: $2"
	echo
}
{
	header "gosync mutex benchmark" "$csv"
	awk -f bench/stats.awk -f bench/summarize.awk -v long=1 "$csv"
} >"$md"
{
	header "gosync benchmark: the rest of sync (RWMutex, Cond, WaitGroup, Once, semaphore)" "$scsv"
	awk -f bench/stats.awk -f bench/summarize_sync.awk -v long=1 "$scsv"
} >"$smd"
{
	header "gosync benchmark: the atomic value (read-mostly copy-on-write)" "$vcsv"
	awk -f bench/stats.awk -f bench/summarize_value.awk "$vcsv"
} >"$vmd"

awk -f bench/stats.awk -f bench/summarize.awk "$csv"
awk -f bench/stats.awk -f bench/summarize_sync.awk "$scsv"
awk -f bench/stats.awk -f bench/summarize_value.awk "$vcsv"
echo "load average (1 5 15 min) before: $load0, after: $load1"
echo "summary: $md $smd $vmd   raw: $csv $scsv $vcsv   ($elapsed s)"

# Plots and the report (bench/plots.sh): gnuplot PNGs + bench/results/report.md.
sh bench/plots.sh "$resdir" || echo "note: plots/report failed (the summaries above are complete)" >&2
[ "$failures" -eq 0 ] || { echo "$failures runs failed" >&2; exit 1; }
