#!/bin/sh
# run.sh — drives the mutex benchmark binaries round-robin and summarises.
#
#   sh bench/run.sh BINDIR        (QUICK=1 in the environment for the short run)
#
# Run from the repository root (bench/bench.mk does). POSIX sh + awk only.
# Every measurement is its own process. Within a round, each workload configuration
# runs every implementation back to back (gosync glibc adaptive nsync mutex3 [floor]),
# so neighbouring numbers saw the same machine; rounds repeat that R times.
set -eu

bindir=${1:?usage: run.sh BINDIR}
quick=${QUICK:-}
[ "$quick" = 0 ] && quick=

if [ -n "$quick" ]; then
	ROUNDS=3; A_ITERS=5000000; A_REPS=3; B_MS=300; C_MS=500; D_ITERS=10000
	cmdline="make bench QUICK=1"
else
	ROUNDS=5; A_ITERS=10000000; A_REPS=5; B_MS=1000; C_MS=2000; D_ITERS=100000
	cmdline="make bench"
fi
IMPLS="gosync glibc adaptive nsync mutex3 floor"
THREADS="1 2 4 8 16 64"
D_THREADS=30
CG_N=200000 # callgrind: run (a) with N and 2N pairs; (I(2N) - I(N)) / N

resdir=bench/results
csv=$resdir/mutex.csv
md=$resdir/mutex.md
tmp=$resdir/mutex.csv.tmp
mkdir -p "$resdir"

for i in $IMPLS; do
	[ -x "$bindir/bench_mutex_$i" ] || { echo "missing $bindir/bench_mutex_$i" >&2; exit 1; }
done

echo "round,impl,workload,threads,metric,value" >"$tmp"
failures=0

# run ROUND IMPL ARGS... : one process, its rows tagged with the round.
run() {
	r=$1; i=$2; shift 2
	if out=$("$bindir/bench_mutex_$i" "$@"); then
		printf '%s\n' "$out" | awk -v r="$r" 'NF { print r "," $0 }' >>"$tmp"
	else
		echo "  FAILED: $i $*" >&2
		failures=$((failures + 1))
	fi
}

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
		i1=$(cg "$i" "$CG_N"); i2=$(cg "$i" $((CG_N * 2)))
		if [ -n "$i1" ] && [ -n "$i2" ]; then
			awk -v a="$i1" -v b="$i2" -v n="$CG_N" -v i="$i" \
				'BEGIN { printf "0,%s,callgrind,1,instr_per_pair,%.2f\n", i, (b - a) / n }' >>"$tmp"
		fi
	done
fi
mv "$tmp" "$csv"
elapsed=$(( $(date +%s) - started ))
load1=$(cut -d" " -f1-3 /proc/loadavg)

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ncpu=$(getconf _NPROCESSORS_ONLN)
usable=$(nproc 2>/dev/null || echo "$ncpu")
{
	echo "# gosync mutex benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- CPU: ${cpu:-unknown}, $ncpu online, $usable usable"
	echo "- kernel: $(uname -sr), $(ldd --version 2>/dev/null | awk 'NR == 1 { print "glibc " $NF }'), compiler: $(${CC:-cc} --version | awk 'NR == 1')"
	echo "- command: \`$cmdline\` ($ROUNDS rounds, $elapsed s)"
	echo "- load average (1 5 15 min) before: $load0, after: $load1 (other work on the machine shows here)"
	echo "- workloads and method: bench/README.md; raw rows: bench/results/mutex.csv"
	echo
	awk -f bench/summarize.awk -v long=1 "$csv"
} >"$md"

awk -f bench/summarize.awk "$csv"
echo "summary: $md   raw: $csv   ($elapsed s)"
[ "$failures" -eq 0 ] || { echo "$failures runs failed" >&2; exit 1; }
