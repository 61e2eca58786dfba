/* bench_mutex — one mutex benchmark, compiled once per implementation.
 *
 * Build with exactly one of -DIMPL_gosync, -DIMPL_glibc, -DIMPL_adaptive, -DIMPL_nsync,
 * -DIMPL_absl (linked with bench/absl_sync.cc), -DIMPL_mutex3, -DIMPL_floor (and
 * -DIMPL_LABEL to rename one: the shim row is -DIMPL_glibc on the pthread shim). Each
 * binary runs one workload per invocation, so every implementation and every
 * measurement lives in its own process:
 *
 *   bench_mutex_<impl> uncontended ITERS REPS     (a) ns per lock+unlock pair, best rep
 *   bench_mutex_<impl> contended THREADS MS       (b) throughput, fairness, acquire latency
 *   bench_mutex_<impl> lockskew MS [FILE]         (c) Go's lockskew: a 100 us holder vs a
 *                                                     thread that wants the lock every 1 ms;
 *                                                     FILE gets every wait (ns, one a line)
 *   bench_mutex_<impl> counter THREADS ITERS      (d) THREADS x ITERS increments, wall time
 *   bench_mutex_<impl> privwork                   calibration: ns of the private work in (b)
 *
 * Output: CSV rows "impl,workload,threads,metric,value", nothing else on stdout.
 * Every workload checks the protected counters at the end and exits 1 if the lock
 * let two threads in at once (a benchmark of a broken lock is worthless).
 *
 * All implementations are called through out-of-line functions, as the libraries
 * are: the two locks written here (mutex3 and the floor) are noinline, so no
 * implementation wins by being inlined into the loop. See bench/README.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LINE 128 /* padding: adjacent-line prefetch pairs lines on x86 */
/* The locks written here are kept out of line AND opaque: with plain noinline, gcc
 * (ipa-modref) concluded the lock functions do not touch the counter and hoisted
 * the counter out of the loop, across lock and unlock. noipa forbids that. */
#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noipa))
#endif

/* ---- the implementations ------------------------------------------------ */

#if defined(IMPL_gosync)
#include <gosync/mutex.h>
#define IMPL_NAME "gosync"
typedef gs_mutex_t lock_t;
static void lk_init(lock_t *l) { *l = (gs_mutex_t)GS_MUTEX_INIT; }
static inline void lk_lock(lock_t *l) { gs_mutex_lock(l); }
static inline void lk_unlock(lock_t *l) { gs_mutex_unlock(l); }

#elif defined(IMPL_glibc) || defined(IMPL_adaptive)
#ifdef IMPL_glibc
#define IMPL_NAME "glibc"
#define MUTEX_KIND PTHREAD_MUTEX_DEFAULT
#else
#define IMPL_NAME "adaptive"
#define MUTEX_KIND PTHREAD_MUTEX_ADAPTIVE_NP
#endif
typedef pthread_mutex_t lock_t;
static void lk_init(lock_t *l)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	if (pthread_mutexattr_settype(&a, MUTEX_KIND) != 0)
		abort();
	pthread_mutex_init(l, &a);
	pthread_mutexattr_destroy(&a);
}
static inline void lk_lock(lock_t *l) { pthread_mutex_lock(l); }
static inline void lk_unlock(lock_t *l) { pthread_mutex_unlock(l); }

#elif defined(IMPL_nsync)
#include <nsync.h>
#define IMPL_NAME "nsync"
typedef nsync_mu lock_t;
static void lk_init(lock_t *l) { nsync_mu_init(l); }
static inline void lk_lock(lock_t *l) { nsync_mu_lock(l); }
static inline void lk_unlock(lock_t *l) { nsync_mu_unlock(l); }

#elif defined(IMPL_absl)
/* Abseil's absl::Mutex, through the extern "C" adapter bench/absl_sync.cc (opaque
 * storage here, placement new there): one call per lock and per unlock, like the
 * other libraries. */
#define IMPL_NAME "absl"
#define BENCH_ABSL_STORAGE 64 /* keep in sync with bench/absl_sync.cc */
typedef struct {
	_Alignas(16) unsigned char b[BENCH_ABSL_STORAGE];
} lock_t;
void bench_absl_init(void *p);
void bench_absl_lock(void *p);
void bench_absl_unlock(void *p);
static void lk_init(lock_t *l) { bench_absl_init(l->b); }
static inline void lk_lock(lock_t *l) { bench_absl_lock(l->b); }
static inline void lk_unlock(lock_t *l) { bench_absl_unlock(l->b); }

#elif defined(IMPL_mutex3)
/* Drepper, "Futexes Are Tricky", mutex3: 0 free, 1 locked, 2 locked with
 * (possible) sleepers. No spinning, no fairness: the classic futex baseline. */
#define IMPL_NAME "mutex3"
typedef uint32_t lock_t;
static void lk_init(lock_t *l) { *l = 0; }
static void futex_wait(uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake(uint32_t *w, int n)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}
static NOINLINE void lk_lock(lock_t *l)
{
	uint32_t c = 0;
	if (__atomic_compare_exchange_n(l, &c, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		futex_wait(l, 2);
		c = __atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE);
	}
}
static NOINLINE void lk_unlock(lock_t *l)
{
	if (__atomic_fetch_sub(l, 1, __ATOMIC_RELEASE) != 1) {
		__atomic_store_n(l, 0, __ATOMIC_RELEASE);
		futex_wake(l, 1);
	}
}

#elif defined(IMPL_floor)
/* NOT A LOCK one should use: a test-and-test-and-set spin with no way to sleep.
 * lock = one CAS 0->1 (spinning with pause while held), unlock = one release store.
 * It is the physical limit of an uncontended pair, and is only run uncontended and
 * at 1 and 2 threads (more threads than CPUs would make it spin out whole quanta). */
#define IMPL_NAME "floor"
#if defined(__x86_64__) || defined(__i386__)
static inline void cpu_relax(void) { __builtin_ia32_pause(); }
#else
static inline void cpu_relax(void) { __asm__ volatile("" ::: "memory"); }
#endif
typedef uint32_t lock_t;
static void lk_init(lock_t *l) { *l = 0; }
static NOINLINE void lk_lock(lock_t *l)
{
	for (;;) {
		uint32_t e = 0;
		if (__atomic_compare_exchange_n(l, &e, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		while (__atomic_load_n(l, __ATOMIC_RELAXED) != 0)
			cpu_relax();
	}
}
static NOINLINE void lk_unlock(lock_t *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

#else
#error "define one of IMPL_gosync IMPL_glibc IMPL_adaptive IMPL_nsync IMPL_absl IMPL_mutex3 IMPL_floor"
#endif

/* -DIMPL_LABEL='"name"': the same code under another name in the CSVs (the pthread
 * shim's rows are the glibc code linked with -lgosync-pthread). */
#ifdef IMPL_LABEL
#undef IMPL_NAME
#define IMPL_NAME IMPL_LABEL
#endif

/* What the workloads call. The empty asm with a memory clobber keeps the compiler from
 * moving the critical section across a lock it can see into (clang, too, hoisted
 * the counter out of the loop past the noinline floor lock); it emits nothing. */
static inline void bench_lock(lock_t *l)
{
	lk_lock(l);
	__asm__ volatile("" ::: "memory");
}

static inline void bench_unlock(lock_t *l)
{
	__asm__ volatile("" ::: "memory");
	lk_unlock(l);
}

/* ---- shared state ----------------------------------------------------------- */

static struct {
	lock_t l;
} __attribute__((aligned(LINE))) the_lock;

/* The data the critical section touches: NLINES separate cache lines (line 0 is
 * the counter). Written only under the lock. */
#define NLINES 4
static struct {
	uint64_t v;
} __attribute__((aligned(LINE))) shared[NLINES];

static struct {
	int v;
} __attribute__((aligned(LINE))) stop_flag;

static pthread_barrier_t start_barrier;
static struct {
	int v;
} __attribute__((aligned(LINE))) ready;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static void row(const char *workload, int threads, const char *metric, double v)
{
	printf("%s,%s,%d,%s,%.6g\n", IMPL_NAME, workload, threads, metric, v);
}

static void die(const char *what)
{
	fprintf(stderr, "bench_mutex %s: %s\n", IMPL_NAME, what);
	exit(1);
}

/* Start n threads that each wait on the barrier; return once they all wait, so the
 * caller can read the clock and release them (barrier of n + 1). */
static void start_threads(pthread_t *t, int n, void *(*fn)(void *), void *args, size_t argsz)
{
	pthread_barrier_init(&start_barrier, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, (char *)args + (size_t)i * argsz) != 0)
			die("pthread_create");
	while (__atomic_load_n(&ready.v, __ATOMIC_ACQUIRE) < n)
		sleep_ns(100000);
}

static void thread_ready(void)
{
	__atomic_fetch_add(&ready.v, 1, __ATOMIC_RELEASE);
	pthread_barrier_wait(&start_barrier);
}

/* ---- cycle counter for latency sampling -------------------------------------- */

#if defined(__x86_64__) || defined(__i386__)
static inline uint64_t ticks(void) { return __builtin_ia32_rdtsc(); }
static double ns_per_tick = 1.0;
static void calibrate_ticks(void)
{
	int64_t t0 = now_ns();
	uint64_t c0 = ticks();
	sleep_ns(5000000); /* 5 ms: both clocks are read around it, to ~0.01 % */
	int64_t t1 = now_ns();
	uint64_t c1 = ticks();
	ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
}
#else
static inline uint64_t ticks(void) { return (uint64_t)now_ns(); }
static const double ns_per_tick = 1.0;
static void calibrate_ticks(void) {}
#endif

/* Log-linear histogram of nanoseconds: 16 sub-buckets per power of two (values
 * below 16 exact), so a percentile is within ~6%. The maximum is kept exactly. */
#define HSUB 16
#define HBUCKETS (48 * HSUB)
struct hist {
	uint64_t n[HBUCKETS];
	uint64_t count, max;
};

static int hbucket(uint64_t v)
{
	if (v < HSUB)
		return (int)v;
	int msb = 63 - __builtin_clzll(v);
	int b = (msb - 3) * HSUB + (int)((v >> (msb - 4)) & (HSUB - 1));
	return b < HBUCKETS ? b : HBUCKETS - 1;
}

static double hvalue(int b) /* middle of the bucket */
{
	if (b < HSUB)
		return b;
	int e = b / HSUB + 3, m = b % HSUB;
	double lo = (double)((uint64_t)(HSUB + m) << (e - 4));
	return lo + (double)(1ull << (e - 4)) / 2;
}

static void hadd(struct hist *h, uint64_t v)
{
	h->n[hbucket(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

static double hpercentile(const struct hist *h, double p)
{
	uint64_t rank = (uint64_t)(p * (double)h->count + 0.999999), seen = 0;
	if (rank == 0)
		rank = 1;
	for (int b = 0; b < HBUCKETS; b++) {
		seen += h->n[b];
		if (seen >= rank)
			return hvalue(b) < (double)h->max ? hvalue(b) : (double)h->max;
	}
	return (double)h->max;
}

/* ---- (a) uncontended -------------------------------------------------------- */

static void *idle_thread(void *arg) { return arg; }

/* mt: first start and join a thread, so the process is multi-threaded as it is
 * wherever a mutex matters (glibc, for one, skips atomics in a process that has
 * never had a second thread). */
/* The timed loop, out of line under a fixed name: bench/run.sh counts the
 * instructions spent in it (callees included) with callgrind --toggle-collect=cg_*. */
static NOINLINE void cg_uncontended(long iters)
{
	for (long i = 0; i < iters; i++) {
		bench_lock(&the_lock.l);
		shared[0].v++;
		bench_unlock(&the_lock.l);
	}
}

static int run_uncontended(long iters, int reps, bool mt)
{
	if (mt) {
		pthread_t t;
		if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
			die("pthread_create");
		pthread_join(t, NULL);
	}
	lk_init(&the_lock.l);
	/* One pair first, untimed and uncounted: one-time costs (lazy binding of the
	 * library's symbols, ...) stay out of the loop callgrind counts. */
	bench_lock(&the_lock.l);
	bench_unlock(&the_lock.l);
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		int64_t t0 = now_ns();
		cg_uncontended(iters);
		double ns = (double)(now_ns() - t0) / (double)iters;
		if (ns < best)
			best = ns;
	}
	if (shared[0].v != (uint64_t)iters * (uint64_t)reps)
		die("counter mismatch");
	row(mt ? "uncontended_mt" : "uncontended", 1, "ns_per_pair", best);
	return 0;
}

/* ---- (b) contended ----------------------------------------------------------- */

/* The private work between critical sections: dependent 64-bit multiply-adds the
 * compiler cannot fold (about 100 ns here; `privwork` measures it). */
#define PRIVWORK_ITERS 92
static inline uint64_t private_work(uint64_t x)
{
	for (int i = 0; i < PRIVWORK_ITERS; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

#define SAMPLE_EVERY 16 /* acquire latency is sampled on every 16th lock */

struct worker {
	uint64_t ops;
	uint64_t sink;
	struct hist h;
} __attribute__((aligned(LINE)));

static void *contended_thread(void *arg)
{
	struct worker *w = arg;
	uint64_t x = (uint64_t)(uintptr_t)w, ops = 0;

	thread_ready();
	while (!__atomic_load_n(&stop_flag.v, __ATOMIC_RELAXED)) {
		uint64_t lat = 0;
		bool sample = ops % SAMPLE_EVERY == 0;
		uint64_t t0 = sample ? ticks() : 0;
		bench_lock(&the_lock.l);
		if (sample)
			lat = ticks() - t0;
		for (int k = 0; k < NLINES; k++)
			shared[k].v++;
		bench_unlock(&the_lock.l);
		if (sample)
			hadd(&w->h, (uint64_t)((double)lat * ns_per_tick));
		ops++;
		x = private_work(x);
	}
	w->ops = ops;
	w->sink = x;
	return NULL;
}

static int run_contended(int n, long ms)
{
	pthread_t *t = calloc((size_t)n, sizeof *t);
	struct worker *w = aligned_alloc(LINE, (size_t)n * sizeof *w);
	if (!t || !w)
		die("out of memory");
	memset(w, 0, (size_t)n * sizeof *w);
	lk_init(&the_lock.l);
	calibrate_ticks();

	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	start_threads(t, n, contended_thread, w, sizeof *w);
	int64_t t0 = now_ns();
	pthread_barrier_wait(&start_barrier);
	sleep_ns(ms * 1000000);
	__atomic_store_n(&stop_flag.v, 1, __ATOMIC_RELAXED);
	int64_t t1 = now_ns();

	uint64_t total = 0, mn = UINT64_MAX, mx = 0;
	static struct hist all;
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		total += w[i].ops;
		mn = w[i].ops < mn ? w[i].ops : mn;
		mx = w[i].ops > mx ? w[i].ops : mx;
		for (int b = 0; b < HBUCKETS; b++)
			all.n[b] += w[i].h.n[b];
		all.count += w[i].h.count;
		all.max = w[i].h.max > all.max ? w[i].h.max : all.max;
	}
	getrusage(RUSAGE_SELF, &ru1);
	double csw = (double)(ru1.ru_nvcsw - ru0.ru_nvcsw + ru1.ru_nivcsw - ru0.ru_nivcsw);
	for (int k = 0; k < NLINES; k++)
		if (shared[k].v != total)
			die("counter mismatch");
	row("contended", n, "mops", (double)total / ((double)(t1 - t0) / 1e3));
	row("contended", n, "fairness", mx ? (double)mn / (double)mx : 0);
	row("contended", n, "lat_p50_ns", hpercentile(&all, 0.50));
	row("contended", n, "lat_p99_ns", hpercentile(&all, 0.99));
	row("contended", n, "lat_max_ns", (double)all.max);
	row("contended", n, "csw_per_kop", total ? csw * 1000 / (double)total : 0);
	free(t);
	free(w);
	return 0;
}

static int run_privwork(void)
{
	uint64_t x = 1;
	long iters = 2000000;
	double best = 1e30;
	for (int r = 0; r < 5; r++) {
		int64_t t0 = now_ns();
		for (long i = 0; i < iters; i++)
			x = private_work(x);
		double ns = (double)(now_ns() - t0) / (double)iters;
		best = ns < best ? ns : best;
	}
	row("privwork", 1, "ns", best + (double)(x & 1) * 1e-9);
	return 0;
}

/* ---- (c) lockskew ------------------------------------------------------------ */

#define HOLD_NS 100000     /* the holder keeps the lock 100 us, busy */
#define WANT_EVERY_NS 1000000 /* the other thread wants it every 1 ms */

static uint64_t holder_ops;
static int64_t *waits;
static size_t nwaits, capwaits;

static void *holder_thread(void *arg)
{
	(void)arg;
	uint64_t ops = 0;
	thread_ready();
	while (!__atomic_load_n(&stop_flag.v, __ATOMIC_RELAXED)) {
		bench_lock(&the_lock.l);
		int64_t until = now_ns() + HOLD_NS;
		while (now_ns() < until) {
		}
		shared[0].v++;
		bench_unlock(&the_lock.l);
		ops++;
	}
	holder_ops = ops;
	return NULL;
}

static void *wanter_thread(void *arg)
{
	(void)arg;
	thread_ready();
	while (!__atomic_load_n(&stop_flag.v, __ATOMIC_RELAXED)) {
		sleep_ns(WANT_EVERY_NS);
		int64_t t0 = now_ns();
		bench_lock(&the_lock.l);
		int64_t t1 = now_ns();
		shared[0].v++;
		bench_unlock(&the_lock.l);
		if (nwaits < capwaits)
			waits[nwaits++] = t1 - t0;
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* samples: NULL, or a file that gets every wait in ns, one per line, in the order
 * they happened (bench/run.sh turns them into the latency CDF). */
static int run_lockskew(long ms, const char *samples)
{
	pthread_t t[2];
	capwaits = (size_t)ms * 2 + 16;
	waits = calloc(capwaits, sizeof *waits);
	if (!waits)
		die("out of memory");
	lk_init(&the_lock.l);

	pthread_barrier_init(&start_barrier, NULL, 3);
	if (pthread_create(&t[0], NULL, holder_thread, NULL) != 0 ||
	    pthread_create(&t[1], NULL, wanter_thread, NULL) != 0)
		die("pthread_create");
	while (__atomic_load_n(&ready.v, __ATOMIC_ACQUIRE) < 2)
		sleep_ns(100000);
	pthread_barrier_wait(&start_barrier);
	sleep_ns(ms * 1000000);
	__atomic_store_n(&stop_flag.v, 1, __ATOMIC_RELAXED);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);

	if (shared[0].v != holder_ops + nwaits)
		die("counter mismatch");
	if (samples) {
		FILE *f = fopen(samples, "w");
		if (!f)
			die("cannot write the samples file");
		for (size_t i = 0; i < nwaits; i++)
			fprintf(f, "%lld\n", (long long)waits[i]);
		if (fclose(f) != 0)
			die("cannot write the samples file");
	}
	qsort(waits, nwaits, sizeof *waits, cmp_i64);
	double p50 = 0, p99 = 0, mx = 0;
	if (nwaits) {
		p50 = (double)waits[(nwaits - 1) / 2];
		p99 = (double)waits[(size_t)((double)(nwaits - 1) * 0.99 + 0.5)];
		mx = (double)waits[nwaits - 1];
	}
	row("lockskew", 2, "acquisitions", (double)nwaits);
	row("lockskew", 2, "wait_p50_us", p50 / 1e3);
	row("lockskew", 2, "wait_p99_us", p99 / 1e3);
	row("lockskew", 2, "wait_max_us", mx / 1e3);
	row("lockskew", 2, "holder_ops", (double)holder_ops);
	free(waits);
	return 0;
}

/* ---- (d) counter -------------------------------------------------------------- */

static long counter_iters;

static void *counter_thread(void *arg)
{
	(void)arg;
	thread_ready();
	for (long i = 0; i < counter_iters; i++) {
		bench_lock(&the_lock.l);
		shared[0].v++;
		bench_unlock(&the_lock.l);
	}
	return NULL;
}

static int run_counter(int n, long iters)
{
	pthread_t *t = calloc((size_t)n, sizeof *t);
	char *dummy = calloc((size_t)n, 1);
	if (!t || !dummy)
		die("out of memory");
	lk_init(&the_lock.l);
	counter_iters = iters;
	start_threads(t, n, counter_thread, dummy, 1);
	int64_t t0 = now_ns();
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	int64_t t1 = now_ns();
	if (shared[0].v != (uint64_t)n * (uint64_t)iters)
		die("counter mismatch");
	row("counter", n, "wall_ms", (double)(t1 - t0) / 1e6);
	free(t);
	free(dummy);
	return 0;
}

/* ---- main ------------------------------------------------------------------------ */

static long arg(char **argv, int i, int argc, long def)
{
	if (i >= argc)
		return def;
	char *end;
	long v = strtol(argv[i], &end, 10);
	if (*end || v <= 0)
		die("bad numeric argument");
	return v;
}

int main(int argc, char **argv)
{
	const char *w = argc > 1 ? argv[1] : "";

	if (!strcmp(w, "uncontended"))
		return run_uncontended(arg(argv, 2, argc, 20000000), (int)arg(argv, 3, argc, 5), false);
	if (!strcmp(w, "uncontended_mt"))
		return run_uncontended(arg(argv, 2, argc, 20000000), (int)arg(argv, 3, argc, 5), true);
	if (!strcmp(w, "contended"))
		return run_contended((int)arg(argv, 2, argc, 2), arg(argv, 3, argc, 1000));
	if (!strcmp(w, "lockskew"))
		return run_lockskew(arg(argv, 2, argc, 2000), argc > 3 ? argv[3] : NULL);
	if (!strcmp(w, "counter"))
		return run_counter((int)arg(argv, 2, argc, 30), arg(argv, 3, argc, 100000));
	if (!strcmp(w, "privwork"))
		return run_privwork();
	fprintf(stderr,
		"usage: %s uncontended|uncontended_mt [ITERS [REPS]] | contended [THREADS [MS]] |\n"
		"       lockskew [MS [SAMPLES_FILE]] | counter [THREADS [ITERS]] | privwork\n", argv[0]);
	return 2;
}
