/* bench_value — the seeds' read-mostly experiment: a pointer to a configuration read
 * by many threads while one writer replaces it, compiled once per implementation.
 *
 * Build with exactly one of:
 *   -DIMPL_gosync    gs_rcu_read_lock + gs_value_load + gs_rcu_read_unlock, linked
 *                    against build/libgosync.so (the cost through the shared library)
 *   -DIMPL_urcu      raw liburcu-bp: its inline (_LGPL_SOURCE) read section around a
 *                    plain pointer load, liburcu-bp linked dynamically
 *   -DIMPL_urcu_sym  liburcu-bp through its out-of-line urcu_bp_read_lock/unlock
 *   -DIMPL_rwlock    pthread_rwlock_t (glibc default: reader-preferring)
 *   -DIMPL_rwmutex   gs_rwmutex_t
 *   -DIMPL_nsync     nsync_mu (readers: nsync_mu_rlock)
 *   -DIMPL_absl      absl::Mutex (readers: ReaderLock), through bench/absl_sync.cc
 * The four locks guard a plain pointer; the writer swaps it under the lock and frees
 * the old object at once (no reader can hold it).
 * Workloads (one per process):
 *   bench_value_<impl> uncontended ITERS REPS   ns per read (section + load + use), best rep
 *   bench_value_<impl> readers N MS             1 writer storing continuously + N readers:
 *                                               ns per read (mean over readers of
 *                                               elapsed / reads), and stores per second
 *   bench_value_<impl> store ITERS REPS         ns per store (publish + retire), best rep
 * Output: CSV rows "impl,workload,threads,metric,value", nothing else on stdout. Every
 * read checks its object (b == a + 1); a torn or freed read exits 1. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct obj {
	int64_t a, b;
};

static struct obj *obj_new(int64_t a)
{
	struct obj *o = malloc(sizeof *o);
	if (!o)
		abort();
	o->a = a;
	o->b = a + 1;
	return o;
}

static void obj_free(void *p)
{
	struct obj *o = p;
	o->a = -1; /* poison: a reader still using it would see b != a + 1 */
	free(o);
}

/* ---- the implementations ------------------------------------------------ */

#if defined(IMPL_gosync)
#include <gosync/value.h>
#define IMPL_NAME "gosync"
static gs_value_t v = GS_VALUE_INIT(NULL, obj_free);
static void impl_init(struct obj *o) { gs_value_store(&v, o); }
static inline void rd_lock(void) { gs_rcu_read_lock(); }
static inline struct obj *rd_load(void) { return gs_value_load(&v); }
static inline void rd_unlock(void) { gs_rcu_read_unlock(); }
static inline void store(struct obj *o) { gs_value_store(&v, o); }
static void drain(void) { gs_rcu_barrier(); }

#elif defined(IMPL_urcu) || defined(IMPL_urcu_sym)
#if defined(IMPL_urcu)
#define _LGPL_SOURCE
#define IMPL_NAME "urcu_bp"
#else
#define IMPL_NAME "urcu_bp_sym"
#endif
#include <urcu/urcu-bp.h>
struct node {
	struct rcu_head head;
	struct obj *o;
};
static struct obj *ptr;
static void impl_init(struct obj *o) { __atomic_store_n(&ptr, o, __ATOMIC_RELEASE); }
static inline void rd_lock(void) { urcu_bp_read_lock(); }
static inline struct obj *rd_load(void) { return __atomic_load_n(&ptr, __ATOMIC_ACQUIRE); }
static inline void rd_unlock(void) { urcu_bp_read_unlock(); }
static void reclaim(struct rcu_head *h)
{
	struct node *n = caa_container_of(h, struct node, head);
	obj_free(n->o);
	free(n);
}
static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;
static inline void store(struct obj *o)
{
	struct node *n = malloc(sizeof *n);
	if (!n)
		abort();
	pthread_mutex_lock(&wmu);
	n->o = __atomic_exchange_n(&ptr, o, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&wmu);
	urcu_bp_call_rcu(&n->head, reclaim);
}
static void drain(void) { urcu_bp_barrier(); }

#elif defined(IMPL_rwlock) || defined(IMPL_rwmutex) || defined(IMPL_nsync) || defined(IMPL_absl)
#if defined(IMPL_rwlock)
#define IMPL_NAME "pthread_rwlock"
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static inline void rd_lock(void) { pthread_rwlock_rdlock(&rw); }
static inline void rd_unlock(void) { pthread_rwlock_unlock(&rw); }
static inline void wr_lock(void) { pthread_rwlock_wrlock(&rw); }
static inline void wr_unlock(void) { pthread_rwlock_unlock(&rw); }
#elif defined(IMPL_rwmutex)
#include <gosync/rwmutex.h>
#define IMPL_NAME "gs_rwmutex"
static gs_rwmutex_t rw = GS_RWMUTEX_INIT;
static inline void rd_lock(void) { gs_rwmutex_rlock(&rw); }
static inline void rd_unlock(void) { gs_rwmutex_runlock(&rw); }
static inline void wr_lock(void) { gs_rwmutex_lock(&rw); }
static inline void wr_unlock(void) { gs_rwmutex_unlock(&rw); }
#elif defined(IMPL_nsync)
#include <nsync.h>
#define IMPL_NAME "nsync_mu"
static nsync_mu rw = NSYNC_MU_INIT;
static inline void rd_lock(void) { nsync_mu_rlock(&rw); }
static inline void rd_unlock(void) { nsync_mu_runlock(&rw); }
static inline void wr_lock(void) { nsync_mu_lock(&rw); }
static inline void wr_unlock(void) { nsync_mu_unlock(&rw); }
#else
#define IMPL_NAME "absl_mutex"
#define BENCH_ABSL_STORAGE 64 /* keep in sync with bench/absl_sync.cc */
void bench_absl_init(void *p);
void bench_absl_lock(void *p);
void bench_absl_unlock(void *p);
void bench_absl_rlock(void *p);
void bench_absl_runlock(void *p);
static struct {
	_Alignas(16) unsigned char b[BENCH_ABSL_STORAGE];
} rw; /* constructed by impl_init */
static inline void rd_lock(void) { bench_absl_rlock(rw.b); }
static inline void rd_unlock(void) { bench_absl_runlock(rw.b); }
static inline void wr_lock(void) { bench_absl_lock(rw.b); }
static inline void wr_unlock(void) { bench_absl_unlock(rw.b); }
#define RW_NEEDS_INIT() bench_absl_init(rw.b)
#endif
#ifndef RW_NEEDS_INIT
#define RW_NEEDS_INIT() ((void)0)
#endif
static struct obj *ptr;
static void impl_init(struct obj *o)
{
	RW_NEEDS_INIT();
	ptr = o;
}
static inline struct obj *rd_load(void) { return ptr; }
static inline void store(struct obj *o)
{
	wr_lock();
	struct obj *old = ptr;
	ptr = o;
	wr_unlock();
	obj_free(old); /* no reader can hold it: they read under the lock */
}
static void drain(void) {}

#else
#error "define one of IMPL_gosync IMPL_urcu IMPL_urcu_sym IMPL_rwlock IMPL_rwmutex IMPL_nsync IMPL_absl"
#endif

/* ---- workloads ------------------------------------------------------------ */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void row(const char *workload, int threads, const char *metric, double value)
{
	printf("%s,%s,%d,%s,%.3f\n", IMPL_NAME, workload, threads, metric, value);
}

/* One read: section, load, use. Returns false on a torn or freed object. */
static inline bool read_one(int64_t *sum)
{
	rd_lock();
	const struct obj *o = rd_load();
	int64_t a = o->a, b = o->b;
	rd_unlock();
	*sum += a;
	return b == a + 1;
}

/* The timed loop, out of line under a fixed name: bench/run.sh counts the
 * instructions spent in it (callees included) with callgrind --toggle-collect=cg_*.
 * noipa keeps gcc from cloning it under another name. */
#if defined(__clang__)
__attribute__((noinline))
#else
__attribute__((noipa))
#endif
static bool cg_uncontended(long iters, int64_t *sum)
{
	bool ok = true;
	for (long i = 0; i < iters; i++)
		ok &= read_one(sum);
	return ok;
}

static void uncontended(long iters, int reps)
{
	double best = 1e30;
	int64_t sum = 0;
	/* One read first, untimed: one-time costs (lazy binding, the RCU flavours'
	 * thread registration) stay out of the loop callgrind counts. */
	if (!read_one(&sum))
		exit(1);
	for (int r = 0; r < reps; r++) {
		int64_t t0 = now_ns();
		bool ok = cg_uncontended(iters, &sum);
		double ns = (double)(now_ns() - t0) / (double)iters;
		if (!ok)
			exit(1);
		if (ns < best)
			best = ns;
	}
	__asm__ volatile("" ::"r"(sum));
	row("uncontended", 1, "ns_per_read", best);
}

static int stop;
static int64_t stores_done;

struct reader {
	pthread_t t;
	int64_t reads, ns;
	bool bad;
} __attribute__((aligned(128)));

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	int64_t sum = 0, n = 0, t0 = now_ns();
	bool ok = true;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 64; i++)
			ok &= read_one(&sum);
		n += 64;
	}
	r->ns = now_ns() - t0;
	r->reads = n;
	r->bad = !ok;
	__asm__ volatile("" ::"r"(sum));
	return NULL;
}

static void *writer_main(void *arg)
{
	int64_t i = 1;
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		store(obj_new(i++));
		if ((i & 1023) == 0)
			drain(); /* bound the backlog of retired objects */
	}
	stores_done = i - 1;
	return NULL;
}

static void readers(int n, int ms)
{
	struct reader *r = aligned_alloc(128, sizeof *r * (size_t)n);
	pthread_t w;
	for (int i = 0; i < n; i++)
		pthread_create(&r[i].t, NULL, reader_main, &r[i]);
	pthread_create(&w, NULL, writer_main, NULL);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int64_t t0 = now_ns();
	nanosleep(&ts, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	double per_read = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(r[i].t, NULL);
		if (r[i].bad)
			exit(1);
		per_read += (double)r[i].ns / (double)(r[i].reads ? r[i].reads : 1);
	}
	pthread_join(w, NULL);
	double secs = (double)(now_ns() - t0) / 1e9;
	row("readers_1writer", n, "ns_per_read", per_read / n);
	row("readers_1writer", n, "stores_per_sec", (double)stores_done / secs);
	free(r);
}

static void store_cost(long iters, int reps)
{
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		int64_t t0 = now_ns();
		for (long i = 0; i < iters; i++)
			store(obj_new(i));
		double ns = (double)(now_ns() - t0) / (double)iters;
		drain();
		if (ns < best)
			best = ns;
	}
	row("store", 1, "ns_per_store", best);
}

int main(int argc, char **argv)
{
	impl_init(obj_new(0));
	if (argc >= 4 && strcmp(argv[1], "uncontended") == 0)
		uncontended(atol(argv[2]), atoi(argv[3]));
	else if (argc >= 4 && strcmp(argv[1], "readers") == 0)
		readers(atoi(argv[2]), atoi(argv[3]));
	else if (argc >= 4 && strcmp(argv[1], "store") == 0)
		store_cost(atol(argv[2]), atoi(argv[3]));
	else {
		fprintf(stderr, "usage: %s uncontended ITERS REPS | readers N MS | store ITERS REPS\n",
			argv[0]);
		return 2;
	}
	drain();
	return 0;
}
