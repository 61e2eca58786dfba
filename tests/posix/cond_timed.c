/* Timed cond waits: pthread_cond_timedwait on a default cond (CLOCK_REALTIME) and on
 * one whose condattr selects CLOCK_MONOTONIC, pthread_cond_clockwait on either clock
 * whatever the cond's own: ETIMEDOUT no earlier than the deadline and with the mutex
 * held again, at once for a deadline in the past, EINVAL for a bad tv_nsec or an
 * unsupported clock (mutex still held), 0 when signalled or broadcast in time, and a
 * waiter that timed out swallows no later signal. */
#include "posix_test.h"

static pthread_mutex_t m = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

/* The caller holds m again: an errorcheck relock says so. */
static bool holds_m(void) { return pthread_mutex_lock(&m) == EDEADLK; }

enum call { TIMEDWAIT, CLOCKWAIT };

static int timed(pthread_cond_t *c, enum call call, clockid_t clock, const struct timespec *t)
{
	return call == TIMEDWAIT ? pthread_cond_timedwait(c, &m, t)
				 : pthread_cond_clockwait(c, &m, clock, t);
}

static void timeouts(pthread_cond_t *c, const char *cond, enum call call, clockid_t clock)
{
	char lb[160];
	const char *cn = clock == CLOCK_MONOTONIC ? "MONOTONIC" : "REALTIME";
	const char *wn = call == TIMEDWAIT ? "timedwait" : "clockwait";
#define LB(what) (snprintf(lb, sizeof lb, "%s cond, %s %s: %s", cond, wn, cn, what), lb)
	struct timespec t = deadline_in(clock, 20);
	must(pthread_mutex_lock(&m));
	expect_rc(LB("+20ms"), timed(c, call, clock, &t), ETIMEDOUT);
	expect_true(LB("returned after its deadline"), reached(clock, &t));
	expect_true(LB("mutex held after the timeout"), holds_m());
	t = deadline_in(clock, -1000);
	expect_rc(LB("expired"), timed(c, call, clock, &t), ETIMEDOUT);
	expect_true(LB("mutex held after the expired wait"), holds_m());
	t = (struct timespec){-5, 0};
	expect_rc(LB("before the epoch"), timed(c, call, clock, &t), ETIMEDOUT);
	t = deadline_in(clock, 1000);
	t.tv_nsec = 1000000000;
	expect_rc(LB("tv_nsec=1e9"), timed(c, call, clock, &t), EINVAL);
	t.tv_nsec = -1;
	expect_rc(LB("tv_nsec=-1"), timed(c, call, clock, &t), EINVAL);
	expect_true(LB("mutex held after EINVAL"), holds_m());
	must(pthread_mutex_unlock(&m));
	/* not the owner: a bad tv_nsec is found first, then the ownership */
	expect_rc(LB("tv_nsec=-1, mutex not held"), timed(c, call, clock, &t), EINVAL);
	t = deadline_in(clock, 1000);
	expect_rc(LB("mutex not held"), timed(c, call, clock, &t), EPERM);
#undef LB
}

/* --- a waiter that is signalled in time -------------------------------------------- */
struct waiter {
	pthread_cond_t *c;
	enum call call;
	clockid_t clock;
	bool *flag;
	int rc;
	bool held; /* held the mutex on return */
	int *sleeping;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct timespec t = deadline_in(w->clock, 30000);
	must(pthread_mutex_lock(&m));
	++*w->sleeping;
	w->rc = 0;
	while (!*w->flag && w->rc == 0)
		w->rc = timed(w->c, w->call, w->clock, &t);
	w->held = holds_m();
	must(pthread_mutex_unlock(&m));
	return NULL;
}

static void woken(pthread_cond_t *c, const char *cond, enum call call, clockid_t clock,
		  bool broadcast)
{
	enum { N = 3 };
	char lb[160];
	bool flag = false;
	int sleeping = 0;
	struct waiter w[N];
	pthread_t t[N];
	int n = broadcast ? N : 1;
	for (int i = 0; i < n; i++) {
		w[i] = (struct waiter){c, call, clock, &flag, -1, false, &sleeping};
		start_thread(&t[i], waiter_main, &w[i]);
	}
	/* all waiters inside the wait (they release m only there), then the wakeup */
	for (;;) {
		must(pthread_mutex_lock(&m));
		if (sleeping == n)
			break;
		must(pthread_mutex_unlock(&m));
		sched_yield();
	}
	flag = true;
	must(broadcast ? pthread_cond_broadcast(c) : pthread_cond_signal(c));
	must(pthread_mutex_unlock(&m));
	int ok = 0, held = 0;
	for (int i = 0; i < n; i++) {
		join_thread(t[i]);
		ok += w[i].rc == 0;
		held += w[i].held;
	}
	snprintf(lb, sizeof lb, "%s cond, %s %s: %s waiters woken in time", cond,
		 call == TIMEDWAIT ? "timedwait" : "clockwait",
		 clock == CLOCK_MONOTONIC ? "MONOTONIC" : "REALTIME",
		 broadcast ? "broadcast" : "signalled");
	expect_long(lb, ok, n);
	snprintf(lb, sizeof lb, "%s cond: woken waiters held the mutex", cond);
	expect_long(lb, held, n);
}

/* --- a timed-out waiter swallows no signal ------------------------------------------ */
static pthread_cond_t sw_c = PTHREAD_COND_INITIALIZER;
static bool sw_go;
static int sw_sleeping;

static void *short_waiter(void *arg __attribute__((unused)))
{
	struct timespec t = deadline_in(CLOCK_REALTIME, 10);
	int rc;
	must(pthread_mutex_lock(&m));
	while ((rc = pthread_cond_timedwait(&sw_c, &m, &t)) == 0)
		;
	must(pthread_mutex_unlock(&m));
	return (void *)(long)rc;
}

static void *long_waiter(void *arg)
{
	must(pthread_mutex_lock(&m));
	sw_sleeping++;
	while (!sw_go)
		must(pthread_cond_wait(&sw_c, &m));
	must(pthread_mutex_unlock(&m));
	return arg;
}

int main(void)
{
	pthread_cond_t rt = PTHREAD_COND_INITIALIZER, mono, rt_attr;
	pthread_condattr_t a;
	must(pthread_condattr_init(&a));
	must(pthread_condattr_setclock(&a, CLOCK_MONOTONIC));
	must(pthread_cond_init(&mono, &a));
	must(pthread_condattr_setclock(&a, CLOCK_REALTIME));
	must(pthread_cond_init(&rt_attr, &a));
	expect_rc("condattr: setclock PROCESS_CPUTIME",
		  pthread_condattr_setclock(&a, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
	pthread_condattr_destroy(&a);

	timeouts(&rt, "static", TIMEDWAIT, CLOCK_REALTIME);
	timeouts(&rt_attr, "REALTIME-attr", TIMEDWAIT, CLOCK_REALTIME);
	timeouts(&mono, "MONOTONIC-attr", TIMEDWAIT, CLOCK_MONOTONIC);
	timeouts(&rt, "static", CLOCKWAIT, CLOCK_MONOTONIC);
	timeouts(&rt, "static", CLOCKWAIT, CLOCK_REALTIME);
	timeouts(&mono, "MONOTONIC-attr", CLOCKWAIT, CLOCK_REALTIME);
	timeouts(&mono, "MONOTONIC-attr", CLOCKWAIT, CLOCK_MONOTONIC);

	struct timespec t = deadline_in(CLOCK_MONOTONIC, 20);
	must(pthread_mutex_lock(&m));
	expect_rc("clockwait PROCESS_CPUTIME",
		  pthread_cond_clockwait(&rt, &m, CLOCK_PROCESS_CPUTIME_ID, &t), EINVAL);
	expect_rc("clockwait MONOTONIC_RAW",
		  pthread_cond_clockwait(&rt, &m, CLOCK_MONOTONIC_RAW, &t), EINVAL);
	expect_true("mutex held after a bad clock", holds_m());
	must(pthread_mutex_unlock(&m));

	woken(&rt, "static", TIMEDWAIT, CLOCK_REALTIME, false);
	woken(&rt, "static", TIMEDWAIT, CLOCK_REALTIME, true);
	woken(&mono, "MONOTONIC-attr", TIMEDWAIT, CLOCK_MONOTONIC, false);
	woken(&mono, "MONOTONIC-attr", TIMEDWAIT, CLOCK_MONOTONIC, true);
	woken(&rt, "static", CLOCKWAIT, CLOCK_MONOTONIC, true);
	woken(&mono, "MONOTONIC-attr", CLOCKWAIT, CLOCK_REALTIME, false);

	/* three short waiters time out; then one signal must reach the long waiter */
	for (int round = 0; round < 20; round++) {
		pthread_t s[3], l;
		sw_go = false;
		sw_sleeping = 0;
		start_thread(&l, long_waiter, NULL);
		for (int i = 0; i < 3; i++)
			start_thread(&s[i], short_waiter, NULL);
		int timedout = 0;
		for (int i = 0; i < 3; i++)
			timedout += (long)join_thread(s[i]) == ETIMEDOUT;
		if (timedout != 3)
			printf("round %d: %d short waiters timed out\n", round, timedout);
		for (;;) {
			must(pthread_mutex_lock(&m));
			if (sw_sleeping)
				break;
			must(pthread_mutex_unlock(&m));
			sched_yield();
		}
		sw_go = true;
		must(pthread_cond_signal(&sw_c));
		must(pthread_mutex_unlock(&m));
		join_thread(l);
	}
	expect_true("timed-out waiters swallowed no signal (20 rounds)", true);

	expect_rc("destroy static", pthread_cond_destroy(&rt), 0);
	expect_rc("destroy MONOTONIC-attr", pthread_cond_destroy(&mono), 0);
	expect_rc("destroy REALTIME-attr", pthread_cond_destroy(&rt_attr), 0);
	return posix_test_done();
}
