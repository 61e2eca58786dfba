/* Rwlocks across fork():
 *  - rwlocks held by another thread of the parent (write-held default, read-held
 *    writer-nonrecursive) are busy in the child (try forms: EBUSY for the write-held
 *    one, the read-held one still admits readers but not writers); the child can
 *    initialize them again and use them, and can initialize and use new rwlocks of
 *    every kind, with threads of its own;
 *  - while parent threads hammer (and sleep on) an rwlock, the main thread forks again
 *    and again; each child re-initializes that rwlock and runs its own threads on it:
 *    no lock inside the library may be left held by a thread that does not exist in
 *    the child. */
#include "posix_test.h"

#include <sys/wait.h>

static pthread_rwlock_t held_w = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t held_r = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static int go_pipe[2], done_pipe[2];

static void *holder(void *arg)
{
	char c;
	must(pthread_rwlock_wrlock(&held_w));
	must(pthread_rwlock_rdlock(&held_r));
	if (write(go_pipe[1], "x", 1) != 1 || read(done_pipe[0], &c, 1) != 1)
		exit(2);
	must(pthread_rwlock_unlock(&held_r));
	must(pthread_rwlock_unlock(&held_w));
	return arg;
}

/* A few threads of readers and writers on rw; returns the invariant violations, or
 * -1 if the counts are off. */
struct work {
	pthread_rwlock_t *rw;
	int iters;
	int activity, bad;
	long writes;
};

static void *work_fn(void *arg)
{
	struct work *w = arg;
	for (int i = 0; i < w->iters; i++) {
		if (i % 4 == 0) {
			if (pthread_rwlock_wrlock(w->rw) != 0)
				w->bad++;
			if (__atomic_add_fetch(&w->activity, 10000, __ATOMIC_RELAXED) != 10000)
				__atomic_fetch_add(&w->bad, 1, __ATOMIC_RELAXED);
			w->writes++;
			__atomic_fetch_sub(&w->activity, 10000, __ATOMIC_RELAXED);
		} else {
			if (pthread_rwlock_rdlock(w->rw) != 0)
				__atomic_fetch_add(&w->bad, 1, __ATOMIC_RELAXED);
			int n = __atomic_add_fetch(&w->activity, 1, __ATOMIC_RELAXED);
			if (n < 1 || n >= 10000)
				__atomic_fetch_add(&w->bad, 1, __ATOMIC_RELAXED);
			__atomic_fetch_sub(&w->activity, 1, __ATOMIC_RELAXED);
		}
		if (pthread_rwlock_unlock(w->rw) != 0)
			__atomic_fetch_add(&w->bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int run_work(pthread_rwlock_t *rw, int threads, int iters)
{
	struct work w = { rw, iters, 0, 0, 0 };
	pthread_t t[8];
	for (int i = 0; i < threads; i++)
		start_thread(&t[i], work_fn, &w);
	for (int i = 0; i < threads; i++)
		join_thread(t[i]);
	if (w.writes != (long)threads * ((iters + 3) / 4))
		return -1;
	return w.bad;
}

/* --- hammering threads in the parent ------------------------------------------------- */
static pthread_rwlock_t hot = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t hot_nonrec = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static int stop;

static void *hammer(void *arg)
{
	long id = (long)arg;
	for (long i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
		pthread_rwlock_t *rw = i % 2 ? &hot : &hot_nonrec;
		must((i + id) % 3 == 0 ? pthread_rwlock_wrlock(rw) : pthread_rwlock_rdlock(rw));
		must(pthread_rwlock_unlock(rw));
	}
	return NULL;
}

static int child_of_hammer(void)
{
	/* The parent's threads may have held them: start over. */
	if (pthread_rwlock_init(&hot, NULL) != 0)
		return 10;
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(&hot_nonrec, &a) != 0)
		return 11;
	if (run_work(&hot, 3, 300) != 0)
		return 12;
	if (run_work(&hot_nonrec, 3, 300) != 0)
		return 13;
	return 0;
}

int main(void)
{
	pthread_t h;
	char c;

	if (pipe(go_pipe) || pipe(done_pipe))
		return 2;
	start_thread(&h, holder, NULL);
	if (read(go_pipe[0], &c, 1) != 1)
		return 2;

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* the child: one thread, the holder's locks copied as they were */
		expect_rc("child: trywrlock of the write-held rwlock", pthread_rwlock_trywrlock(&held_w), EBUSY);
		expect_rc("child: tryrdlock of the write-held rwlock", pthread_rwlock_tryrdlock(&held_w), EBUSY);
		struct timespec t = deadline_in(CLOCK_REALTIME, 10);
		expect_rc("child: timedrdlock of the write-held rwlock", pthread_rwlock_timedrdlock(&held_w, &t),
			  ETIMEDOUT);
		expect_rc("child: tryrdlock of the read-held rwlock", pthread_rwlock_tryrdlock(&held_r), 0);
		expect_rc("child: unlock it", pthread_rwlock_unlock(&held_r), 0);
		expect_rc("child: trywrlock of the read-held rwlock", pthread_rwlock_trywrlock(&held_r), EBUSY);
		expect_rc("child: init the write-held rwlock again", pthread_rwlock_init(&held_w, NULL), 0);
		expect_rc("child: wrlock it", pthread_rwlock_wrlock(&held_w), 0);
		expect_rc("child: unlock", pthread_rwlock_unlock(&held_w), 0);
		expect_long("child: threads on it: violations", run_work(&held_w, 4, 2000), 0);
		pthread_rwlockattr_t a;
		must(pthread_rwlockattr_init(&a));
		must(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
		expect_rc("child: init the read-held rwlock again", pthread_rwlock_init(&held_r, &a), 0);
		expect_long("child: threads on it: violations", run_work(&held_r, 4, 2000), 0);
		static const int kinds[] = { PTHREAD_RWLOCK_PREFER_READER_NP, PTHREAD_RWLOCK_PREFER_WRITER_NP,
					     PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP };
		for (int k = 0; k < 3; k++) {
			pthread_rwlock_t rw;
			char label[80];
			must(pthread_rwlockattr_setkind_np(&a, kinds[k]));
			snprintf(label, sizeof label, "child: new rwlock of kind %d: init", kinds[k]);
			expect_rc(label, pthread_rwlock_init(&rw, &a), 0);
			snprintf(label, sizeof label, "child: new rwlock of kind %d: threads, violations", kinds[k]);
			expect_long(label, run_work(&rw, 4, 2000), 0);
			must(pthread_rwlock_destroy(&rw));
		}
		fflush(stdout);
		_exit(posix_test_failures ? 1 : 0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 2;
	expect_true("child exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (write(done_pipe[1], "x", 1) != 1)
		return 2;
	join_thread(h);
	expect_rc("parent: the holder's rwlocks are free again: trywrlock", pthread_rwlock_trywrlock(&held_w), 0);
	must(pthread_rwlock_unlock(&held_w));
	expect_rc("parent: trywrlock", pthread_rwlock_trywrlock(&held_r), 0);
	must(pthread_rwlock_unlock(&held_r));

	/* Forks while other threads hammer. */
	enum { HAMMERS = 3, FORKS = 30 };
	pthread_t ht[HAMMERS];
	for (long i = 0; i < HAMMERS; i++)
		start_thread(&ht[i], hammer, (void *)i);
	int ok = 0, statuses[FORKS];
	for (int i = 0; i < FORKS; i++) {
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(child_of_hammer());
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			return 2;
		statuses[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		ok += statuses[i] == 0;
		usleep(1000);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < HAMMERS; i++)
		join_thread(ht[i]);
	expect_long("children forked while threads hammer that exited 0", ok, FORKS);
	if (ok != FORKS)
		for (int i = 0; i < FORKS; i++)
			if (statuses[i])
				printf("  child %d: status %d\n", i, statuses[i]);
	return posix_test_done();
}
