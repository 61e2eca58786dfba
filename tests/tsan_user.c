/* A user program built with -fsanitize=thread and linked against the normal,
 * uninstrumented libgosync.so (DESIGN.md §3 rule 5): gosync must still be a mutex to
 * TSan, through its weak __tsan_* hooks. tests/check_tsan_user.sh runs each scenario
 * in its own process and checks what TSan says.
 *
 *   locked     two threads write shared data inside a gs_mutex      -> no report
 *   racy       the same writes outside the lock                     -> data race
 *   inversion  A then B in one thread, later B then A in another    -> lock-order-inversion
 *   handover   thread 1 locks and writes, thread 2 unlocks, thread 3 locks and
 *              reads; only the gosync unlock -> lock edge orders the read -> no report
 *              (needs report_mutex_bugs=0 for the cross-thread unlock itself)
 *   handover_control  as handover, but thread 3 reads without locking -> data race
 *
 * The step flags are relaxed atomics, which give TSan no happens-before edge. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gosync.h>

static gs_mutex_t a = GS_MUTEX_INIT, b = GS_MUTEX_INIT;
static long x;    /* the shared data */
static int step;  /* relaxed: orders the threads in time, not for TSan */

static void wait_step(int want)
{
	while (__atomic_load_n(&step, __ATOMIC_RELAXED) != want)
		sched_yield();
}

static void set_step(int v) { __atomic_store_n(&step, v, __ATOMIC_RELAXED); }

static void run2(void *(*fn)(void *))
{
	pthread_t t1, t2;
	pthread_create(&t1, NULL, fn, (void *)1L);
	pthread_create(&t2, NULL, fn, (void *)2L);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
}

/* Thread 1 goes first, then thread 2, both alive throughout. */
static void *locked_fn(void *arg)
{
	long id = (long)arg;
	wait_step((int)id - 1);
	gs_mutex_lock(&a);
	x += id;
	gs_mutex_unlock(&a);
	set_step((int)id);
	wait_step(2);
	return NULL;
}

static void *racy_fn(void *arg)
{
	long id = (long)arg;
	wait_step((int)id - 1);
	x += id; /* outside the lock */
	gs_mutex_lock(&a);
	gs_mutex_unlock(&a);
	set_step((int)id);
	wait_step(2);
	return NULL;
}

/* No real deadlock: thread 2 starts its B-then-A only after thread 1 is done. */
static void *inversion_fn(void *arg)
{
	long id = (long)arg;
	wait_step((int)id - 1);
	gs_mutex_t *first = id == 1 ? &a : &b, *second = id == 1 ? &b : &a;
	gs_mutex_lock(first);
	gs_mutex_lock(second);
	x += id;
	gs_mutex_unlock(second);
	gs_mutex_unlock(first);
	set_step((int)id);
	wait_step(2);
	return NULL;
}

/* handover: the barrier orders thread 1 before thread 2 (so thread 1's write happens
 * before thread 2's unlock); thread 3 has no edge from either but the mutex. */
static pthread_barrier_t bar12;
static int control;

static void *handover_1(void *arg)
{
	(void)arg;
	gs_mutex_lock(&a);
	x = 42;
	set_step(1);                  /* thread 3 may now try to lock */
	pthread_barrier_wait(&bar12); /* thread 2 takes over the lock */
	return NULL;
}

static void *handover_2(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&bar12);
	gs_mutex_unlock(&a);          /* locked by thread 1: legal in gosync */
	set_step(2);
	return NULL;
}

static void *handover_3(void *arg)
{
	long *out = arg;
	wait_step(1);                 /* thread 1 holds the lock */
	if (control) {
		wait_step(2);         /* unlocked, but we do not lock: a race */
		*out = x;
		return NULL;
	}
	gs_mutex_lock(&a);            /* waits for thread 2's unlock */
	*out = x;
	gs_mutex_unlock(&a);
	return NULL;
}

static int handover(void)
{
	pthread_t t1, t2, t3;
	long seen = 0;
	pthread_barrier_init(&bar12, NULL, 2);
	pthread_create(&t3, NULL, handover_3, &seen);
	pthread_create(&t1, NULL, handover_1, NULL);
	pthread_create(&t2, NULL, handover_2, NULL);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	pthread_join(t3, NULL);
	pthread_barrier_destroy(&bar12);
	return seen == 42 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : "";

	if (strcmp(s, "locked") == 0)
		run2(locked_fn);
	else if (strcmp(s, "racy") == 0)
		run2(racy_fn);
	else if (strcmp(s, "inversion") == 0)
		run2(inversion_fn);
	else if (strcmp(s, "handover") == 0)
		return handover();
	else if (strcmp(s, "handover_control") == 0)
		return control = 1, handover();
	else {
		fprintf(stderr, "usage: %s locked|racy|inversion|handover|handover_control\n", argv[0]);
		return 2;
	}
	return x == 3 ? 0 : 1;
}
