/* stress_once — many fresh onces, 4..64 threads racing on each.
 *
 * Each round allocates ONCES fresh onces and lets 4..64 pool threads call gs_once_do
 * on all of them in per-thread random order. fn counts its invocations and
 * completions and writes a plain result; sometimes it sleeps or yields so that
 * callers queue. In some rounds an extra "victim" thread also calls the first once,
 * and if it is the one that runs fn, fn calls pthread_exit: the once must reset and a
 * pool thread must run fn instead. Invariants, checked by the callers:
 *   - fn completes exactly once per once (and is entered once more only when the
 *     victim was unwound out of it);
 *   - every caller sees fn's result (plain memory: TSan checks the edge) the moment
 *     gs_once_do returns;
 *   - the last caller to finish frees the once at once (ASan checks that gs_once_do
 *     touches nothing after its completion, while other callers may still be inside).
 *
 * usage: stress_once [SECONDS]   prints progress each second and a final verdict;
 * exits non-zero on any violation. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gosync/once.h>
#include <gosync/time.h>

#include "hang_guard.h"

enum { MIN_THREADS = 4, MAX_THREADS = 64, ONCES = 8 };

struct cell {
	gs_once_t once;
	int refs;            /* callers still to finish; the last frees (atomic) */
	int entered;         /* fn invocations (atomic) */
	int completed;       /* fn completions (atomic) */
	int victim_exited;   /* the victim was unwound out of fn (atomic) */
	uint32_t seed;
	uint64_t result;     /* written by fn, plain */
};

struct round {
	struct cell *cells[ONCES];
	int nthreads;
	bool victim;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t go, finished_cv;
	unsigned gen;
	struct round cur; /* the round of generation gen; read and written under lock */
	int finished;
	bool stop;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
	   .finished_cv = PTHREAD_COND_INITIALIZER };

static long violations;
static long victim_exits, onces_done;
static __thread bool am_victim;

static void violation(const char *what, const struct cell *c)
{
	__atomic_fetch_add(&violations, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "stress_once: VIOLATION: %s (seed %u)\n", what, c->seed);
}

static uint64_t expected(const struct cell *c) { return (uint64_t)c->seed * 0x9E3779B97F4A7C15ull | 1; }

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void cell_fn(void *arg)
{
	struct cell *c = arg;

	__atomic_fetch_add(&c->entered, 1, __ATOMIC_RELAXED);
	if (am_victim) {
		__atomic_store_n(&c->victim_exited, 1, __ATOMIC_RELAXED);
		pthread_exit(NULL); /* the once must reset and let a waiter run fn */
	}
	switch (c->seed % 4) {
	case 0: {
		struct timespec ts = { 0, 100 * 1000 };
		nanosleep(&ts, NULL); /* long enough for callers to queue */
		break;
	}
	case 1:
		sched_yield();
		break;
	default:
		break;
	}
	c->result = expected(c);
	if (__atomic_add_fetch(&c->completed, 1, __ATOMIC_RELAXED) != 1)
		violation("fn completed twice", c);
}

/* A caller is done with c: check what it saw; the last one checks the totals and
 * frees the cell right away. */
static void release(struct cell *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	int entered = __atomic_load_n(&c->entered, __ATOMIC_RELAXED);
	int exited = __atomic_load_n(&c->victim_exited, __ATOMIC_RELAXED);
	if (__atomic_load_n(&c->completed, __ATOMIC_RELAXED) != 1)
		violation("fn did not complete exactly once", c);
	if (entered != 1 + exited)
		violation("fn entered more often than unwound + 1", c);
	if (exited)
		__atomic_fetch_add(&victim_exits, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&onces_done, 1, __ATOMIC_RELAXED);
	free(c);
}

static void call(struct cell *c)
{
	gs_once_do(&c->once, cell_fn, c);
	if (c->result != expected(c))
		violation("caller did not see fn's result", c);
	if (__atomic_load_n(&c->completed, __ATOMIC_RELAXED) != 1)
		violation("gs_once_do returned before fn completed", c);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint32_t rnd = 0x12345u + (uint32_t)id * 7919u;
	unsigned seen = 0;

	for (;;) {
		pthread_mutex_lock(&pool.lock);
		while (pool.gen == seen && !pool.stop)
			pthread_cond_wait(&pool.go, &pool.lock);
		if (pool.stop) {
			pthread_mutex_unlock(&pool.lock);
			return NULL;
		}
		seen = pool.gen;
		struct round r = pool.cur; /* a copy that matches gen */
		pthread_mutex_unlock(&pool.lock);
		if (id >= r.nthreads)
			continue;

		int order[ONCES];
		for (int i = 0; i < ONCES; i++)
			order[i] = i;
		for (int i = ONCES - 1; i > 0; i--) {
			int j = (int)(xorshift(&rnd) % (uint32_t)(i + 1)), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < ONCES; i++) {
			struct cell *c = r.cells[order[i]];
			call(c);
			release(c); /* c may be gone after this */
		}

		pthread_mutex_lock(&pool.lock);
		if (++pool.finished == r.nthreads)
			pthread_cond_signal(&pool.finished_cv);
		pthread_mutex_unlock(&pool.lock);
	}
}

static void victim_release(void *arg) { release(arg); }

/* Races the pool for cells[0]; if it wins, fn unwinds it with pthread_exit and its
 * cleanup handler (run after gs_once_do's own) drops its reference. */
static void *victim(void *arg)
{
	struct cell *c = arg;

	am_victim = true;
	pthread_cleanup_push(victim_release, c);
	call(c);
	pthread_cleanup_pop(1);
	return NULL;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 3;
	pthread_t threads[MAX_THREADS];
	uint32_t rnd = (uint32_t)gs_now() | 1;
	long rounds = 0;

	if (seconds <= 0)
		seconds = 1;
	hang_guard_arm("stress_once", seconds);
	for (int i = 0; i < MAX_THREADS; i++)
		if (pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i) != 0) {
			fprintf(stderr, "stress_once: pthread_create failed\n");
			return 2;
		}

	int64_t start = gs_now(), end = start + seconds * GS_SEC, next_report = start + GS_SEC;
	uint32_t seed = 1;
	while (gs_now() < end) {
		struct round r = { .nthreads = MIN_THREADS + (int)(xorshift(&rnd) % (MAX_THREADS - MIN_THREADS + 1)),
				   .victim = xorshift(&rnd) % 4 == 0 };
		for (int i = 0; i < ONCES; i++) {
			struct cell *c = calloc(1, sizeof *c);
			if (!c)
				abort();
			c->once = (gs_once_t)GS_ONCE_INIT;
			c->refs = r.nthreads + (r.victim && i == 0);
			c->seed = seed++;
			r.cells[i] = c;
		}
		pthread_t v;
		if (r.victim && pthread_create(&v, NULL, victim, r.cells[0]) != 0)
			abort();

		pthread_mutex_lock(&pool.lock);
		pool.cur = r;
		pool.finished = 0;
		pool.gen++;
		pthread_cond_broadcast(&pool.go);
		while (pool.finished < r.nthreads)
			pthread_cond_wait(&pool.finished_cv, &pool.lock);
		pthread_mutex_unlock(&pool.lock);
		if (r.victim)
			pthread_join(v, NULL);
		rounds++;

		if (gs_now() >= next_report) {
			next_report += GS_SEC;
			printf("stress_once: %llds rounds %ld onces %ld victim-unwinds %ld violations %ld\n",
			       (long long)((gs_now() - start) / GS_SEC), rounds,
			       __atomic_load_n(&onces_done, __ATOMIC_RELAXED),
			       __atomic_load_n(&victim_exits, __ATOMIC_RELAXED),
			       __atomic_load_n(&violations, __ATOMIC_RELAXED));
			fflush(stdout);
		}
		if (__atomic_load_n(&violations, __ATOMIC_RELAXED))
			break;
	}

	pthread_mutex_lock(&pool.lock);
	pool.stop = true;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.lock);
	for (int i = 0; i < MAX_THREADS; i++)
		pthread_join(threads[i], NULL);

	long onces = __atomic_load_n(&onces_done, __ATOMIC_RELAXED);
	if (violations || onces != rounds * ONCES) {
		printf("stress_once: FAIL %ld violations, %ld of %ld onces accounted\n", violations,
		       onces, rounds * ONCES);
		return 1;
	}
	printf("stress_once: OK %ld rounds, %ld onces, %ld runners unwound by pthread_exit\n",
	       rounds, onces, victim_exits);
	return 0;
}
