/* Mutexes across fork():
 *  - the pthread_atfork pattern: prepare locks a mutex of every kind, the parent and the
 *    child handlers unlock them (the child's errorcheck and recursive unlocks answer as
 *    glibc does: the child's thread has a new id);
 *  - a mutex held by another parent thread at fork time is busy in the child, and the
 *    child can initialize it again and use it;
 *  - while parent threads hammer (and sleep on) mutexes, the main thread forks again and
 *    again; each child re-initializes the contended mutex and runs its own threads on it
 *    and on the other kinds: no lock inside the library may be left held by a thread
 *    that does not exist in the child. */
#include "posix_test.h"

#include <sys/wait.h>

static pthread_mutex_t af_normal = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t af_rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t af_ec = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static int child_rc[3];

static void prepare(void)
{
	must(pthread_mutex_lock(&af_normal));
	must(pthread_mutex_lock(&af_rec));
	must(pthread_mutex_lock(&af_ec));
}

static void parent(void)
{
	must(pthread_mutex_unlock(&af_ec));
	must(pthread_mutex_unlock(&af_rec));
	must(pthread_mutex_unlock(&af_normal));
}

static void child(void)
{
	child_rc[0] = pthread_mutex_unlock(&af_ec);
	child_rc[1] = pthread_mutex_unlock(&af_rec);
	child_rc[2] = pthread_mutex_unlock(&af_normal);
}

/* --- a mutex held by another thread of the parent --------------------------------- */
static pthread_mutex_t held_normal = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t held_ec = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static int go_pipe[2], done_pipe[2];

static void *holder(void *arg)
{
	char c;
	must(pthread_mutex_lock(&held_normal));
	must(pthread_mutex_lock(&held_ec));
	if (write(go_pipe[1], "x", 1) != 1 || read(done_pipe[0], &c, 1) != 1)
		exit(2);
	must(pthread_mutex_unlock(&held_ec));
	must(pthread_mutex_unlock(&held_normal));
	return arg;
}

/* --- hammering threads ---------------------------------------------------------------- */
static pthread_mutex_t hot = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t hot_rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static volatile int stop;
static long hot_n;

static void *hammer(void *arg)
{
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		must(pthread_mutex_lock(&hot));
		hot_n++;
		must(pthread_mutex_unlock(&hot));
		must(pthread_mutex_lock(&hot_rec));
		must(pthread_mutex_lock(&hot_rec));
		hot_n++;
		must(pthread_mutex_unlock(&hot_rec));
		must(pthread_mutex_unlock(&hot_rec));
	}
	return arg;
}

struct child_work {
	pthread_mutex_t *m;
	long n;
};

static void *child_worker(void *arg)
{
	struct child_work *w = arg;
	for (int i = 0; i < 5000; i++) {
		if (pthread_mutex_lock(w->m) != 0)
			_exit(3);
		w->n++;
		if (pthread_mutex_unlock(w->m) != 0)
			_exit(3);
	}
	return NULL;
}

/* In the child: the contended mutexes made fresh, then 4 threads on each kind. Exit
 * status 0 if every count is right. */
static int child_main(void)
{
	pthread_mutexattr_t a;
	pthread_mutex_t ec;
	if (pthread_mutex_init(&hot, NULL) != 0 || pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE) != 0 ||
	    pthread_mutex_init(&hot_rec, &a) != 0 ||
	    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK) != 0 ||
	    pthread_mutex_init(&ec, &a) != 0)
		return 4;
	pthread_mutex_t *ms[] = {&hot, &hot_rec, &ec};
	for (int k = 0; k < 3; k++) {
		struct child_work w = {ms[k], 0};
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			if (pthread_create(&t[i], NULL, child_worker, &w) != 0)
				return 5;
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		if (w.n != 20000)
			return 6;
	}
	return 0;
}

int main(void)
{
	/* 1. atfork handlers */
	must(pthread_atfork(prepare, parent, child));
	pid_t pid = fork();
	if (pid == 0) {
		/* report through the exit status: one digit per mutex */
		_exit((child_rc[0] == EPERM) * 1 + (child_rc[1] == EPERM) * 2 +
		      (child_rc[2] == 0) * 4 + (pthread_mutex_trylock(&af_normal) == 0) * 8 +
		      (pthread_mutex_trylock(&af_ec) == EBUSY) * 16);
	}
	int st;
	waitpid(pid, &st, 0);
	int bits = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	expect_true("atfork child: errorcheck unlock answers EPERM (new thread id)", bits & 1);
	expect_true("atfork child: recursive unlock answers EPERM (new thread id)", bits & 2);
	expect_true("atfork child: normal unlock answers 0", bits & 4);
	expect_true("atfork child: normal mutex free afterwards", bits & 8);
	expect_true("atfork child: errorcheck mutex still busy", bits & 16);
	expect_rc("atfork parent: normal free", pthread_mutex_trylock(&af_normal), 0);
	expect_rc("atfork parent: recursive free", pthread_mutex_trylock(&af_rec), 0);
	expect_rc("atfork parent: errorcheck free", pthread_mutex_trylock(&af_ec), 0);
	pthread_mutex_unlock(&af_ec);
	pthread_mutex_unlock(&af_rec);
	pthread_mutex_unlock(&af_normal);

	/* 2. held by another parent thread */
	pthread_t h;
	char c;
	if (pipe(go_pipe) || pipe(done_pipe))
		return 2;
	start_thread(&h, holder, NULL);
	if (read(go_pipe[0], &c, 1) != 1)
		return 2;
	pid = fork();
	if (pid == 0) {
		int r = 0;
		r |= (pthread_mutex_trylock(&held_normal) == EBUSY) << 0;
		r |= (pthread_mutex_trylock(&held_ec) == EBUSY) << 1;
		r |= (pthread_mutex_unlock(&held_ec) == EPERM) << 2;
		r |= (pthread_mutex_init(&held_normal, NULL) == 0) << 3;
		r |= (pthread_mutex_lock(&held_normal) == 0) << 4;
		r |= (pthread_mutex_unlock(&held_normal) == 0) << 5;
		_exit(r);
	}
	waitpid(pid, &st, 0);
	bits = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	expect_true("held in parent: normal busy in child", bits & 1);
	expect_true("held in parent: errorcheck busy in child", bits & 2);
	expect_true("held in parent: errorcheck unlock in child answers EPERM", bits & 4);
	expect_true("held in parent: child reinitializes it", bits & 8);
	expect_true("held in parent: child locks it", bits & 16);
	expect_true("held in parent: child unlocks it", bits & 32);
	if (write(done_pipe[1], "x", 1) != 1)
		return 2;
	join_thread(h);
	expect_rc("held in parent: free in parent after holder let go",
		  pthread_mutex_trylock(&held_ec), 0);
	pthread_mutex_unlock(&held_ec);

	/* 3. fork while other threads hammer */
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		start_thread(&t[i], hammer, NULL);
	int ok = 0, forks = 30;
	for (int i = 0; i < forks; i++) {
		pid = fork();
		if (pid == 0)
			_exit(child_main());
		waitpid(pid, &st, 0);
		ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
		if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			printf("child %d: status %#x\n", i, st);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		join_thread(t[i]);
	expect_long("hammered fork: children whose threads counted right", ok, forks);
	expect_rc("hammered fork: parent's mutex free", pthread_mutex_trylock(&hot), 0);
	pthread_mutex_unlock(&hot);
	return posix_test_done();
}
