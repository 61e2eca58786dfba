/* pthread_once with a routine that does not return: cancelled inside a cancellation
 * point, or leaving with pthread_exit. POSIX: the once is then as if never called, so
 * a caller that was waiting, or the next caller, runs the routine. */
#include "posix_test.h"

#include <sys/syscall.h>

/* Waits until thread `tid` sleeps in a futex system call (where a pthread_once
 * waiter sleeps, under glibc and under the shim alike). */
static void wait_in_futex(pid_t tid)
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
		if (ok && sscanf(line, "%ld", &nr) == 1 && nr == SYS_futex)
			return;
		usleep(100);
	}
	printf("FATAL: thread %d never slept\n", (int)tid);
	exit(2);
}

static pthread_once_t once;
static int started;   /* routine invocations (atomic) */
static int completed; /* invocations that returned */
static int value;     /* written by the completing invocation */
static int inside;    /* the first invocation is at its blocking point (atomic) */
static int cleaned;   /* the first invocation's cleanup handler ran */
static bool use_exit; /* the first invocation calls pthread_exit instead of blocking */
static int exit_now;  /* tells it to (atomic) */

static void mark_cleaned(void *arg)
{
	(void)arg;
	cleaned = 1;
}

static void routine(void)
{
	if (__atomic_fetch_add(&started, 1, __ATOMIC_RELAXED) == 0) {
		pthread_cleanup_push(mark_cleaned, NULL);
		__atomic_store_n(&inside, 1, __ATOMIC_RELEASE);
		if (use_exit) {
			while (!__atomic_load_n(&exit_now, __ATOMIC_ACQUIRE))
				usleep(100);
			pthread_exit((void *)7);
		}
		for (;;)
			pause(); /* a cancellation point */
		pthread_cleanup_pop(0);
	}
	value = 1234;
	completed++;
}

static void *runner_main(void *arg)
{
	(void)arg;
	pthread_once(&once, routine);
	return (void *)1; /* never: the first invocation does not return */
}

struct waiter {
	pid_t tid;
	int ready;
	int rc;
	int seen;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	w->tid = gettid();
	__atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
	w->rc = pthread_once(&once, routine);
	w->seen = value;
	return NULL;
}

enum { WAITERS = 3 };

static void run_case(bool exit_instead, int waiters)
{
	struct waiter w[WAITERS];
	pthread_t runner, t[WAITERS];
	char label[128];
	const char *how = exit_instead ? "pthread_exit" : "cancel";

	once = (pthread_once_t)PTHREAD_ONCE_INIT;
	started = completed = value = inside = cleaned = exit_now = 0;
	use_exit = exit_instead;
	start_thread(&runner, runner_main, NULL);
	while (!__atomic_load_n(&inside, __ATOMIC_ACQUIRE))
		usleep(100);
	for (int i = 0; i < waiters; i++) {
		w[i] = (struct waiter){ .rc = -1 };
		start_thread(&t[i], waiter_main, &w[i]);
		while (!__atomic_load_n(&w[i].ready, __ATOMIC_ACQUIRE))
			usleep(100);
		wait_in_futex(w[i].tid);
	}
	if (exit_instead)
		__atomic_store_n(&exit_now, 1, __ATOMIC_RELEASE);
	else
		must(pthread_cancel(runner));
	void *ret = join_thread(runner);
	snprintf(label, sizeof label, "%s with %d waiters: runner ended by it", how, waiters);
	expect_true(label, ret == (exit_instead ? (void *)7 : PTHREAD_CANCELED));
	expect_true("  its cleanup handler ran", cleaned == 1);
	int ok = 0;
	for (int i = 0; i < waiters; i++) {
		join_thread(t[i]);
		ok += w[i].rc == 0 && w[i].seen == 1234;
	}
	expect_long("  waiters that returned 0 and saw the routine's writes", ok, waiters);
	if (waiters == 0) {
		/* nobody was waiting: the next call runs the routine */
		expect_rc("  next pthread_once", pthread_once(&once, routine), 0);
	}
	expect_long("  invocations started", started, 2);
	expect_long("  invocations completed", completed, 1);
	expect_rc("  pthread_once afterwards", pthread_once(&once, routine), 0);
	expect_long("  invocations started after that", started, 2);
}

int main(void)
{
	run_case(false, WAITERS);
	run_case(false, 0);
	run_case(true, 1);
	run_case(true, 0);
	return posix_test_done();
}
