/* Every return code of pthread_rwlock_*, for every kind: the two static initializers,
 * zeroed memory, init with each PTHREAD_RWLOCK_PREFER_* kind, process-shared.
 *  - the owner's answers: recursive read locks, EBUSY from the try forms, EDEADLK for a
 *    read or write lock by the writer (timed forms too), ETIMEDOUT for a write lock
 *    wanted by a reader of it;
 *  - EINVAL for a tv_nsec outside [0, 1e9) or a clock other than CLOCK_REALTIME and
 *    CLOCK_MONOTONIC, checked before anything else: on a free lock, and by the writer
 *    (EINVAL, not EDEADLK);
 *  - an available lock is taken whatever the deadline (past, zero, negative tv_sec);
 *  - another thread: EBUSY and ETIMEDOUT against a read or write holder;
 *  - unlock of an unlocked rwlock returns 0 (glibc's rwlock is unusable afterwards, so
 *    it is initialized again); destroy returns 0, also on a locked rwlock. */
#include "posix_test.h"

enum op { RD, TRYRD, TIMEDRD, CLOCKRD, WR, TRYWR, TIMEDWR, CLOCKWR, UNLOCK };

/* A deadline: ms from now on the op's clock, or a raw timespec when raw is set. */
struct when {
	clockid_t clock; /* for CLOCKRD / CLOCKWR; the timed forms use CLOCK_REALTIME */
	long ms;
	bool raw;
	struct timespec ts;
};

static struct timespec at(enum op op, const struct when *w)
{
	if (w->raw)
		return w->ts;
	return deadline_in(op == CLOCKRD || op == CLOCKWR ? w->clock : CLOCK_REALTIME, w->ms);
}

static int do_op(pthread_rwlock_t *rw, enum op op, const struct when *w)
{
	struct timespec t = at(op, w);
	int r = -1;

	switch (op) {
	case RD: r = pthread_rwlock_rdlock(rw); break;
	case TRYRD: r = pthread_rwlock_tryrdlock(rw); break;
	case TIMEDRD: r = pthread_rwlock_timedrdlock(rw, &t); break;
	case CLOCKRD: r = pthread_rwlock_clockrdlock(rw, w->clock, &t); break;
	case WR: r = pthread_rwlock_wrlock(rw); break;
	case TRYWR: r = pthread_rwlock_trywrlock(rw); break;
	case TIMEDWR: r = pthread_rwlock_timedwrlock(rw, &t); break;
	case CLOCKWR: r = pthread_rwlock_clockwrlock(rw, w->clock, &t); break;
	case UNLOCK: r = pthread_rwlock_unlock(rw); break;
	}
	/* a timeout never comes before the deadline */
	if (r == ETIMEDOUT && !w->raw && w->ms >= 0 &&
	    !reached(op == CLOCKRD || op == CLOCKWR ? w->clock : CLOCK_REALTIME, &t)) {
		printf("  UNEXPECTED: ETIMEDOUT before the deadline\n");
		posix_test_failures++;
	}
	return r;
}

static const struct when NOW = { CLOCK_REALTIME, 0, false, { 0, 0 } };
static const struct when MONO_NOW = { CLOCK_MONOTONIC, 0, false, { 0, 0 } };
static const struct when SOON = { CLOCK_REALTIME, 20, false, { 0, 0 } };
static const struct when MONO_SOON = { CLOCK_MONOTONIC, 20, false, { 0, 0 } };
static const struct when LATER = { CLOCK_REALTIME, 10000, false, { 0, 0 } };
static const struct when MONO_PAST = { CLOCK_MONOTONIC, -1000, false, { 0, 0 } };

static struct when raw(clockid_t clock, time_t sec, long nsec)
{
	return (struct when){ clock, 0, true, { sec, nsec } };
}

/* Runs op in another thread; a lock it gets there is released there. */
struct other {
	pthread_rwlock_t *rw;
	enum op op;
	struct when w;
	int r;
};

static void *other_fn(void *arg)
{
	struct other *o = arg;
	o->r = do_op(o->rw, o->op, &o->w);
	if (o->r == 0 && o->op != UNLOCK)
		must(pthread_rwlock_unlock(o->rw));
	return NULL;
}

static int other(pthread_rwlock_t *rw, enum op op, struct when w)
{
	struct other o = { rw, op, w, -1 };
	pthread_t t;
	start_thread(&t, other_fn, &o);
	join_thread(t);
	return o.r;
}

static const char *kind_name;

static void check(const char *what, int got, int want)
{
	char label[160];
	snprintf(label, sizeof label, "%s: %s", kind_name, what);
	expect_rc(label, got, want);
}

static void run(pthread_rwlock_t *rw, const pthread_rwlockattr_t *attr)
{
	/* Read-held by the caller: more read locks, no write lock. */
	check("rdlock", pthread_rwlock_rdlock(rw), 0);
	check("rdlock again (recursive)", pthread_rwlock_rdlock(rw), 0);
	check("tryrdlock", pthread_rwlock_tryrdlock(rw), 0);
	check("timedrdlock, past", do_op(rw, TIMEDRD, &MONO_PAST), 0);
	check("trywrlock while reading", pthread_rwlock_trywrlock(rw), EBUSY);
	check("timedwrlock while reading", do_op(rw, TIMEDWR, &SOON), ETIMEDOUT);
	check("clockwrlock monotonic while reading", do_op(rw, CLOCKWR, &MONO_SOON), ETIMEDOUT);
	check("clockwrlock monotonic past while reading", do_op(rw, CLOCKWR, &MONO_PAST), ETIMEDOUT);
	check("other thread: tryrdlock", other(rw, TRYRD, NOW), 0);
	check("other thread: trywrlock", other(rw, TRYWR, NOW), EBUSY);
	check("other thread: timedwrlock", other(rw, TIMEDWR, SOON), ETIMEDOUT);
	check("other thread: clockwrlock past", other(rw, CLOCKWR, MONO_PAST), ETIMEDOUT);
	for (int i = 0; i < 4; i++)
		check("unlock (read)", pthread_rwlock_unlock(rw), 0);
	check("other thread: trywrlock after the last unlock", other(rw, TRYWR, NOW), 0);

	/* Write-held by the caller. */
	check("wrlock", pthread_rwlock_wrlock(rw), 0);
	check("wrlock again", pthread_rwlock_wrlock(rw), EDEADLK);
	check("rdlock by the writer", pthread_rwlock_rdlock(rw), EDEADLK);
	check("timedrdlock by the writer", do_op(rw, TIMEDRD, &LATER), EDEADLK);
	check("timedwrlock by the writer", do_op(rw, TIMEDWR, &LATER), EDEADLK);
	check("clockrdlock by the writer", do_op(rw, CLOCKRD, &MONO_NOW), EDEADLK);
	check("clockwrlock by the writer", do_op(rw, CLOCKWR, &MONO_NOW), EDEADLK);
	struct when bad = raw(CLOCK_REALTIME, 0, -1);
	check("timedrdlock by the writer, tv_nsec -1", do_op(rw, TIMEDRD, &bad), EINVAL);
	bad = raw(CLOCK_MONOTONIC, 0, 1000000000);
	check("clockwrlock by the writer, tv_nsec 1e9", do_op(rw, CLOCKWR, &bad), EINVAL);
	bad = raw(CLOCK_PROCESS_CPUTIME_ID, 1, 0);
	check("clockrdlock by the writer, cputime clock", do_op(rw, CLOCKRD, &bad), EINVAL);
	check("tryrdlock by the writer", pthread_rwlock_tryrdlock(rw), EBUSY);
	check("trywrlock by the writer", pthread_rwlock_trywrlock(rw), EBUSY);
	check("other thread: tryrdlock", other(rw, TRYRD, NOW), EBUSY);
	check("other thread: trywrlock", other(rw, TRYWR, NOW), EBUSY);
	check("other thread: timedrdlock", other(rw, TIMEDRD, SOON), ETIMEDOUT);
	check("other thread: timedrdlock now", other(rw, TIMEDRD, NOW), ETIMEDOUT);
	check("other thread: timedwrlock tv_sec -1", other(rw, TIMEDWR, raw(CLOCK_REALTIME, -1, 0)),
	      ETIMEDOUT);
	check("other thread: clockrdlock monotonic", other(rw, CLOCKRD, MONO_SOON), ETIMEDOUT);
	check("other thread: clockwrlock monotonic past", other(rw, CLOCKWR, MONO_PAST), ETIMEDOUT);
	check("other thread: clockrdlock bad clock", other(rw, CLOCKRD, raw(CLOCK_MONOTONIC_RAW, 1, 0)),
	      EINVAL);
	check("unlock (write)", pthread_rwlock_unlock(rw), 0);
	check("trywrlock", pthread_rwlock_trywrlock(rw), 0);
	check("rdlock by the trywrlock writer", pthread_rwlock_rdlock(rw), EDEADLK);
	check("unlock (write)", pthread_rwlock_unlock(rw), 0);
	check("timedwrlock free", do_op(rw, TIMEDWR, &LATER), 0);
	check("other thread: clockrdlock realtime", other(rw, CLOCKRD, SOON), ETIMEDOUT);
	check("unlock (write)", pthread_rwlock_unlock(rw), 0);

	/* Free: EINVAL for a bad deadline even so; any valid deadline takes it. */
	static const long bad_nsec[] = { -1, 1000000000, -1000000000L, 2000000000L };
	static const clockid_t bad_clock[] = { CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
					       CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
					       CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, -1, 100 };
	for (int i = 0; i < 4; i++) {
		char what[80];
		struct when w = raw(CLOCK_REALTIME, 0, bad_nsec[i]);
		snprintf(what, sizeof what, "free, tv_nsec %ld: timedrdlock", bad_nsec[i]);
		check(what, do_op(rw, TIMEDRD, &w), EINVAL);
		snprintf(what, sizeof what, "free, tv_nsec %ld: timedwrlock", bad_nsec[i]);
		check(what, do_op(rw, TIMEDWR, &w), EINVAL);
		w.ts.tv_sec = time(NULL) + 100;
		snprintf(what, sizeof what, "free, tv_nsec %ld: clockrdlock", bad_nsec[i]);
		check(what, do_op(rw, CLOCKRD, &w), EINVAL);
		w.clock = CLOCK_MONOTONIC;
		snprintf(what, sizeof what, "free, tv_nsec %ld: clockwrlock", bad_nsec[i]);
		check(what, do_op(rw, CLOCKWR, &w), EINVAL);
	}
	for (size_t i = 0; i < sizeof bad_clock / sizeof bad_clock[0]; i++) {
		char what[80];
		struct when w = raw(bad_clock[i], time(NULL) + 100, 0);
		snprintf(what, sizeof what, "free, clock %d: clockrdlock", (int)bad_clock[i]);
		check(what, do_op(rw, CLOCKRD, &w), EINVAL);
		snprintf(what, sizeof what, "free, clock %d: clockwrlock", (int)bad_clock[i]);
		check(what, do_op(rw, CLOCKWR, &w), EINVAL);
	}
	const struct when past[] = {
		raw(CLOCK_REALTIME, 0, 0), raw(CLOCK_REALTIME, -1, 0), raw(CLOCK_REALTIME, -1, 999999999),
		raw(CLOCK_MONOTONIC, 0, 0), MONO_PAST, NOW, MONO_NOW,
	};
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
		bool mono = past[i].clock == CLOCK_MONOTONIC;
		check("free, past deadline: timed/clock rdlock", do_op(rw, mono ? CLOCKRD : TIMEDRD, &past[i]), 0);
		check("unlock", pthread_rwlock_unlock(rw), 0);
		check("free, past deadline: timed/clock wrlock", do_op(rw, mono ? CLOCKWR : TIMEDWR, &past[i]), 0);
		check("unlock", pthread_rwlock_unlock(rw), 0);
	}
	check("free, realtime clockrdlock past", do_op(rw, CLOCKRD, &NOW), 0);
	check("unlock", pthread_rwlock_unlock(rw), 0);

	/* Unlock of an unlocked rwlock: 0 (glibc's state is broken afterwards: init again). */
	check("unlock of an unlocked rwlock", pthread_rwlock_unlock(rw), 0);
	check("init again", pthread_rwlock_init(rw, attr), 0);
	check("wrlock after init", pthread_rwlock_wrlock(rw), 0);
	check("unlock", pthread_rwlock_unlock(rw), 0);

	/* destroy: 0, locked or not; init makes it usable again. */
	check("rdlock", pthread_rwlock_rdlock(rw), 0);
	check("destroy while read-locked", pthread_rwlock_destroy(rw), 0);
	check("init", pthread_rwlock_init(rw, attr), 0);
	check("trywrlock after init", pthread_rwlock_trywrlock(rw), 0);
	check("destroy while write-locked", pthread_rwlock_destroy(rw), 0);
	check("init", pthread_rwlock_init(rw, attr), 0);
	check("tryrdlock after init", pthread_rwlock_tryrdlock(rw), 0);
	check("unlock", pthread_rwlock_unlock(rw), 0);
	check("destroy", pthread_rwlock_destroy(rw), 0);
}

static pthread_rwlock_t static_default = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t static_nonrec = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

int main(void)
{
	pthread_rwlockattr_t a;
	pthread_rwlock_t rw;

	kind_name = "PTHREAD_RWLOCK_INITIALIZER";
	run(&static_default, NULL);
	kind_name = "PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP";
	must(pthread_rwlockattr_init(&a));
	must(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
	run(&static_nonrec, &a);
	must(pthread_rwlockattr_destroy(&a));

	kind_name = "zeroed memory";
	memset(&rw, 0, sizeof rw);
	run(&rw, NULL);
	kind_name = "init, no attributes";
	must(pthread_rwlock_init(&rw, NULL));
	run(&rw, NULL);

	static const struct {
		const char *name;
		int kind;
		int pshared;
	} kinds[] = {
		{ "PREFER_READER_NP", PTHREAD_RWLOCK_PREFER_READER_NP, PTHREAD_PROCESS_PRIVATE },
		{ "PREFER_WRITER_NP", PTHREAD_RWLOCK_PREFER_WRITER_NP, PTHREAD_PROCESS_PRIVATE },
		{ "PREFER_WRITER_NONRECURSIVE_NP", PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP,
		  PTHREAD_PROCESS_PRIVATE },
		{ "DEFAULT_NP, process-shared", PTHREAD_RWLOCK_DEFAULT_NP, PTHREAD_PROCESS_SHARED },
		{ "PREFER_WRITER_NONRECURSIVE_NP, process-shared",
		  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP, PTHREAD_PROCESS_SHARED },
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		kind_name = kinds[i].name;
		must(pthread_rwlockattr_init(&a));
		must(pthread_rwlockattr_setkind_np(&a, kinds[i].kind));
		must(pthread_rwlockattr_setpshared(&a, kinds[i].pshared));
		memset(&rw, 0xa5, sizeof rw); /* init must not depend on the old contents */
		check("init", pthread_rwlock_init(&rw, &a), 0);
		run(&rw, &a);
		must(pthread_rwlockattr_destroy(&a));
	}

	/* Attribute errors stay glibc's. */
	must(pthread_rwlockattr_init(&a));
	kind_name = "attr";
	check("setkind_np 3", pthread_rwlockattr_setkind_np(&a, 3), EINVAL);
	check("setpshared 2", pthread_rwlockattr_setpshared(&a, 2), EINVAL);
	must(pthread_rwlockattr_destroy(&a));
	return posix_test_done();
}
