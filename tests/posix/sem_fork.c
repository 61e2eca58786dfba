/* fork while threads of the parent sleep in sem_wait: the child (whose only thread is
 * the forking one) uses the same semaphore normally — its waiters are not there — and
 * the parent's waiters still get the parent's posts. */
#include "posix_test.h"

#include <semaphore.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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

enum { SLEEPERS = 3 };

static sem_t sem;

struct sleeper {
	pid_t tid;
	int ready;
	int result;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	s->tid = gettid();
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	s->result = rc(sem_wait(&sem));
	return NULL;
}

static void *child_poster(void *arg)
{
	usleep(10000);
	sem_post(arg);
	return NULL;
}

static int child(void)
{
	struct timespec t;
	pthread_t p;

	expect_long("child: value", value_of(&sem), 0);
	expect_rc("child: trywait", rc(sem_trywait(&sem)), EAGAIN);
	t = deadline_in(CLOCK_REALTIME, 10);
	expect_rc("child: timedwait 10 ms", rc(sem_timedwait(&sem, &t)), ETIMEDOUT);
	expect_rc("child: post", rc(sem_post(&sem)), 0);
	expect_long("child: value after post", value_of(&sem), 1);
	expect_rc("child: wait", rc(sem_wait(&sem)), 0);
	start_thread(&p, child_poster, &sem);
	expect_rc("child: wait woken by a child thread", rc(sem_wait(&sem)), 0);
	join_thread(p);
	for (int i = 0; i < 5; i++)
		must(sem_post(&sem));
	expect_long("child: value after 5 posts", value_of(&sem), 5);
	return posix_test_done();
}

int main(void)
{
	struct sleeper s[SLEEPERS];
	pthread_t t[SLEEPERS];

	must(sem_init(&sem, 0, 0));
	for (int i = 0; i < SLEEPERS; i++) {
		s[i] = (struct sleeper){ .result = -1 };
		start_thread(&t[i], sleeper_main, &s[i]);
		while (!__atomic_load_n(&s[i].ready, __ATOMIC_ACQUIRE))
			usleep(100);
		wait_blocked(s[i].tid, &sem);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(POSIX_TEST_ALARM); /* a fork does not inherit the watchdog */
		_exit(child());
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	expect_true("child exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	expect_long("parent: value", value_of(&sem), 0);
	for (int i = 0; i < SLEEPERS; i++)
		must(sem_post(&sem));
	int got = 0;
	for (int i = 0; i < SLEEPERS; i++) {
		join_thread(t[i]);
		got += s[i].result == 0;
	}
	expect_long("parent: sleepers that got a token", got, SLEEPERS);
	expect_long("parent: value at the end", value_of(&sem), 0);
	must(sem_destroy(&sem));
	return posix_test_done();
}
