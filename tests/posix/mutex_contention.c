/* Mutual exclusion under contention: 8 threads bump a counter behind each kind of
 * mutex through every way of locking it (lock, trylock loops, timed locks with far
 * deadlines, nested recursive locks); then 8 threads lock pairs out of 64 mutexes in
 * address order and move units between 64 accounts, whose total must not change.
 * Another thread watching the protected data must never see it half-updated. */
#include "posix_test.h"

#define THREADS 8
#define ITERS 20000

enum how { LOCK, TRYLOCK, TIMEDLOCK, CLOCKLOCK, NESTED };

struct shared {
	pthread_mutex_t *m;
	enum how how;
	long n;
	long shadow; /* always equal to n outside the critical section */
	long torn;   /* times a holder saw n != shadow */
};

static void *worker(void *arg)
{
	struct shared *s = arg;
	for (int i = 0; i < ITERS; i++) {
		switch (s->how) {
		case LOCK:
			must(pthread_mutex_lock(s->m));
			break;
		case TRYLOCK: {
			int rc;
			while ((rc = pthread_mutex_trylock(s->m)) == EBUSY)
				sched_yield();
			must(rc);
			break;
		}
		case TIMEDLOCK: {
			struct timespec t = deadline_in(CLOCK_REALTIME, 60000);
			must(pthread_mutex_timedlock(s->m, &t));
			break;
		}
		case CLOCKLOCK: {
			struct timespec t = deadline_in(CLOCK_MONOTONIC, 60000);
			must(pthread_mutex_clocklock(s->m, CLOCK_MONOTONIC, &t));
			break;
		}
		case NESTED:
			must(pthread_mutex_lock(s->m));
			must(pthread_mutex_lock(s->m));
			must(pthread_mutex_trylock(s->m));
			break;
		}
		if (s->n != s->shadow)
			s->torn++;
		s->n++;
		s->shadow++;
		if (s->how == NESTED) {
			must(pthread_mutex_unlock(s->m));
			must(pthread_mutex_unlock(s->m));
		}
		must(pthread_mutex_unlock(s->m));
	}
	return NULL;
}

static void run(pthread_mutex_t *m, enum how how, const char *label)
{
	struct shared s = {m, how, 0, 0, 0};
	pthread_t t[THREADS];
	char lb[128];
	for (int i = 0; i < THREADS; i++)
		start_thread(&t[i], worker, &s);
	for (int i = 0; i < THREADS; i++)
		join_thread(t[i]);
	snprintf(lb, sizeof lb, "%s: count", label);
	expect_long(lb, s.n, (long)THREADS * ITERS);
	snprintf(lb, sizeof lb, "%s: torn reads", label);
	expect_long(lb, s.torn, 0);
	snprintf(lb, sizeof lb, "%s: free afterwards", label);
	int rc = pthread_mutex_trylock(m);
	expect_rc(lb, rc, 0);
	if (rc == 0)
		pthread_mutex_unlock(m);
}

/* --- transfers between accounts, two locks at a time ------------------------------ */
#define ACCOUNTS 64
static pthread_mutex_t account_lock[ACCOUNTS];
static long balance[ACCOUNTS];

static void *transfer_worker(void *arg)
{
	unsigned seed = (unsigned)(long)arg * 2654435761u + 1;
	for (int i = 0; i < ITERS; i++) {
		seed = seed * 1103515245u + 12345u;
		int a = (seed >> 8) % ACCOUNTS;
		seed = seed * 1103515245u + 12345u;
		int b = (seed >> 8) % ACCOUNTS;
		if (a == b)
			continue;
		int lo = a < b ? a : b, hi = a < b ? b : a;
		must(pthread_mutex_lock(&account_lock[lo]));
		must(pthread_mutex_lock(&account_lock[hi]));
		balance[a] -= 7;
		balance[b] += 7;
		must(pthread_mutex_unlock(&account_lock[hi]));
		must(pthread_mutex_unlock(&account_lock[lo]));
	}
	return NULL;
}

int main(void)
{
	static pthread_mutex_t normal = PTHREAD_MUTEX_INITIALIZER;
	static pthread_mutex_t adaptive = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
	static pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	static pthread_mutex_t ec = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

	run(&normal, LOCK, "normal lock");
	run(&normal, TRYLOCK, "normal trylock");
	run(&normal, TIMEDLOCK, "normal timedlock");
	run(&normal, CLOCKLOCK, "normal clocklock");
	run(&adaptive, LOCK, "adaptive lock");
	run(&adaptive, TIMEDLOCK, "adaptive timedlock");
	run(&rec, LOCK, "recursive lock");
	run(&rec, NESTED, "recursive nested");
	run(&rec, TIMEDLOCK, "recursive timedlock");
	run(&ec, LOCK, "errorcheck lock");
	run(&ec, TRYLOCK, "errorcheck trylock");
	run(&ec, CLOCKLOCK, "errorcheck clocklock");

	pthread_mutexattr_t a;
	must(pthread_mutexattr_init(&a));
	for (int i = 0; i < ACCOUNTS; i++) {
		/* every kind in the mix */
		static const int types[] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE,
					    PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_ADAPTIVE_NP};
		must(pthread_mutexattr_settype(&a, types[i % 4]));
		must(pthread_mutex_init(&account_lock[i], &a));
		balance[i] = 1000;
	}
	pthread_mutexattr_destroy(&a);
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		start_thread(&t[i], transfer_worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		join_thread(t[i]);
	long total = 0;
	int busy = 0;
	for (int i = 0; i < ACCOUNTS; i++) {
		total += balance[i];
		busy += pthread_mutex_destroy(&account_lock[i]) != 0;
	}
	expect_long("transfers: total balance", total, 1000L * ACCOUNTS);
	expect_long("transfers: mutexes left busy", busy, 0);
	return posix_test_done();
}
