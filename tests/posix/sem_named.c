/* Semaphores the pthread shim leaves to glibc keep working under it: named ones from
 * sem_open (shared with a forked child, and with a process that runs without the
 * preloaded shim), and unnamed ones initialized with pshared=1 in shared memory. */
#include "posix_test.h"

#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <sys/mman.h>
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

static int wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Every call on one semaphore, answered as glibc answers. */
static void exercise(sem_t *s, const char *what)
{
	char label[128];
	struct timespec t;

#define L(text) (snprintf(label, sizeof label, "%s: %s", what, text), label)
	expect_long(L("value"), value_of(s), 2);
	expect_rc(L("trywait"), rc(sem_trywait(s)), 0);
	expect_rc(L("wait"), rc(sem_wait(s)), 0);
	expect_rc(L("trywait at 0"), rc(sem_trywait(s)), EAGAIN);
	t = deadline_in(CLOCK_REALTIME, -10);
	expect_rc(L("timedwait past"), rc(sem_timedwait(s, &t)), ETIMEDOUT);
	t = deadline_in(CLOCK_REALTIME, 20);
	expect_rc(L("timedwait 20 ms"), rc(sem_timedwait(s, &t)), ETIMEDOUT);
	t = deadline_in(CLOCK_MONOTONIC, 20);
	expect_rc(L("clockwait MONOTONIC 20 ms"), rc(sem_clockwait(s, CLOCK_MONOTONIC, &t)),
		  ETIMEDOUT);
	expect_rc(L("clockwait bad clock"), rc(sem_clockwait(s, CLOCK_PROCESS_CPUTIME_ID, &t)),
		  EINVAL);
	t.tv_nsec = 1000000000;
	expect_rc(L("timedwait bad nsec"), rc(sem_timedwait(s, &t)), EINVAL);
	expect_rc(L("post"), rc(sem_post(s)), 0);
	t = deadline_in(CLOCK_MONOTONIC, 10000);
	expect_rc(L("clockwait MONOTONIC with a token"), rc(sem_clockwait(s, CLOCK_MONOTONIC, &t)),
		  0);
	expect_long(L("value at the end"), value_of(s), 0);
#undef L
}

/* --- a thread wakes another through the semaphore --------------------------- */

static void *poster(void *arg)
{
	usleep(20000);
	sem_post(arg);
	return NULL;
}

static void wake_across_threads(sem_t *s, const char *what)
{
	char label[128];
	pthread_t t;
	start_thread(&t, poster, s);
	snprintf(label, sizeof label, "%s: wait woken by another thread", what);
	expect_rc(label, rc(sem_wait(s)), 0);
	join_thread(t);
}

/* --- named ---------------------------------------------------------------- */

static char name[64], name2[64];

static void test_named(const char *self)
{
	sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 2);
	expect_true("sem_open creates", s != SEM_FAILED);
	if (s == SEM_FAILED)
		return;
	exercise(s, "named");
	wake_across_threads(s, "named");

	/* a second sem_open of the same name is the same semaphore */
	sem_t *again = sem_open(name, 0);
	expect_true("sem_open again", again != SEM_FAILED);
	must(sem_post(s));
	expect_long("named: value seen through the second handle", value_of(again), 1);
	expect_rc("named: trywait through the second handle", rc(sem_trywait(again)), 0);

	/* a forked child posts to the parent and waits for its answer; the second
	 * name exists before the fork, or the child's sem_open could race it */
	sem_t *s2 = sem_open(name2, O_CREAT | O_EXCL, 0600, 0);
	expect_true("sem_open a second name", s2 != SEM_FAILED);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(POSIX_TEST_ALARM); /* a fork does not inherit the watchdog */
		sem_t *c = sem_open(name, 0);
		if (c == SEM_FAILED || sem_post(c) != 0)
			_exit(1);
		sem_t *c2 = sem_open(name2, 0);
		if (c2 == SEM_FAILED || sem_wait(c2) != 0)
			_exit(2);
		_exit(0);
	}
	expect_rc("named: wait for the forked child's post", rc(sem_wait(s)), 0);
	must(sem_post(s2));
	expect_long("named: forked child's exit", wait_child(pid), 0);

	/* the same with a process that runs without the shim (plain glibc) */
	pid = fork();
	if (pid == 0) {
		unsetenv("LD_PRELOAD");
		unsetenv("GS_POSIX_SHIM");
		execl(self, self, "plain-child", name, name2, (char *)NULL);
		_exit(126);
	}
	expect_rc("named: wait for the plain process's post", rc(sem_wait(s)), 0);
	must(sem_post(s2));
	expect_long("named: plain process's exit", wait_child(pid), 0);
	expect_long("named: value at the end", value_of(s), 0);

	expect_rc("sem_close", rc(sem_close(again)), 0);
	expect_rc("sem_close", rc(sem_close(s)), 0);
	expect_rc("sem_close", rc(sem_close(s2)), 0);
	expect_rc("sem_unlink", rc(sem_unlink(name)), 0);
	expect_rc("sem_unlink", rc(sem_unlink(name2)), 0);
}

/* The process without the shim (unless the test program is linked with it): post on
 * the first name, wait on the second. */
static int plain_child(const char *n1, const char *n2)
{
	sem_t *a = sem_open(n1, 0), *b = sem_open(n2, 0);
	if (a == SEM_FAILED || b == SEM_FAILED)
		return 1;
	if (sem_post(a) != 0 || sem_wait(b) != 0)
		return 2;
	return 0;
}

/* --- unnamed, pshared=1 ------------------------------------------------------ */

struct shared {
	sem_t to_child, to_parent;
};

static void test_pshared(void)
{
	sem_t s;
	expect_rc("pshared init above SEM_VALUE_MAX",
		  rc(sem_init(&s, 1, (unsigned)SEM_VALUE_MAX + 1)), EINVAL);
	expect_rc("pshared init", rc(sem_init(&s, 1, 2)), 0);
	exercise(&s, "pshared");
	wake_across_threads(&s, "pshared");
	expect_rc("pshared destroy", rc(sem_destroy(&s)), 0);

	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		printf("FATAL mmap\n");
		exit(2);
	}
	must(sem_init(&sh->to_child, 1, 0));
	must(sem_init(&sh->to_parent, 1, 0));
	pid_t pid = fork();
	if (pid == 0) {
		alarm(POSIX_TEST_ALARM);
		for (int i = 0; i < 100; i++)
			if (sem_wait(&sh->to_child) != 0 || sem_post(&sh->to_parent) != 0)
				_exit(1);
		_exit(0);
	}
	int ok = 0;
	for (int i = 0; i < 100; i++)
		ok += sem_post(&sh->to_child) == 0 && sem_wait(&sh->to_parent) == 0;
	expect_long("pshared in shared memory: round trips with a forked child", ok, 100);
	expect_long("pshared: child's exit", wait_child(pid), 0);
	expect_long("pshared: values at the end", value_of(&sh->to_child) + value_of(&sh->to_parent),
		    0);
	must(sem_destroy(&sh->to_child));
	must(sem_destroy(&sh->to_parent));
	munmap(sh, sizeof *sh);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "plain-child") == 0)
		return plain_child(argv[2], argv[3]);

	snprintf(name, sizeof name, "/gosync-posix-test-%d-a", (int)getpid());
	snprintf(name2, sizeof name2, "/gosync-posix-test-%d-b", (int)getpid());
	test_named("/proc/self/exe");
	test_pshared();
	return posix_test_done();
}
