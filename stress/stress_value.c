/* stress_value SECONDS — writers and many readers on gs_value.
 *
 * Two values. COUNT is changed only by increments: updaters (gs_value_update) and
 * CAS loops (load inside a read section, copy + 1, compare_and_swap) — its final count
 * must equal the number of increments that reported success. MIX is changed by
 * stores, swaps (the swapped-out object freed after gs_rcu_synchronize), updates
 * and CASes. Every object carries a checksum over its payload words and a magic that
 * its destructor overwrites before freeing it.
 *
 * Readers (long-lived threads, some nesting their sections, plus short-lived threads
 * that read once and exit, so registration and thread exit churn) check inside each
 * section that what they loaded is alive and consistent (magic, checksum), and that
 * COUNT never goes backwards in one thread. A churn thread creates, uses and destroys
 * private values. At the end: every object ever created was destroyed exactly once
 * (after gs_value_destroy + gs_rcu_barrier), the count is exact. Prints a final OK
 * line; exits 1 on any violation. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gosync/time.h>
#include <gosync/value.h>

#include "hang_guard.h"

extern void __tsan_acquire(void *addr) __attribute__((weak));
static bool under_tsan(void) { return __tsan_acquire != NULL; }

enum { WORDS = 6, READERS = 6, UPDATERS = 2, CASERS = 2 };
#define MAGIC 0x5a5a1234u
#define DEAD 0xdeadu

struct obj {
	uint32_t magic;
	int64_t count;
	int64_t w[WORDS];
	int64_t sum;
};

static int64_t created, destroyed_n; /* atomic */
static int64_t violations;           /* atomic */
static int stop;                     /* atomic */

static void violation(const char *what)
{
	if (__atomic_fetch_add(&violations, 1, __ATOMIC_RELAXED) < 10)
		fprintf(stderr, "stress_value: FAIL: %s\n", what);
}

static struct obj *obj_new(int64_t count, uint64_t seed)
{
	struct obj *o = malloc(sizeof *o);
	if (!o)
		abort();
	o->magic = MAGIC;
	o->count = count;
	o->sum = count;
	for (int i = 0; i < WORDS; i++) {
		o->w[i] = (int64_t)(seed * 2654435761u + (uint64_t)i);
		o->sum += o->w[i];
	}
	__atomic_fetch_add(&created, 1, __ATOMIC_RELAXED);
	return o;
}

static void obj_free(void *p)
{
	struct obj *o = p;
	if (o->magic != MAGIC)
		violation("object destroyed twice (or corrupt)");
	o->magic = DEAD;
	__atomic_fetch_add(&destroyed_n, 1, __ATOMIC_RELAXED);
	free(o);
}

static void check(const struct obj *o, const char *what)
{
	int64_t s = o->count;
	for (int i = 0; i < WORDS; i++)
		s += o->w[i];
	if (o->magic != MAGIC || s != o->sum)
		violation(what);
}

static gs_value_t count_v = GS_VALUE_INIT(NULL, obj_free);
static gs_value_t mix_v = GS_VALUE_INIT(NULL, obj_free);
static int64_t increments; /* atomic: successful increments of COUNT */

static void *plus_one(const void *cur, void *arg)
{
	const struct obj *c = cur;
	check(c, "update saw a bad current object");
	return obj_new(c->count + 1, (uint64_t)(uintptr_t)arg);
}

static bool running(void) { return !__atomic_load_n(&stop, __ATOMIC_RELAXED); }

static void *updater(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	while (running()) {
		if (gs_value_update(&count_v, plus_one, (void *)(uintptr_t)seed++))
			__atomic_fetch_add(&increments, 1, __ATOMIC_RELAXED);
		else
			violation("update of COUNT reported no change");
		if (seed % 3 == 0)
			gs_value_update(&mix_v, plus_one, (void *)(uintptr_t)seed);
	}
	return NULL;
}

static void *caser(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	while (running()) {
		gs_rcu_read_lock();
		struct obj *c = gs_value_load(&count_v);
		check(c, "CAS loaded a bad object");
		struct obj *n = obj_new(c->count + 1, seed++);
		bool ok = gs_value_compare_and_swap(&count_v, c, n);
		gs_rcu_read_unlock();
		if (ok) {
			__atomic_fetch_add(&increments, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_fetch_sub(&created, 1, __ATOMIC_RELAXED);
			free(n);
		}
	}
	return NULL;
}

static void *storer(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	while (running()) {
		switch (seed++ % 4) {
		case 0:
		case 1:
			gs_value_store(&mix_v, obj_new(0, seed));
			break;
		case 2: {
			struct obj *old = gs_value_swap(&mix_v, obj_new(0, seed));
			gs_rcu_synchronize(); /* then the old one is ours to free */
			check(old, "swap returned a bad object");
			obj_free(old);
			break;
		}
		case 3: {
			gs_rcu_read_lock();
			struct obj *c = gs_value_load(&mix_v);
			struct obj *n = obj_new(c->count, seed);
			if (!gs_value_compare_and_swap(&mix_v, c, n)) {
				__atomic_fetch_sub(&created, 1, __ATOMIC_RELAXED);
				free(n);
			}
			gs_rcu_read_unlock();
			break;
		}
		}
		if (seed % 64 == 0)
			gs_rcu_barrier();
	}
	return NULL;
}

static int64_t reads; /* atomic */

static void read_once(int64_t *last_count, bool nest)
{
	gs_rcu_read_lock();
	const struct obj *c = gs_value_load(&count_v);
	if (nest)
		gs_rcu_read_lock();
	const struct obj *m = gs_value_load(&mix_v);
	check(c, "reader saw a bad COUNT object");
	check(m, "reader saw a bad MIX object");
	if (nest)
		gs_rcu_read_unlock();
	check(c, "COUNT object changed under a reader (nested unlock)");
	if (c->count < *last_count)
		violation("COUNT went backwards");
	*last_count = c->count;
	gs_rcu_read_unlock();
}

static void *reader(void *arg)
{
	int id = (int)(uintptr_t)arg;
	int64_t last = 0, n = 0;
	if (id % 2)
		gs_rcu_register_thread();
	while (running()) {
		read_once(&last, (n & 7) == id % 8);
		n++;
	}
	__atomic_fetch_add(&reads, n, __ATOMIC_RELAXED);
	return NULL;
}

static void *short_reader(void *arg)
{
	int64_t last = 0;
	(void)arg;
	for (int i = 0; i < 100; i++)
		read_once(&last, i % 2);
	return NULL;
}

static void *churn(void *arg)
{
	uint64_t seed = (uintptr_t)arg;
	while (running()) {
		gs_value_t *v = malloc(sizeof *v);
		if (!v)
			abort();
		gs_value_init(v, obj_new(0, seed), obj_free);
		for (int i = 0; i < 8; i++)
			gs_value_store(v, obj_new(i, seed++));
		gs_rcu_read_lock();
		check(gs_value_load(v), "churn value");
		gs_rcu_read_unlock();
		gs_value_destroy(v);
		free(v); /* nobody else could reach it */
		pthread_t t;
		if (pthread_create(&t, NULL, short_reader, NULL) != 0)
			abort();
		pthread_join(t, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 3;
	int readers = under_tsan() ? 4 : READERS;
	pthread_t t[64];
	int n = 0;

	hang_guard_arm("stress_value", secs);
	gs_value_store(&count_v, obj_new(0, 1));
	gs_value_store(&mix_v, obj_new(0, 2));
	for (int i = 0; i < readers; i++)
		pthread_create(&t[n++], NULL, reader, (void *)(uintptr_t)i);
	for (int i = 0; i < UPDATERS; i++)
		pthread_create(&t[n++], NULL, updater, (void *)(uintptr_t)(100 + i));
	for (int i = 0; i < CASERS; i++)
		pthread_create(&t[n++], NULL, caser, (void *)(uintptr_t)(200 + i));
	pthread_create(&t[n++], NULL, storer, (void *)(uintptr_t)300);
	pthread_create(&t[n++], NULL, churn, (void *)(uintptr_t)400);

	int64_t end = gs_now() + secs * GS_SEC;
	while (gs_now() < end && !__atomic_load_n(&violations, __ATOMIC_RELAXED)) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);

	gs_rcu_read_lock();
	int64_t final = ((struct obj *)gs_value_load(&count_v))->count;
	gs_rcu_read_unlock();
	if (final != increments)
		violation("COUNT is not the number of increments");
	gs_value_destroy(&count_v);
	gs_value_destroy(&mix_v);
	gs_rcu_barrier();
	if (created != destroyed_n) {
		fprintf(stderr, "stress_value: created %lld destroyed %lld\n",
			(long long)created, (long long)destroyed_n);
		violation("not every object was destroyed exactly once");
	}
	if (violations) {
		printf("stress_value: FAIL: %lld violations\n", (long long)violations);
		return 1;
	}
	printf("stress_value: OK: %ds, %lld reads, %lld increments, %lld objects destroyed\n", secs,
	       (long long)reads, (long long)increments, (long long)destroyed_n);
	return 0;
}
