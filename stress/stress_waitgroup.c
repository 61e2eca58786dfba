/* stress_waitgroup SECONDS — randomized rounds of gs_waitgroup.
 *
 * A pool of 64 threads; each round uses 4..64 of them, split at random into donors
 * and waiters. The wait group is allocated for the round. Donors owe a unit each,
 * some add more units for sub-work while they still hold theirs (legal concurrent
 * adds), spin or yield for random short times, write their slot of the round's data
 * (rarely sleep) and call done(). Waiters wait without a deadline, with a far deadline, in a loop of
 * tiny deadlines, with one short deadline then without, or with a past deadline then
 * without. In rounds with a single waiter, that waiter frees the wait group as soon
 * as its wait returns (the donors must not touch it after their last done()).
 *
 * Invariants checked every round: a wait returns 0 or ETIMEDOUT; ETIMEDOUT never
 * before the deadline; after a wait returns 0 every donor's data is visible; no timed
 * waiter reports ETIMEDOUT for a deadline later than the moment the last done() had
 * returned (a waiter still queued after the counter reached zero: a lost wakeup);
 * every waiter returns (a round stuck for 60 s is reported with the threads inside);
 * the state word is 0 at the end of every round. Prints progress every second and a
 * final OK line; exits 1 on any violation. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gosync/time.h>
#include <gosync/waitgroup.h>

#include "hang_guard.h"

#define POOL 64

extern void __tsan_acquire(void *addr) __attribute__((weak));
static bool under_tsan(void) { return __tsan_acquire != NULL; }

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

static uint64_t wg_state(gs_waitgroup_t *wg) { return __atomic_load_n(&wg->state_, __ATOMIC_RELAXED); }

/* The round's wait group and data, on the heap. */
struct shared {
	gs_waitgroup_t wg;
	int data[POOL];  /* plain: donor id writes before its last done, waiters read after */
};

enum role { IDLE, DONOR, WAITER };
enum wmode { W_FOREVER, W_FAR, W_TINY_LOOP, W_SHORT_THEN_FOREVER, W_PAST_THEN_FOREVER, W_MODES };

struct member_plan {
	enum role role;
	int extra;          /* donor: sub-units it adds (and completes) while holding its own */
	int delay;          /* donor: spin iterations before each done */
	bool yield;         /* donor: sched_yield before the last done */
	int64_t nap;        /* donor: sleep before the last done (0: none) */
	enum wmode mode;    /* waiter */
	int64_t short_ns;   /* waiter: the short deadline's offset */
};

struct member_result {
	int64_t done_at;         /* donor: after its last done */
	int64_t late_timeout;    /* waiter: latest deadline that timed out (INT64_MIN: none) */
	int timeouts;
	int early;               /* ETIMEDOUT before the deadline */
	int stale;               /* data not visible after wait returned 0 */
	int bad_rc;
	int bad_state;           /* waiter that frees: state not 0 after its wait */
	int returned;            /* waits that returned 0 */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t start, finish;
	int round;
	bool stop;
	int finished;
	int last[POOL];
	/* the current round, written by main between rounds */
	struct shared *sh;
	bool waiter_frees;
	struct member_plan plan[POOL];
	struct member_result res[POOL];
	uint64_t seed[POOL];
} g;

static void donor(int id, struct member_plan *p, struct member_result *r, struct shared *sh, int round)
{
	uint64_t *seed = &g.seed[id];

	if (p->extra) {
		gs_waitgroup_add(&sh->wg, p->extra); /* legal: we still hold our unit */
		for (int k = 0; k < p->extra; k++) {
			for (int i = (int)(xorshift(seed) % (uint64_t)(p->delay + 1)); i > 0; i--)
				__asm__ __volatile__("" ::: "memory");
			gs_waitgroup_done(&sh->wg);
		}
	}
	for (int i = p->delay; i > 0; i--)
		__asm__ __volatile__("" ::: "memory");
	if (p->yield)
		sched_yield();
	if (p->nap)
		sleep_ns(p->nap);
	sh->data[id] = round;
	gs_waitgroup_done(&sh->wg); /* sh may be freed from here on */
	r->done_at = gs_now();
}

static int timed_wait(struct member_result *r, struct shared *sh, int64_t deadline)
{
	int rc = gs_waitgroup_wait_until(&sh->wg, deadline);
	if (rc == ETIMEDOUT) {
		r->timeouts++;
		if (gs_now() < deadline)
			r->early++;
		if (deadline > r->late_timeout)
			r->late_timeout = deadline;
	} else if (rc != 0) {
		r->bad_rc++;
	}
	return rc;
}

static void waiter(int id, struct member_plan *p, struct member_result *r, struct shared *sh, int round)
{
	uint64_t *seed = &g.seed[id];

	switch (p->mode) {
	case W_FOREVER:
		gs_waitgroup_wait(&sh->wg);
		break;
	case W_FAR:
		if (timed_wait(r, sh, gs_now() + 60 * GS_SEC) != 0)
			gs_waitgroup_wait(&sh->wg);
		break;
	case W_TINY_LOOP:
		while (timed_wait(r, sh, gs_now() + (int64_t)(xorshift(seed) % 30) * GS_USEC) == ETIMEDOUT)
			;
		break;
	case W_SHORT_THEN_FOREVER:
		if (timed_wait(r, sh, gs_now() + p->short_ns) != 0)
			gs_waitgroup_wait(&sh->wg);
		break;
	case W_PAST_THEN_FOREVER:
		if (timed_wait(r, sh, gs_now() - (int64_t)(xorshift(seed) % 1000) * GS_USEC) != 0)
			gs_waitgroup_wait(&sh->wg);
		break;
	default:
		r->bad_rc++;
	}
	r->returned++;
	for (int j = 0; j < POOL; j++)
		if (g.plan[j].role == DONOR && sh->data[j] != round)
			r->stale++;
	if (g.waiter_frees) {
		/* the only waiter: every donor is done with sh */
		if (wg_state(&sh->wg) != 0)
			r->bad_state++;
		free(sh);
	}
}

static void *member_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	int seen = 0;

	for (;;) {
		pthread_mutex_lock(&g.mu);
		while (g.round == seen && !g.stop)
			pthread_cond_wait(&g.start, &g.mu);
		if (g.stop) {
			pthread_mutex_unlock(&g.mu);
			return NULL;
		}
		seen = g.round;
		struct shared *sh = g.sh;
		pthread_mutex_unlock(&g.mu);

		struct member_plan *p = &g.plan[id];
		struct member_result *r = &g.res[id];
		if (p->role == DONOR)
			donor(id, p, r, sh, seen);
		else if (p->role == WAITER)
			waiter(id, p, r, sh, seen);

		pthread_mutex_lock(&g.mu);
		g.last[id] = seen;
		if (++g.finished == POOL)
			pthread_cond_signal(&g.finish);
		pthread_mutex_unlock(&g.mu);
	}
}

static bool run_round(int64_t deadline)
{
	struct timespec ts = { deadline / GS_SEC, deadline % GS_SEC };
	bool ok = true;

	pthread_mutex_lock(&g.mu);
	g.finished = 0;
	g.round++;
	pthread_cond_broadcast(&g.start);
	while (g.finished < POOL && ok)
		ok = pthread_cond_timedwait(&g.finish, &g.mu, &ts) != ETIMEDOUT || g.finished == POOL;
	pthread_mutex_unlock(&g.mu);
	return ok;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 3;
	uint64_t seed = 0x2545F4914F6CDD1Dull ^ (uint64_t)gs_now();
	pthread_t pool[POOL];
	pthread_condattr_t ca;
	long rounds = 0, waits = 0, timeouts = 0, threads = 0, extras = 0, frees = 0;
	long violations = 0;

	if (seconds <= 0)
		seconds = 1;
	hang_guard_arm("stress_waitgroup", seconds);
	pthread_mutex_init(&g.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g.start, &ca);
	pthread_cond_init(&g.finish, &ca);
	for (int i = 0; i < POOL; i++) {
		g.seed[i] = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) ^ seed;
		if (pthread_create(&pool[i], NULL, member_main, (void *)(intptr_t)i) != 0) {
			fprintf(stderr, "stress_waitgroup: pthread_create failed\n");
			return 1;
		}
	}

	int64_t start = gs_now(), end = start + seconds * GS_SEC, next_report = start + GS_SEC;
	while (gs_now() < end && violations == 0) {
		int t = 4 + (int)(xorshift(&seed) % (POOL - 3));          /* 4..64 */
		int donors = 1 + (int)(xorshift(&seed) % (uint64_t)(t - 1)); /* 1..t-1 */
		if (xorshift(&seed) % 6 == 0)
			donors = t - 1; /* a single waiter, which may free the wait group */
		int waiters = t - donors;
		struct shared *sh = calloc(1, sizeof *sh);

		if (!sh) {
			fprintf(stderr, "stress_waitgroup: out of memory\n");
			return 1;
		}
		/* a random assignment of roles to the first t members */
		memset(g.plan, 0, sizeof g.plan);
		memset(g.res, 0, sizeof g.res);
		for (int i = 0; i < POOL; i++)
			g.res[i].late_timeout = INT64_MIN;
		for (int i = 0; i < t; i++)
			g.plan[i].role = i < donors ? DONOR : WAITER;
		for (int i = t - 1; i > 0; i--) {
			int j = (int)(xorshift(&seed) % (uint64_t)(i + 1));
			enum role tmp = g.plan[i].role;
			g.plan[i].role = g.plan[j].role;
			g.plan[j].role = tmp;
		}
		int spin_scale = (int)(xorshift(&seed) % 4);
		for (int i = 0; i < t; i++) {
			struct member_plan *p = &g.plan[i];
			if (p->role == DONOR) {
				p->extra = xorshift(&seed) % 4 == 0 ? (int)(xorshift(&seed) % 4) : 0;
				p->delay = spin_scale ? (int)(xorshift(&seed) % (uint64_t)(spin_scale * 3000)) : 0;
				p->yield = xorshift(&seed) % 3 == 0;
				if (xorshift(&seed) % 16 == 0)
					p->nap = (int64_t)(20 + xorshift(&seed) % 200) * GS_USEC;
				extras += p->extra;
			} else {
				p->mode = (enum wmode)(xorshift(&seed) % W_MODES);
				p->short_ns = (int64_t)(xorshift(&seed) % 300) * GS_USEC;
			}
		}
		g.waiter_frees = waiters == 1 && xorshift(&seed) % 2 == 0;
		g.sh = sh;
		gs_waitgroup_add(&sh->wg, donors);

		if (!run_round(gs_now() + (under_tsan() ? 180 : 60) * GS_SEC)) {
			pthread_mutex_lock(&g.mu);
			fprintf(stderr, "stress_waitgroup: FAIL: round %ld stuck (lost wakeup?); "
				"state counter %d waiters %u; members inside:", rounds,
				(int32_t)(wg_state(&sh->wg) >> 32), (uint32_t)wg_state(&sh->wg));
			for (int i = 0; i < POOL; i++)
				if (g.last[i] != g.round)
					fprintf(stderr, " %d(%s)", i, g.plan[i].role == DONOR ? "donor" : "waiter");
			fprintf(stderr, "\n");
			pthread_mutex_unlock(&g.mu);
			return 1;
		}

		int64_t zero_by = INT64_MIN;
		for (int i = 0; i < t; i++)
			if (g.plan[i].role == DONOR && g.res[i].done_at > zero_by)
				zero_by = g.res[i].done_at;
		for (int i = 0; i < t; i++) {
			struct member_result *r = &g.res[i];
			if (g.plan[i].role != WAITER)
				continue;
			waits += r->returned;
			timeouts += r->timeouts;
			if (r->returned != 1 || r->early || r->stale || r->bad_rc || r->bad_state) {
				fprintf(stderr, "stress_waitgroup: FAIL: round %ld waiter %d mode %d: returned %d "
					"early %d stale %d bad_rc %d bad_state %d\n", rounds, i, g.plan[i].mode,
					r->returned, r->early, r->stale, r->bad_rc, r->bad_state);
				violations++;
			}
			if (r->late_timeout > zero_by) {
				fprintf(stderr, "stress_waitgroup: FAIL: round %ld waiter %d mode %d timed out at a "
					"deadline %lld ns after the last done() returned: lost wakeup\n",
					rounds, i, g.plan[i].mode, (long long)(r->late_timeout - zero_by));
				violations++;
			}
		}
		if (g.waiter_frees) {
			frees++;
		} else {
			if (wg_state(&sh->wg) != 0) {
				fprintf(stderr, "stress_waitgroup: FAIL: round %ld ended in state %#llx\n",
					rounds, (unsigned long long)wg_state(&sh->wg));
				violations++;
			}
			free(sh);
		}
		rounds++;
		threads += t;

		int64_t now = gs_now();
		if (now >= next_report) {
			printf("stress_waitgroup: %llds rounds %ld (avg %.1f threads) waits %ld timeouts %ld "
			       "extra adds %ld waiter-frees %ld\n", (long long)((now - start) / GS_SEC),
			       rounds, rounds ? (double)threads / (double)rounds : 0.0, waits, timeouts,
			       extras, frees);
			fflush(stdout);
			next_report += GS_SEC;
		}
	}

	pthread_mutex_lock(&g.mu);
	g.stop = true;
	pthread_cond_broadcast(&g.start);
	pthread_mutex_unlock(&g.mu);
	for (int i = 0; i < POOL; i++)
		pthread_join(pool[i], NULL);

	if (violations) {
		printf("stress_waitgroup: FAIL: %ld violations in %ld rounds\n", violations, rounds);
		return 1;
	}
	printf("stress_waitgroup: OK: %ld rounds (avg %.1f threads), %ld waits returned 0, "
	       "%ld timed out, %ld extra adds, %ld freed by their waiter\n", rounds,
	       rounds ? (double)threads / (double)rounds : 0.0, waits, timeouts, extras, frees);
	return 0;
}
