/* The mutexes the shim leaves to glibc still behave as glibc's: robust mutexes report
 * an owner's death (EOWNERDEAD, pthread_mutex_consistent, ENOTRECOVERABLE), in a thread
 * and across processes; priority-inheritance and priority-protect mutexes lock, refuse
 * and count; a process-shared mutex protects a counter shared by a forked child. */
#include "posix_test.h"

#include <sys/mman.h>
#include <sys/wait.h>

static void *lock_and_die(void *arg)
{
	must(pthread_mutex_lock(arg));
	return NULL; /* the thread ends holding the lock */
}

static void owner_dies(pthread_mutex_t *m)
{
	pthread_t t;
	start_thread(&t, lock_and_die, m);
	join_thread(t);
}

static void init_mutex(pthread_mutex_t *m, int type, bool robust, int protocol, bool pshared)
{
	pthread_mutexattr_t a;
	must(pthread_mutexattr_init(&a));
	must(pthread_mutexattr_settype(&a, type));
	if (robust)
		must(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
	if (protocol != PTHREAD_PRIO_NONE)
		must(pthread_mutexattr_setprotocol(&a, protocol));
	if (protocol == PTHREAD_PRIO_PROTECT)
		must(pthread_mutexattr_setprioceiling(&a, sched_get_priority_min(SCHED_FIFO)));
	if (pshared)
		must(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
	must(pthread_mutex_init(m, &a));
	pthread_mutexattr_destroy(&a);
}

static void *trylock_main(void *arg)
{
	int rc = pthread_mutex_trylock(arg);
	if (rc == 0)
		pthread_mutex_unlock(arg);
	return (void *)(long)rc;
}

static int trylock_in_other_thread(pthread_mutex_t *m)
{
	pthread_t t;
	start_thread(&t, trylock_main, m);
	return (int)(long)join_thread(t);
}

struct count {
	pthread_mutex_t *m;
	long *n;
	int iters;
};

static void *count_main(void *arg)
{
	struct count *c = arg;
	for (int i = 0; i < c->iters; i++) {
		must(pthread_mutex_lock(c->m));
		++*c->n;
		must(pthread_mutex_unlock(c->m));
	}
	return NULL;
}

static long count_with_threads(pthread_mutex_t *m, int nthreads, int iters)
{
	long n = 0;
	struct count c = {m, &n, iters};
	pthread_t t[8];
	for (int i = 0; i < nthreads; i++)
		start_thread(&t[i], count_main, &c);
	for (int i = 0; i < nthreads; i++)
		join_thread(t[i]);
	return n;
}

static void robust_in_threads(int type, const char *kind)
{
	char lb[128];
	pthread_mutex_t m;
#define LB(what) (snprintf(lb, sizeof lb, "robust %s: %s", kind, what), lb)

	init_mutex(&m, type, true, PTHREAD_PRIO_NONE, false);
	owner_dies(&m);
	expect_rc(LB("lock after owner died"), pthread_mutex_lock(&m), EOWNERDEAD);
	expect_rc(LB("consistent"), pthread_mutex_consistent(&m), 0);
	expect_rc(LB("unlock"), pthread_mutex_unlock(&m), 0);
	expect_rc(LB("lock again"), pthread_mutex_lock(&m), 0);
	if (type == PTHREAD_MUTEX_ERRORCHECK)
		expect_rc(LB("relock"), pthread_mutex_lock(&m), EDEADLK);
	if (type == PTHREAD_MUTEX_RECURSIVE) {
		expect_rc(LB("relock"), pthread_mutex_lock(&m), 0);
		expect_rc(LB("unlock"), pthread_mutex_unlock(&m), 0);
	}
	expect_rc(LB("trylock by other thread"), trylock_in_other_thread(&m), EBUSY);
	expect_rc(LB("unlock"), pthread_mutex_unlock(&m), 0);
	if (type != PTHREAD_MUTEX_NORMAL)
		expect_rc(LB("unlock of unlocked"), pthread_mutex_unlock(&m), EPERM);
	expect_rc(LB("destroy"), pthread_mutex_destroy(&m), 0);

	/* made consistent by nobody: unrecoverable */
	init_mutex(&m, type, true, PTHREAD_PRIO_NONE, false);
	owner_dies(&m);
	expect_rc(LB("trylock after owner died"), pthread_mutex_trylock(&m), EOWNERDEAD);
	expect_rc(LB("unlock without consistent"), pthread_mutex_unlock(&m), 0);
	expect_rc(LB("lock"), pthread_mutex_lock(&m), ENOTRECOVERABLE);
	expect_rc(LB("trylock"), pthread_mutex_trylock(&m), ENOTRECOVERABLE);
	expect_rc(LB("destroy"), pthread_mutex_destroy(&m), 0);

	/* the timed lock reports the death too */
	init_mutex(&m, type, true, PTHREAD_PRIO_NONE, false);
	owner_dies(&m);
	struct timespec t = deadline_in(CLOCK_REALTIME, 1000);
	expect_rc(LB("timedlock after owner died"), pthread_mutex_timedlock(&m, &t), EOWNERDEAD);
	expect_rc(LB("consistent"), pthread_mutex_consistent(&m), 0);
	expect_rc(LB("unlock"), pthread_mutex_unlock(&m), 0);
	expect_long(LB("counter with 4 threads"), count_with_threads(&m, 4, 20000), 80000);
	expect_rc(LB("destroy"), pthread_mutex_destroy(&m), 0);
#undef LB
}

int main(void)
{
	robust_in_threads(PTHREAD_MUTEX_NORMAL, "normal");
	robust_in_threads(PTHREAD_MUTEX_ERRORCHECK, "errorcheck");
	robust_in_threads(PTHREAD_MUTEX_RECURSIVE, "recursive");

	/* process-shared memory: a robust mutex whose owner process dies, and a plain
	 * process-shared mutex guarding a counter that parent and child both bump */
	struct shared {
		pthread_mutex_t robust, plain;
		long n;
	} *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	init_mutex(&sh->robust, PTHREAD_MUTEX_NORMAL, true, PTHREAD_PRIO_NONE, true);
	init_mutex(&sh->plain, PTHREAD_MUTEX_NORMAL, false, PTHREAD_PRIO_NONE, true);
	sh->n = 0;
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 50000; i++) {
			pthread_mutex_lock(&sh->plain);
			sh->n++;
			pthread_mutex_unlock(&sh->plain);
		}
		pthread_mutex_lock(&sh->robust);
		_exit(0); /* holding the robust mutex */
	}
	for (int i = 0; i < 50000; i++) {
		must(pthread_mutex_lock(&sh->plain));
		sh->n++;
		must(pthread_mutex_unlock(&sh->plain));
	}
	int status;
	waitpid(pid, &status, 0);
	expect_true("pshared: child exited normally", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	expect_long("pshared: counter of parent and child", sh->n, 100000);
	expect_rc("pshared robust: lock after owner process died", pthread_mutex_lock(&sh->robust),
		  EOWNERDEAD);
	expect_rc("pshared robust: consistent", pthread_mutex_consistent(&sh->robust), 0);
	expect_rc("pshared robust: unlock", pthread_mutex_unlock(&sh->robust), 0);
	expect_rc("pshared: destroy", pthread_mutex_destroy(&sh->plain), 0);
	expect_rc("pshared robust: destroy", pthread_mutex_destroy(&sh->robust), 0);

	/* priority inheritance */
	pthread_mutex_t pi;
	init_mutex(&pi, PTHREAD_MUTEX_ERRORCHECK, false, PTHREAD_PRIO_INHERIT, false);
	expect_rc("PI errorcheck: lock", pthread_mutex_lock(&pi), 0);
	expect_rc("PI errorcheck: relock", pthread_mutex_lock(&pi), EDEADLK);
	expect_rc("PI errorcheck: trylock by other thread", trylock_in_other_thread(&pi), EBUSY);
	expect_rc("PI errorcheck: unlock", pthread_mutex_unlock(&pi), 0);
	expect_rc("PI errorcheck: unlock of unlocked", pthread_mutex_unlock(&pi), EPERM);
	expect_rc("PI errorcheck: destroy", pthread_mutex_destroy(&pi), 0);
	init_mutex(&pi, PTHREAD_MUTEX_NORMAL, false, PTHREAD_PRIO_INHERIT, false);
	expect_long("PI: counter with 4 threads", count_with_threads(&pi, 4, 20000), 80000);
	expect_rc("PI: trylock", pthread_mutex_trylock(&pi), 0);
	expect_rc("PI: trylock by other thread", trylock_in_other_thread(&pi), EBUSY);
	expect_rc("PI: unlock", pthread_mutex_unlock(&pi), 0);
	expect_rc("PI: destroy", pthread_mutex_destroy(&pi), 0);
	init_mutex(&pi, PTHREAD_MUTEX_NORMAL, true, PTHREAD_PRIO_INHERIT, false);
	owner_dies(&pi);
	expect_rc("PI robust: lock after owner died", pthread_mutex_lock(&pi), EOWNERDEAD);
	expect_rc("PI robust: consistent", pthread_mutex_consistent(&pi), 0);
	expect_rc("PI robust: unlock", pthread_mutex_unlock(&pi), 0);
	expect_rc("PI robust: destroy", pthread_mutex_destroy(&pi), 0);

	/* priority protection: the ceiling needs the right to raise the priority */
	pthread_mutex_t pp;
	init_mutex(&pp, PTHREAD_MUTEX_NORMAL, false, PTHREAD_PRIO_PROTECT, false);
	int rc = pthread_mutex_lock(&pp);
	if (rc == 0) {
		expect_rc("PP: trylock by other thread", trylock_in_other_thread(&pp), EBUSY);
		expect_rc("PP: unlock", pthread_mutex_unlock(&pp), 0);
		expect_long("PP: counter with 2 threads", count_with_threads(&pp, 2, 2000), 4000);
	} else {
		printf("SKIP PP: lock answers %s here\n", errname(rc));
	}
	expect_rc("PP: destroy", pthread_mutex_destroy(&pp), 0);
	return posix_test_done();
}
