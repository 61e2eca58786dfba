/* pthread_mutex_timedlock and pthread_mutex_clocklock, for every kind the shim runs:
 * ETIMEDOUT no earlier than the deadline (CLOCK_REALTIME, and CLOCK_MONOTONIC through
 * clocklock), an available lock taken even with an expired deadline or an invalid
 * tv_nsec, EINVAL for an invalid tv_nsec only when the caller would have to wait,
 * EINVAL for an unsupported clock always, and a waiter with a far deadline gets the
 * lock when the owner lets go. */
#include "posix_test.h"

struct timed {
	pthread_mutex_t *m;
	bool use_clock;
	clockid_t clock;
	struct timespec t;
	int rc;
	bool reached; /* the clock had reached t when the call returned */
};

static void *timed_main(void *arg)
{
	struct timed *a = arg;
	if (a->use_clock)
		a->rc = pthread_mutex_clocklock(a->m, a->clock, &a->t);
	else
		a->rc = pthread_mutex_timedlock(a->m, &a->t);
	a->reached = reached(a->use_clock ? a->clock : CLOCK_REALTIME, &a->t);
	if (a->rc == 0)
		pthread_mutex_unlock(a->m);
	return NULL;
}

static struct timed timed_in_other_thread(pthread_mutex_t *m, bool use_clock, clockid_t clock,
					  struct timespec t)
{
	struct timed a = {m, use_clock, clock, t, -1, false};
	pthread_t th;
	start_thread(&th, timed_main, &a);
	join_thread(th);
	return a;
}

static void exercise(pthread_mutex_t *m, const char *kind)
{
	char lb[160];
	struct timespec bad_hi = deadline_in(CLOCK_REALTIME, 1000);
	struct timespec bad_lo = bad_hi;
	struct timespec before_epoch = {-1, 0};
	bad_hi.tv_nsec = 1000000000;
	bad_lo.tv_nsec = -1;
	struct timed r;

#define LB(what) (snprintf(lb, sizeof lb, "%s: %s", kind, what), lb)
	/* the lock is held by this thread; another thread tries */
	must(pthread_mutex_lock(m));
	r = timed_in_other_thread(m, false, 0, deadline_in(CLOCK_REALTIME, 20));
	expect_rc(LB("held, timedlock +20ms"), r.rc, ETIMEDOUT);
	expect_true(LB("held, timedlock +20ms returned after its deadline"), r.reached);
	r = timed_in_other_thread(m, false, 0, deadline_in(CLOCK_REALTIME, -1000));
	expect_rc(LB("held, timedlock expired"), r.rc, ETIMEDOUT);
	r = timed_in_other_thread(m, false, 0, before_epoch);
	expect_rc(LB("held, timedlock before the epoch"), r.rc, ETIMEDOUT);
	r = timed_in_other_thread(m, false, 0, bad_hi);
	expect_rc(LB("held, timedlock tv_nsec=1e9"), r.rc, EINVAL);
	r = timed_in_other_thread(m, false, 0, bad_lo);
	expect_rc(LB("held, timedlock tv_nsec=-1"), r.rc, EINVAL);
	r = timed_in_other_thread(m, true, CLOCK_MONOTONIC, deadline_in(CLOCK_MONOTONIC, 20));
	expect_rc(LB("held, clocklock MONOTONIC +20ms"), r.rc, ETIMEDOUT);
	expect_true(LB("held, clocklock MONOTONIC +20ms returned after its deadline"), r.reached);
	r = timed_in_other_thread(m, true, CLOCK_REALTIME, deadline_in(CLOCK_REALTIME, 20));
	expect_rc(LB("held, clocklock REALTIME +20ms"), r.rc, ETIMEDOUT);
	expect_true(LB("held, clocklock REALTIME +20ms returned after its deadline"), r.reached);
	r = timed_in_other_thread(m, true, CLOCK_MONOTONIC, deadline_in(CLOCK_MONOTONIC, -1000));
	expect_rc(LB("held, clocklock MONOTONIC expired"), r.rc, ETIMEDOUT);
	r = timed_in_other_thread(m, true, CLOCK_MONOTONIC, bad_hi);
	expect_rc(LB("held, clocklock MONOTONIC tv_nsec=1e9"), r.rc, EINVAL);
	r = timed_in_other_thread(m, true, CLOCK_PROCESS_CPUTIME_ID,
				  deadline_in(CLOCK_REALTIME, 20));
	expect_rc(LB("held, clocklock PROCESS_CPUTIME"), r.rc, EINVAL);
	r = timed_in_other_thread(m, true, CLOCK_MONOTONIC_RAW, deadline_in(CLOCK_MONOTONIC, 20));
	expect_rc(LB("held, clocklock MONOTONIC_RAW"), r.rc, EINVAL);
	must(pthread_mutex_unlock(m));

	/* the lock is available */
	r = timed_in_other_thread(m, false, 0, deadline_in(CLOCK_REALTIME, -1000));
	expect_rc(LB("free, timedlock expired"), r.rc, 0);
	r = timed_in_other_thread(m, false, 0, before_epoch);
	expect_rc(LB("free, timedlock before the epoch"), r.rc, 0);
	r = timed_in_other_thread(m, false, 0, bad_hi);
	expect_rc(LB("free, timedlock tv_nsec=1e9"), r.rc, 0);
	r = timed_in_other_thread(m, false, 0, bad_lo);
	expect_rc(LB("free, timedlock tv_nsec=-1"), r.rc, 0);
	r = timed_in_other_thread(m, true, CLOCK_MONOTONIC, deadline_in(CLOCK_MONOTONIC, -1000));
	expect_rc(LB("free, clocklock MONOTONIC expired"), r.rc, 0);
	r = timed_in_other_thread(m, true, CLOCK_MONOTONIC, bad_hi);
	expect_rc(LB("free, clocklock MONOTONIC tv_nsec=1e9"), r.rc, 0);
	r = timed_in_other_thread(m, true, CLOCK_PROCESS_CPUTIME_ID,
				  deadline_in(CLOCK_REALTIME, 20));
	expect_rc(LB("free, clocklock PROCESS_CPUTIME"), r.rc, EINVAL);
	expect_rc(LB("free after the timed calls: trylock"), pthread_mutex_trylock(m), 0);
	must(pthread_mutex_unlock(m));

	/* a waiter with a far deadline gets the lock once the owner unlocks; the pause
	 * only makes it likely that the waiter sleeps first, the answer is the same */
	struct timespec far[] = {
		deadline_in(CLOCK_REALTIME, 30000),
		{0x7fffffffffffffffL, 999999999}, /* the end of time */
	};
	for (int i = 0; i < 2; i++) {
		for (int use_clock = 0; use_clock < 2; use_clock++) {
			struct timed a = {m, use_clock, CLOCK_REALTIME, far[i], -1, false};
			if (use_clock && i == 0) {
				a.clock = CLOCK_MONOTONIC;
				a.t = deadline_in(CLOCK_MONOTONIC, 30000);
			}
			pthread_t th;
			must(pthread_mutex_lock(m));
			start_thread(&th, timed_main, &a);
			usleep(5000);
			must(pthread_mutex_unlock(m));
			join_thread(th);
			static const char *what[2][2] = {
				{"released, timedlock +30s", "released, clocklock MONOTONIC +30s"},
				{"released, timedlock at the end of time",
				 "released, clocklock REALTIME at the end of time"},
			};
			expect_rc(LB(what[i][use_clock]), a.rc, 0);
		}
	}
#undef LB
}

int main(void)
{
	pthread_mutex_t normal = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	pthread_mutex_t ec = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	pthread_mutex_t adaptive = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
	exercise(&normal, "normal");
	exercise(&rec, "recursive");
	exercise(&ec, "errorcheck");
	exercise(&adaptive, "adaptive");

	/* by the owner: recursive counts, errorcheck refuses, normal waits it out */
	struct timespec soon = deadline_in(CLOCK_REALTIME, 20);
	must(pthread_mutex_lock(&normal));
	expect_rc("normal: timedlock by owner +20ms", pthread_mutex_timedlock(&normal, &soon),
		  ETIMEDOUT);
	expect_true("normal: timedlock by owner returned after its deadline",
		    reached(CLOCK_REALTIME, &soon));
	must(pthread_mutex_unlock(&normal));
	must(pthread_mutex_lock(&ec));
	struct timespec bad = {0, 1000000000};
	expect_rc("errorcheck: timedlock by owner, tv_nsec=1e9", pthread_mutex_timedlock(&ec, &bad),
		  EDEADLK);
	must(pthread_mutex_unlock(&ec));
	must(pthread_mutex_lock(&rec));
	expect_rc("recursive: timedlock by owner, tv_nsec=1e9",
		  pthread_mutex_timedlock(&rec, &bad), 0);
	expect_rc("recursive: clocklock by owner, MONOTONIC",
		  pthread_mutex_clocklock(&rec, CLOCK_MONOTONIC, &bad), 0);
	expect_rc("recursive: unlock", pthread_mutex_unlock(&rec), 0);
	expect_rc("recursive: unlock", pthread_mutex_unlock(&rec), 0);
	expect_rc("recursive: unlock", pthread_mutex_unlock(&rec), 0);
	expect_rc("recursive: unlock", pthread_mutex_unlock(&rec), EPERM);
	return posix_test_done();
}
