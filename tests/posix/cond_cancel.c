/* Cancellation of cond waiters:
 *  - pthread_cond_wait, timedwait and clockwait are cancellation points: a cancelled
 *    waiter's cleanup handler runs with the mutex held again (an error-checking relock
 *    says EDEADLK), for the shim's mutex kinds and for a robust one that glibc runs;
 *  - a cancelled waiter passes on a signal it consumed: waiters A (oldest) and B wait
 *    for a token; the main thread, holding the mutex, adds one token, signals and
 *    cancels A (or cancels, then signals); B must get the token unless A took it
 *    before acting on the cancel, 100 rounds (a lost signal hangs: the watchdog fails
 *    the program);
 *  - with cancellation disabled, a cancel does not interrupt the wait. */
#include "posix_test.h"

static pthread_mutex_t m;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int tokens, sleepers;

enum call { WAIT, TIMEDWAIT, CLOCKWAIT };

static int wait_once(enum call call)
{
	struct timespec t;
	switch (call) {
	case WAIT:
		return pthread_cond_wait(&c, &m);
	case TIMEDWAIT:
		t = deadline_in(CLOCK_REALTIME, 30000);
		return pthread_cond_timedwait(&c, &m, &t);
	case CLOCKWAIT:
		t = deadline_in(CLOCK_MONOTONIC, 30000);
		return pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &t);
	}
	return -1;
}

struct waiter {
	enum call call;
	int type; /* of m: how the cleanup tells that it holds m */
	bool took;
	bool cleanup_ran;
	bool cleanup_held; /* the cleanup found m held by its thread */
};

static void cleanup(void *arg)
{
	struct waiter *w = arg;
	w->cleanup_ran = true;
	switch (w->type) {
	case PTHREAD_MUTEX_ERRORCHECK:
		w->cleanup_held = pthread_mutex_lock(&m) == EDEADLK;
		break;
	case PTHREAD_MUTEX_RECURSIVE: /* owned: trylock counts one more level */
		w->cleanup_held = pthread_mutex_trylock(&m) == 0 && pthread_mutex_unlock(&m) == 0;
		break;
	default: /* nobody else holds it while the cleanup runs: busy means mine */
		w->cleanup_held = pthread_mutex_trylock(&m) == EBUSY;
		break;
	}
	pthread_mutex_unlock(&m);
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	must(pthread_mutex_lock(&m));
	pthread_cleanup_push(cleanup, w);
	sleepers++;
	while (tokens == 0)
		must(wait_once(w->call));
	tokens--;
	w->took = true;
	pthread_testcancel(); /* a cancel that came too late for the wait acts here */
	pthread_cleanup_pop(1);
	return NULL;
}

/* Wait until n waiters are inside the wait (they release m only there); m is then held. */
static void lock_when_sleeping(int n)
{
	for (;;) {
		must(pthread_mutex_lock(&m));
		if (sleepers >= n)
			return;
		must(pthread_mutex_unlock(&m));
		sched_yield();
	}
}

static void init_m(int type, bool robust)
{
	pthread_mutexattr_t a;
	must(pthread_mutexattr_init(&a));
	must(pthread_mutexattr_settype(&a, type));
	if (robust)
		must(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
	must(pthread_mutex_init(&m, &a));
	pthread_mutexattr_destroy(&a);
}

/* One waiter, cancelled while it sleeps (the main thread does not hold m). */
static void cancel_one(int type, bool robust, enum call call, const char *label)
{
	char lb[160];
	struct waiter w = {call, type, false, false, false};
	pthread_t t;
	init_m(type, robust);
	sleepers = tokens = 0;
	start_thread(&t, waiter_main, &w);
	lock_when_sleeping(1);
	must(pthread_mutex_unlock(&m));
	must(pthread_cancel(t));
	snprintf(lb, sizeof lb, "%s: cancelled", label);
	expect_true(lb, join_thread(t) == PTHREAD_CANCELED);
	snprintf(lb, sizeof lb, "%s: cleanup ran holding the mutex", label);
	expect_true(lb, w.cleanup_ran && w.cleanup_held);
	snprintf(lb, sizeof lb, "%s: mutex free afterwards", label);
	int rc = pthread_mutex_trylock(&m);
	expect_rc(lb, rc, 0);
	if (rc == 0)
		pthread_mutex_unlock(&m);
	must(pthread_mutex_destroy(&m));
}

/* Two waiters, the oldest cancelled around a signal. */
static void pass_on(enum call call, bool cancel_first, const char *label)
{
	enum { ROUNDS = 50 };
	int a_cancelled = 0, held = 0, b_done = 0;
	char lb[160];
	init_m(PTHREAD_MUTEX_ERRORCHECK, false);
	for (int r = 0; r < ROUNDS; r++) {
		struct waiter a = {call, PTHREAD_MUTEX_ERRORCHECK, false, false, false};
		struct waiter b = a;
		pthread_t ta, tb;
		sleepers = tokens = 0;
		start_thread(&ta, waiter_main, &a);
		lock_when_sleeping(1);
		must(pthread_mutex_unlock(&m));
		start_thread(&tb, waiter_main, &b);
		lock_when_sleeping(2);
		tokens++;
		if (cancel_first) {
			must(pthread_cancel(ta));
			must(pthread_cond_signal(&c));
		} else {
			must(pthread_cond_signal(&c));
			must(pthread_cancel(ta));
		}
		must(pthread_mutex_unlock(&m));
		a_cancelled += join_thread(ta) == PTHREAD_CANCELED;
		held += a.cleanup_ran && a.cleanup_held;
		if (a.took) {
			/* A took the token before it saw the cancel: B needs another */
			must(pthread_mutex_lock(&m));
			tokens++;
			must(pthread_cond_signal(&c));
			must(pthread_mutex_unlock(&m));
		}
		join_thread(tb);
		b_done += b.took;
	}
	snprintf(lb, sizeof lb, "%s: A cancelled in every round", label);
	expect_long(lb, a_cancelled, ROUNDS);
	snprintf(lb, sizeof lb, "%s: A's cleanup held the mutex in every round", label);
	expect_long(lb, held, ROUNDS);
	snprintf(lb, sizeof lb, "%s: B got a token in every round", label);
	expect_long(lb, b_done, ROUNDS);
	snprintf(lb, sizeof lb, "%s: tokens left", label);
	expect_long(lb, tokens, 0);
	must(pthread_mutex_destroy(&m));
}

/* Cancellation disabled around the wait: the cancel waits for pthread_testcancel. */
static bool disabled_took;
static int disabled_rc = -1;

static void *disabled_main(void *arg)
{
	int old;
	must(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old));
	must(pthread_mutex_lock(&m));
	sleepers++;
	while (tokens == 0 && (disabled_rc = pthread_cond_wait(&c, &m)) == 0)
		;
	disabled_took = tokens-- > 0;
	must(pthread_mutex_unlock(&m));
	must(pthread_setcancelstate(old, NULL));
	pthread_testcancel();
	return arg;
}

int main(void)
{
	cancel_one(PTHREAD_MUTEX_ERRORCHECK, false, WAIT, "errorcheck, wait");
	cancel_one(PTHREAD_MUTEX_ERRORCHECK, false, TIMEDWAIT, "errorcheck, timedwait");
	cancel_one(PTHREAD_MUTEX_ERRORCHECK, false, CLOCKWAIT, "errorcheck, clockwait");
	cancel_one(PTHREAD_MUTEX_NORMAL, false, WAIT, "normal, wait");
	cancel_one(PTHREAD_MUTEX_NORMAL, false, TIMEDWAIT, "normal, timedwait");
	cancel_one(PTHREAD_MUTEX_RECURSIVE, false, WAIT, "recursive, wait");
	cancel_one(PTHREAD_MUTEX_ADAPTIVE_NP, false, CLOCKWAIT, "adaptive, clockwait");
	cancel_one(PTHREAD_MUTEX_ERRORCHECK, true, WAIT, "robust errorcheck, wait");
	cancel_one(PTHREAD_MUTEX_ERRORCHECK, true, TIMEDWAIT, "robust errorcheck, timedwait");

	pass_on(WAIT, false, "wait, signal then cancel");
	pass_on(WAIT, true, "wait, cancel then signal");
	pass_on(TIMEDWAIT, false, "timedwait, signal then cancel");
	pass_on(CLOCKWAIT, true, "clockwait, cancel then signal");

	init_m(PTHREAD_MUTEX_NORMAL, false);
	sleepers = tokens = 0;
	pthread_t t;
	start_thread(&t, disabled_main, NULL);
	lock_when_sleeping(1);
	must(pthread_cancel(t));
	tokens++;
	must(pthread_cond_signal(&c));
	must(pthread_mutex_unlock(&m));
	expect_true("cancel disabled: cancelled at the testcancel after the wait",
		    join_thread(t) == PTHREAD_CANCELED);
	expect_rc("cancel disabled: the wait returned", disabled_rc, 0);
	expect_true("cancel disabled: the waiter took the token", disabled_took);
	expect_rc("cond destroy", pthread_cond_destroy(&c), 0);
	return posix_test_done();
}
