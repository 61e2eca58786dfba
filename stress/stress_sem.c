/* stress_sem — torture for gs_sem, the weighted FIFO semaphore.
 *
 *   stress_sem [SECONDS]
 *
 * Rounds of 4 to 64 threads on one semaphore of random capacity, each thread doing
 * random acquires (plain, with deadlines from 0 to a few ms, more than the capacity
 * with a deadline, try) of random weights, holding a moment and releasing (sometimes
 * in two parts). Checked all the time:
 *   - the units the workers hold never exceed the capacity;
 *   - a timed-out acquire never returns before its deadline;
 *   - under park's bucket lock, the WAITERS bit equals "someone is queued" (exact);
 *   - lost-wakeup hunter: the waiter at the head of the queue is never left blocked
 *     while the units it asks for are free (a snapshot showing that must not persist);
 *   - no waiter stays blocked long past its deadline.
 * At the end of each round: 0 units held, no WAITERS, nobody queued.
 * Prints a line per round and a final OK line; any violation prints what it saw and
 * exits non-zero. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gosync/sem.h>
#include <gosync/time.h>

#include "park.h"
#include "hang_guard.h"

#define WAITERS ((uint64_t)1 << 63)
#define MAX_THREADS 64
#define STUCK_NS (1 * GS_SEC)           /* a fitting head may not stay parked this long */
#define LATE_NS (10 * GS_SEC)           /* nor a waiter past its deadline */

struct slot {
	int64_t since;    /* gs_now() when the current acquire began; 0: not in one */
	int64_t n;
	int64_t deadline; /* GS_NO_DEADLINE for a plain acquire */
} __attribute__((aligned(64)));

static struct {
	gs_sem_t s;
	int64_t cap;
	int stop;
	int64_t inuse;
	int64_t max_inuse;
	int64_t ok, timeouts, tryfail;
	int64_t long_hold_at;  /* when thread 0 takes a unit and sleeps on it; 0: never */
	struct slot slot[MAX_THREADS];
} g;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "stress_sem: FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	fflush(stderr);
	_exit(1);
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / GS_SEC, ns % GS_SEC };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void note_held(int64_t n)
{
	int64_t cur = __atomic_add_fetch(&g.inuse, n, __ATOMIC_RELAXED);
	int64_t m = __atomic_load_n(&g.max_inuse, __ATOMIC_RELAXED);
	while (cur > m && !__atomic_compare_exchange_n(&g.max_inuse, &m, cur, false,
						       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (cur > g.cap)
		die("capacity exceeded: %ld units held of %ld", (long)cur, (long)g.cap);
}

static void hold_and_release(int64_t n, unsigned *seed)
{
	note_held(n);
	switch (rand_r(seed) % 4) {
	case 0:
		sched_yield();
		break;
	case 1:
		sleep_ns(rand_r(seed) % (20 * GS_USEC));
		break;
	default:
		for (volatile int i = rand_r(seed) % 200; i > 0; i--)
			;
	}
	__atomic_sub_fetch(&g.inuse, n, __ATOMIC_RELAXED);
	if (n >= 2 && rand_r(seed) % 4 == 0) {
		int64_t k = 1 + rand_r(seed) % (n - 1); /* give back in two parts */
		gs_sem_release(&g.s, k);
		gs_sem_release(&g.s, n - k);
	} else {
		gs_sem_release(&g.s, n);
	}
}

/* Mostly small weights, sometimes the whole capacity. */
static int64_t weight(unsigned *seed)
{
	switch (rand_r(seed) % 8) {
	case 0:
		return g.cap;
	case 1:
		return 0;
	case 2:
		return rand_r(seed) % (g.cap + 1);
	default:
		return 1 + rand_r(seed) % (g.cap < 3 ? g.cap : 3);
	}
}

/* One unit held for longer than the watchdog's patience, once per long round: while
 * it is held, the others may all end up queued or timing out, and no release comes
 * to rescue a waiter that a lost wakeup (e.g. a timed-out head that forgot its notify
 * pass) left behind at the head with its units free: the watchdog must see it. */
static void long_hold(void)
{
	g.long_hold_at = 0;
	gs_sem_acquire(&g.s, 1);
	note_held(1);
	sleep_ns(STUCK_NS * 3 / 2);
	__atomic_sub_fetch(&g.inuse, 1, __ATOMIC_RELAXED);
	gs_sem_release(&g.s, 1);
}

static void *worker(void *arg)
{
	struct slot *me = arg;
	unsigned seed = (unsigned)(uintptr_t)me ^ (unsigned)gs_now();

	while (!__atomic_load_n(&g.stop, __ATOMIC_RELAXED)) {
		if (me == &g.slot[0] && g.long_hold_at && gs_now() >= g.long_hold_at) {
			long_hold();
			continue;
		}
		int64_t n = weight(&seed), deadline = GS_NO_DEADLINE;
		int op = rand_r(&seed) % 10, r;

		if (op < 2) { /* try */
			if (gs_sem_try_acquire(&g.s, n)) {
				__atomic_add_fetch(&g.ok, 1, __ATOMIC_RELAXED);
				hold_and_release(n, &seed);
			} else {
				__atomic_add_fetch(&g.tryfail, 1, __ATOMIC_RELAXED);
			}
			continue;
		}
		int64_t now = gs_now();
		if (op == 2) {
			n = g.cap + 1 + rand_r(&seed) % 3; /* never served */
			deadline = now + rand_r(&seed) % (50 * GS_USEC);
		} else if (op < 7) {
			deadline = now + (rand_r(&seed) % 2 ? rand_r(&seed) % (100 * GS_USEC)
							    : rand_r(&seed) % (3 * GS_MSEC));
		} /* else: plain acquire */

		__atomic_store_n(&me->n, n, __ATOMIC_RELAXED);
		__atomic_store_n(&me->deadline, deadline, __ATOMIC_RELAXED);
		__atomic_store_n(&me->since, now, __ATOMIC_RELEASE);
		if (deadline == GS_NO_DEADLINE) {
			gs_sem_acquire(&g.s, n);
			r = 0;
		} else {
			r = gs_sem_acquire_until(&g.s, n, deadline);
		}
		__atomic_store_n(&me->since, 0, __ATOMIC_RELEASE);

		if (r == 0) {
			if (n > g.cap)
				die("acquired %ld units of a capacity of %ld", (long)n, (long)g.cap);
			__atomic_add_fetch(&g.ok, 1, __ATOMIC_RELAXED);
			hold_and_release(n, &seed);
		} else if (r == ETIMEDOUT) {
			int64_t t = gs_now();
			if (t < deadline)
				die("ETIMEDOUT %ld ns before the deadline", (long)(deadline - t));
			__atomic_add_fetch(&g.timeouts, 1, __ATOMIC_RELAXED);
		} else {
			die("acquire_until returned %d", r);
		}
	}
	return NULL;
}

/* A consistent look at the semaphore, taken under its bucket lock. */
struct snapshot {
	uint64_t state;
	bool queued;      /* someone is queued */
	int64_t head_n;   /* the head waiter's weight */
};

static enum gs__filter_op head_filter(void *arg, uint64_t park_token)
{
	struct snapshot *sn = arg;
	sn->head_n = (int64_t)park_token;
	return GS_FILTER_STOP;
}

static uint64_t snapshot_cb(void *arg, struct gs__unpark_result r)
{
	struct snapshot *sn = arg;
	/* Under the bucket lock: WAITERS changes only here, so it must match. */
	sn->state = __atomic_load_n(&g.s.state_, __ATOMIC_RELAXED);
	sn->queued = r.have_more;
	return 0;
}

static struct snapshot snap(void)
{
	struct snapshot sn = { 0, false, -1 };
	if (gs__unpark_filter(&g.s, head_filter, snapshot_cb, &sn) != 0)
		die("the watchdog's peek dequeued a waiter");
	return sn;
}

/* Runs on the main thread for `ns`, checking every few ms. */
static void watchdog(int64_t ns, int threads)
{
	int64_t end = gs_now() + ns, stuck_since = 0;
	struct snapshot stuck = { 0 };

	while (gs_now() < end) {
		sleep_ns(2 * GS_MSEC);
		struct snapshot sn = snap();
		int64_t now = gs_now();
		uint64_t held = sn.state & (WAITERS - 1);

		if (!!(sn.state & WAITERS) != sn.queued)
			die("WAITERS bit %d but queued %d (state %#lx)", !!(sn.state & WAITERS),
			    sn.queued, (unsigned long)sn.state);
		if ((int64_t)held > g.cap)
			die("state says %lu held of %ld", (unsigned long)held, (long)g.cap);

		/* The head fits: legal only for the moment between a head's timeout and
		 * its notify pass. The same picture for STUCK_NS is a lost wakeup. */
		if (sn.queued && sn.head_n <= g.cap - (int64_t)held) {
			if (!stuck_since || sn.state != stuck.state || sn.head_n != stuck.head_n) {
				stuck_since = now;
				stuck = sn;
			} else if (now - stuck_since > STUCK_NS) {
				die("lost wakeup: head waiter wants %ld, %ld of %ld units free, "
				    "state %#lx unchanged for %ld ms", (long)sn.head_n,
				    (long)(g.cap - (int64_t)held), (long)g.cap,
				    (unsigned long)sn.state, (long)((now - stuck_since) / GS_MSEC));
			}
		} else {
			stuck_since = 0;
		}

		for (int i = 0; i < threads; i++) {
			int64_t since = __atomic_load_n(&g.slot[i].since, __ATOMIC_ACQUIRE);
			int64_t dl = __atomic_load_n(&g.slot[i].deadline, __ATOMIC_RELAXED);
			if (since && dl != GS_NO_DEADLINE && dl > since && now - dl > LATE_NS &&
			    __atomic_load_n(&g.slot[i].since, __ATOMIC_ACQUIRE) == since)
				die("thread %d still waiting %ld ms past its deadline (n %ld)", i,
				    (long)((now - dl) / GS_MSEC),
				    (long)__atomic_load_n(&g.slot[i].n, __ATOMIC_RELAXED));
		}
	}
}

int main(int argc, char **argv)
{
	int64_t secs = argc > 1 ? atol(argv[1]) : 3;
	static const int counts[] = { 4, 8, 16, 32, 64 };
	const int ncounts = sizeof counts / sizeof counts[0];
	int64_t round_ns = secs * GS_SEC / ncounts;
	int64_t total_ok = 0, total_timeouts = 0, total_tryfail = 0;
	unsigned seed = (unsigned)gs_now();
	pthread_t t[MAX_THREADS];
	int rounds = 0;

	hang_guard_arm("stress_sem", (double)secs);
	if (round_ns < 200 * GS_MSEC)
		round_ns = 200 * GS_MSEC;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int64_t end = gs_now() + secs * GS_SEC;
	do {
		int threads = counts[rounds % ncounts];
		int64_t cap = rand_r(&seed) % 3 == 0 ? 1 + rand_r(&seed) % 3 : 4 + rand_r(&seed) % 60;

		memset(&g, 0, sizeof g);
		g.cap = cap;
		if (round_ns >= 3 * STUCK_NS)
			g.long_hold_at = gs_now() + round_ns / 4;
		gs_sem_init(&g.s, cap);
		for (int i = 0; i < threads; i++)
			if (pthread_create(&t[i], NULL, worker, &g.slot[i]) != 0)
				die("pthread_create");
		watchdog(round_ns, threads);
		__atomic_store_n(&g.stop, 1, __ATOMIC_RELAXED);
		for (int i = 0; i < threads; i++)
			pthread_join(t[i], NULL);

		struct snapshot sn = snap();
		if (sn.state != 0 || sn.queued || g.inuse != 0)
			die("round %d ends unclean: state %#lx, queued %d, inuse %ld", rounds,
			    (unsigned long)sn.state, sn.queued, (long)g.inuse);
		if (g.max_inuse > cap)
			die("max held %ld of %ld", (long)g.max_inuse, (long)cap);
		if (!gs_sem_try_acquire(&g.s, cap))
			die("round %d: the whole capacity is not free at the end", rounds);
		gs_sem_release(&g.s, cap);

		printf("round %d: %2d threads, capacity %2ld: %ld acquired, %ld timed out, "
		       "%ld try failed, max held %ld\n", rounds, threads, (long)cap,
		       (long)g.ok, (long)g.timeouts, (long)g.tryfail, (long)g.max_inuse);
		total_ok += g.ok;
		total_timeouts += g.timeouts;
		total_tryfail += g.tryfail;
		rounds++;
	} while (gs_now() < end || rounds < ncounts);

	if (total_ok == 0 || total_timeouts == 0)
		die("no progress: %ld acquired, %ld timed out", (long)total_ok, (long)total_timeouts);
	printf("stress_sem: OK (%d rounds, %ld acquired, %ld timed out, %ld try failed)\n",
	       rounds, (long)total_ok, (long)total_timeouts, (long)total_tryfail);
	return 0;
}
