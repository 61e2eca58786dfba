/* bench_sync — the rest of sync (RWMutex, Cond, WaitGroup, Once, semaphore) beside
 * what a C programmer would otherwise use. Compiled once per implementation, like
 * bench_mutex.c, so every implementation runs in its own process with the same code.
 *
 * Build with exactly one of:
 *   -DIMPL_gosync    gs_rwmutex, gs_cond + gs_mutex, gs_waitgroup, gs_once, gs_sem
 *   -DIMPL_glibc     pthread_rwlock (default kind), pthread_cond + pthread_mutex,
 *                    a wait group written as pthread_mutex + pthread_cond + a counter,
 *                    pthread_once, sem_t
 *   -DIMPL_glibc_pw  pthread_rwlock of kind PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
 *                    (rwmutex workloads only)
 *   -DIMPL_nsync     nsync_mu (readers: nsync_mu_rlock), nsync_cv + nsync_mu,
 *                    nsync_run_once (no wait group: nsync_counter is one-shot)
 *   -DIMPL_absl      Abseil, through the extern "C" adapter bench/absl_sync.cc:
 *                    absl::Mutex (readers: ReaderLock), absl::CondVar + absl::Mutex,
 *                    absl::call_once; for the wait-group cycle, one-shot
 *                    absl::Notification (gate) and absl::BlockingCounter (join) made
 *                    afresh each cycle; for the semaphore, a count under an
 *                    absl::Mutex acquired with LockWhen (Abseil has neither)
 *   -DIMPL_barrier   pthread_barrier as the wait group (waitgroup workload only)
 * and -DIMPL_LABEL to rename one: the shim and shim_pw rows are the glibc and
 * glibc_pw code linked with -lgosync-pthread (the pthread shim).
 * A workload the implementation lacks prints nothing and exits 0. The wait-group
 * workload is written against a "gate" (opened by one thread, waited on by several,
 * re-armed) and a "join" (armed with n, n arrivals, one waiter); each implementation
 * maps them onto what it has.
 *
 *   bench_sync_<impl> rwunc ITERS REPS            rlock+runlock pair, 1 thread, ns
 *   bench_sync_<impl> rw THREADS PERMILLE MS      read-mostly throughput, PERMILLE/1000
 *                                                 of operations are writes
 *   bench_sync_<impl> pingpong MS                 cond ping-pong, ns per round trip
 *   bench_sync_<impl> broadcast N REPS            broadcast to N blocked waiters: us
 *                                                 until all have passed the mutex
 *   bench_sync_<impl> wgcycle MS                  1 waiter + 4 workers fork/join cycle
 *   bench_sync_<impl> once ITERS REPS             once fast path, ns per call
 *   bench_sync_<impl> semunc ITERS REPS           acquire+release pair, 1 thread, ns
 *   bench_sync_<impl> semcont THREADS CAP MS      THREADS contend for CAP units
 *
 * Output: CSV rows "impl,workload,threads,metric,value", nothing else on stdout.
 * Every workload checks its own counters and exits 1 if the primitive misbehaved
 * (a reader saw a half-done write, a waiter returned early, a semaphore let more
 * than CAP in, ...). A watchdog alarm ends a hung run (exit by SIGALRM). The
 * one-thread workloads run in a multi-threaded process (a thread was started and
 * joined first), as everywhere these primitives matter. See bench/README.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define LINE 128

/* ---- the implementations ------------------------------------------------ */

#if defined(IMPL_gosync)
#include <gosync/cond.h>
#include <gosync/mutex.h>
#include <gosync/once.h>
#include <gosync/rwmutex.h>
#include <gosync/sem.h>
#include <gosync/waitgroup.h>
#define IMPL_NAME "gosync"
#define HAVE_RW 1
#define HAVE_COND 1
#define HAVE_WG 1
#define HAVE_ONCE 1
#define HAVE_SEM 1

typedef gs_rwmutex_t rw_t;
static void rw_init(rw_t *l) { *l = (gs_rwmutex_t)GS_RWMUTEX_INIT; }
static inline void rw_rlock(rw_t *l) { gs_rwmutex_rlock(l); }
static inline void rw_runlock(rw_t *l) { gs_rwmutex_runlock(l); }
static inline void rw_lock(rw_t *l) { gs_rwmutex_lock(l); }
static inline void rw_unlock(rw_t *l) { gs_rwmutex_unlock(l); }

typedef gs_mutex_t cmu_t;
typedef gs_cond_t cv_t;
static void cmu_init(cmu_t *m) { *m = (gs_mutex_t)GS_MUTEX_INIT; }
static inline void cmu_lock(cmu_t *m) { gs_mutex_lock(m); }
static inline void cmu_unlock(cmu_t *m) { gs_mutex_unlock(m); }
static void cv_init(cv_t *c) { *c = (gs_cond_t)GS_COND_INIT; }
static inline void cv_wait(cv_t *c, cmu_t *m) { gs_cond_wait(c, m); }
static inline void cv_signal(cv_t *c) { gs_cond_signal(c); }
static inline void cv_broadcast(cv_t *c) { gs_cond_broadcast(c); }

/* The wait-group workload uses a "gate" (main opens it, workers wait on it) and a
 * "join" (workers arrive, main waits) per cycle; a wait group is both. */
#define WG_REUSABLE 1
typedef gs_waitgroup_t wg_t;
static void wg_init(wg_t *w, int n) { *w = (gs_waitgroup_t)GS_WAITGROUP_INIT; if (n) gs_waitgroup_add(w, n); }
static inline void wg_add(wg_t *w, int n) { gs_waitgroup_add(w, n); }
static inline void wg_done(wg_t *w) { gs_waitgroup_done(w); }
static inline void wg_wait(wg_t *w) { gs_waitgroup_wait(w); }

typedef gs_once_t once_t;
#define ONCE_INIT GS_ONCE_INIT
static void once_fn(void *arg);
static inline void once_call(once_t *o) { gs_once_do(o, once_fn, NULL); }

typedef gs_sem_t xsem_t;
static void xsem_init(xsem_t *s, int cap) { gs_sem_init(s, cap); }
static inline void xsem_acquire(xsem_t *s) { gs_sem_acquire(s, 1); }
static inline void xsem_release(xsem_t *s) { gs_sem_release(s, 1); }
static bool xsem_all_free(xsem_t *s, int cap)
{
	if (!gs_sem_try_acquire(s, cap))
		return false;
	gs_sem_release(s, cap);
	return true;
}

#elif defined(IMPL_glibc) || defined(IMPL_glibc_pw)
#define HAVE_RW 1
#ifdef IMPL_glibc
#define IMPL_NAME "glibc"
#define RW_KIND PTHREAD_RWLOCK_DEFAULT_NP
#define HAVE_COND 1
#define HAVE_WG 1
#define HAVE_ONCE 1
#define HAVE_SEM 1
#else
#define IMPL_NAME "glibc_pw"
#define RW_KIND PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
#endif

typedef pthread_rwlock_t rw_t;
static void rw_init(rw_t *l)
{
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	if (pthread_rwlockattr_setkind_np(&a, RW_KIND) != 0 || pthread_rwlock_init(l, &a) != 0)
		abort();
	pthread_rwlockattr_destroy(&a);
}
static inline void rw_rlock(rw_t *l) { pthread_rwlock_rdlock(l); }
static inline void rw_runlock(rw_t *l) { pthread_rwlock_unlock(l); }
static inline void rw_lock(rw_t *l) { pthread_rwlock_wrlock(l); }
static inline void rw_unlock(rw_t *l) { pthread_rwlock_unlock(l); }

#ifdef IMPL_glibc
typedef pthread_mutex_t cmu_t;
typedef pthread_cond_t cv_t;
static void cmu_init(cmu_t *m) { pthread_mutex_init(m, NULL); }
static inline void cmu_lock(cmu_t *m) { pthread_mutex_lock(m); }
static inline void cmu_unlock(cmu_t *m) { pthread_mutex_unlock(m); }
static void cv_init(cv_t *c) { pthread_cond_init(c, NULL); }
static inline void cv_wait(cv_t *c, cmu_t *m) { pthread_cond_wait(c, m); }
static inline void cv_signal(cv_t *c) { pthread_cond_signal(c); }
static inline void cv_broadcast(cv_t *c) { pthread_cond_broadcast(c); }

/* The wait group a C programmer writes with pthreads: a counter under a mutex, a
 * condition variable broadcast when it reaches zero. */
#define WG_REUSABLE 1
typedef struct {
	pthread_mutex_t m;
	pthread_cond_t c;
	int n;
} wg_t;
static void wg_init(wg_t *w, int n)
{
	pthread_mutex_init(&w->m, NULL);
	pthread_cond_init(&w->c, NULL);
	w->n = n;
}
static void wg_add(wg_t *w, int n)
{
	pthread_mutex_lock(&w->m);
	w->n += n;
	if (w->n < 0)
		abort();
	if (w->n == 0)
		pthread_cond_broadcast(&w->c);
	pthread_mutex_unlock(&w->m);
}
static inline void wg_done(wg_t *w) { wg_add(w, -1); }
static void wg_wait(wg_t *w)
{
	pthread_mutex_lock(&w->m);
	while (w->n != 0)
		pthread_cond_wait(&w->c, &w->m);
	pthread_mutex_unlock(&w->m);
}

typedef pthread_once_t once_t;
#define ONCE_INIT PTHREAD_ONCE_INIT
static void once_fn0(void);
static inline void once_call(once_t *o) { pthread_once(o, once_fn0); }

typedef sem_t xsem_t;
static void xsem_init(xsem_t *s, int cap) { sem_init(s, 0, (unsigned)cap); }
static inline void xsem_acquire(xsem_t *s)
{
	while (sem_wait(s) != 0) /* EINTR only */
		;
}
static inline void xsem_release(xsem_t *s) { sem_post(s); }
static bool xsem_all_free(xsem_t *s, int cap)
{
	int v = -1;
	sem_getvalue(s, &v);
	return v == cap;
}
#endif

#elif defined(IMPL_nsync)
#include <nsync.h>
#define IMPL_NAME "nsync"
#define HAVE_RW 1
#define HAVE_COND 1
#define HAVE_ONCE 1

typedef nsync_mu rw_t;
static void rw_init(rw_t *l) { nsync_mu_init(l); }
static inline void rw_rlock(rw_t *l) { nsync_mu_rlock(l); }
static inline void rw_runlock(rw_t *l) { nsync_mu_runlock(l); }
static inline void rw_lock(rw_t *l) { nsync_mu_lock(l); }
static inline void rw_unlock(rw_t *l) { nsync_mu_unlock(l); }

typedef nsync_mu cmu_t;
typedef nsync_cv cv_t;
static void cmu_init(cmu_t *m) { nsync_mu_init(m); }
static inline void cmu_lock(cmu_t *m) { nsync_mu_lock(m); }
static inline void cmu_unlock(cmu_t *m) { nsync_mu_unlock(m); }
static void cv_init(cv_t *c) { nsync_cv_init(c); }
static inline void cv_wait(cv_t *c, cmu_t *m) { nsync_cv_wait(c, m); }
static inline void cv_signal(cv_t *c) { nsync_cv_signal(c); }
static inline void cv_broadcast(cv_t *c) { nsync_cv_broadcast(c); }

/* No wait group: nsync_counter is one-shot (incrementing it after a waiter has waited
 * is an error), so it cannot run the reusable cycle of the waitgroup workload. */

typedef nsync_once once_t;
#define ONCE_INIT NSYNC_ONCE_INIT
static void once_fn0(void);
static inline void once_call(once_t *o) { nsync_run_once(o, once_fn0); }

#elif defined(IMPL_absl)
#define IMPL_NAME "absl"
#define HAVE_RW 1
#define HAVE_COND 1
#define HAVE_WG 1
#define HAVE_ONCE 1
#define HAVE_SEM 1
/* Every Abseil object lives in opaque storage here and is used through the
 * out-of-line functions of bench/absl_sync.cc. */
#define BENCH_ABSL_STORAGE 64 /* keep in sync with bench/absl_sync.cc */
typedef struct {
	_Alignas(16) unsigned char b[BENCH_ABSL_STORAGE];
} absl_obj;
void bench_absl_init(void *p);
void bench_absl_lock(void *p);
void bench_absl_unlock(void *p);
void bench_absl_rlock(void *p);
void bench_absl_runlock(void *p);
void bench_absl_cv_init(void *p);
void bench_absl_cv_wait(void *cv, void *m);
void bench_absl_cv_signal(void *cv);
void bench_absl_cv_broadcast(void *cv);
void bench_absl_once_init(void *p);
void bench_absl_once(void *p, void (*fn)(void));
void bench_absl_note_init(void *p);
void bench_absl_note_notify(void *p);
void bench_absl_note_wait(void *p);
void bench_absl_note_reset(void *p);
void bench_absl_bc_init(void *p, int n);
void bench_absl_bc_decrement(void *p);
void bench_absl_bc_wait(void *p);
void bench_absl_bc_reset(void *p, int n);
void bench_absl_sem_init(void *p, int n);
void bench_absl_sem_acquire(void *p);
void bench_absl_sem_release(void *p);
int bench_absl_sem_value(void *p);

typedef absl_obj rw_t;
static void rw_init(rw_t *l) { bench_absl_init(l->b); }
static inline void rw_rlock(rw_t *l) { bench_absl_rlock(l->b); }
static inline void rw_runlock(rw_t *l) { bench_absl_runlock(l->b); }
static inline void rw_lock(rw_t *l) { bench_absl_lock(l->b); }
static inline void rw_unlock(rw_t *l) { bench_absl_unlock(l->b); }

typedef absl_obj cmu_t;
typedef absl_obj cv_t;
static void cmu_init(cmu_t *m) { bench_absl_init(m->b); }
static inline void cmu_lock(cmu_t *m) { bench_absl_lock(m->b); }
static inline void cmu_unlock(cmu_t *m) { bench_absl_unlock(m->b); }
static void cv_init(cv_t *c) { bench_absl_cv_init(c->b); }
static inline void cv_wait(cv_t *c, cmu_t *m) { bench_absl_cv_wait(c->b, m->b); }
static inline void cv_signal(cv_t *c) { bench_absl_cv_signal(c->b); }
static inline void cv_broadcast(cv_t *c) { bench_absl_cv_broadcast(c->b); }

/* Gate: a Notification, made afresh when re-armed (every waiter has returned by
 * then). Join: a BlockingCounter made afresh with the count when armed (its one
 * Wait has returned by then). */
typedef absl_obj gate_t;
static void gate_init(gate_t *g) { bench_absl_note_init(g->b); }
static inline void gate_open(gate_t *g) { bench_absl_note_notify(g->b); }
static inline void gate_wait(gate_t *g) { bench_absl_note_wait(g->b); }
static inline void gate_rearm(gate_t *g) { bench_absl_note_reset(g->b); }
typedef absl_obj join_t;
static void join_init(join_t *j) { bench_absl_bc_init(j->b, 0); }
static inline void join_arm(join_t *j, int n) { bench_absl_bc_reset(j->b, n); }
static inline void join_arrive(join_t *j) { bench_absl_bc_decrement(j->b); }
static inline void join_wait(join_t *j) { bench_absl_bc_wait(j->b); }

typedef absl_obj once_t;
#define ONCE_INIT { { 0 } }
#define HAVE_ONCE_INIT 1
static void once_init(once_t *o) { bench_absl_once_init(o->b); }
static void once_fn0(void);
static inline void once_call(once_t *o) { bench_absl_once(o->b, once_fn0); }

typedef absl_obj xsem_t;
static void xsem_init(xsem_t *s, int cap) { bench_absl_sem_init(s->b, cap); }
static inline void xsem_acquire(xsem_t *s) { bench_absl_sem_acquire(s->b); }
static inline void xsem_release(xsem_t *s) { bench_absl_sem_release(s->b); }
static bool xsem_all_free(xsem_t *s, int cap) { return bench_absl_sem_value(s->b) == cap; }

#elif defined(IMPL_barrier)
#define IMPL_NAME "barrier"
#define HAVE_WG 1
/* A barrier of 5 (the waiter and 4 workers) for the gate and another for the join:
 * open, arrive and both waits are pthread_barrier_wait; arm and re-arm do nothing. */
typedef pthread_barrier_t gate_t;
static void gate_init(gate_t *g) { pthread_barrier_init(g, NULL, 5); }
static inline void gate_open(gate_t *g) { pthread_barrier_wait(g); }
static inline void gate_wait(gate_t *g) { pthread_barrier_wait(g); }
static inline void gate_rearm(gate_t *g) { (void)g; }
typedef pthread_barrier_t join_t;
static void join_init(join_t *j) { pthread_barrier_init(j, NULL, 5); }
static inline void join_arm(join_t *j, int n) { (void)j, (void)n; }
static inline void join_arrive(join_t *j) { pthread_barrier_wait(j); }
static inline void join_wait(join_t *j) { pthread_barrier_wait(j); }

#else
#error "define one of IMPL_gosync IMPL_glibc IMPL_glibc_pw IMPL_nsync IMPL_absl IMPL_barrier"
#endif

/* -DIMPL_LABEL='"name"': the same code under another name in the CSVs (the pthread
 * shim's rows are the glibc code linked with -lgosync-pthread). */
#ifdef IMPL_LABEL
#undef IMPL_NAME
#define IMPL_NAME IMPL_LABEL
#endif

#if defined(HAVE_ONCE) && !defined(HAVE_ONCE_INIT)
static void once_init(once_t *o) { (void)o; } /* ONCE_INIT was enough */
#endif

#ifdef WG_REUSABLE
/* A reusable wait group is both: the gate is a count of 1 (open = done, re-arm =
 * add 1 after every wait on it returned, Go's reuse rule); the join is armed with
 * add n. */
typedef wg_t gate_t;
static void gate_init(gate_t *g) { wg_init(g, 1); }
static inline void gate_open(gate_t *g) { wg_done(g); }
static inline void gate_wait(gate_t *g) { wg_wait(g); }
static inline void gate_rearm(gate_t *g) { wg_add(g, 1); }
typedef wg_t join_t;
static void join_init(join_t *j) { wg_init(j, 0); }
static inline void join_arm(join_t *j, int n) { wg_add(j, n); }
static inline void join_arrive(join_t *j) { wg_done(j); }
static inline void join_wait(join_t *j) { wg_wait(j); }
#endif

/* Keeps the compiler from moving the protected accesses across the primitive (it
 * emits nothing; the library calls are opaque anyway). */
#define CBAR() __asm__ volatile("" ::: "memory")

/* The one-thread timed loops are out of line under fixed names cg_*: bench/run.sh
 * counts the instructions spent in them (callees included) with callgrind
 * --toggle-collect=cg_*. noipa keeps gcc from cloning them under other names. */
#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noipa))
#endif

/* ---- shared helpers ---------------------------------------------------------- */

/* Not every implementation has every workload, so some helpers go unused. */
#define UNUSED __attribute__((unused))

static struct {
	uint64_t v;
} __attribute__((aligned(LINE))) shared[4] UNUSED;

static struct {
	int v;
} __attribute__((aligned(LINE))) stop_flag;

UNUSED static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

UNUSED static void sleep_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

UNUSED static void row(const char *workload, int threads, const char *metric, double v)
{
	printf("%s,%s,%d,%s,%.6g\n", IMPL_NAME, workload, threads, metric, v);
}

UNUSED static void die(const char *what)
{
	fprintf(stderr, "bench_sync %s: %s\n", IMPL_NAME, what);
	exit(1);
}

UNUSED static bool stopping(void) { return __atomic_load_n(&stop_flag.v, __ATOMIC_RELAXED); }

UNUSED static void *idle_thread(void *arg) { return arg; }

/* Context switches (voluntary + involuntary) of the whole process so far. */
UNUSED static double context_switches(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_nvcsw + ru.ru_nivcsw);
}

/* Make the process multi-threaded (glibc takes shortcuts in one that never was). */
UNUSED static void go_multithreaded(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
		die("pthread_create");
	pthread_join(t, NULL);
}

/* n threads started; each calls thread_ready() and waits until the caller calls
 * release_threads() (a barrier of n + 1), so the clock starts with everyone ready. */
UNUSED static pthread_barrier_t start_barrier;
UNUSED static void start_threads(pthread_t *t, int n, void *(*fn)(void *), void *args, size_t argsz)
{
	pthread_barrier_init(&start_barrier, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, (char *)args + (size_t)i * argsz) != 0)
			die("pthread_create");
}
UNUSED static void thread_ready(void) { pthread_barrier_wait(&start_barrier); }
UNUSED static void release_threads(void) { pthread_barrier_wait(&start_barrier); }

/* The private work between operations in the throughput workloads: 92 dependent
 * 64-bit multiply-adds, about 100 ns here (bench_mutex privwork measures it). */
UNUSED static inline uint64_t private_work(uint64_t x)
{
	for (int i = 0; i < 92; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

UNUSED static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

#if defined(__x86_64__) || defined(__i386__)
UNUSED static inline uint64_t ticks(void) { return __builtin_ia32_rdtsc(); }
UNUSED static double ns_per_tick = 1.0;
UNUSED static void calibrate_ticks(void)
{
	int64_t t0 = now_ns();
	uint64_t c0 = ticks();
	sleep_ns(5000000); /* 5 ms: both clocks are read around it, to ~0.01 % */
	int64_t t1 = now_ns();
	uint64_t c1 = ticks();
	ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
}
#else
UNUSED static inline uint64_t ticks(void) { return (uint64_t)now_ns(); }
UNUSED static const double ns_per_tick = 1.0;
UNUSED static void calibrate_ticks(void) {}
#endif

/* Log-linear histogram of nanoseconds (16 sub-buckets per power of two, so a
 * percentile is within ~6%); the maximum is exact. */
#define HSUB 16
#define HBUCKETS (48 * HSUB)
struct hist {
	uint64_t n[HBUCKETS];
	uint64_t count, max;
};

UNUSED static int hbucket(uint64_t v)
{
	if (v < HSUB)
		return (int)v;
	int msb = 63 - __builtin_clzll(v);
	int b = (msb - 3) * HSUB + (int)((v >> (msb - 4)) & (HSUB - 1));
	return b < HBUCKETS ? b : HBUCKETS - 1;
}

UNUSED static double hvalue(int b)
{
	if (b < HSUB)
		return b;
	int e = b / HSUB + 3, m = b % HSUB;
	double lo = (double)((uint64_t)(HSUB + m) << (e - 4));
	return lo + (double)(1ull << (e - 4)) / 2;
}

UNUSED static void hadd(struct hist *h, uint64_t v)
{
	h->n[hbucket(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

UNUSED static void hmerge(struct hist *to, const struct hist *from)
{
	for (int b = 0; b < HBUCKETS; b++)
		to->n[b] += from->n[b];
	to->count += from->count;
	to->max = from->max > to->max ? from->max : to->max;
}

UNUSED static double hpercentile(const struct hist *h, double p)
{
	uint64_t rank = (uint64_t)(p * (double)h->count + 0.999999), seen = 0;
	if (h->count == 0)
		return 0;
	if (rank == 0)
		rank = 1;
	for (int b = 0; b < HBUCKETS; b++) {
		seen += h->n[b];
		if (seen >= rank)
			return hvalue(b) < (double)h->max ? hvalue(b) : (double)h->max;
	}
	return (double)h->max;
}

UNUSED static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Exact percentile of a sorted array. */
UNUSED static double pct(const int64_t *v, size_t n, double p)
{
	return n ? (double)v[(size_t)((double)(n - 1) * p + 0.5)] : 0;
}

struct worker {
	uint64_t ops, writes, sink;
	struct hist rh, wh; /* read / write acquire latency, ns */
	int bad;
} __attribute__((aligned(LINE)));

UNUSED static struct worker *alloc_workers(int n)
{
	struct worker *w = aligned_alloc(LINE, (size_t)n * sizeof *w);
	if (!w)
		die("out of memory");
	memset(w, 0, (size_t)n * sizeof *w);
	return w;
}

/* ---- 1. rwmutex ----------------------------------------------------------------- */
#ifdef HAVE_RW
static struct {
	rw_t l;
} __attribute__((aligned(LINE))) the_rw;

static NOINLINE uint64_t cg_rwunc(long iters)
{
	uint64_t sum = 0;
	for (long i = 0; i < iters; i++) {
		rw_rlock(&the_rw.l);
		CBAR();
		sum += shared[0].v;
		CBAR();
		rw_runlock(&the_rw.l);
	}
	return sum;
}

/* rlock; read; runlock — ITERS pairs, best of REPS, one thread. */
static int run_rwunc(long iters, int reps)
{
	go_multithreaded();
	rw_init(&the_rw.l);
	/* One pair first, untimed: one-time costs (lazy binding, ...) stay out of the
	 * loop callgrind counts. */
	rw_rlock(&the_rw.l);
	rw_runlock(&the_rw.l);
	shared[0].v = 1;
	uint64_t sum = 0;
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		int64_t t0 = now_ns();
		sum += cg_rwunc(iters);
		double ns = (double)(now_ns() - t0) / (double)iters;
		best = ns < best ? ns : best;
	}
	/* Every read lock was given back: a writer gets in (the watchdog ends a hang). */
	rw_lock(&the_rw.l);
	rw_unlock(&the_rw.l);
	if (sum != (uint64_t)iters * (uint64_t)reps)
		die("read sum mismatch");
	row("rwmutex_uncontended", 1, "ns_per_pair", best);
	return 0;
}

static int rw_permille;
#define RW_SAMPLE_READS 16 /* read acquire latency: every 16th read; writes: all */

static void *rw_thread(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)w, x = seed;
	uint64_t ops = 0, writes = 0;

	thread_ready();
	while (!stopping()) {
		if (xorshift(&seed) % 1000 < (uint64_t)rw_permille) {
			uint64_t t0 = ticks();
			rw_lock(&the_rw.l);
			uint64_t t1 = ticks();
			CBAR();
			for (int k = 0; k < 4; k++)
				shared[k].v++;
			CBAR();
			rw_unlock(&the_rw.l);
			hadd(&w->wh, (uint64_t)((double)(t1 - t0) * ns_per_tick));
			writes++;
		} else {
			bool sample = ops % RW_SAMPLE_READS == 0;
			uint64_t t0 = sample ? ticks() : 0, t1 = 0;
			rw_rlock(&the_rw.l);
			if (sample)
				t1 = ticks();
			CBAR();
			uint64_t v0 = shared[0].v;
			for (int k = 1; k < 4; k++)
				if (shared[k].v != v0)
					w->bad = 1; /* a reader overlapped a writer */
			CBAR();
			rw_runlock(&the_rw.l);
			if (sample)
				hadd(&w->rh, (uint64_t)((double)(t1 - t0) * ns_per_tick));
		}
		ops++;
		x = private_work(x);
	}
	w->ops = ops;
	w->writes = writes;
	w->sink = x;
	return NULL;
}

static int run_rw(int n, int permille, long ms)
{
	pthread_t *t = calloc((size_t)n, sizeof *t);
	struct worker *w = alloc_workers(n);
	static struct hist rh, wh;
	if (!t)
		die("out of memory");
	rw_init(&the_rw.l);
	rw_permille = permille;
	calibrate_ticks();

	double csw0 = context_switches();
	start_threads(t, n, rw_thread, w, sizeof *w);
	int64_t t0 = now_ns();
	release_threads();
	sleep_ns(ms * 1000000);
	__atomic_store_n(&stop_flag.v, 1, __ATOMIC_RELAXED);
	int64_t t1 = now_ns();

	uint64_t total = 0, writes = 0, mn = UINT64_MAX, mx = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		if (w[i].bad)
			die("rwmutex: a reader saw a half-done write");
		total += w[i].ops;
		writes += w[i].writes;
		mn = w[i].ops < mn ? w[i].ops : mn;
		mx = w[i].ops > mx ? w[i].ops : mx;
		hmerge(&rh, &w[i].rh);
		hmerge(&wh, &w[i].wh);
	}
	double csw = context_switches() - csw0;
	for (int k = 0; k < 4; k++)
		if (shared[k].v != writes)
			die("rwmutex: write counter mismatch (two writers at once)");
	const char *wl = permille == 10 ? "rwmutex_1pct" : permille == 100 ? "rwmutex_10pct" : "rwmutex";
	row(wl, n, "mops", (double)total / ((double)(t1 - t0) / 1e3));
	row(wl, n, "write_share", total ? (double)writes / (double)total : 0);
	row(wl, n, "fairness", mx ? (double)mn / (double)mx : 0);
	row(wl, n, "rd_wait_p99_us", hpercentile(&rh, 0.99) / 1e3);
	row(wl, n, "wr_wait_p50_us", hpercentile(&wh, 0.50) / 1e3);
	row(wl, n, "wr_wait_p99_us", hpercentile(&wh, 0.99) / 1e3);
	row(wl, n, "wr_wait_max_us", (double)wh.max / 1e3);
	row(wl, n, "csw_per_kop", total ? csw * 1000 / (double)total : 0);
	free(t);
	free(w);
	return 0;
}
#else
static int run_rwunc(long iters, int reps) { (void)iters, (void)reps; return 0; }
static int run_rw(int n, int permille, long ms) { (void)n, (void)permille, (void)ms; return 0; }
#endif

/* ---- 2. cond -------------------------------------------------------------------- */
#ifdef HAVE_COND
static struct {
	cmu_t m;
} __attribute__((aligned(LINE))) cmu;
static struct {
	cv_t c;
} __attribute__((aligned(LINE))) cvs[2];

/* Ping-pong: side s waits on cvs[s] until turn == s, passes the turn and signals
 * the other side. token counts handoffs and must alternate in parity. */
static int pp_turn;
static uint64_t pp_token, pp_count[2];
static int pp_bad;

static void *pp_thread(void *arg)
{
	int s = (int)(intptr_t)arg;
	thread_ready();
	cmu_lock(&cmu.m);
	for (;;) {
		while (pp_turn != s && !stop_flag.v)
			cv_wait(&cvs[s].c, &cmu.m);
		if (stop_flag.v)
			break;
		if (pp_token % 2 != (uint64_t)s)
			pp_bad = 1;
		pp_token++;
		pp_count[s]++;
		pp_turn = 1 - s;
		cv_signal(&cvs[1 - s].c);
	}
	cmu_unlock(&cmu.m);
	return NULL;
}

static int run_pingpong(long ms)
{
	pthread_t t[2];
	cmu_init(&cmu.m);
	cv_init(&cvs[0].c);
	cv_init(&cvs[1].c);
	pthread_barrier_init(&start_barrier, NULL, 3);
	for (intptr_t s = 0; s < 2; s++)
		if (pthread_create(&t[s], NULL, pp_thread, (void *)s) != 0)
			die("pthread_create");
	int64_t t0 = now_ns();
	release_threads();
	sleep_ns(ms * 1000000);
	cmu_lock(&cmu.m);
	stop_flag.v = 1;
	uint64_t trips = pp_count[0];
	int64_t t1 = now_ns();
	cv_broadcast(&cvs[0].c);
	cv_broadcast(&cvs[1].c);
	cmu_unlock(&cmu.m);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	if (pp_bad || pp_token != pp_count[0] + pp_count[1] || pp_count[0] - pp_count[1] > 1)
		die("cond ping-pong: turns did not alternate");
	if (trips == 0)
		die("cond ping-pong: no round trip");
	row("cond_pingpong", 2, "ns_per_roundtrip", (double)(t1 - t0) / (double)trips);
	return 0;
}

/* Broadcast to N blocked waiters. Waiters count themselves in (`waiting`) under the
 * mutex and wait for `gen` to move. Main, once all N are in wait (and has slept
 * 300 us more so they are asleep in the kernel), bumps gen and broadcasts with the
 * mutex held; each waiter, back from wait and holding the mutex, counts itself out
 * (`passed`) and stamps the time; the last one's stamp minus the broadcast's is the
 * sample. */
static int bc_n, bc_waiting, bc_passed;
static uint64_t bc_gen;
static int64_t bc_t0, bc_first, bc_last;
static uint64_t *bc_seen;
static int bc_bad;

static void *bc_thread(void *arg)
{
	int i = (int)(intptr_t)arg;
	thread_ready();
	cmu_lock(&cmu.m);
	for (;;) {
		uint64_t g = bc_gen;
		bc_waiting++;
		while (bc_gen == g)
			cv_wait(&cvs[0].c, &cmu.m);
		if (bc_gen != g + 1)
			bc_bad = 1; /* a generation went by unseen */
		if (stop_flag.v)
			break;
		int64_t now = now_ns();
		if (++bc_passed == 1)
			bc_first = now;
		if (bc_passed == bc_n)
			bc_last = now;
		bc_seen[i]++;
	}
	cmu_unlock(&cmu.m);
	return NULL;
}

static int run_broadcast(int n, long reps)
{
	pthread_t *t = calloc((size_t)n, sizeof *t);
	int64_t *all = calloc((size_t)reps, sizeof *all), *first = calloc((size_t)reps, sizeof *first);
	bc_seen = calloc((size_t)n, sizeof *bc_seen);
	if (!t || !all || !first || !bc_seen)
		die("out of memory");
	cmu_init(&cmu.m);
	cv_init(&cvs[0].c);
	bc_n = n;
	pthread_barrier_init(&start_barrier, NULL, (unsigned)n + 1);
	for (intptr_t i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, bc_thread, (void *)i) != 0)
			die("pthread_create");
	release_threads();
	for (long r = 0; r <= reps; r++) {
		for (;;) { /* until all N wait again */
			cmu_lock(&cmu.m);
			int w = bc_waiting, p = bc_passed;
			int64_t f = bc_first, l = bc_last;
			cmu_unlock(&cmu.m);
			if (w == n) {
				if (r > 0) {
					if (p != n)
						die("cond broadcast: not every waiter passed");
					all[r - 1] = l - bc_t0;
					first[r - 1] = f - bc_t0;
				}
				break;
			}
			sleep_ns(20000);
		}
		sleep_ns(300000);
		cmu_lock(&cmu.m);
		bc_waiting = 0;
		bc_passed = 0;
		if (r == reps)
			stop_flag.v = 1;
		bc_gen++;
		bc_t0 = now_ns();
		cv_broadcast(&cvs[0].c);
		cmu_unlock(&cmu.m);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		if (bc_seen[i] != (uint64_t)reps)
			die("cond broadcast: a waiter missed a broadcast");
	}
	if (bc_bad)
		die("cond broadcast: a generation went unseen");
	qsort(all, (size_t)reps, sizeof *all, cmp_i64);
	qsort(first, (size_t)reps, sizeof *first, cmp_i64);
	row("cond_broadcast", n, "all_p50_us", pct(all, (size_t)reps, 0.5) / 1e3);
	row("cond_broadcast", n, "all_p90_us", pct(all, (size_t)reps, 0.9) / 1e3);
	row("cond_broadcast", n, "first_p50_us", pct(first, (size_t)reps, 0.5) / 1e3);
	free(t);
	free(all);
	free(first);
	free(bc_seen);
	return 0;
}
#else
static int run_pingpong(long ms) { (void)ms; return 0; }
static int run_broadcast(int n, long reps) { (void)n, (void)reps; return 0; }
#endif

/* ---- 3. wait group cycle ------------------------------------------------------- */
#ifdef HAVE_WG
/* Per cycle k: main arms the join (with 4), opens gate[k % 2], waits on the join,
 * checks every worker's stamp, and re-arms the gate; each worker waits on
 * gate[k % 2], stamps k, and arrives at the join. Two gates alternate so that a fast
 * worker never reaches a gate before it is re-armed, and every re-arm comes after
 * all waits on that gate returned (Go's reuse rule; Abseil's one-shot objects may be
 * remade only then). */
#define WG_WORKERS 4
static struct {
	gate_t g;
} __attribute__((aligned(LINE))) gate[2];
static struct {
	join_t j;
} __attribute__((aligned(LINE))) join_;
static struct {
	uint64_t v;
} __attribute__((aligned(LINE))) wg_cycle, stamp[WG_WORKERS];
static int wg_bad;

static void *wg_thread(void *arg)
{
	int i = (int)(intptr_t)arg;
	thread_ready();
	for (uint64_t k = 0;; k++) {
		gate_wait(&gate[k & 1].g);
		if (__atomic_load_n(&wg_cycle.v, __ATOMIC_RELAXED) != k)
			wg_bad = 1; /* passed the gate before it was opened */
		__atomic_store_n(&stamp[i].v, k, __ATOMIC_RELAXED);
		bool last = stopping();
		join_arrive(&join_.j);
		if (last)
			break;
	}
	return NULL;
}

static int run_wgcycle(long ms)
{
	pthread_t t[WG_WORKERS];
	gate_init(&gate[0].g);
	gate_init(&gate[1].g);
	join_init(&join_.j);
	pthread_barrier_init(&start_barrier, NULL, WG_WORKERS + 1);
	for (intptr_t i = 0; i < WG_WORKERS; i++)
		if (pthread_create(&t[i], NULL, wg_thread, (void *)i) != 0)
			die("pthread_create");
	release_threads();
	int64_t t0 = now_ns(), deadline = t0 + ms * 1000000, t1;
	uint64_t k = 0;
	for (;; k++) {
		bool last = (k % 16 == 0) && now_ns() >= deadline;
		__atomic_store_n(&stop_flag.v, last, __ATOMIC_RELAXED);
		__atomic_store_n(&wg_cycle.v, k, __ATOMIC_RELAXED);
		join_arm(&join_.j, WG_WORKERS);
		gate_open(&gate[k & 1].g);
		join_wait(&join_.j);
		for (int i = 0; i < WG_WORKERS; i++)
			if (__atomic_load_n(&stamp[i].v, __ATOMIC_RELAXED) != k)
				die("waitgroup: wait returned before every worker was done");
		gate_rearm(&gate[k & 1].g);
		if (last)
			break;
	}
	t1 = now_ns();
	for (int i = 0; i < WG_WORKERS; i++)
		pthread_join(t[i], NULL);
	if (wg_bad)
		die("waitgroup: a worker passed a closed gate");
	row("waitgroup_cycle", WG_WORKERS, "ns_per_cycle", (double)(t1 - t0) / (double)(k + 1));
	return 0;
}
#else
static int run_wgcycle(long ms) { (void)ms; return 0; }
#endif

/* ---- 4. once fast path ------------------------------------------------------- */
#ifdef HAVE_ONCE
static int once_runs;
static uint64_t once_value;
static void once_body(void)
{
	once_runs++;
	once_value = 3;
}
#if defined(IMPL_gosync)
static void once_fn(void *arg)
{
	(void)arg;
	once_body();
}
#else
static void once_fn0(void) { once_body(); }
#endif

static once_t the_once = ONCE_INIT;

static NOINLINE uint64_t cg_once(long iters)
{
	uint64_t sum = 0;
	for (long i = 0; i < iters; i++) {
		once_call(&the_once);
		sum += once_value;
	}
	return sum;
}

static int run_once(long iters, int reps)
{
	go_multithreaded();
	once_init(&the_once);
	once_call(&the_once); /* the first call runs the function; not timed */
	uint64_t sum = 0;
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		int64_t t0 = now_ns();
		sum += cg_once(iters);
		double ns = (double)(now_ns() - t0) / (double)iters;
		best = ns < best ? ns : best;
	}
	if (once_runs != 1 || sum != 3 * (uint64_t)iters * (uint64_t)reps)
		die("once: the function ran more than once, or its write was not seen");
	row("once_fast", 1, "ns_per_call", best);
	return 0;
}
#else
static int run_once(long iters, int reps) { (void)iters, (void)reps; return 0; }
#endif

/* ---- 5. semaphore --------------------------------------------------------------- */
#ifdef HAVE_SEM
static struct {
	xsem_t s;
} __attribute__((aligned(LINE))) the_sem;
static struct {
	int v;
} __attribute__((aligned(LINE))) inside;
static int sem_cap;

static NOINLINE void cg_semunc(long iters)
{
	for (long i = 0; i < iters; i++) {
		xsem_acquire(&the_sem.s);
		CBAR();
		shared[0].v++;
		CBAR();
		xsem_release(&the_sem.s);
	}
}

static int run_semunc(long iters, int reps)
{
	go_multithreaded();
	xsem_init(&the_sem.s, 1);
	xsem_acquire(&the_sem.s); /* one pair first, untimed (as in run_rwunc) */
	xsem_release(&the_sem.s);
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		int64_t t0 = now_ns();
		cg_semunc(iters);
		double ns = (double)(now_ns() - t0) / (double)iters;
		best = ns < best ? ns : best;
	}
	if (shared[0].v != (uint64_t)iters * (uint64_t)reps || !xsem_all_free(&the_sem.s, 1))
		die("semaphore: counter or units mismatch");
	row("sem_uncontended", 1, "ns_per_pair", best);
	return 0;
}

static void *sem_thread(void *arg)
{
	struct worker *w = arg;
	uint64_t x = (uint64_t)(uintptr_t)w, ops = 0;
	thread_ready();
	while (!stopping()) {
		bool sample = ops % 16 == 0;
		uint64_t t0 = sample ? ticks() : 0, t1 = 0;
		xsem_acquire(&the_sem.s);
		if (sample)
			t1 = ticks();
		if (__atomic_add_fetch(&inside.v, 1, __ATOMIC_RELAXED) > sem_cap)
			w->bad = 1;
		x = private_work(x); /* ~100 ns holding a unit */
		__atomic_sub_fetch(&inside.v, 1, __ATOMIC_RELAXED);
		xsem_release(&the_sem.s);
		if (sample)
			hadd(&w->rh, (uint64_t)((double)(t1 - t0) * ns_per_tick));
		ops++;
		x = private_work(x);
	}
	w->ops = ops;
	w->sink = x;
	return NULL;
}

static int run_semcont(int n, int cap, long ms)
{
	pthread_t *t = calloc((size_t)n, sizeof *t);
	struct worker *w = alloc_workers(n);
	static struct hist h;
	if (!t)
		die("out of memory");
	xsem_init(&the_sem.s, cap);
	sem_cap = cap;
	calibrate_ticks();
	double csw0 = context_switches();
	start_threads(t, n, sem_thread, w, sizeof *w);
	int64_t t0 = now_ns();
	release_threads();
	sleep_ns(ms * 1000000);
	__atomic_store_n(&stop_flag.v, 1, __ATOMIC_RELAXED);
	int64_t t1 = now_ns();
	uint64_t total = 0, mn = UINT64_MAX, mx = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		if (w[i].bad)
			die("semaphore: more holders than units");
		total += w[i].ops;
		mn = w[i].ops < mn ? w[i].ops : mn;
		mx = w[i].ops > mx ? w[i].ops : mx;
		hmerge(&h, &w[i].rh);
	}
	double csw = context_switches() - csw0;
	if (!xsem_all_free(&the_sem.s, cap))
		die("semaphore: units lost or gained");
	row("sem_contended", n, "mops", (double)total / ((double)(t1 - t0) / 1e3));
	row("sem_contended", n, "fairness", mx ? (double)mn / (double)mx : 0);
	row("sem_contended", n, "acq_p50_ns", hpercentile(&h, 0.50));
	row("sem_contended", n, "acq_p99_us", hpercentile(&h, 0.99) / 1e3);
	row("sem_contended", n, "acq_max_us", (double)h.max / 1e3);
	row("sem_contended", n, "csw_per_kop", total ? csw * 1000 / (double)total : 0);
	free(t);
	free(w);
	return 0;
}
#else
static int run_semunc(long iters, int reps) { (void)iters, (void)reps; return 0; }
static int run_semcont(int n, int cap, long ms) { (void)n, (void)cap, (void)ms; return 0; }
#endif

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
	alarm(120); /* watchdog: a primitive that loses a wakeup hangs the run */

	if (!strcmp(w, "rwunc"))
		return run_rwunc(arg(argv, 2, argc, 10000000), (int)arg(argv, 3, argc, 5));
	if (!strcmp(w, "rw"))
		return run_rw((int)arg(argv, 2, argc, 2), (int)arg(argv, 3, argc, 10), arg(argv, 4, argc, 1000));
	if (!strcmp(w, "pingpong"))
		return run_pingpong(arg(argv, 2, argc, 1000));
	if (!strcmp(w, "broadcast"))
		return run_broadcast((int)arg(argv, 2, argc, 4), arg(argv, 3, argc, 500));
	if (!strcmp(w, "wgcycle"))
		return run_wgcycle(arg(argv, 2, argc, 1000));
	if (!strcmp(w, "once"))
		return run_once(arg(argv, 2, argc, 10000000), (int)arg(argv, 3, argc, 5));
	if (!strcmp(w, "semunc"))
		return run_semunc(arg(argv, 2, argc, 10000000), (int)arg(argv, 3, argc, 5));
	if (!strcmp(w, "semcont"))
		return run_semcont((int)arg(argv, 2, argc, 4), (int)arg(argv, 3, argc, 2), arg(argv, 4, argc, 1000));
	fprintf(stderr,
		"usage: %s rwunc [ITERS [REPS]] | rw [THREADS [PERMILLE [MS]]] | pingpong [MS] |\n"
		"       broadcast [N [REPS]] | wgcycle [MS] | once [ITERS [REPS]] |\n"
		"       semunc [ITERS [REPS]] | semcont [THREADS [CAP [MS]]]\n", argv[0]);
	return 2;
}
