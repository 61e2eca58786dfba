/* stress_rwmutex SECONDS — gs_rwmutex under a random mix of every operation.
 *
 * Phases of 4..64 threads, each with its own read/write ratio, all on one rwmutex
 * (reused from phase to phase). Every thread loops over: rlock/runlock,
 * lock/unlock, tryrlock, trylock, and rlock_until/lock_until with random short
 * deadlines (some already past), holding the lock for nothing, a short spin or a
 * short sleep. Checked:
 *   - exclusion: an activity counter (readers add 1, a writer 10000) — a writer sees
 *     exactly 10000, a reader 1..9999;
 *   - protected data: a writer rewrites several words, readers and writers check they
 *     are all equal (never torn);
 *   - deadlines: _until returns 0 or ETIMEDOUT, and ETIMEDOUT never before the
 *     deadline;
 *   - after each phase, with every thread gone, the state word is 0 and trylock works;
 *   - a watchdog (the lost-wakeup hunter): if a thread has been inside one
 *     acquisition for several seconds past its deadline, or no operation completed
 *     for several seconds while threads wait, it prints the state word and exits 1.
 * Prints a line per phase and a final "stress_rwmutex: OK ..." line; exits non-zero
 * on any violation. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gosync/rwmutex.h>
#include <gosync/time.h>

#include "hang_guard.h"

/* The state bits of src/rwmutex.c, for the diagnostics. */
enum { WRITER = 1u, WRITER_PARKED = 2u, READERS_PARKED = 4u, ONE_READER = 8u };

enum { MAX_THREADS = 64, WORDS = 8 };

/* True when this binary runs under ThreadSanitizer (it is slower: longer limits). */
extern void __tsan_acquire(void *addr) __attribute__((weak));
static int under_tsan(void) { return __tsan_acquire != NULL; }

#define BARRIER() __asm__ __volatile__("" ::: "memory")

static struct {
	gs_rwmutex_t rw;
	int activity;            /* readers inside + 10000 * writers inside */
	uint64_t data[WORDS];    /* written under the write lock; all equal outside it */
	int stop;
	int pause;               /* quiet point requested: finish the op in hand, wait */
	int epoch;               /* quiet points so far */
	int paused;              /* threads waiting at this quiet point */
	uint64_t progress;       /* operations completed, all threads */
	long violations;
} S;

struct worker {
	int id;
	int read_pct;
	uint64_t rng;
	/* the acquisition in progress, for the watchdog (0: none) */
	int64_t wait_since;
	int64_t wait_until;      /* its deadline; GS_NO_DEADLINE for the plain calls */
	int wait_op;
	/* counts */
	long rlocks, locks, timeouts, try_ok, try_fail;
	int64_t max_wait;        /* longest plain acquisition */
	pthread_t thread;
};

static struct worker W[MAX_THREADS];
static int nthreads;

enum { OP_RLOCK, OP_LOCK, OP_RLOCK_UNTIL, OP_LOCK_UNTIL };
static const char *const op_name[] = { "rlock", "lock", "rlock_until", "lock_until" };

static uint32_t state(void) { return __atomic_load_n(&S.rw.state_, __ATOMIC_RELAXED); }

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / GS_SEC, ns % GS_SEC };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void violation(const char *what, long v)
{
	fprintf(stderr, "stress_rwmutex: VIOLATION: %s (%ld), state 0x%x\n", what, v, state());
	__atomic_fetch_add(&S.violations, 1, __ATOMIC_RELAXED);
}

static void hold(uint64_t x, bool write)
{
	switch ((x >> 40) % 32) {
	case 6: case 7: case 8: case 9: /* writers sleep more: deadlines expire under them */
		if (!write)
			break;
		/* fall through */
	case 0: case 1:
		sleep_ns((int64_t)((x >> 45) % 300) * GS_USEC);
		break;
	case 2: case 3: case 4:
		for (int k = (int)((x >> 45) % 500); k > 0; k--)
			BARRIER();
		break;
	case 5:
		sched_yield();
		break;
	default:
		break;
	}
}

static void read_section(uint64_t x)
{
	int n = __atomic_add_fetch(&S.activity, 1, __ATOMIC_RELAXED);
	if (n < 1 || n >= 10000)
		violation("reader saw activity", n);
	uint64_t first = S.data[0];
	for (int i = 1; i < WORDS; i++)
		if (S.data[i] != first)
			violation("reader saw torn data at word", i);
	hold(x, false);
	__atomic_fetch_sub(&S.activity, 1, __ATOMIC_RELAXED);
}

static void write_section(uint64_t x)
{
	int n = __atomic_add_fetch(&S.activity, 10000, __ATOMIC_RELAXED);
	if (n != 10000)
		violation("writer saw activity", n);
	uint64_t v = S.data[0];
	for (int i = 0; i < WORDS; i++) {
		if (S.data[i] != v)
			violation("writer saw torn data at word", i);
		S.data[i] = v + 1;
		BARRIER();
	}
	hold(x, true);
	__atomic_fetch_sub(&S.activity, 10000, __ATOMIC_RELAXED);
}

static void begin_wait(struct worker *w, int op, int64_t until)
{
	__atomic_store_n(&w->wait_op, op, __ATOMIC_RELAXED);
	__atomic_store_n(&w->wait_until, until, __ATOMIC_RELAXED);
	__atomic_store_n(&w->wait_since, gs_now(), __ATOMIC_RELAXED);
}

static void end_wait(struct worker *w)
{
	__atomic_store_n(&w->wait_since, 0, __ATOMIC_RELAXED);
	__atomic_fetch_add(&S.progress, 1, __ATOMIC_RELAXED);
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;

	while (!__atomic_load_n(&S.stop, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&S.pause, __ATOMIC_ACQUIRE)) {
			int e = __atomic_load_n(&S.epoch, __ATOMIC_ACQUIRE);
			__atomic_fetch_add(&S.paused, 1, __ATOMIC_ACQ_REL);
			while (__atomic_load_n(&S.pause, __ATOMIC_ACQUIRE) &&
			       __atomic_load_n(&S.epoch, __ATOMIC_ACQUIRE) == e)
				sleep_ns(20 * GS_USEC);
			continue;
		}
		uint64_t x = xorshift(&w->rng);
		bool write = (int)(x % 100) >= w->read_pct;
		unsigned kind = (unsigned)(x >> 8) % 100;

		if (kind < 15) { /* try */
			bool ok = write ? gs_rwmutex_trylock(&S.rw) : gs_rwmutex_tryrlock(&S.rw);
			__atomic_fetch_add(&S.progress, 1, __ATOMIC_RELAXED);
			if (!ok) {
				w->try_fail++;
				sched_yield();
				continue;
			}
			w->try_ok++;
		} else if (kind < 50) { /* plain */
			begin_wait(w, write ? OP_LOCK : OP_RLOCK, GS_NO_DEADLINE);
			int64_t t0 = gs_now();
			if (write)
				gs_rwmutex_lock(&S.rw);
			else
				gs_rwmutex_rlock(&S.rw);
			end_wait(w);
			if (gs_now() - t0 > w->max_wait)
				w->max_wait = gs_now() - t0;
		} else { /* until: -20..+60 us mostly, 0.1..2 ms sometimes */
			int64_t off = kind < 80 ? ((int64_t)((x >> 16) % 81) - 20) * GS_USEC
						: (int64_t)(100 + (x >> 16) % 1900) * GS_USEC;
			int64_t deadline = gs_now() + off;
			begin_wait(w, write ? OP_LOCK_UNTIL : OP_RLOCK_UNTIL, deadline);
			int r = write ? gs_rwmutex_lock_until(&S.rw, deadline)
				      : gs_rwmutex_rlock_until(&S.rw, deadline);
			int64_t now = gs_now();
			end_wait(w);
			if (r == ETIMEDOUT) {
				w->timeouts++;
				if (now < deadline)
					violation("ETIMEDOUT before the deadline, ns early", (long)(deadline - now));
				continue;
			}
			if (r != 0) {
				violation("_until returned", r);
				continue;
			}
		}
		if (write) {
			write_section(x);
			w->locks++;
			gs_rwmutex_unlock(&S.rw);
		} else {
			read_section(x);
			w->rlocks++;
			gs_rwmutex_runlock(&S.rw);
		}
		__atomic_fetch_add(&S.progress, 1, __ATOMIC_RELAXED);
		/* Now and then a quiet moment: a waiter nobody is left to wake would
		 * stay asleep instead of being rescued by the next arrival. */
		if ((x >> 50) % 256 == 0)
			sleep_ns((int64_t)(200 + (x >> 30) % 2000) * GS_USEC);
	}
	return NULL;
}

/* --- the watchdog: fails loudly instead of hanging ------------------------------- */

static int64_t stuck_limit;
static int watchdog_stop;
static pthread_mutex_t dog_lock = PTHREAD_MUTEX_INITIALIZER; /* W[] resets vs scans */

static void *watchdog_fn(void *arg)
{
	(void)arg;
	uint64_t last = __atomic_load_n(&S.progress, __ATOMIC_RELAXED);
	int64_t last_change = gs_now();

	while (!__atomic_load_n(&watchdog_stop, __ATOMIC_ACQUIRE)) {
		sleep_ns(100 * GS_MSEC);
		int64_t now = gs_now();
		uint64_t p = __atomic_load_n(&S.progress, __ATOMIC_RELAXED);
		if (p != last) {
			last = p;
			last_change = now;
		}
		pthread_mutex_lock(&dog_lock);
		int n = __atomic_load_n(&nthreads, __ATOMIC_ACQUIRE);
		int waiting = 0, stuck = -1;
		for (int i = 0; i < n; i++) {
			int64_t since = __atomic_load_n(&W[i].wait_since, __ATOMIC_RELAXED);
			if (!since)
				continue;
			waiting++;
			int64_t until = __atomic_load_n(&W[i].wait_until, __ATOMIC_RELAXED);
			int64_t from = until > since ? until : since;
			if (now - from > stuck_limit)
				stuck = i;
		}
		if (stuck < 0 && !(waiting && now - last_change > stuck_limit)) {
			pthread_mutex_unlock(&dog_lock);
			continue;
		}
		uint32_t s = state();
		fprintf(stderr, "stress_rwmutex: FAIL: %s for %.1f s; state 0x%x (%s%s%s%u readers)\n",
			stuck >= 0 ? "a thread stuck in one acquisition" : "no progress",
			stuck_limit / 1e9, s, s & WRITER ? "WRITER " : "",
			s & WRITER_PARKED ? "WRITER_PARKED " : "",
			s & READERS_PARKED ? "READERS_PARKED " : "", s / ONE_READER);
		for (int i = 0; i < n; i++) {
			int64_t since = __atomic_load_n(&W[i].wait_since, __ATOMIC_RELAXED);
			if (since)
				fprintf(stderr, "  thread %d in %s for %.3f s\n", i,
					op_name[__atomic_load_n(&W[i].wait_op, __ATOMIC_RELAXED)],
					(now - since) / 1e9);
		}
		fflush(stderr);
		exit(1);
	}
	return NULL;
}

/* --- phases ------------------------------------------------------------------------ */

struct phase {
	int threads;
	int read_pct;
};

static const struct phase phases[] = {
	{ 4, 90 }, { 16, 50 }, { 64, 90 }, { 8, 20 }, { 32, 70 }, { 64, 30 }, { 4, 50 }, { 48, 95 },
};
enum { NPHASES = sizeof phases / sizeof phases[0] };

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10;
	if (seconds <= 0)
		seconds = 10;
	hang_guard_arm("stress_rwmutex", seconds);
	/* Short phases, cycling through the table: every phase end is a quiet moment in
	 * which a waiter nobody will wake shows up as stuck. */
	int nphases = (int)(seconds * 4);
	if (nphases < NPHASES)
		nphases = NPHASES;
	int64_t phase_ns = (int64_t)(seconds * 1e9) / nphases;
	if (phase_ns < 100 * GS_MSEC)
		phase_ns = 100 * GS_MSEC;
	stuck_limit = (under_tsan() ? 20 : 5) * GS_SEC;

	long ops = 0, timeouts = 0, rlocks = 0, locks = 0, tries = 0, quiet_points = 0;
	int64_t t0 = gs_now();
	pthread_t dog;
	if (pthread_create(&dog, NULL, watchdog_fn, NULL) != 0)
		abort();

	int ph;
	for (ph = 0; ph < nphases; ph++) {
		const struct phase *p = &phases[ph % NPHASES];
		__atomic_store_n(&S.stop, 0, __ATOMIC_RELAXED);
		pthread_mutex_lock(&dog_lock);
		__atomic_store_n(&nthreads, 0, __ATOMIC_RELEASE);
		memset(W, 0, sizeof W);
		for (int i = 0; i < p->threads; i++) {
			W[i].id = i;
			W[i].read_pct = p->read_pct;
			W[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(ph * 131 + i + 1) ^ (uint64_t)t0;
			if (!W[i].rng)
				W[i].rng = 1;
		}
		__atomic_store_n(&nthreads, p->threads, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&dog_lock);
		for (int i = 0; i < p->threads; i++)
			if (pthread_create(&W[i].thread, NULL, worker_fn, &W[i]) != 0)
				abort();
		/* Quiet points every few ms: every thread finishes the operation in hand
		 * (a waiter nobody will wake never does: the watchdog reports it), and
		 * with nobody inside, the word must be 0. */
		uint64_t prng = (uint64_t)t0 | 1;
		for (int64_t end_at = gs_now() + phase_ns; gs_now() < end_at;) {
			sleep_ns((int64_t)(1 + xorshift(&prng) % 6) * GS_MSEC);
			__atomic_fetch_add(&S.epoch, 1, __ATOMIC_ACQ_REL);
			__atomic_store_n(&S.pause, 1, __ATOMIC_RELEASE);
			while (__atomic_load_n(&S.paused, __ATOMIC_ACQUIRE) < p->threads)
				sleep_ns(50 * GS_USEC);
			quiet_points++;
			if (state() != 0)
				violation("state word not 0 at a quiet point", (long)state());
			if (__atomic_load_n(&S.activity, __ATOMIC_RELAXED) != 0)
				violation("activity not 0 at a quiet point", S.activity);
			__atomic_store_n(&S.paused, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&S.pause, 0, __ATOMIC_RELEASE);
			if (__atomic_load_n(&S.violations, __ATOMIC_RELAXED))
				break;
		}
		__atomic_store_n(&S.stop, 1, __ATOMIC_RELAXED);
		for (int i = 0; i < p->threads; i++)
			pthread_join(W[i].thread, NULL);

		long ph_r = 0, ph_w = 0, ph_t = 0, ph_tok = 0, ph_tfail = 0;
		int64_t ph_max = 0;
		for (int i = 0; i < p->threads; i++) {
			if (W[i].max_wait > ph_max)
				ph_max = W[i].max_wait;
			ph_r += W[i].rlocks;
			ph_w += W[i].locks;
			ph_t += W[i].timeouts;
			ph_tok += W[i].try_ok;
			ph_tfail += W[i].try_fail;
		}
		uint32_t end = state();
		if (ph < NPHASES || ph % NPHASES == NPHASES - 1 || end != 0)
			printf("phase %d: %2d threads, %2d%% reads: %ld rlocks, %ld locks, %ld timeouts, "
			       "tries %ld ok / %ld failed, longest wait %.1f ms, state 0x%x\n", ph,
			       p->threads, p->read_pct, ph_r, ph_w, ph_t, ph_tok, ph_tfail,
			       ph_max / 1e6, end);
		fflush(stdout);
		if (end != 0)
			violation("state word not 0 with every thread gone", (long)end);
		if (S.activity != 0)
			violation("activity not 0 with every thread gone", S.activity);
		if (!gs_rwmutex_trylock(&S.rw)) {
			violation("trylock failed on an idle rwmutex", 0);
		} else {
			gs_rwmutex_unlock(&S.rw);
			if (!gs_rwmutex_tryrlock(&S.rw))
				violation("tryrlock failed on an idle rwmutex", 0);
			else
				gs_rwmutex_runlock(&S.rw);
		}
		if (state() != 0)
			violation("state word not 0 after the idle checks", (long)state());
		if (ph_r + ph_w == 0)
			violation("no lock taken in a whole phase", ph);
		rlocks += ph_r;
		locks += ph_w;
		timeouts += ph_t;
		tries += ph_tok + ph_tfail;
		ops += ph_r + ph_w + ph_t + ph_tfail;
		if (__atomic_load_n(&S.violations, __ATOMIC_RELAXED))
			break;
	}
	__atomic_store_n(&watchdog_stop, 1, __ATOMIC_RELEASE);
	pthread_join(dog, NULL);

	double took = (gs_now() - t0) / 1e9;
	if (S.violations) {
		printf("stress_rwmutex: FAIL: %ld violations (phase %d)\n", S.violations, ph);
		return 1;
	}
	for (int i = 1; i < WORDS; i++)
		if (S.data[i] != S.data[0]) {
			printf("stress_rwmutex: FAIL: data torn at the end\n");
			return 1;
		}
	if ((long)S.data[0] != locks) {
		printf("stress_rwmutex: FAIL: %ld write sections but the data says %ld\n", locks,
		       (long)S.data[0]);
		return 1;
	}
	printf("stress_rwmutex: OK %d phases, %ld quiet points, %ld ops (%ld rlocks, %ld locks, "
	       "%ld timeouts, %ld tries) in %.1f s\n", nphases, quiet_points, ops, rlocks, locks, timeouts, tries, took);
	return 0;
}
