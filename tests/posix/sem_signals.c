/* Semaphores and signal handlers: a handler that runs while a thread sleeps in
 * sem_wait, sem_timedwait or sem_clockwait makes it fail with EINTR — except sem_wait
 * under an SA_RESTART handler, which the kernel restarts (it restarts a futex wait
 * without a timeout, never one with an absolute timeout). sem_post is called from
 * handlers: on the sleeping thread itself and on another thread. */
#include "posix_test.h"

#include <semaphore.h>
#include <signal.h>
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

/* Waits until thread `tid` sleeps in the futex system call on `addr` (the kernel shows
 * its current system call in /proc). */
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
static int handled; /* handler runs (atomic) */
static bool handler_posts;

static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	if (handler_posts)
		sem_post(&sem);
	__atomic_fetch_add(&handled, 1, __ATOMIC_RELEASE);
	errno = saved;
}

static void install(bool restart)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	must(sigaction(SIGUSR1, &sa, NULL));
}

enum op { OP_WAIT, OP_TIMEDWAIT, OP_CLOCKWAIT_MONO, OP_CLOCKWAIT_REAL };
static const char *const op_name[] = { "sem_wait", "sem_timedwait", "sem_clockwait(MONOTONIC)",
				       "sem_clockwait(REALTIME)" };

struct waiter {
	enum op op;
	pid_t tid;
	int ready;
	int result;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct timespec t;
	int r;

	w->tid = gettid();
	__atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
	switch (w->op) {
	case OP_WAIT:
		r = sem_wait(&sem);
		break;
	case OP_TIMEDWAIT:
		t = deadline_in(CLOCK_REALTIME, 20000);
		r = sem_timedwait(&sem, &t);
		break;
	case OP_CLOCKWAIT_MONO:
		t = deadline_in(CLOCK_MONOTONIC, 20000);
		r = sem_clockwait(&sem, CLOCK_MONOTONIC, &t);
		break;
	default:
		t = deadline_in(CLOCK_REALTIME, 20000);
		r = sem_clockwait(&sem, CLOCK_REALTIME, &t);
		break;
	}
	w->result = rc(r);
	return NULL;
}

/* Starts a waiter doing `op` on `sem` and returns once it sleeps. */
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

/* Signals `t` and waits until the handler has run. */
static void signal_and_wait(pthread_t t)
{
	int before = __atomic_load_n(&handled, __ATOMIC_ACQUIRE);
	must(pthread_kill(t, SIGUSR1));
	while (__atomic_load_n(&handled, __ATOMIC_ACQUIRE) == before)
		usleep(100);
}

/* An empty handler interrupts a sleeping waiter. */
static void test_interrupt(bool restart)
{
	char label[128];

	install(restart);
	handler_posts = false;
	for (enum op op = OP_WAIT; op <= OP_CLOCKWAIT_REAL; op++) {
		struct waiter w;
		must(sem_init(&sem, 0, 0));
		pthread_t t = start_waiter(&w, op);
		signal_and_wait(t);
		bool restarts = restart && op == OP_WAIT;
		if (restarts) {
			/* still waiting: it went back to sleep; a post ends it */
			wait_blocked(w.tid, &sem);
			must(sem_post(&sem));
		}
		join_thread(t);
		snprintf(label, sizeof label, "%s, %s handler", op_name[op],
			 restart ? "SA_RESTART" : "plain");
		expect_rc(label, w.result, restarts ? 0 : EINTR);
		snprintf(label, sizeof label, "%s, %s handler: value after", op_name[op],
			 restart ? "SA_RESTART" : "plain");
		expect_long(label, value_of(&sem), 0);
		/* the semaphore still works: a post, then a wait */
		must(sem_post(&sem));
		expect_rc("  then trywait", rc(sem_trywait(&sem)), 0);
		must(sem_destroy(&sem));
	}
}

/* The handler posts while running on the sleeping thread itself. */
static void test_post_on_sleeper(bool restart)
{
	char label[128];

	install(restart);
	handler_posts = true;
	for (enum op op = OP_WAIT; op <= OP_CLOCKWAIT_MONO; op++) {
		struct waiter w;
		must(sem_init(&sem, 0, 0));
		pthread_t t = start_waiter(&w, op);
		signal_and_wait(t);
		join_thread(t);
		/* restarted: the wait takes the handler's token; else EINTR and it stays */
		bool restarts = restart && op == OP_WAIT;
		snprintf(label, sizeof label, "%s, %s handler posting on the sleeper", op_name[op],
			 restart ? "SA_RESTART" : "plain");
		expect_rc(label, w.result, restarts ? 0 : EINTR);
		expect_long("  value after", value_of(&sem), restarts ? 0 : 1);
		must(sem_destroy(&sem));
	}
	handler_posts = false;
}

/* The handler posts on another thread: the sleeper takes the token. */
static void test_post_from_other(void)
{
	install(true);
	handler_posts = true;
	for (enum op op = OP_WAIT; op <= OP_CLOCKWAIT_REAL; op++) {
		struct waiter w;
		char label[128];
		must(sem_init(&sem, 0, 0));
		pthread_t t = start_waiter(&w, op);
		signal_and_wait(pthread_self());
		join_thread(t);
		snprintf(label, sizeof label, "%s woken by a post in another thread's handler",
			 op_name[op]);
		expect_rc(label, w.result, 0);
		expect_long("  value after", value_of(&sem), 0);
		must(sem_destroy(&sem));
	}
	handler_posts = false;
}

int main(void)
{
	test_interrupt(false);
	test_interrupt(true);
	test_post_on_sleeper(false);
	test_post_on_sleeper(true);
	test_post_from_other();
	return posix_test_done();
}
