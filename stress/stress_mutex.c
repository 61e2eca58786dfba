/* stress_mutex — phases of 4..64 threads hammering a few gs_mutex_t.
 *
 * Each phase allocates MUTEXES fresh mutexes on the heap, each guarding a record of
 * WORDS plain words, and starts 4, 8, 16, 32 or 64 threads (cycling) that pick at
 * random, over and over:
 *   - which mutex;
 *   - how to take it: gs_mutex_lock, gs_mutex_trylock (retrying a few times, then
 *     giving up), or gs_mutex_lock_until with a random deadline 0..300 µs away (some
 *     already past);
 *   - how long to hold it: usually a few words' worth of work, sometimes a yield, and
 *     now and then 1.5 ms, so that waiters starve and the mutex enters starvation mode.
 * Invariants, checked by the thread holding the mutex:
 *   - mutual exclusion: the record's words are all equal when the lock is taken (a
 *     writer sets them one by one, with a yield in between sometimes), and the
 *     record's `owner` is empty;
 *   - lock_until returns 0 or ETIMEDOUT, and ETIMEDOUT never before its deadline;
 * and at the end of the phase, after every thread has gone:
 *   - each record's counter equals the number of successful acquisitions of it;
 *   - each mutex's state word is zero (white-box: zero is the idle state), a trylock
 *     succeeds and the mutex is zero again after its unlock.
 *
 * usage: stress_mutex [SECONDS]   prints a line per phase and a final verdict; exits
 * non-zero on any violation. */
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

#include <gosync.h>

#include "hang_guard.h"

enum { MUTEXES = 3, WORDS = 6, MAX_THREADS = 64 };
enum { STARVING_BIT = 4 }; /* src/mutex.c's STARVING, for the progress report */

struct record {
	gs_mutex_t m;
	int owner;            /* 0 or the holder's id + 1 (under m) */
	long counter;         /* acquisitions (under m) */
	long words[WORDS];    /* all equal outside critical sections (under m) */
} __attribute__((aligned(64)));

struct world {
	struct record *rec;   /* MUTEXES of them, on the heap */
	int stop;
	int saw_starving;
};

struct worker {
	struct world *w;
	int id;
	uint64_t rng;
	long acquired[MUTEXES];
	long locks, trylocks, try_fails, timed, timeouts;
	long violations;
};

static void complain(struct worker *k, const char *what)
{
	if (__atomic_fetch_add(&k->violations, 1, __ATOMIC_RELAXED) < 3)
		fprintf(stderr, "stress_mutex: VIOLATION: thread %d: %s\n", k->id, what);
}

static uint64_t rnd(struct worker *k)
{
	uint64_t x = k->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return k->rng = x;
}

static int64_t now_ns(void) { return gs_now(); }

static void sleep_for(int64_t ns)
{
	struct timespec ts = { ns / GS_SEC, ns % GS_SEC };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static bool take(struct worker *k, gs_mutex_t *m)
{
	unsigned how = (unsigned)(rnd(k) % 8);

	if (how < 4) {
		k->locks++;
		gs_mutex_lock(m);
		return true;
	}
	if (how < 6) {
		k->trylocks++;
		for (int i = 0; i < 4; i++) {
			if (gs_mutex_trylock(m))
				return true;
			sched_yield();
		}
		k->try_fails++;
		return false;
	}
	k->timed++;
	int64_t deadline = now_ns() + (int64_t)(rnd(k) % 320) * GS_USEC - 20 * GS_USEC;
	int r = gs_mutex_lock_until(m, deadline);
	if (r == 0)
		return true;
	if (r != ETIMEDOUT)
		complain(k, "lock_until returned neither 0 nor ETIMEDOUT");
	else if (now_ns() < deadline)
		complain(k, "lock_until timed out before its deadline");
	k->timeouts++;
	return false;
}

static void critical(struct worker *k, struct record *r)
{
	if (r->owner != 0)
		complain(k, "two holders at once (owner set)");
	r->owner = k->id + 1;
	long v = r->words[0];
	for (int i = 1; i < WORDS; i++)
		if (r->words[i] != v) {
			complain(k, "torn record: a writer was inside with us");
			break;
		}
	if (__atomic_load_n(&r->m.state_, __ATOMIC_RELAXED) & STARVING_BIT)
		__atomic_store_n(&k->w->saw_starving, 1, __ATOMIC_RELAXED);

	unsigned hold = (unsigned)(rnd(k) % 256);
	for (int i = 0; i < WORDS; i++) {
		r->words[i] = v + 1;
		if (hold < 8 && i == WORDS / 2)
			sched_yield(); /* half-written while off the CPU */
	}
	if (hold == 255)
		sleep_for(1500 * GS_USEC); /* long hold: waiters starve */
	r->counter++;
	if (r->owner != k->id + 1)
		complain(k, "owner changed while we held the lock");
	r->owner = 0;
}

static void *worker_fn(void *arg)
{
	struct worker *k = arg;
	struct world *w = k->w;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		int i = (int)(rnd(k) % MUTEXES);
		struct record *r = &w->rec[i];
		if (!take(k, &r->m))
			continue;
		critical(k, r);
		k->acquired[i]++;
		gs_mutex_unlock(&r->m);
		if (rnd(k) % 16 == 0)
			sched_yield();
	}
	return NULL;
}

/* Runs one phase of `n` threads for `ns`; returns its violations. */
static long phase(int number, int n, int64_t ns)
{
	static struct worker k[MAX_THREADS];
	pthread_t t[MAX_THREADS];
	struct world w = { 0 };
	long violations = 0;

	w.rec = aligned_alloc(64, sizeof(struct record) * MUTEXES);
	if (!w.rec) {
		perror("stress_mutex: aligned_alloc");
		exit(2);
	}
	memset(w.rec, 0, sizeof(struct record) * MUTEXES); /* zero: unlocked mutexes */
	memset(k, 0, sizeof k);
	for (int i = 0; i < n; i++) {
		k[i].w = &w;
		k[i].id = i;
		k[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(number * MAX_THREADS + i + 1);
		if (pthread_create(&t[i], NULL, worker_fn, &k[i]) != 0) {
			perror("stress_mutex: pthread_create");
			exit(2);
		}
	}
	sleep_for(ns);
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);

	long acquired[MUTEXES] = { 0 }, locks = 0, trylocks = 0, try_fails = 0, timed = 0,
	     timeouts = 0;
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < MUTEXES; j++)
			acquired[j] += k[i].acquired[j];
		locks += k[i].locks;
		trylocks += k[i].trylocks;
		try_fails += k[i].try_fails;
		timed += k[i].timed;
		timeouts += k[i].timeouts;
		violations += k[i].violations;
	}
	long total = 0;
	for (int j = 0; j < MUTEXES; j++) {
		struct record *r = &w.rec[j];
		total += acquired[j];
		if (r->counter != acquired[j]) {
			fprintf(stderr, "stress_mutex: VIOLATION: mutex %d counter %ld, %ld acquisitions\n",
				j, r->counter, acquired[j]);
			violations++;
		}
		uint32_t s = __atomic_load_n(&r->m.state_, __ATOMIC_RELAXED);
		if (s != 0) {
			fprintf(stderr, "stress_mutex: VIOLATION: mutex %d state 0x%x after the phase\n", j, s);
			violations++;
		} else if (!gs_mutex_trylock(&r->m)) {
			fprintf(stderr, "stress_mutex: VIOLATION: mutex %d: trylock failed when idle\n", j);
			violations++;
		} else {
			gs_mutex_unlock(&r->m);
			if (__atomic_load_n(&r->m.state_, __ATOMIC_RELAXED) != 0) {
				fprintf(stderr, "stress_mutex: VIOLATION: mutex %d not zero after unlock\n", j);
				violations++;
			}
		}
	}
	printf("stress_mutex: phase %d: %2d threads, %ld acquisitions (lock %ld, trylock %ld "
	       "of which %ld failed, lock_until %ld of which %ld timed out), starvation mode %s\n",
	       number, n, total, locks, trylocks, try_fails, timed, timeouts,
	       w.saw_starving ? "seen" : "not seen");
	fflush(stdout);
	free(w.rec);
	return violations;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	static const int counts[] = { 4, 8, 16, 32, 64 };
	hang_guard_arm("stress_mutex", secs);
	const int64_t total = (int64_t)(secs * GS_SEC);
	int64_t phase_ns = total / 10;
	if (phase_ns < 200 * GS_MSEC)
		phase_ns = 200 * GS_MSEC;
	if (phase_ns > 2 * GS_SEC)
		phase_ns = 2 * GS_SEC;

	const int64_t end = now_ns() + total;
	long violations = 0, phases = 0;
	do {
		int n = counts[phases % (sizeof counts / sizeof counts[0])];
		violations += phase((int)phases, n, phase_ns);
		phases++;
	} while (now_ns() + phase_ns / 2 < end && violations == 0);

	if (violations) {
		printf("stress_mutex: FAILED: %ld violations in %ld phases\n", violations, phases);
		return 1;
	}
	printf("stress_mutex: OK %ld phases, 4..64 threads, %.1f s\n", phases, secs);
	return 0;
}
