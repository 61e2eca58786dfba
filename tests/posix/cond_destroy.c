/* pthread_cond_destroy and the life of a cond:
 *  - PTHREAD_COND_INITIALIZER needs no init; init, destroy, init again, use again;
 *  - after a broadcast no thread is blocked on the cond, so it may be destroyed at
 *    once — here under the mutex, while the woken waiters still wait for the mutex —
 *    and its memory scribbled over and freed before they return;
 *  - after every waiter timed out or was cancelled the cond can be destroyed;
 *  - the completion pattern: a worker signals "done" and unlocks; the waiting thread
 *    destroys the mutex and the cond and frees their memory as soon as it has the
 *    mutex back (nothing may touch an object after the call that lets another thread
 *    finish with it), 2000 times with the memory reused and scribbled over. */
#include "posix_test.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static bool go;
static int sleepers, returned;

static void unlock_m(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&m);
}

static void *waiter(void *arg)
{
	pthread_cond_t *c = arg;
	must(pthread_mutex_lock(&m));
	pthread_cleanup_push(unlock_m, NULL);
	sleepers++;
	while (!go)
		must(pthread_cond_wait(c, &m));
	returned++;
	pthread_cleanup_pop(1);
	return NULL;
}

static void *timed_waiter(void *arg)
{
	pthread_cond_t *c = arg;
	struct timespec t = deadline_in(CLOCK_REALTIME, 10);
	int rc;
	must(pthread_mutex_lock(&m));
	while ((rc = pthread_cond_timedwait(c, &m, &t)) == 0)
		;
	must(pthread_mutex_unlock(&m));
	return (void *)(long)rc;
}

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

/* --- the completion pattern ------------------------------------------------------- */
struct job {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool done;
};

static void *job_worker(void *arg)
{
	struct job *j = arg;
	must(pthread_mutex_lock(&j->m));
	j->done = true;
	must(pthread_cond_signal(&j->c));
	must(pthread_mutex_unlock(&j->m));
	return NULL;
}

int main(void)
{
	pthread_cond_t s = PTHREAD_COND_INITIALIZER;
	expect_rc("static: signal", pthread_cond_signal(&s), 0);
	expect_rc("static: destroy", pthread_cond_destroy(&s), 0);
	expect_rc("static: init again", pthread_cond_init(&s, NULL), 0);
	struct timespec t = deadline_in(CLOCK_REALTIME, 5);
	must(pthread_mutex_lock(&m));
	expect_rc("static: timedwait after init again", pthread_cond_timedwait(&s, &m, &t),
		  ETIMEDOUT);
	must(pthread_mutex_unlock(&m));
	expect_rc("static: destroy again", pthread_cond_destroy(&s), 0);

	/* broadcast, destroy under the mutex, scribble, free, then let the waiters go */
	enum { N = 4, ROUNDS = 100 };
	long all_returned = 0;
	int destroyed = 0;
	for (int r = 0; r < ROUNDS; r++) {
		pthread_cond_t *c = malloc(sizeof *c);
		pthread_t th[N];
		must(pthread_cond_init(c, NULL));
		go = false;
		sleepers = returned = 0;
		for (int i = 0; i < N; i++)
			start_thread(&th[i], waiter, c);
		lock_when_sleeping(N);
		go = true;
		must(pthread_cond_broadcast(c));
		destroyed += pthread_cond_destroy(c) == 0;
		memset(c, 0xa5, sizeof *c);
		free(c);
		must(pthread_mutex_unlock(&m));
		for (int i = 0; i < N; i++)
			join_thread(th[i]);
		all_returned += returned;
	}
	expect_long("broadcast then destroy: destroyed", destroyed, ROUNDS);
	expect_long("broadcast then destroy: waiters returned", all_returned, (long)N * ROUNDS);

	/* every waiter timed out */
	pthread_cond_t c;
	must(pthread_cond_init(&c, NULL));
	pthread_t th[N];
	for (int i = 0; i < N; i++)
		start_thread(&th[i], timed_waiter, &c);
	int timedout = 0;
	for (int i = 0; i < N; i++)
		timedout += (long)join_thread(th[i]) == ETIMEDOUT;
	expect_long("timed out: waiters", timedout, N);
	expect_rc("timed out: destroy", pthread_cond_destroy(&c), 0);

	/* every waiter cancelled */
	must(pthread_cond_init(&c, NULL));
	go = false;
	sleepers = 0;
	for (int i = 0; i < N; i++)
		start_thread(&th[i], waiter, &c);
	lock_when_sleeping(N);
	for (int i = 0; i < N; i++)
		must(pthread_cancel(th[i]));
	must(pthread_mutex_unlock(&m));
	int cancelled = 0;
	for (int i = 0; i < N; i++)
		cancelled += join_thread(th[i]) == PTHREAD_CANCELED;
	expect_long("cancelled: waiters", cancelled, N);
	expect_rc("cancelled: destroy", pthread_cond_destroy(&c), 0);
	expect_rc("cancelled: mutex free", pthread_mutex_trylock(&m), 0);
	must(pthread_mutex_unlock(&m));

	/* the completion pattern */
	int completed = 0;
	for (int r = 0; r < 2000; r++) {
		struct job *j = malloc(sizeof *j);
		pthread_t w;
		must(pthread_mutex_init(&j->m, NULL));
		must(pthread_cond_init(&j->c, NULL));
		j->done = false;
		start_thread(&w, job_worker, j);
		must(pthread_mutex_lock(&j->m));
		while (!j->done)
			must(pthread_cond_wait(&j->c, &j->m));
		must(pthread_mutex_unlock(&j->m));
		completed += pthread_mutex_destroy(&j->m) == 0 && pthread_cond_destroy(&j->c) == 0;
		memset(j, 0x5a, sizeof *j);
		free(j);
		must(pthread_detach(w));
	}
	expect_long("completion: jobs", completed, 2000);
	return posix_test_done();
}
