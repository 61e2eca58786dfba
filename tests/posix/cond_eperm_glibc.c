/* A cond wait with a mutex that glibc runs (robust, priority-inheritance) and that the
 * caller does not own answers EPERM, as glibc's own pthread_cond_wait does, instead of
 * waiting: an unlocked robust error-checking mutex, one held by another thread, and a
 * priority-inheritance mutex in the same two states. (The shim once ignored the EPERM
 * of glibc's unlock and blocked forever: gs_cond_wait_func now abandons the wait.) */
#define POSIX_TEST_ALARM 5 /* a wait that should have been refused blocks forever */
#include "posix_test.h"

static void init_mutex(pthread_mutex_t *m, int type, bool robust, bool pi)
{
	pthread_mutexattr_t a;
	must(pthread_mutexattr_init(&a));
	must(pthread_mutexattr_settype(&a, type));
	if (robust)
		must(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
	if (pi)
		must(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT));
	must(pthread_mutex_init(m, &a));
	pthread_mutexattr_destroy(&a);
}

static int go[2], done[2];

static void *hold(void *m)
{
	char ch;
	must(pthread_mutex_lock(m));
	if (write(go[1], "x", 1) != 1 || read(done[0], &ch, 1) != 1)
		exit(2);
	must(pthread_mutex_unlock(m));
	return NULL;
}

static void check(pthread_mutex_t *m, const char *kind)
{
	char lb[128];
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec t = deadline_in(CLOCK_REALTIME, 30000);
	pthread_t th;
	char ch;
#define LB(what) (snprintf(lb, sizeof lb, "%s: %s", kind, what), lb)
	expect_rc(LB("wait, mutex unlocked"), pthread_cond_wait(&c, m), EPERM);
	expect_rc(LB("timedwait, mutex unlocked"), pthread_cond_timedwait(&c, m, &t), EPERM);
	start_thread(&th, hold, m);
	if (read(go[0], &ch, 1) != 1)
		exit(2);
	expect_rc(LB("wait, mutex held by another thread"), pthread_cond_wait(&c, m), EPERM);
	expect_rc(LB("clockwait, mutex held by another thread"),
		  pthread_cond_clockwait(&c, m, CLOCK_REALTIME, &t), EPERM);
	if (write(done[1], "x", 1) != 1)
		exit(2);
	join_thread(th);
	expect_rc(LB("trylock afterwards"), pthread_mutex_trylock(m), 0);
	expect_rc(LB("unlock"), pthread_mutex_unlock(m), 0);
#undef LB
}

int main(void)
{
	pthread_mutex_t m;
	if (pipe(go) || pipe(done))
		return 2;
	init_mutex(&m, PTHREAD_MUTEX_ERRORCHECK, true, false);
	check(&m, "robust errorcheck");
	init_mutex(&m, PTHREAD_MUTEX_RECURSIVE, true, false);
	check(&m, "robust recursive");
	init_mutex(&m, PTHREAD_MUTEX_NORMAL, false, true);
	check(&m, "PI normal");
	init_mutex(&m, PTHREAD_MUTEX_ERRORCHECK, false, true);
	check(&m, "PI errorcheck");
	return posix_test_done();
}
