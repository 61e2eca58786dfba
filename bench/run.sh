#!/bin/sh
# run.sh — drives the benchmark binaries round-robin and summarises.
#
#   sh bench/run.sh BINDIR        (QUICK=1 in the environment for the short run)
#
# Run from the repository root (bench/bench.mk does). POSIX sh + awk only.
# Every measurement is its own process. Within a round, each workload configuration
# runs every implementation back to back (mutex: gosync glibc adaptive nsync absl
# mutex3 go [floor]; rest of sync: gosync glibc glibc_pw nsync barrier go, where a binary
# without the workload prints nothing), so neighbouring numbers saw the same machine;
# rounds repeat that R times. Each round runs the mutex rows, then the rest-of-sync
# rows, then the atomic-value rows. "go" is the Go peer (bench/go), "absl" Abseil's
# absl::Mutex; each is left out with a note when its binaries were not built (no Go
# toolchain, no libabsl-dev). After the summaries,
# bench/plots.sh draws the PNGs and writes bench/results/report.md (gnuplot; skipped
# with a note without it).
set -eu

bindir=${1:?usage: run.sh BINDIR}
quick=${QUICK:-}
[ "$quick" = 0 ] && quick=

if [ -n "$quick" ]; then
	ROUNDS=3; A_ITERS=5000000; A_REPS=3; B_MS=300; C_MS=500; D_ITERS=10000
	S_ITERS=2000000; ONCE_ITERS=5000000; S_MS=200; BC_REPS=100
	cmdline="make bench QUICK=1"
else
	ROUNDS=5; A_ITERS=10000000; A_REPS=5; B_MS=1000; C_MS=2000; D_ITERS=100000
	S_ITERS=10000000; ONCE_ITERS=20000000; S_MS=1000; BC_REPS=500
	cmdline="make bench"
fi
IMPLS="gosync glibc adaptive nsync absl mutex3 go floor"
THREADS="1 2 4 8 16 64"
D_THREADS=30
CG_N=200000 # callgrind: run (a) with N and 2N pairs; (I(2N) - I(N)) / N
# Rest of sync (bench_sync.c): S_ITERS / ONCE_ITERS operations per one-thread run
# (best of A_REPS), S_MS per throughput run, BC_REPS broadcasts per broadcast run.
SYNC_IMPLS="gosync glibc glibc_pw nsync barrier go"
RW_THREADS="2 8"
RW_PERMILLE="10 100" # 1 % and 10 % writes
BC_WAITERS="4 16"
SEM_THREADS=4; SEM_CAP=2
# The atomic value (bench_value.c): V_ITERS reads / stores per one-thread run (best of
# A_REPS), S_MS per 1-writer + N-readers run.
VALUE_IMPLS="gosync urcu urcu_sym rwlock rwmutex go"
V_READERS="1 2 4"

resdir=bench/results
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

# The Go and Abseil peers are optional: without their binaries, run without their rows.
drop() { # drop NAME LIST...: LIST without NAME
	d=$1; shift
	printf '%s\n' "$*" | awk -v d="$d" '{ for (i = 1; i <= NF; i++) if ($i != d) o = o (o == "" ? "" : " ") $i; print o }'
}
if ! [ -x "$bindir/bench_mutex_go" ] || ! [ -x "$bindir/bench_sync_go" ] || ! [ -x "$bindir/bench_value_go" ]; then
	echo "note: $bindir/bench_*_go not built (no Go toolchain): running without the go rows" >&2
	IMPLS=$(drop go $IMPLS); SYNC_IMPLS=$(drop go $SYNC_IMPLS); VALUE_IMPLS=$(drop go $VALUE_IMPLS)
fi
if ! [ -x "$bindir/bench_mutex_absl" ]; then
	echo "note: $bindir/bench_mutex_absl not built (no libabsl-dev): running without the absl rows" >&2
	IMPLS=$(drop absl $IMPLS)
fi

for i in $IMPLS; do
	[ -x "$bindir/bench_mutex_$i" ] || { echo "missing $bindir/bench_mutex_$i" >&2; exit 1; }
done
for i in $SYNC_IMPLS; do
	[ -x "$bindir/bench_sync_$i" ] || { echo "missing $bindir/bench_sync_$i" >&2; exit 1; }
done
for i in $VALUE_IMPLS; do
	[ -x "$bindir/bench_value_$i" ] || { echo "missing $bindir/bench_value_$i" >&2; exit 1; }
done

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
	echo "round $r/$ROUNDS" >&2
	for i in $IMPLS; do run "$r" "$i" uncontended "$A_ITERS" "$A_REPS"; done
	for i in $IMPLS; do run "$r" "$i" uncontended_mt "$A_ITERS" "$A_REPS"; done
	for t in $THREADS; do
		for i in $IMPLS; do
			# The floor spins without ever sleeping: not run oversubscribed.
			[ "$i" = floor ] && [ "$t" -gt 2 ] && continue
			run "$r" "$i" contended "$t" "$B_MS"
		done
	done
	for i in $IMPLS; do [ "$i" = floor ] || run "$r" "$i" lockskew "$C_MS"; done
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

# Instruction counts (deterministic, so one run each is enough).
if command -v valgrind >/dev/null 2>&1; then
	echo "callgrind instruction counts" >&2
	cg() { # prints the instructions callgrind collected for IMPL ITERS
		valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			"$bindir/bench_mutex_$1" uncontended "$2" 1 2>&1 >/dev/null |
			awk '/Collected :/ { print $NF }'
	}
	for i in $IMPLS; do
		[ "$i" = go ] && continue # callgrind counts are for the C implementations
		i1=$(cg "$i" "$CG_N"); i2=$(cg "$i" $((CG_N * 2)))
		if [ -n "$i1" ] && [ -n "$i2" ]; then
			awk -v a="$i1" -v b="$i2" -v n="$CG_N" -v i="$i" \
				'BEGIN { printf "0,%s,callgrind,1,instr_per_pair,%.2f\n", i, (b - a) / n }' >>"$tmp"
		fi
	done
	# Rest of sync: rlock+runlock pair, once fast path, sem acquire+release, for every
	# implementation that has the workload (a short native run prints a row).
	scg() { # prints the instructions callgrind collected for IMPL WORKLOAD ITERS
		valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			"$bindir/bench_sync_$1" "$2" "$3" 1 2>&1 >/dev/null |
			awk '/Collected :/ { print $NF }'
	}
	for wm in rwunc:instr_rlock_pair once:instr_once_call semunc:instr_sem_pair; do
		w=${wm%%:*}; m=${wm#*:}
		for i in $SYNC_IMPLS; do
			[ "$i" = go ] && continue
			[ -n "$("$bindir/bench_sync_$i" "$w" 1000 1)" ] || continue
			i1=$(scg "$i" "$w" "$CG_N"); i2=$(scg "$i" "$w" $((CG_N * 2)))
			if [ -n "$i1" ] && [ -n "$i2" ]; then
				awk -v a="$i1" -v b="$i2" -v n="$CG_N" -v i="$i" -v m="$m" \
					'BEGIN { printf "0,%s,callgrind,1,%s,%.2f\n", i, m, (b - a) / n }' >>"$stmp"
			fi
		done
	done
fi
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
	header "gosync mutex benchmark" bench/results/mutex.csv
	awk -f bench/stats.awk -f bench/summarize.awk -v long=1 "$csv"
} >"$md"
{
	header "gosync benchmark: the rest of sync (RWMutex, Cond, WaitGroup, Once, semaphore)" bench/results/sync.csv
	awk -f bench/stats.awk -f bench/summarize_sync.awk -v long=1 "$scsv"
} >"$smd"
{
	header "gosync benchmark: the atomic value (read-mostly copy-on-write)" bench/results/value.csv
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
