/* sem_wait, sem_timedwait and sem_clockwait are cancellation points: a thread
 * cancelled while it sleeps runs its cleanup handlers and leaves the semaphore
 * consistent (value unchanged, no waiter left registered, later posts go to the
 * remaining waiters). sem_wait and sem_timedwait act on a pending cancel even with a
 * token available (glibc tests first); sem_clockwait and sem_trywait then just take
 * the token.
 *
 * "waiters registered" reads the high half of the semaphore's first 64-bit word:
 * glibc's nwaiters on 64-bit targets, which the shim keeps in the same place. */
#include "posix_test.h"

#include <semaphore.h>
#include <stdint.h>
#include <sys/syscall.h>

static int rc(int r)
{
	return r == 0 ? 0 : r == -1 ? errno : -1000 - r;
}

static int value_of(sem_t *s)
{
	int v = -12345;
	must(sem_getvalue(s, &v));
	return v;
}

static long waiters_of(sem_t *s)
{
	return (long)(__atomic_load_n((uint64_t *)s, __ATOMIC_RELAXED) >> 32);
}

static void wait_blocked(pid_t tid, const void *addr)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	for (int i = 0; i < 100000; i++) {
		FILE *f = fopen(path, "r");
		if (!f)
			break;
		bool ok = fgets(line, sizeof line, f) != NULL;
		fclose(f);
		long nr;
		unsigned long a;
		if (ok && sscanf(line, "%ld %lx", &nr, &a) == 2 && nr == SYS_futex &&
		    a == (unsigned long)addr)
			return;
		usleep(100);
	}
	printf("FATAL: thread %d never blocked\n", (int)tid);
	exit(2);
}

static sem_t sem;

enum op { OP_WAIT, OP_TIMEDWAIT, OP_CLOCKWAIT };
static const char *const op_name[] = { "sem_wait", "sem_timedwait", "sem_clockwait" };

struct waiter {
	enum op op;
	pid_t tid;
	int ready;
	int cleaned;  /* its cleanup handler ran */
	int returned; /* the wait returned (not cancelled) */
	int result;
};

static void cleanup(void *arg)
{
	((struct waiter *)arg)->cleaned = 1;
}

static int do_wait(enum op op)
{
	struct timespec t;
	switch (op) {
	case OP_WAIT:
		return rc(sem_wait(&sem));
	case OP_TIMEDWAIT:
		t = deadline_in(CLOCK_REALTIME, 20000);
		return rc(sem_timedwait(&sem, &t));
	default:
		t = deadline_in(CLOCK_MONOTONIC, 20000);
		return rc(sem_clockwait(&sem, CLOCK_MONOTONIC, &t));
	}
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->tid = gettid();
	pthread_cleanup_push(cleanup, w);
	__atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
	w->result = do_wait(w->op);
	w->returned = 1;
	pthread_cleanup_pop(0);
	return NULL;
}

static pthread_t start_waiter(struct waiter *w, enum op op)
{
	pthread_t t;
	*w = (struct waiter){ .op = op };
	start_thread(&t, waiter_main, w);
	while (!__atomic_load_n(&w->ready, __ATOMIC_ACQUIRE))
		usleep(100);
	wait_blocked(w->tid, &sem);
	return t;
}

/* One sleeping waiter, cancelled. */
static void test_cancel_sleeper(void)
{
	char label[128];

	for (enum op op = OP_WAIT; op <= OP_CLOCKWAIT; op++) {
		struct waiter w;
		must(sem_init(&sem, 0, 0));
		pthread_t t = start_waiter(&w, op);
		must(pthread_cancel(t));
		void *ret = join_thread(t);
		snprintf(label, sizeof label, "%s cancelled while asleep", op_name[op]);
		expect_true(label, ret == PTHREAD_CANCELED && w.cleaned && !w.returned);
		expect_long("  value", value_of(&sem), 0);
		expect_long("  waiters registered", waiters_of(&sem), 0);
		must(sem_post(&sem));
		expect_long("  value after a post", value_of(&sem), 1);
		expect_rc("  trywait", rc(sem_trywait(&sem)), 0);
		must(sem_destroy(&sem));
	}
}

/* Several sleepers, half of them cancelled: the posts reach the others. */
enum { SLEEPERS = 6 };

static void test_cancel_some(void)
{
	struct waiter w[SLEEPERS];
	pthread_t t[SLEEPERS];
	int cancelled = 0, got = 0;

	must(sem_init(&sem, 0, 0));
	for (int i = 0; i < SLEEPERS; i++)
		t[i] = start_waiter(&w[i], (enum op)(i % 3));
	expect_long("waiters registered with 6 asleep", waiters_of(&sem), SLEEPERS);
	for (int i = 0; i < SLEEPERS; i += 2)
		must(pthread_cancel(t[i]));
	for (int i = 0; i < SLEEPERS; i += 2)
		cancelled += join_thread(t[i]) == PTHREAD_CANCELED;
	expect_long("cancelled", cancelled, SLEEPERS / 2);
	expect_long("waiters registered after the cancels", waiters_of(&sem), SLEEPERS / 2);
	for (int i = 1; i < SLEEPERS; i += 2)
		must(sem_post(&sem));
	for (int i = 1; i < SLEEPERS; i += 2) {
		join_thread(t[i]);
		got += w[i].returned && w[i].result == 0;
	}
	expect_long("remaining waiters that got a token", got, SLEEPERS / 2);
	expect_long("value", value_of(&sem), 0);
	expect_long("waiters registered at the end", waiters_of(&sem), 0);
	must(sem_destroy(&sem));
}

/* A cancel already pending when the call is made, a token available. */
enum pop { P_TRYWAIT, P_WAIT, P_TIMEDWAIT, P_TIMEDWAIT_BADNS, P_CLOCKWAIT, P_CLOCKWAIT_BADNS,
	   P_COUNT };
static const char *const pop_name[] = {
	"sem_trywait", "sem_wait", "sem_timedwait", "sem_timedwait(bad nsec)",
	"sem_clockwait", "sem_clockwait(bad nsec)",
};

/* glibc 2.36: sem_wait and sem_timedwait test for cancellation (after the tv_nsec
 * check); sem_clockwait does not unless it sleeps. */
static const bool pending_cancels[P_COUNT] = { false, true, true, false, false, false };
static const int pending_rc[P_COUNT] = { 0, 0, 0, EINVAL, 0, EINVAL };

struct pending {
	enum pop op;
	int returned;
	int result;
};

static void *pending_main(void *arg)
{
	struct pending *p = arg;
	struct timespec t = deadline_in(p->op == P_CLOCKWAIT || p->op == P_CLOCKWAIT_BADNS
						? CLOCK_MONOTONIC : CLOCK_REALTIME, 20000);
	int r;

	if (p->op == P_TIMEDWAIT_BADNS || p->op == P_CLOCKWAIT_BADNS)
		t.tv_nsec = 1000000000;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_cancel(pthread_self());
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	switch (p->op) {
	case P_TRYWAIT: r = sem_trywait(&sem); break;
	case P_WAIT: r = sem_wait(&sem); break;
	case P_TIMEDWAIT:
	case P_TIMEDWAIT_BADNS: r = sem_timedwait(&sem, &t); break;
	default: r = sem_clockwait(&sem, CLOCK_MONOTONIC, &t); break;
	}
	p->result = rc(r);
	p->returned = 1;
	return NULL; /* leaves with the cancel still pending */
}

/* A pending cancel and no token: the wait is cancelled when it would sleep. */
static void *pending_empty_main(void *arg)
{
	struct pending *p = arg;
	struct timespec t = deadline_in(CLOCK_MONOTONIC, 20000);

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_cancel(pthread_self());
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	sem_clockwait(&sem, CLOCK_MONOTONIC, &t);
	p->returned = 1; /* not reached */
	return NULL;
}

static void test_pending_cancel(void)
{
	char label[128];
	pthread_t t;

	for (enum pop op = 0; op < P_COUNT; op++) {
		struct pending p = { .op = op };
		must(sem_init(&sem, 0, 1));
		start_thread(&t, pending_main, &p);
		void *ret = join_thread(t);
		snprintf(label, sizeof label, "pending cancel, token available: %s cancelled",
			 pop_name[op]);
		expect_true(label, (ret == PTHREAD_CANCELED) == pending_cancels[op]);
		if (ret != PTHREAD_CANCELED) {
			snprintf(label, sizeof label, "  %s returned", pop_name[op]);
			expect_rc(label, p.result, pending_rc[op]);
		}
		snprintf(label, sizeof label, "  value after %s", pop_name[op]);
		expect_long(label, value_of(&sem), ret == PTHREAD_CANCELED || p.result != 0 ? 1 : 0);
		must(sem_destroy(&sem));
	}

	struct pending p = { 0 };
	must(sem_init(&sem, 0, 0));
	start_thread(&t, pending_empty_main, &p);
	void *ret = join_thread(t);
	expect_true("pending cancel, no token: clockwait cancelled",
		    ret == PTHREAD_CANCELED && !p.returned);
	expect_long("  waiters registered", waiters_of(&sem), 0);
	expect_long("  value", value_of(&sem), 0);
	must(sem_destroy(&sem));
}

/* Cancels racing posts: every token is either taken by a waiter that returned or
 * still in the semaphore, and no waiter stays registered. */
enum { RACE_THREADS = 6, RACE_ROUNDS = 150 };

static int race_taken; /* atomic */

static void *race_main(void *arg)
{
	(void)arg;
	for (;;) {
		if (do_wait(OP_WAIT) == 0)
			__atomic_fetch_add(&race_taken, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_cancel_races_posts(void)
{
	int posted = 0;

	must(sem_init(&sem, 0, 0));
	for (int round = 0; round < RACE_ROUNDS; round++) {
		pthread_t t[RACE_THREADS];
		for (int i = 0; i < RACE_THREADS; i++)
			start_thread(&t[i], race_main, NULL);
		for (int i = 0; i < RACE_THREADS; i++) {
			must(sem_post(&sem));
			posted++;
			must(pthread_cancel(t[i]));
		}
		for (int i = 0; i < RACE_THREADS; i++)
			join_thread(t[i]);
	}
	int left = value_of(&sem);
	expect_true("cancels racing posts: taken + left == posted",
		    __atomic_load_n(&race_taken, __ATOMIC_RELAXED) + left == posted);
	expect_long("  waiters registered at the end", waiters_of(&sem), 0);
	must(sem_destroy(&sem));
}

int main(void)
{
	test_cancel_sleeper();
	test_cancel_some();
	test_pending_cancel();
	test_cancel_races_posts();
	return posix_test_done();
}
