/* fork while a pthread_once routine runs. The thread running it (and any thread
 * waiting for it) does not exist in the child, so the child's own call must run the
 * routine rather than wait forever — glibc marks the in-progress state with a fork
 * generation for this. And when the runner itself forks from inside the routine, the
 * child's copy of it returns from the routine and completes the once there. */
#include "posix_test.h"

#include <sys/syscall.h>
#include <sys/wait.h>

static int wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

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

/* --- another thread is inside the routine ------------------------------------ */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int calls;   /* routine invocations in this process (atomic) */
static int inside;  /* the parent's runner is inside (atomic) */
static int release; /* lets it return (atomic) */

static void slow_routine(void)
{
	__atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&inside, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&release, __ATOMIC_ACQUIRE))
		usleep(100);
}

static void *runner_main(void *arg)
{
	(void)arg;
	pthread_once(&once, slow_routine);
	return NULL;
}

static pid_t waiter_tid;
static int waiter_ready;

static void *waiter_main(void *arg)
{
	(void)arg;
	waiter_tid = gettid();
	__atomic_store_n(&waiter_ready, 1, __ATOMIC_RELEASE);
	pthread_once(&once, slow_routine);
	return NULL;
}

static void quick_routine(void) { __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED); }

static void test_other_thread_inside(void)
{
	pthread_t runner, waiter;

	start_thread(&runner, runner_main, NULL);
	while (!__atomic_load_n(&inside, __ATOMIC_ACQUIRE))
		usleep(100);
	start_thread(&waiter, waiter_main, NULL);
	while (!__atomic_load_n(&waiter_ready, __ATOMIC_ACQUIRE))
		usleep(100);
	wait_in_futex(waiter_tid);

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(POSIX_TEST_ALARM); /* a fork does not inherit the watchdog */
		/* calls is 1 here (the parent's runner); the child runs the routine */
		expect_rc("child: pthread_once while the parent's runner is inside",
			  pthread_once(&once, quick_routine), 0);
		expect_long("child: routine invocations (parent's + child's)", calls, 2);
		expect_rc("child: pthread_once again", pthread_once(&once, quick_routine), 0);
		expect_long("child: invocations after that", calls, 2);
		_exit(posix_test_done());
	}
	expect_long("child's exit", wait_child(pid), 0);
	__atomic_store_n(&release, 1, __ATOMIC_RELEASE);
	join_thread(runner);
	join_thread(waiter);
	expect_long("parent: routine invocations", calls, 1);
	expect_rc("parent: pthread_once afterwards", pthread_once(&once, quick_routine), 0);
	expect_long("parent: invocations after that", calls, 1);
}

/* --- the runner forks from inside the routine -------------------------------- */

static pthread_once_t once2 = PTHREAD_ONCE_INIT;
static int calls2;
static pid_t forked; /* in the parent: the child's pid; in the child: 0 */

static void forking_routine(void)
{
	calls2++;
	fflush(stdout);
	forked = fork();
	if (forked == 0)
		alarm(POSIX_TEST_ALARM);
}

static void test_fork_inside(void)
{
	int r = pthread_once(&once2, forking_routine);
	if (forked == 0) {
		/* the child: its copy of the routine returned and completed the once */
		expect_rc("child: pthread_once with a routine that forked", r, 0);
		expect_rc("child: pthread_once again", pthread_once(&once2, forking_routine), 0);
		expect_long("child: routine invocations", calls2, 1);
		_exit(posix_test_done());
	}
	expect_long("child's exit", wait_child(forked), 0); /* first: the child prints */
	expect_rc("parent: pthread_once with a routine that forked", r, 0);
	expect_rc("parent: pthread_once again", pthread_once(&once2, forking_routine), 0);
	expect_long("parent: routine invocations", calls2, 1);
}

int main(void)
{
	test_other_thread_inside();
	test_fork_inside();
	return posix_test_done();
}
