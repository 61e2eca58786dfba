# cdf.awk — decimates sorted latency samples into a CDF for bench/run.sh and plots.sh.
#
#   sort -n SAMPLES... | awk -v impl=NAME -v rounds=R -f bench/cdf.awk
#
# Input: one wait in ns per line, sorted ascending. Output: CSV rows
# "impl,rounds,samples,quantile,wait_us" at quantiles 0 (the minimum), 0.01 .. 0.99
# in steps of 0.01, 0.991 .. 0.999 in steps of 0.001, 0.9995, 0.9999 and 1 (the
# maximum): 112 rows whatever the sample count, so the committed file stays small
# while keeping the tail. The value at quantile q is the nearest-rank sample
# x[ceil(q * n)] (x[1] for q = 0): the fraction of waits <= it is at least q.

{ x[++n] = $1 + 0 }

function emit(q,    k) {
	k = int(q * n)
	if (k < q * n) k++
	if (k < 1) k = 1
	if (k > n) k = n
	printf "%s,%d,%d,%s,%.3f\n", impl, rounds, n, q, x[k] / 1000
}

END {
	if (n == 0) exit
	emit(0)
	for (i = 1; i <= 99; i++) emit(i / 100)
	for (i = 991; i <= 999; i++) emit(i / 1000)
	emit(0.9995)
	emit(0.9999)
	emit(1)
}
