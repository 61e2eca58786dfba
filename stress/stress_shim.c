/* stress_shim — the pthread shim (shim/) under threads, through the POSIX names.
 *
 * This binary links the shim's objects and libgosync directly (see the Makefile), so
 * every pthread_mutex_*, pthread_cond_*, pthread_rwlock_*, sem_*, pthread_barrier_*
 * and pthread_once call below is the shim's, built with the same sanitizer flags as
 * the rest: under TSan the shim's own logic (owner fields, recursion depth, the
 * semaphore and barrier words, the cond's owner hand-back) is checked, not only the
 * gs_* primitives below it. Before anything else the program checks that the calls
 * really reach the shim (state only the shim leaves in glibc's objects) and fails
 * if they reach glibc.
 *
 * Phases of 2..16 threads, one workload per phase, cycling through:
 *   mutex    five mutexes: normal (PTHREAD_MUTEX_INITIALIZER), error-checking and
 *            recursive (static NP initializers, and pthread_mutexattr_settype + init);
 *            lock, trylock, timedlock and clocklock with deadlines up to 300 µs away
 *            (some past); a recursive mutex is taken to depth 1..3 (relocks by lock,
 *            trylock and an expired timedlock must all succeed); an error-checking
 *            one answers EDEADLK / EBUSY to its holder and EPERM to an unlock by a
 *            thread that does not hold it, as does a recursive one.
 *   cond     a bounded buffer (CAP tokens, conds "token" and "space") on two
 *            mutex+cond sides: a normal mutex with PTHREAD_COND_INITIALIZER, and a
 *            recursive mutex held at depth 2 with CLOCK_MONOTONIC conds; wait and
 *            timedwait, signal per token or broadcast, with the mutex held or not.
 *            After a wait the recursive mutex must be held again at depth 2 by the
 *            waiter (owner and count, then two unlocks succeed and a third is EPERM).
 *            One ticker thread adds or takes a token on each side every millisecond,
 *            taking the mutex with a STUCK-second deadline.
 *   rwlock   default (reader-preferring; readers take rdlock a second time, also by an
 *            expired timedrdlock), and PREFER_WRITER_NONRECURSIVE_NP (static
 *            initializer and attr + init); rd/wr lock, try, timed and clock forms;
 *            trywrlock under a read lock is EBUSY; the writer gets EDEADLK from
 *            wrlock, rdlock and timedwrlock, EBUSY from the try forms.
 *   sem      a counting semaphore (sem_post, sem_wait, sem_trywait, sem_timedwait,
 *            sem_clockwait) and a binary one used as a lock.
 *   barrier  rounds of two pthread_barrier_waits; the serial thread of the last round
 *            destroys and frees the barrier while the others are still returning.
 *   once     rounds of 32 fresh pthread_once_t (an array per round), every thread
 *            calls pthread_once on each, in its own order.
 * Invariants:
 *   - mutual exclusion: an "inside" counter (relaxed atomics, so that TSan gets its
 *     happens-before from the locks only) is 1 for a holder, and for an rwlock no
 *     reader overlaps a writer; words written under the lock are never torn;
 *   - counts: each lock's protected counter equals the acquisitions counted by the
 *     threads; tokens produced == consumed + left; semaphore: initial + posts -
 *     successful waits == sem_getvalue; the binary semaphore ends at 1;
 *   - results: every call returns what POSIX/glibc says (0, EBUSY, ETIMEDOUT never
 *     before its deadline, EDEADLK, EPERM, EAGAIN for sem_trywait, ...);
 *   - barrier: every thread sees the same round number and every slot written before
 *     the barrier; exactly one PTHREAD_BARRIER_SERIAL_THREAD per wait;
 *   - once: each init routine runs exactly once, and every caller sees its write;
 *   - liveness: every thread leaves within STUCK seconds of the end of its phase.
 *
 * usage: stress_shim [SECONDS]   prints progress each second and a final verdict;
 * exits 1 on any violation. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gosync.h>

#include "hang_guard.h"

enum { MIN_THREADS = 2, MAX_THREADS = 16, WORDS = 4, CAP = 4 };

/* True when this binary runs under ThreadSanitizer (it is slower: longer limits). */
extern void __tsan_acquire(void *addr) __attribute__((weak));

static int64_t stuck_ns; /* how long a thread may stay blocked after its phase ended */

/* Totals over the run (relaxed atomics). */
static struct {
	long mutex_locks, mutex_relocks, mutex_busy, mutex_timeouts, mutex_errchecks;
	long cond_waits, cond_timeouts, cond_tokens, cond_signals, cond_broadcasts;
	long rw_reads, rw_rereads, rw_writes, rw_busy, rw_timeouts, rw_errchecks;
	long sem_posts, sem_waits, sem_fails, sem_locks;
	long barrier_waits, barrier_rounds;
	long once_calls, once_runs;
	long phases;
} stats;

static void bump(long *p, long n) { __atomic_fetch_add(p, n, __ATOMIC_RELAXED); }
static long get(const long *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static __attribute__((noreturn, format(printf, 1, 2))) void fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "stress_shim: FAILURE: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	exit(1);
}

static const char *err_name(int e)
{
	switch (e) {
	case 0: return "0";
	case EBUSY: return "EBUSY";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EDEADLK: return "EDEADLK";
	case EPERM: return "EPERM";
	case EAGAIN: return "EAGAIN";
	case EINVAL: return "EINVAL";
	case EINTR: return "EINTR";
	}
	return "another error";
}

/* A call that must answer `want`. */
#define EXPECT(call, want)                                                                 \
	do {                                                                               \
		int rc_ = (call);                                                          \
		if (rc_ != (want))                                                         \
			fail("%s:%d: %s returned %s (%d), expected %s", __FILE__, __LINE__, \
			     #call, err_name(rc_), rc_, err_name(want));                   \
	} while (0)

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec ts_of(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
}

/* A deadline on `clock`, up to max_us µs away; one in four already past. */
static int64_t pick_deadline(clockid_t c, uint64_t *rnd, int max_us)
{
	uint64_t r = xorshift(rnd);
	int64_t now = clock_ns(c);

	if (r % 4 == 0)
		return now - (int64_t)((r >> 8) % 1000000);
	return now + (int64_t)((r >> 8) % (uint64_t)max_us) * 1000;
}

/* A timed call answered ETIMEDOUT: never before its deadline. */
static void check_timeout(const char *what, clockid_t c, int64_t deadline)
{
	int64_t now = clock_ns(c);
	if (now < deadline)
		fail("%s returned ETIMEDOUT %lld ns before its deadline", what,
		     (long long)(deadline - now));
}

static pid_t tid(void) { return gettid(); }

static int owner_of(pthread_mutex_t *m)
{
	return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

/* --- the shim, not glibc ------------------------------------------------------------ */

/* State that only the shim leaves in glibc's objects (shim/mutex.c, sem.c, barrier.c):
 * a locked normal mutex has no owner (glibc stores the holder's tid in __owner) and
 * holds a locked gs_mutex in __lock; sem_init and pthread_barrier_init mark their
 * objects with "GSEM" and "GSBR" where glibc writes 0 or 128. */
static void check_shim_is_used(void)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	gs_mutex_t *gm = (gs_mutex_t *)&m.__data.__lock;

	EXPECT(pthread_mutex_lock(&m), 0);
	int owner = owner_of(&m);
	bool locked = gs_mutex_is_locked(gm);
	EXPECT(pthread_mutex_unlock(&m), 0);
	if (owner != 0 || !locked || gs_mutex_is_locked(gm))
		fail("pthread_mutex_lock is not the shim's (owner %d, gs_mutex locked %d): "
		     "this binary runs glibc's pthreads", owner, locked);

	sem_t s;
	int32_t mark;
	EXPECT(sem_init(&s, 0, 1), 0);
	memcpy(&mark, (char *)&s + 8, sizeof mark);
	EXPECT(sem_destroy(&s), 0);
	if (mark != 0x4753454d)
		fail("sem_init is not the shim's (word 0x%x at byte 8): this binary runs glibc's "
		     "semaphores", (unsigned)mark);

	pthread_barrier_t b;
	EXPECT(pthread_barrier_init(&b, NULL, 1), 0);
	memcpy(&mark, (char *)&b + 12, sizeof mark);
	EXPECT(pthread_barrier_wait(&b), PTHREAD_BARRIER_SERIAL_THREAD);
	EXPECT(pthread_barrier_destroy(&b), 0);
	if (mark != 0x47534252)
		fail("pthread_barrier_init is not the shim's (word 0x%x at byte 12): this binary "
		     "runs glibc's barriers", (unsigned)mark);
}

/* --- phases: threads, their exit, the liveness check ------------------------------- */

struct phase {
	int nthreads;
	int64_t until;       /* gs_now() time the workload stops */
	int exited;          /* atomic: threads that have left */
	void *w;             /* the workload's world */
	pthread_t t[MAX_THREADS];
	struct targ {
		struct phase *p;
		int id;
		uint64_t rnd;
	} a[MAX_THREADS];
};

static bool over(struct phase *p) { return gs_now() >= p->until; }

static void thread_done(struct phase *p) { __atomic_fetch_add(&p->exited, 1, __ATOMIC_RELAXED); }

static void start(struct phase *p, void *(*fn)(void *), uint64_t *rnd)
{
	for (int i = 0; i < p->nthreads; i++) {
		p->a[i] = (struct targ){ p, i, xorshift(rnd) | 1 };
		if (pthread_create(&p->t[i], NULL, fn, &p->a[i]) != 0) {
			fprintf(stderr, "stress_shim: pthread_create failed\n");
			exit(2);
		}
	}
}

/* Waits until every thread has left, calling nudge (if any) each millisecond; fails if
 * they have not within STUCK seconds of the end of the phase. */
static void finish(struct phase *p, const char *what, void (*nudge)(struct phase *))
{
	int64_t give_up = (gs_now() > p->until ? gs_now() : p->until) + stuck_ns;

	while (__atomic_load_n(&p->exited, __ATOMIC_RELAXED) != p->nthreads) {
		if (gs_now() > give_up)
			fail("%s: %d of %d threads still blocked %.0f s after the end of the phase "
			     "(lost wakeup?)", what, p->nthreads - __atomic_load_n(&p->exited, __ATOMIC_RELAXED),
			     p->nthreads, (double)stuck_ns / GS_SEC);
		if (nudge)
			nudge(p);
		sleep_us(1000);
	}
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->t[i], NULL);
}

/* --- mutex -------------------------------------------------------------------------- */

enum { NMUTEX = 5 };

struct mrec {
	pthread_mutex_t m;
	int type;             /* PTHREAD_MUTEX_NORMAL, _ERRORCHECK or _RECURSIVE */
	int inside;           /* atomic (relaxed): holders right now */
	long counter;         /* acquisitions (under m) */
	long words[WORDS];    /* all equal to counter outside critical sections (under m) */
	long acquired;        /* atomic: acquisitions the threads counted */
} __attribute__((aligned(64)));

static const char *const mutex_name[NMUTEX] = {
	"normal", "error-checking (static NP)", "recursive (static NP)",
	"error-checking (settype)", "recursive (settype)",
};

/* The first three live as long as the program, statically initialized; the other two
 * are initialized with attributes and destroyed every phase. */
static struct mrec mrec[NMUTEX] = {
	{ .m = PTHREAD_MUTEX_INITIALIZER, .type = PTHREAD_MUTEX_NORMAL },
	{ .m = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP, .type = PTHREAD_MUTEX_ERRORCHECK },
	{ .m = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP, .type = PTHREAD_MUTEX_RECURSIVE },
	{ .type = PTHREAD_MUTEX_ERRORCHECK },
	{ .type = PTHREAD_MUTEX_RECURSIVE },
};

static void init_mutex(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;
	EXPECT(pthread_mutexattr_init(&a), 0);
	EXPECT(pthread_mutexattr_settype(&a, type), 0);
	EXPECT(pthread_mutex_init(m, &a), 0);
	EXPECT(pthread_mutexattr_destroy(&a), 0);
}

/* One attempt: lock, trylock (a few tries), timedlock or clocklock. */
static bool mutex_take(struct mrec *r, uint64_t *rnd)
{
	unsigned how = xorshift(rnd) % 8;
	int rc;

	if (how < 4) {
		EXPECT(pthread_mutex_lock(&r->m), 0);
		return true;
	}
	if (how < 6) {
		for (int i = 0; i < 3; i++) {
			if ((rc = pthread_mutex_trylock(&r->m)) == 0)
				return true;
			if (rc != EBUSY)
				fail("pthread_mutex_trylock (%s) returned %s", mutex_name[r - mrec], err_name(rc));
			sched_yield();
		}
		bump(&stats.mutex_busy, 1);
		return false;
	}
	clockid_t c = how == 6 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	int64_t dl = pick_deadline(c, rnd, 300);
	struct timespec ts = ts_of(dl);
	rc = how == 6 ? pthread_mutex_timedlock(&r->m, &ts) : pthread_mutex_clocklock(&r->m, c, &ts);
	if (rc == 0)
		return true;
	if (rc != ETIMEDOUT)
		fail("pthread_mutex_%s (%s) returned %s", how == 6 ? "timedlock" : "clocklock",
		     mutex_name[r - mrec], err_name(rc));
	check_timeout("pthread_mutex_timedlock", c, dl);
	bump(&stats.mutex_timeouts, 1);
	return false;
}

static void mutex_enter(struct mrec *r)
{
	if (__atomic_fetch_add(&r->inside, 1, __ATOMIC_RELAXED) != 0)
		fail("two threads hold the %s mutex", mutex_name[r - mrec]);
	for (int j = 0; j < WORDS; j++)
		if (r->words[j] != r->counter)
			fail("%s mutex: torn words (%ld, counter %ld)", mutex_name[r - mrec],
			     r->words[j], r->counter);
}

static void mutex_work(struct mrec *r, uint64_t *rnd)
{
	r->counter++;
	for (int j = 0; j < WORDS; j++) {
		r->words[j] = r->counter;
		if (xorshift(rnd) % 64 == 0)
			sched_yield();
	}
}

static void mutex_leave(struct mrec *r) { __atomic_fetch_sub(&r->inside, 1, __ATOMIC_RELAXED); }

static void *mutex_thread(void *arg)
{
	struct targ *a = arg;
	uint64_t *rnd = &a->rnd;
	long acquired[NMUTEX] = { 0 };

	while (!over(a->p)) {
		struct mrec *r = &mrec[xorshift(rnd) % NMUTEX];
		if (!mutex_take(r, rnd)) {
			/* an unlock by a thread that does not hold it */
			if (r->type != PTHREAD_MUTEX_NORMAL && xorshift(rnd) % 4 == 0)
				EXPECT(pthread_mutex_unlock(&r->m), EPERM);
			continue;
		}
		mutex_enter(r);
		int depth = 1;
		if (r->type == PTHREAD_MUTEX_RECURSIVE) {
			int extra = (int)(xorshift(rnd) % 3);
			for (int i = 0; i < extra; i++, depth++) {
				struct timespec past = ts_of(clock_ns(CLOCK_REALTIME) - 1000000);
				switch (xorshift(rnd) % 3) {
				case 0: EXPECT(pthread_mutex_lock(&r->m), 0); break;
				case 1: EXPECT(pthread_mutex_trylock(&r->m), 0); break;
				default: EXPECT(pthread_mutex_timedlock(&r->m, &past), 0); break;
				}
				bump(&stats.mutex_relocks, 1);
			}
			if (owner_of(&r->m) != tid() || r->m.__data.__count != (unsigned)depth)
				fail("%s mutex at depth %d: owner %d (me %d), count %u", mutex_name[r - mrec],
				     depth, owner_of(&r->m), tid(), r->m.__data.__count);
		} else if (r->type == PTHREAD_MUTEX_ERRORCHECK && xorshift(rnd) % 8 == 0) {
			struct timespec past = ts_of(clock_ns(CLOCK_REALTIME) - 1000000);
			EXPECT(pthread_mutex_lock(&r->m), EDEADLK);
			EXPECT(pthread_mutex_trylock(&r->m), EBUSY);
			EXPECT(pthread_mutex_timedlock(&r->m, &past), EDEADLK);
			bump(&stats.mutex_errchecks, 1);
		}
		mutex_work(r, rnd);
		acquired[r - mrec]++;
		bump(&stats.mutex_locks, 1);
		for (; depth > 1; depth--) {
			EXPECT(pthread_mutex_unlock(&r->m), 0);
			if (__atomic_load_n(&r->inside, __ATOMIC_RELAXED) != 1)
				fail("%s mutex: another thread got in while it was held at depth %d",
				     mutex_name[r - mrec], depth - 1);
		}
		mutex_leave(r);
		EXPECT(pthread_mutex_unlock(&r->m), 0);
		if (r->type != PTHREAD_MUTEX_NORMAL && xorshift(rnd) % 8 == 0) {
			EXPECT(pthread_mutex_unlock(&r->m), EPERM); /* no longer the holder */
			bump(&stats.mutex_errchecks, 1);
		}
	}
	for (int k = 0; k < NMUTEX; k++)
		__atomic_fetch_add(&mrec[k].acquired, acquired[k], __ATOMIC_RELAXED);
	thread_done(a->p);
	return NULL;
}

static void run_mutex(struct phase *p, uint64_t *rnd)
{
	init_mutex(&mrec[3].m, PTHREAD_MUTEX_ERRORCHECK);
	init_mutex(&mrec[4].m, PTHREAD_MUTEX_RECURSIVE);
	for (int k = 0; k < NMUTEX; k++) {
		mrec[k].counter = mrec[k].acquired = 0;
		memset(mrec[k].words, 0, sizeof mrec[k].words);
	}
	start(p, mutex_thread, rnd);
	finish(p, "mutex", NULL);
	for (int k = 0; k < NMUTEX; k++) {
		struct mrec *r = &mrec[k];
		if (r->counter != r->acquired || r->inside != 0)
			fail("%s mutex: counter %ld, %ld acquisitions counted, %d inside after the phase",
			     mutex_name[k], r->counter, r->acquired, r->inside);
		if (gs_mutex_is_locked((gs_mutex_t *)&r->m.__data.__lock) || owner_of(&r->m) != 0)
			fail("%s mutex: still locked (owner %d) after the phase", mutex_name[k], owner_of(&r->m));
		EXPECT(pthread_mutex_trylock(&r->m), 0);
		EXPECT(pthread_mutex_destroy(&r->m), EBUSY);
		EXPECT(pthread_mutex_unlock(&r->m), 0);
	}
	EXPECT(pthread_mutex_unlock(&mrec[0].m), 0); /* glibc's answer for an unlocked normal one */
	EXPECT(pthread_mutex_destroy(&mrec[3].m), 0);
	EXPECT(pthread_mutex_destroy(&mrec[4].m), 0);
}

/* --- cond --------------------------------------------------------------------------- */

struct cside {
	pthread_mutex_t m;
	pthread_cond_t c;     /* a token was produced */
	pthread_cond_t space; /* a token was taken (the buffer holds CAP) */
	bool recursive;      /* held at depth 2 by the threads */
	clockid_t clock;     /* the cond's clock */
	int inside;          /* atomic (relaxed) */
	/* under m */
	int stop;
	long tokens, produced, consumed;
};

struct cworld {
	struct cside side[2];
};

static void cond_enter(struct cside *s)
{
	if (__atomic_fetch_add(&s->inside, 1, __ATOMIC_RELAXED) != 0)
		fail("cond (%s mutex): two threads hold the mutex", s->recursive ? "recursive" : "normal");
	if (s->tokens < 0 || s->produced != s->consumed + s->tokens)
		fail("cond (%s mutex): produced %ld != consumed %ld + left %ld",
		     s->recursive ? "recursive" : "normal", s->produced, s->consumed, s->tokens);
}

static void cond_leave(struct cside *s) { __atomic_fetch_sub(&s->inside, 1, __ATOMIC_RELAXED); }

static void cond_lock(struct cside *s, uint64_t *rnd)
{
	EXPECT(pthread_mutex_lock(&s->m), 0);
	if (s->recursive) {
		if (xorshift(rnd) % 2)
			EXPECT(pthread_mutex_lock(&s->m), 0);
		else
			EXPECT(pthread_mutex_trylock(&s->m), 0);
	}
	cond_enter(s);
}

static void cond_unlock(struct cside *s)
{
	cond_leave(s);
	EXPECT(pthread_mutex_unlock(&s->m), 0);
	if (s->recursive) {
		EXPECT(pthread_mutex_unlock(&s->m), 0);
		EXPECT(pthread_mutex_unlock(&s->m), EPERM); /* depth was exactly 2 */
	}
}

static void cond_wait_once(struct cside *s, pthread_cond_t *c, uint64_t *rnd)
{
	int64_t dl = 0;
	int rc;

	cond_leave(s);
	if (xorshift(rnd) % 8 < 3) {
		rc = pthread_cond_wait(c, &s->m);
	} else {
		dl = pick_deadline(s->clock, rnd, 500);
		struct timespec ts = ts_of(dl);
		rc = pthread_cond_timedwait(c, &s->m, &ts);
	}
	cond_enter(s);
	if (s->recursive && (owner_of(&s->m) != tid() || s->m.__data.__count != 2))
		fail("cond wait returned with the recursive mutex: owner %d (me %d), count %u (want 2)",
		     owner_of(&s->m), tid(), s->m.__data.__count);
	bump(&stats.cond_waits, 1);
	if (rc == ETIMEDOUT && dl != 0) {
		check_timeout("pthread_cond_timedwait", s->clock, dl);
		bump(&stats.cond_timeouts, 1);
	} else if (rc != 0) {
		fail("pthread_cond_%s returned %s", dl ? "timedwait" : "wait", err_name(rc));
	}
}

static void cond_consume(struct cside *s, uint64_t *rnd)
{
	cond_lock(s, rnd);
	while (s->tokens == 0 && !s->stop) {
		cond_wait_once(s, &s->c, rnd);
		if (xorshift(rnd) % 16 == 0)
			break; /* give up now and then */
	}
	if (s->tokens > 0) {
		s->tokens--;
		s->consumed++;
		if (xorshift(rnd) % 4 == 0)
			EXPECT(pthread_cond_broadcast(&s->space), 0);
		else
			EXPECT(pthread_cond_signal(&s->space), 0);
	}
	cond_unlock(s);
}

/* Waits (the mutex held) while the buffer is full, giving up now and then. */
static void cond_wait_space(struct cside *s, uint64_t *rnd)
{
	while (s->tokens >= CAP && !s->stop) {
		cond_wait_once(s, &s->space, rnd);
		if (xorshift(rnd) % 16 == 0)
			break;
	}
}

/* n tokens, a signal per token or one broadcast, with the mutex held or not. */
static void cond_produce(struct cside *s, int n, uint64_t *rnd)
{
	bool all = n > 1 && xorshift(rnd) % 2, held = xorshift(rnd) % 2;

	s->tokens += n;
	s->produced += n;
	bump(&stats.cond_tokens, n);
	if (!held)
		cond_unlock(s);
	for (int i = 0; i < (all ? 1 : n); i++)
		EXPECT(all ? pthread_cond_broadcast(&s->c) : pthread_cond_signal(&s->c), 0);
	bump(all ? &stats.cond_broadcasts : &stats.cond_signals, all ? 1 : n);
	if (held)
		cond_unlock(s);
}

static void *cond_thread(void *arg)
{
	struct targ *a = arg;
	struct cworld *w = a->p->w;
	uint64_t *rnd = &a->rnd;

	/* Threads 0, 1 on the normal side, 2, 3 on the recursive one, ...; even threads
	 * consume, odd ones produce (a thread of each role on each side: nobody waits for
	 * what only the other side could do). */
	unsigned consume_pct = a->id % 2 ? 0 : 95;
	struct cside *s = &w->side[a->id / 2 % 2];

	while (!over(a->p)) {
		unsigned r = xorshift(rnd) % 100;
		if (r < consume_pct) {
			cond_consume(s, rnd);
		} else if (r < 95) {
			cond_lock(s, rnd);
			cond_wait_space(s, rnd);
			cond_produce(s, 1 + (int)(xorshift(rnd) % 3), rnd);
		} else {
			/* a stray notify, nobody's token */
			EXPECT(r % 2 ? pthread_cond_signal(&s->c) : pthread_cond_broadcast(&s->c), 0);
		}
	}
	thread_done(a->p);
	return NULL;
}

/* The ticker: every millisecond, on each side in turn, a token, or with the buffer full
 * a token taken, so that neither consumers nor producers wait for good; at the end of
 * the phase it sets stop and broadcasts both conds. The mutex must be free within STUCK
 * seconds (a waiter that kept it, or a depth restored wrong, would keep it).
 *
 * One thread for both sides on purpose: it parks on two mutexes in turn, from the same
 * stack depth, while cond notifiers requeue waiters behind its park record — the
 * pattern that once drew a TSan report from park.c's enqueue (gosync's park running
 * inside gs_mutex's lock annotation; fixed by diverting park there, see src/tsan.h). */
struct ticker_arg {
	struct phase *p;
	struct cside *side[2];
	uint64_t rnd;
};

/* One tick on one side (a mutex that cannot be taken in time fails the run). */
static void tick(struct cside *s, bool last, uint64_t *rnd)
{
	struct timespec ts = ts_of(clock_ns(CLOCK_REALTIME) + stuck_ns);
	int rc = pthread_mutex_timedlock(&s->m, &ts);
	if (rc != 0)
		fail("cond (%s mutex): the ticker could not take the mutex for %.0f s (%s)",
		     s->recursive ? "recursive" : "normal", (double)stuck_ns / GS_SEC, err_name(rc));
	if (s->recursive)
		EXPECT(pthread_mutex_lock(&s->m), 0); /* depth 2, as cond_unlock expects */
	cond_enter(s);
	if (last) {
		s->stop = 1;
		EXPECT(pthread_cond_broadcast(&s->c), 0);
		EXPECT(pthread_cond_broadcast(&s->space), 0);
		cond_unlock(s);
	} else if (s->tokens < CAP) {
		cond_produce(s, 1, rnd);
	} else {
		s->tokens--; /* full: take one, for the producers */
		s->consumed++;
		EXPECT(pthread_cond_signal(&s->space), 0);
		cond_unlock(s);
	}
}

static void *cond_ticker(void *arg)
{
	struct ticker_arg *t = arg;

	for (bool last = false; !last; sleep_us(1000)) {
		last = over(t->p);
		for (int i = 0; i < 2; i++)
			tick(t->side[i], last, &t->rnd);
	}
	return NULL;
}

static void run_cond(struct phase *p, uint64_t *rnd)
{
	struct cworld *w = calloc(1, sizeof *w);
	pthread_condattr_t ca;

	if (!w)
		abort();
	if (p->nthreads < 4)
		p->nthreads = 4; /* a consumer and a producer on each side */
	w->side[0].m = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	w->side[0].c = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	w->side[0].space = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	w->side[0].clock = CLOCK_REALTIME;
	init_mutex(&w->side[1].m, PTHREAD_MUTEX_RECURSIVE);
	EXPECT(pthread_condattr_init(&ca), 0);
	EXPECT(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
	EXPECT(pthread_cond_init(&w->side[1].c, &ca), 0);
	EXPECT(pthread_cond_init(&w->side[1].space, &ca), 0);
	EXPECT(pthread_condattr_destroy(&ca), 0);
	w->side[1].clock = CLOCK_MONOTONIC;
	w->side[1].recursive = true;
	p->w = w;

	pthread_t ticker;
	struct ticker_arg targ = { p, { &w->side[0], &w->side[1] }, xorshift(rnd) | 1 };
	if (pthread_create(&ticker, NULL, cond_ticker, &targ) != 0) {
		fprintf(stderr, "stress_shim: pthread_create failed\n");
		exit(2);
	}
	start(p, cond_thread, rnd);
	pthread_join(ticker, NULL); /* it fails by itself if a mutex is stuck */
	finish(p, "cond", NULL);
	for (int i = 0; i < 2; i++) {
		struct cside *s = &w->side[i];
		if (s->inside != 0 || s->tokens < 0 || s->produced != s->consumed + s->tokens)
			fail("cond (%s mutex) after the phase: produced %ld, consumed %ld, left %ld, "
			     "inside %d", s->recursive ? "recursive" : "normal", s->produced, s->consumed,
			     s->tokens, s->inside);
		EXPECT(pthread_mutex_trylock(&s->m), 0);
		EXPECT(pthread_mutex_unlock(&s->m), 0);
		EXPECT(pthread_cond_destroy(&s->c), 0);
		EXPECT(pthread_cond_destroy(&s->space), 0);
		EXPECT(pthread_mutex_destroy(&s->m), 0);
	}
	free(w);
}

/* --- rwlock ------------------------------------------------------------------------- */

enum { NRW = 3 };

struct rwrec {
	pthread_rwlock_t rw;
	bool reader_pref;     /* the default kind: recursive read locks allowed */
	int readers, writers; /* atomic (relaxed): holders right now */
	long writes;          /* under the write lock */
	long words[WORDS];    /* all equal to writes outside write sections */
	long counted;         /* atomic: writes the threads counted */
} __attribute__((aligned(64)));

static const char *const rw_name[NRW] = {
	"default", "writer-preferring (static NP)", "writer-preferring (setkind)",
};

static struct rwrec rwrec[NRW] = {
	{ .rw = PTHREAD_RWLOCK_INITIALIZER, .reader_pref = true },
	{ .rw = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP },
	{ .reader_pref = false },
};

static void rw_check_words(struct rwrec *r)
{
	for (int j = 0; j < WORDS; j++)
		if (r->words[j] != r->writes)
			fail("%s rwlock: torn words (%ld, writes %ld)", rw_name[r - rwrec], r->words[j],
			     r->writes);
}

/* rdlock, tryrdlock, timedrdlock or clockrdlock: 0, EBUSY or ETIMEDOUT. */
static int rw_take(struct rwrec *r, bool write, uint64_t *rnd)
{
	unsigned how = xorshift(rnd) % 4;
	int rc;

	if (how == 0)
		return write ? pthread_rwlock_wrlock(&r->rw) : pthread_rwlock_rdlock(&r->rw);
	if (how == 1) {
		rc = write ? pthread_rwlock_trywrlock(&r->rw) : pthread_rwlock_tryrdlock(&r->rw);
		if (rc != 0 && rc != EBUSY)
			fail("%s rwlock: try%slock returned %s", rw_name[r - rwrec], write ? "wr" : "rd",
			     err_name(rc));
		if (rc)
			bump(&stats.rw_busy, 1);
		return rc;
	}
	clockid_t c = how == 2 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	int64_t dl = pick_deadline(c, rnd, 300);
	struct timespec ts = ts_of(dl);
	if (how == 2)
		rc = write ? pthread_rwlock_timedwrlock(&r->rw, &ts) : pthread_rwlock_timedrdlock(&r->rw, &ts);
	else
		rc = write ? pthread_rwlock_clockwrlock(&r->rw, c, &ts) : pthread_rwlock_clockrdlock(&r->rw, c, &ts);
	if (rc == ETIMEDOUT) {
		check_timeout("a timed rwlock call", c, dl);
		bump(&stats.rw_timeouts, 1);
	} else if (rc != 0) {
		fail("%s rwlock: timed %slock returned %s", rw_name[r - rwrec], write ? "wr" : "rd",
		     err_name(rc));
	}
	return rc;
}

static void rw_read(struct rwrec *r, uint64_t *rnd)
{
	if (rw_take(r, false, rnd) != 0)
		return;
	__atomic_fetch_add(&r->readers, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&r->writers, __ATOMIC_RELAXED) != 0)
		fail("%s rwlock: a reader got in while a writer holds it", rw_name[r - rwrec]);
	rw_check_words(r);
	bool again = r->reader_pref && xorshift(rnd) % 4 == 0;
	if (again) {
		/* recursive read lock: granted even while a writer waits; an expired
		 * deadline does not stop an available lock */
		struct timespec past = ts_of(clock_ns(CLOCK_REALTIME) - 1000000);
		EXPECT(xorshift(rnd) % 2 ? pthread_rwlock_rdlock(&r->rw)
					 : pthread_rwlock_timedrdlock(&r->rw, &past), 0);
		bump(&stats.rw_rereads, 1);
	}
	if (xorshift(rnd) % 8 == 0) {
		EXPECT(pthread_rwlock_trywrlock(&r->rw), EBUSY);
		bump(&stats.rw_errchecks, 1);
	}
	if (xorshift(rnd) % 32 == 0)
		sched_yield();
	rw_check_words(r);
	if (again)
		EXPECT(pthread_rwlock_unlock(&r->rw), 0);
	__atomic_fetch_sub(&r->readers, 1, __ATOMIC_RELAXED);
	EXPECT(pthread_rwlock_unlock(&r->rw), 0);
	bump(&stats.rw_reads, 1);
}

static bool rw_write(struct rwrec *r, uint64_t *rnd)
{
	if (rw_take(r, true, rnd) != 0)
		return false;
	if (__atomic_fetch_add(&r->writers, 1, __ATOMIC_RELAXED) != 0)
		fail("%s rwlock: two writers inside", rw_name[r - rwrec]);
	if (__atomic_load_n(&r->readers, __ATOMIC_RELAXED) != 0)
		fail("%s rwlock: a writer got in while readers hold it", rw_name[r - rwrec]);
	rw_check_words(r);
	if (xorshift(rnd) % 8 == 0) {
		struct timespec past = ts_of(clock_ns(CLOCK_REALTIME) - 1000000);
		EXPECT(pthread_rwlock_wrlock(&r->rw), EDEADLK);
		EXPECT(pthread_rwlock_rdlock(&r->rw), EDEADLK);
		EXPECT(pthread_rwlock_timedwrlock(&r->rw, &past), EDEADLK);
		EXPECT(pthread_rwlock_trywrlock(&r->rw), EBUSY);
		EXPECT(pthread_rwlock_tryrdlock(&r->rw), EBUSY);
		bump(&stats.rw_errchecks, 1);
	}
	r->writes++;
	for (int j = 0; j < WORDS; j++) {
		r->words[j] = r->writes;
		if (xorshift(rnd) % 64 == 0)
			sched_yield();
	}
	__atomic_fetch_sub(&r->writers, 1, __ATOMIC_RELAXED);
	EXPECT(pthread_rwlock_unlock(&r->rw), 0);
	bump(&stats.rw_writes, 1);
	return true;
}

static void *rw_thread(void *arg)
{
	struct targ *a = arg;
	uint64_t *rnd = &a->rnd;
	long writes[NRW] = { 0 };
	unsigned write_pct = 5 + a->id % 4 * 10; /* 5..35 % writes */

	while (!over(a->p)) {
		struct rwrec *r = &rwrec[xorshift(rnd) % NRW];
		if (xorshift(rnd) % 100 < write_pct)
			writes[r - rwrec] += rw_write(r, rnd);
		else
			rw_read(r, rnd);
	}
	for (int k = 0; k < NRW; k++)
		__atomic_fetch_add(&rwrec[k].counted, writes[k], __ATOMIC_RELAXED);
	thread_done(a->p);
	return NULL;
}

static void run_rwlock(struct phase *p, uint64_t *rnd)
{
	pthread_rwlockattr_t ra;

	EXPECT(pthread_rwlockattr_init(&ra), 0);
	EXPECT(pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), 0);
	EXPECT(pthread_rwlock_init(&rwrec[2].rw, &ra), 0);
	EXPECT(pthread_rwlockattr_destroy(&ra), 0);
	for (int k = 0; k < NRW; k++) {
		rwrec[k].writes = rwrec[k].counted = 0;
		memset(rwrec[k].words, 0, sizeof rwrec[k].words);
	}
	start(p, rw_thread, rnd);
	finish(p, "rwlock", NULL);
	for (int k = 0; k < NRW; k++) {
		struct rwrec *r = &rwrec[k];
		if (r->writes != r->counted || r->readers != 0 || r->writers != 0)
			fail("%s rwlock after the phase: %ld writes, %ld counted, %d readers, %d writers",
			     rw_name[k], r->writes, r->counted, r->readers, r->writers);
		rw_check_words(r);
		if (gs_rwmutex_readers((gs_rwmutex_t *)&r->rw) != 0)
			fail("%s rwlock: read locks still held after the phase", rw_name[k]);
		EXPECT(pthread_rwlock_trywrlock(&r->rw), 0);
		EXPECT(pthread_rwlock_unlock(&r->rw), 0);
		EXPECT(pthread_rwlock_tryrdlock(&r->rw), 0);
		EXPECT(pthread_rwlock_trywrlock(&r->rw), EBUSY);
		EXPECT(pthread_rwlock_unlock(&r->rw), 0);
	}
	EXPECT(pthread_rwlock_destroy(&rwrec[2].rw), 0);
}

/* --- sem ---------------------------------------------------------------------------- */

struct sworld {
	sem_t count;          /* the counting semaphore */
	sem_t lock;           /* a binary semaphore, used as a lock */
	unsigned initial;
	int stop;             /* atomic */
	int inside;           /* atomic (relaxed): holders of `lock` */
	long counter;         /* under `lock` */
	long posts, waits, locks; /* atomic: what the threads counted */
};

/* sem_wait, sem_trywait, sem_timedwait or sem_clockwait: true if a token was taken. */
static bool sem_take(sem_t *s, uint64_t *rnd, bool block)
{
	unsigned how = xorshift(rnd) % 4;
	int rc;

	if (how == 0 && block) {
		EXPECT(sem_wait(s), 0);
		return true;
	}
	if (how <= 1) {
		if (sem_trywait(s) == 0)
			return true;
		if (errno != EAGAIN)
			fail("sem_trywait failed with %s, not EAGAIN", err_name(errno));
		bump(&stats.sem_fails, 1);
		return false;
	}
	clockid_t c = how == 2 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	int64_t dl = pick_deadline(c, rnd, 300);
	struct timespec ts = ts_of(dl);
	rc = how == 2 ? sem_timedwait(s, &ts) : sem_clockwait(s, c, &ts);
	if (rc == 0)
		return true;
	if (rc != -1 || errno != ETIMEDOUT)
		fail("sem_%s returned %d, errno %s", how == 2 ? "timedwait" : "clockwait", rc,
		     err_name(errno));
	check_timeout("sem_timedwait", c, dl);
	bump(&stats.sem_fails, 1);
	return false;
}

static void *sem_thread(void *arg)
{
	struct targ *a = arg;
	struct sworld *w = a->p->w;
	uint64_t *rnd = &a->rnd;
	long posts = 0, waits = 0, locks = 0;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		unsigned r = xorshift(rnd) % 100;
		int v;
		if (r < 40) {
			EXPECT(sem_post(&w->count), 0);
			posts++;
		} else if (r < 75) {
			waits += sem_take(&w->count, rnd, true);
		} else if (r < 80) {
			EXPECT(sem_getvalue(&w->count, &v), 0);
			if (v < 0)
				fail("sem_getvalue gave %d", v);
		} else if (sem_take(&w->lock, rnd, xorshift(rnd) % 2)) {
			if (__atomic_fetch_add(&w->inside, 1, __ATOMIC_RELAXED) != 0)
				fail("binary semaphore: two threads inside");
			w->counter++;
			if (xorshift(rnd) % 32 == 0)
				sched_yield();
			__atomic_fetch_sub(&w->inside, 1, __ATOMIC_RELAXED);
			EXPECT(sem_post(&w->lock), 0);
			locks++;
		}
	}
	__atomic_fetch_add(&w->posts, posts, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->waits, waits, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->locks, locks, __ATOMIC_RELAXED);
	bump(&stats.sem_posts, posts);
	bump(&stats.sem_waits, waits);
	bump(&stats.sem_locks, locks);
	thread_done(a->p);
	return NULL;
}

/* After the stop: a token each millisecond, so that a thread blocked in sem_wait leaves. */
static void sem_nudge(struct phase *p)
{
	struct sworld *w = p->w;
	EXPECT(sem_post(&w->count), 0);
	__atomic_fetch_add(&w->posts, 1, __ATOMIC_RELAXED);
}

static void run_sem(struct phase *p, uint64_t *rnd)
{
	struct sworld *w = calloc(1, sizeof *w);

	if (!w)
		abort();
	w->initial = (unsigned)(xorshift(rnd) % 4);
	EXPECT(sem_init(&w->count, 0, w->initial), 0);
	EXPECT(sem_init(&w->lock, 0, 1), 0);
	p->w = w;
	start(p, sem_thread, rnd);
	while (!over(p)) {
		sem_nudge(p); /* keeps sem_wait moving, as the threads' posts do */
		sleep_us(1000);
	}
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
	finish(p, "sem", sem_nudge);

	int v, l;
	EXPECT(sem_getvalue(&w->count, &v), 0);
	EXPECT(sem_getvalue(&w->lock, &l), 0);
	if ((long)w->initial + w->posts - w->waits != v)
		fail("semaphore: initial %u + %ld posts - %ld waits != value %d", w->initial, w->posts,
		     w->waits, v);
	if (l != 1 || w->inside != 0 || w->counter != w->locks)
		fail("binary semaphore: value %d, inside %d, counter %ld, %ld acquisitions counted",
		     l, w->inside, w->counter, w->locks);
	if (v > 0)
		EXPECT(sem_trywait(&w->count), 0);
	EXPECT(sem_destroy(&w->count), 0);
	EXPECT(sem_destroy(&w->lock), 0);
	free(w);
}

/* --- barrier ------------------------------------------------------------------------ */

struct bworld {
	pthread_barrier_t *b;    /* on the heap; freed by the last round's serial thread */
	int slot[MAX_THREADS];   /* thread i writes its round before the first wait */
	/* written by the first wait's serial thread, read after the second wait */
	unsigned round;
	bool stop;
	long serial1, serial2;   /* atomic: serial threads of each wait */
	long rounds;             /* written by the last serial thread */
};

static int barrier_wait(struct bworld *w, uint64_t *rnd)
{
	if (xorshift(rnd) % 16 == 0)
		sleep_us((long)(xorshift(rnd) % 200)); /* arrive late: the others sleep */
	int rc = pthread_barrier_wait(w->b);
	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
		fail("pthread_barrier_wait returned %d", rc);
	bump(&stats.barrier_waits, 1);
	return rc;
}

static void *barrier_thread(void *arg)
{
	struct targ *a = arg;
	struct phase *p = a->p;
	struct bworld *w = p->w;
	uint64_t *rnd = &a->rnd;

	for (unsigned round = 0;; round++) {
		w->slot[a->id] = (int)round;
		if (barrier_wait(w, rnd) == PTHREAD_BARRIER_SERIAL_THREAD) {
			__atomic_fetch_add(&w->serial1, 1, __ATOMIC_RELAXED);
			w->round = round;
			w->stop = over(p);
		}
		for (int i = 0; i < p->nthreads; i++)
			if (w->slot[i] != (int)round)
				fail("barrier round %u: thread %d's slot says %d after the wait", round, i,
				     w->slot[i]);
		if (__atomic_load_n(&w->serial2, __ATOMIC_RELAXED) != round)
			fail("barrier round %u: %ld serial threads in the second waits so far", round,
			     __atomic_load_n(&w->serial2, __ATOMIC_RELAXED));
		int rc = barrier_wait(w, rnd);
		if (w->round != round)
			fail("barrier: thread %d is in round %u, the serial thread in %u", a->id, round,
			     w->round);
		if (__atomic_load_n(&w->serial1, __ATOMIC_RELAXED) != round + 1)
			fail("barrier round %u: %ld serial threads in the first waits so far (want %u)",
			     round, __atomic_load_n(&w->serial1, __ATOMIC_RELAXED), round + 1);
		bool stop = w->stop;
		if (rc == PTHREAD_BARRIER_SERIAL_THREAD) {
			__atomic_fetch_add(&w->serial2, 1, __ATOMIC_RELAXED);
			if (stop) {
				/* the others may still be returning from their wait */
				EXPECT(pthread_barrier_destroy(w->b), 0);
				free(w->b);
				w->rounds = round + 1;
			}
		}
		if (stop)
			break;
	}
	thread_done(p);
	return NULL;
}

static void run_barrier(struct phase *p, uint64_t *rnd)
{
	struct bworld *w = calloc(1, sizeof *w);

	if (!w || !(w->b = malloc(sizeof *w->b)))
		abort();
	EXPECT(pthread_barrier_init(w->b, NULL, (unsigned)p->nthreads), 0);
	p->w = w;
	start(p, barrier_thread, rnd);
	finish(p, "barrier", NULL);
	if (w->serial1 != w->rounds || w->serial2 != w->rounds)
		fail("barrier: %ld rounds, %ld and %ld serial threads", w->rounds, w->serial1, w->serial2);
	bump(&stats.barrier_rounds, w->rounds);
	free(w);
}

/* --- once --------------------------------------------------------------------------- */

enum { ONCES = 32, MAX_ROUNDS = 200 };

struct once_slot {
	pthread_once_t once;
	int runs;             /* atomic: init routine calls */
	long value;           /* written by the init routine only */
};

struct oworld {
	pthread_barrier_t b;
	struct once_slot slot[MAX_ROUNDS][ONCES]; /* a fresh array every round */
	bool stop;            /* written by the first wait's serial thread */
	int rounds;
};

static __thread struct once_slot *current_slot;
static __thread uint64_t once_rnd;

static void once_init(void)
{
	struct once_slot *s = current_slot;

	if (__atomic_fetch_add(&s->runs, 1, __ATOMIC_RELAXED) != 0)
		fail("pthread_once ran an init routine a second time");
	if (xorshift(&once_rnd) % 4 == 0)
		sched_yield(); /* others arrive and wait */
	s->value = 12345;
	bump(&stats.once_runs, 1);
}

static void *once_thread(void *arg)
{
	struct targ *a = arg;
	struct phase *p = a->p;
	struct oworld *w = p->w;
	int order[ONCES];

	once_rnd = a->rnd;
	for (int i = 0; i < ONCES; i++)
		order[i] = i;
	for (int round = 0;; round++) {
		for (int i = ONCES - 1; i > 0; i--) { /* a fresh order each round */
			int j = (int)(xorshift(&a->rnd) % (uint64_t)(i + 1)), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < ONCES; i++) {
			struct once_slot *s = &w->slot[round][order[i]];
			current_slot = s;
			EXPECT(pthread_once(&s->once, once_init), 0);
			if (__atomic_load_n(&s->runs, __ATOMIC_RELAXED) != 1 || s->value != 12345)
				fail("pthread_once returned, its init routine ran %d times, value %ld",
				     __atomic_load_n(&s->runs, __ATOMIC_RELAXED), s->value);
			bump(&stats.once_calls, 1);
		}
		int rc = pthread_barrier_wait(&w->b);
		if (rc == PTHREAD_BARRIER_SERIAL_THREAD) {
			w->stop = over(p) || round + 1 == MAX_ROUNDS;
			w->rounds = round + 1;
		} else if (rc != 0) {
			fail("pthread_barrier_wait returned %d", rc);
		}
		rc = pthread_barrier_wait(&w->b);
		if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
			fail("pthread_barrier_wait returned %d", rc);
		if (w->stop)
			break;
	}
	thread_done(p);
	return NULL;
}

static void run_once(struct phase *p, uint64_t *rnd)
{
	struct oworld *w = calloc(1, sizeof *w);

	if (!w)
		abort();
	for (int r = 0; r < MAX_ROUNDS; r++)
		for (int i = 0; i < ONCES; i++)
			w->slot[r][i].once = (pthread_once_t)PTHREAD_ONCE_INIT;
	EXPECT(pthread_barrier_init(&w->b, NULL, (unsigned)p->nthreads), 0);
	p->w = w;
	start(p, once_thread, rnd);
	finish(p, "once", NULL);
	for (int r = 0; r < w->rounds; r++)
		for (int i = 0; i < ONCES; i++)
			if (w->slot[r][i].runs != 1)
				fail("once round %d, object %d: init routine ran %d times", r, i,
				     w->slot[r][i].runs);
	EXPECT(pthread_barrier_destroy(&w->b), 0);
	free(w);
}

/* --- main --------------------------------------------------------------------------- */

static const struct workload {
	const char *name;
	void (*run)(struct phase *, uint64_t *);
} workloads[] = {
	{ "mutex", run_mutex }, { "cond", run_cond },       { "rwlock", run_rwlock },
	{ "sem", run_sem },     { "barrier", run_barrier }, { "once", run_once },
};
enum { NWORK = sizeof workloads / sizeof workloads[0] };

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 3;
	uint64_t rnd = (uint64_t)gs_now() | 1;

	if (seconds <= 0)
		seconds = 1;
	hang_guard_arm("stress_shim", seconds);
	stuck_ns = (__tsan_acquire ? 20 : 5) * GS_SEC;
	check_shim_is_used();

	int64_t start_ns = gs_now(), end = start_ns + seconds * GS_SEC, next_report = start_ns + GS_SEC;
	for (long ph = 0; gs_now() < end; ph++) {
		const struct workload *wl = &workloads[ph % NWORK];
		struct phase *p = calloc(1, sizeof *p);
		if (!p)
			abort();
		p->nthreads = MIN_THREADS + (int)(xorshift(&rnd) % (MAX_THREADS - MIN_THREADS + 1));
		p->until = gs_now() + (int64_t)(50 + xorshift(&rnd) % 150) * GS_MSEC;
		if (p->until > end)
			p->until = end;
		wl->run(p, &rnd);
		free(p);
		bump(&stats.phases, 1);
		if (gs_now() >= next_report) {
			while (next_report <= gs_now())
				next_report += GS_SEC;
			printf("stress_shim: %llds phase %ld (%s): mutex %ld, cond waits %ld, rwlock %ld, "
			       "sem %ld, barrier rounds %ld, once calls %ld\n",
			       (long long)((gs_now() - start_ns) / GS_SEC), ph + 1, wl->name,
			       get(&stats.mutex_locks), get(&stats.cond_waits),
			       get(&stats.rw_reads) + get(&stats.rw_writes),
			       get(&stats.sem_posts) + get(&stats.sem_waits) + get(&stats.sem_locks),
			       get(&stats.barrier_rounds), get(&stats.once_calls));
			fflush(stdout);
		}
	}
	printf("stress_shim: OK %ld phases; mutex %ld acquisitions (%ld recursive relocks, %ld busy, "
	       "%ld timed out, %ld error checks); cond %ld waits (%ld timed out), %ld tokens, "
	       "%ld signals, %ld broadcasts; rwlock %ld reads (%ld recursive), %ld writes, %ld busy, "
	       "%ld timed out, %ld error checks; sem %ld posts, %ld waits, %ld failed tries, "
	       "%ld binary-semaphore sections; barrier %ld rounds (%ld waits); once %ld calls, "
	       "%ld init runs\n",
	       get(&stats.phases), get(&stats.mutex_locks), get(&stats.mutex_relocks),
	       get(&stats.mutex_busy), get(&stats.mutex_timeouts), get(&stats.mutex_errchecks),
	       get(&stats.cond_waits), get(&stats.cond_timeouts), get(&stats.cond_tokens),
	       get(&stats.cond_signals), get(&stats.cond_broadcasts), get(&stats.rw_reads),
	       get(&stats.rw_rereads), get(&stats.rw_writes), get(&stats.rw_busy),
	       get(&stats.rw_timeouts), get(&stats.rw_errchecks), get(&stats.sem_posts),
	       get(&stats.sem_waits), get(&stats.sem_fails), get(&stats.sem_locks),
	       get(&stats.barrier_rounds), get(&stats.barrier_waits), get(&stats.once_calls),
	       get(&stats.once_runs));
	return 0;
}
