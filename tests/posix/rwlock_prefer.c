/* Who gets in while a writer waits, for every kind.
 *  - Reader-preferring kinds (default, static initializer, PREFER_READER_NP,
 *    PREFER_WRITER_NP): with the lock read-held and a writer blocked in wrlock, the
 *    reader locks again (recursively: must not deadlock), tryrdlock and a timed rdlock
 *    with a past deadline succeed, and another thread's rdlock gets in too; the writer
 *    gets the lock only once every read lock is gone.
 *  - PREFER_WRITER_NONRECURSIVE_NP (static initializer and init): the same situation
 *    refuses new readers (EBUSY, ETIMEDOUT); a reader that blocks goes in only after
 *    the writer has had the lock.
 *  - Every kind: a writer's unlock lets all the readers it held back in at once.
 *  - Every kind: a writer that times out while waiting for a reader leaves no trace:
 *    a reader blocked behind it (writer-preferring) gets in without the first reader
 *    leaving, and the lock can be read- and write-locked afterwards.
 * "Blocked" is a thread seen sleeping in the futex system call (several times in a row,
 * since a thread may pass through a futex on its way); it works for both glibc and the
 * shim and needs no timing assumption. */
#include "posix_test.h"

#include <sys/syscall.h>

static bool sleeping_in_futex(pid_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool ok = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	long nr;
	return ok && sscanf(line, "%ld", &nr) == 1 && nr == SYS_futex;
}

/* Waits until thread tid sleeps in futex, seen 5 times in a row 1 ms apart. */
static void wait_blocked(pid_t tid)
{
	int seen = 0;
	for (int i = 0; i < 20000 && seen < 5; i++) {
		seen = sleeping_in_futex(tid) ? seen + 1 : 0;
		usleep(1000);
	}
	if (seen < 5) {
		printf("FATAL: thread %d never blocked\n", (int)tid);
		exit(2);
	}
}

enum op { RD, WR, TIMEDWR };

struct actor {
	pthread_rwlock_t *rw;
	enum op op;
	struct timespec deadline; /* TIMEDWR, CLOCK_REALTIME */
	pid_t tid;
	int started;
	int r;
	int got_at;  /* the sequence number at which it got the lock */
	int readers_seen; /* readers inside when it got the lock (writer) */
	int release;
	int done;
	pthread_t t;
};

static int seq;     /* counts acquisitions by actors */
static int inside;  /* readers inside, counted by everyone that reads */

static void *actor_fn(void *arg)
{
	struct actor *a = arg;
	__atomic_store_n(&a->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELAXED);
	__atomic_store_n(&a->started, 1, __ATOMIC_RELEASE);
	switch (a->op) {
	case RD: a->r = pthread_rwlock_rdlock(a->rw); break;
	case WR: a->r = pthread_rwlock_wrlock(a->rw); break;
	case TIMEDWR: a->r = pthread_rwlock_timedwrlock(a->rw, &a->deadline); break;
	}
	if (a->r == 0) {
		if (a->op == RD)
			__atomic_fetch_add(&inside, 1, __ATOMIC_RELAXED);
		else
			a->readers_seen = __atomic_load_n(&inside, __ATOMIC_RELAXED);
		a->got_at = __atomic_add_fetch(&seq, 1, __ATOMIC_ACQ_REL);
		while (!__atomic_load_n(&a->release, __ATOMIC_ACQUIRE))
			usleep(200);
		if (a->op == RD)
			__atomic_fetch_sub(&inside, 1, __ATOMIC_RELAXED);
		must(pthread_rwlock_unlock(a->rw));
	}
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void actor_start(struct actor *a, pthread_rwlock_t *rw, enum op op, long ms)
{
	*a = (struct actor){ .rw = rw, .op = op };
	if (op == TIMEDWR)
		a->deadline = deadline_in(CLOCK_REALTIME, ms);
	start_thread(&a->t, actor_fn, a);
	while (!__atomic_load_n(&a->started, __ATOMIC_ACQUIRE))
		usleep(100);
}

static int got(struct actor *a) { return __atomic_load_n(&a->got_at, __ATOMIC_ACQUIRE); }

/* Waits (at most 10 s) until the actor holds the lock or has given up. */
static void wait_settled(struct actor *a)
{
	for (int i = 0; i < 100000 && !got(a) && !__atomic_load_n(&a->done, __ATOMIC_ACQUIRE); i++)
		usleep(100);
}

static void actor_finish(struct actor *a)
{
	__atomic_store_n(&a->release, 1, __ATOMIC_RELEASE);
	join_thread(a->t);
}

static const char *kind_name;

static void check(const char *what, int got, int want)
{
	char label[160];
	snprintf(label, sizeof label, "%s: %s", kind_name, what);
	expect_rc(label, got, want);
}

static void check_true(const char *what, bool ok)
{
	char label[160];
	snprintf(label, sizeof label, "%s: %s", kind_name, what);
	expect_true(label, ok);
}

static void check_long(const char *what, long got, long want)
{
	char label[160];
	snprintf(label, sizeof label, "%s: %s", kind_name, what);
	expect_long(label, got, want);
}

static void reader_preferring(pthread_rwlock_t *rw)
{
	static struct actor w, r;

	check("rdlock", pthread_rwlock_rdlock(rw), 0);
	__atomic_fetch_add(&inside, 1, __ATOMIC_RELAXED);
	actor_start(&w, rw, WR, 0);
	wait_blocked(w.tid);
	check("rdlock again while a writer waits", pthread_rwlock_rdlock(rw), 0);
	check("tryrdlock while a writer waits", pthread_rwlock_tryrdlock(rw), 0);
	struct timespec past = deadline_in(CLOCK_REALTIME, -1000);
	check("timedrdlock, past deadline, while a writer waits", pthread_rwlock_timedrdlock(rw, &past), 0);
	past = deadline_in(CLOCK_MONOTONIC, 0);
	check("clockrdlock, monotonic now, while a writer waits",
	      pthread_rwlock_clockrdlock(rw, CLOCK_MONOTONIC, &past), 0);
	check("trywrlock while a writer waits", pthread_rwlock_trywrlock(rw), EBUSY);
	actor_start(&r, rw, RD, 0);
	wait_settled(&r);
	check("another thread's rdlock while a writer waits", r.r, 0);
	check_true("the writer is still waiting", got(&w) == 0);
	actor_finish(&r);
	for (int i = 0; i < 4; i++)
		check("unlock", pthread_rwlock_unlock(rw), 0);
	check_true("the writer is still waiting after 4 of 5 unlocks", got(&w) == 0);
	__atomic_fetch_sub(&inside, 1, __ATOMIC_RELAXED);
	check("last unlock", pthread_rwlock_unlock(rw), 0);
	wait_settled(&w);
	check("writer's wrlock", w.r, 0);
	check_long("readers inside when the writer got in", w.readers_seen, 0);
	actor_finish(&w);
}

static void writer_preferring(pthread_rwlock_t *rw)
{
	static struct actor w, r;

	check("rdlock", pthread_rwlock_rdlock(rw), 0);
	actor_start(&w, rw, WR, 0);
	wait_blocked(w.tid);
	check("tryrdlock while a writer waits", pthread_rwlock_tryrdlock(rw), EBUSY);
	struct timespec t = deadline_in(CLOCK_REALTIME, 30);
	check("timedrdlock while a writer waits", pthread_rwlock_timedrdlock(rw, &t), ETIMEDOUT);
	check_true("not before the deadline", reached(CLOCK_REALTIME, &t));
	t = deadline_in(CLOCK_MONOTONIC, -5);
	check("clockrdlock, past, while a writer waits", pthread_rwlock_clockrdlock(rw, CLOCK_MONOTONIC, &t),
	      ETIMEDOUT);
	actor_start(&r, rw, RD, 0);
	wait_blocked(r.tid);
	check_true("another thread's rdlock blocks", got(&r) == 0);
	check("unlock", pthread_rwlock_unlock(rw), 0);
	wait_settled(&w);
	check("writer's wrlock", w.r, 0);
	check_true("the blocked reader is still out while the writer holds", got(&r) == 0);
	actor_finish(&w);
	wait_settled(&r);
	check("blocked reader's rdlock", r.r, 0);
	check_true("the writer went first", w.got_at < r.got_at);
	actor_finish(&r);
}

/* A writer holds, N readers block; its unlock lets them all in together. */
static void readers_together(pthread_rwlock_t *rw)
{
	enum { N = 4 };
	static struct actor r[N];

	check("wrlock", pthread_rwlock_wrlock(rw), 0);
	for (int i = 0; i < N; i++) {
		actor_start(&r[i], rw, RD, 0);
		wait_blocked(r[i].tid);
	}
	check("unlock", pthread_rwlock_unlock(rw), 0);
	for (int i = 0; i < N; i++)
		wait_settled(&r[i]);
	int in = 0;
	for (int i = 0; i < N; i++)
		in += r[i].r == 0 && got(&r[i]) != 0;
	check_long("readers inside at once after the writer's unlock", in, N);
	for (int i = 0; i < N; i++)
		actor_finish(&r[i]);
}

/* A reader holds, W times out waiting; R (blocked behind W on a writer-preferring
 * rwlock, or in at once on a reader-preferring one) gets in while the first reader
 * still reads. If W gave up before R started, R gets in at once: same output. */
static void writer_times_out(pthread_rwlock_t *rw)
{
	static struct actor w, r;

	check("rdlock", pthread_rwlock_rdlock(rw), 0);
	actor_start(&w, rw, TIMEDWR, 200);
	wait_blocked(w.tid);
	actor_start(&r, rw, RD, 0);
	join_thread(w.t);
	check("writer's timedwrlock", w.r, ETIMEDOUT);
	check_true("not before the deadline", reached(CLOCK_REALTIME, &w.deadline));
	wait_settled(&r);
	check("reader behind the writer", r.r, 0);
	actor_finish(&r);
	check("tryrdlock", pthread_rwlock_tryrdlock(rw), 0);
	check("unlock", pthread_rwlock_unlock(rw), 0);
	check("unlock", pthread_rwlock_unlock(rw), 0);
	check("trywrlock", pthread_rwlock_trywrlock(rw), 0);
	check("unlock", pthread_rwlock_unlock(rw), 0);
}

static pthread_rwlock_t static_default = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t static_nonrec = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

static void all(pthread_rwlock_t *rw, bool writer_pref)
{
	if (writer_pref)
		writer_preferring(rw);
	else
		reader_preferring(rw);
	readers_together(rw);
	writer_times_out(rw);
}

int main(void)
{
	static pthread_rwlock_t rw;
	pthread_rwlockattr_t a;

	kind_name = "PTHREAD_RWLOCK_INITIALIZER";
	all(&static_default, false);
	kind_name = "PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP";
	all(&static_nonrec, true);

	static const struct {
		const char *name;
		int kind;
	} kinds[] = {
		{ "PREFER_READER_NP", PTHREAD_RWLOCK_PREFER_READER_NP },
		{ "PREFER_WRITER_NP", PTHREAD_RWLOCK_PREFER_WRITER_NP },
		{ "PREFER_WRITER_NONRECURSIVE_NP", PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP },
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		kind_name = kinds[i].name;
		must(pthread_rwlockattr_init(&a));
		must(pthread_rwlockattr_setkind_np(&a, kinds[i].kind));
		must(pthread_rwlock_init(&rw, &a));
		must(pthread_rwlockattr_destroy(&a));
		all(&rw, kinds[i].kind == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		must(pthread_rwlock_destroy(&rw));
	}
	kind_name = "init, no attributes";
	must(pthread_rwlock_init(&rw, NULL));
	all(&rw, false);
	return posix_test_done();
}
