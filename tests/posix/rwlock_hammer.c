/* Many threads mixing readers and writers on one rwlock, for each kind, with every
 * acquisition form (plain, try, timed, clock on both clocks) and, on the reader-
 * preferring kinds, nested (recursive) read locks — which must always be granted at
 * once, since only a writer holding the lock could stop them. The activity invariant
 * (Go's HammerRWMutex: readers + 10000 * writers inside) and a torn-write check run
 * under the lock; every thread completes its quota, so the printed counts are exact. */
#include "posix_test.h"

#include <sched.h>
#include <stdint.h>

enum { WRITERS = 3, READERS = 8, THREADS = WRITERS + READERS };

struct shared {
	pthread_rwlock_t *rw;
	bool recursive_ok;  /* reader-preferring kind: nested read locks allowed */
	int iters;
	int activity;
	long a, b;          /* a == b outside the write lock */
	long reads, writes, nested;
	int bad;            /* invariant violations */
	int bad_rc;         /* a return code the form cannot give here */
};

struct worker {
	struct shared *s;
	bool writer;
	uint64_t rng;
};

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void acquire(struct worker *w, uint64_t x)
{
	struct shared *s = w->s;
	pthread_rwlock_t *rw = s->rw;
	struct timespec t;
	int r;

	switch (x % 5) {
	case 0:
		r = w->writer ? pthread_rwlock_wrlock(rw) : pthread_rwlock_rdlock(rw);
		if (r != 0)
			__atomic_fetch_add(&s->bad_rc, 1, __ATOMIC_RELAXED);
		return;
	case 1:
		while ((r = w->writer ? pthread_rwlock_trywrlock(rw) : pthread_rwlock_tryrdlock(rw)) != 0) {
			if (r != EBUSY)
				__atomic_fetch_add(&s->bad_rc, 1, __ATOMIC_RELAXED);
			sched_yield();
		}
		return;
	default: {
		clockid_t clock = x % 5 == 4 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
		for (;;) {
			t = deadline_in(clock, 0);
			t.tv_nsec += (long)(next(&w->rng) % 300) * 1000 - 50000; /* -50 .. +250 us */
			if (t.tv_nsec < 0) {
				t.tv_nsec += 1000000000;
				t.tv_sec--;
			} else if (t.tv_nsec >= 1000000000) {
				t.tv_nsec -= 1000000000;
				t.tv_sec++;
			}
			if (x % 5 == 2)
				r = w->writer ? pthread_rwlock_timedwrlock(rw, &t) : pthread_rwlock_timedrdlock(rw, &t);
			else
				r = w->writer ? pthread_rwlock_clockwrlock(rw, clock, &t)
					      : pthread_rwlock_clockrdlock(rw, clock, &t);
			if (r == 0)
				return;
			if (r != ETIMEDOUT)
				__atomic_fetch_add(&s->bad_rc, 1, __ATOMIC_RELAXED);
		}
	}
	}
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;

	for (int i = 0; i < s->iters; i++) {
		uint64_t x = next(&w->rng);
		acquire(w, x);
		if (w->writer) {
			int n = __atomic_add_fetch(&s->activity, 10000, __ATOMIC_RELAXED);
			if (n != 10000 || s->a != s->b)
				__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
			s->a++;
			__asm__ __volatile__("" ::: "memory");
			s->b++;
			s->writes++;
			__atomic_fetch_sub(&s->activity, 10000, __ATOMIC_RELAXED);
		} else {
			int depth = 1;
			if (s->recursive_ok && (x >> 8) % 3 == 0) {
				/* nested: granted at once even with writers waiting */
				struct timespec past = { 0, 0 };
				int r = (x >> 12) % 2 ? pthread_rwlock_rdlock(s->rw)
						      : pthread_rwlock_timedrdlock(s->rw, &past);
				if (r != 0)
					__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
				else
					depth = 2;
				__atomic_fetch_add(&s->nested, 1, __ATOMIC_RELAXED);
			}
			int n = __atomic_add_fetch(&s->activity, 1, __ATOMIC_RELAXED);
			if (n < 1 || n >= 10000 || __atomic_load_n(&s->a, __ATOMIC_RELAXED) !=
						       __atomic_load_n(&s->b, __ATOMIC_RELAXED))
				__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&s->reads, 1, __ATOMIC_RELAXED);
			__atomic_fetch_sub(&s->activity, 1, __ATOMIC_RELAXED);
			while (depth--)
				if (pthread_rwlock_unlock(s->rw) != 0)
					__atomic_fetch_add(&s->bad_rc, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (pthread_rwlock_unlock(s->rw) != 0)
			__atomic_fetch_add(&s->bad_rc, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void hammer(const char *name, pthread_rwlock_t *rw, bool recursive_ok, int iters)
{
	static struct shared s;
	static struct worker w[THREADS];
	pthread_t t[THREADS];
	char label[160];

	memset(&s, 0, sizeof s);
	s.rw = rw;
	s.recursive_ok = recursive_ok;
	s.iters = iters;
	for (int i = 0; i < THREADS; i++) {
		/* writers and readers interleaved in start order */
		w[i] = (struct worker){ &s, i % 4 == 0 && i / 4 < WRITERS, 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) };
		start_thread(&t[i], worker_fn, &w[i]);
	}
	for (int i = 0; i < THREADS; i++)
		join_thread(t[i]);
	int writers = 0;
	for (int i = 0; i < THREADS; i++)
		writers += w[i].writer;
	snprintf(label, sizeof label, "%s: invariant violations", name);
	expect_long(label, s.bad, 0);
	snprintf(label, sizeof label, "%s: unexpected return codes", name);
	expect_long(label, s.bad_rc, 0);
	snprintf(label, sizeof label, "%s: writes", name);
	expect_long(label, s.writes, (long)writers * iters);
	snprintf(label, sizeof label, "%s: reads", name);
	expect_long(label, s.reads, (long)(THREADS - writers) * iters);
	snprintf(label, sizeof label, "%s: nested read locks taken", name);
	expect_true(label, recursive_ok ? s.nested > 0 : s.nested == 0);
	snprintf(label, sizeof label, "%s: a == b", name);
	expect_true(label, s.a == s.b && s.a == s.writes);
	snprintf(label, sizeof label, "%s: free afterwards (trywrlock)", name);
	expect_rc(label, pthread_rwlock_trywrlock(rw), 0);
	must(pthread_rwlock_unlock(rw));
}

static pthread_rwlock_t static_default = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t static_nonrec = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

int main(void)
{
	const int iters = 20000;
	pthread_rwlockattr_t a;
	static pthread_rwlock_t rw;

	hammer("default", &static_default, true, iters);
	hammer("writer nonrecursive", &static_nonrec, false, iters);

	static const struct {
		const char *name;
		int kind;
		bool recursive_ok;
	} kinds[] = {
		{ "PREFER_READER_NP", PTHREAD_RWLOCK_PREFER_READER_NP, true },
		{ "PREFER_WRITER_NP", PTHREAD_RWLOCK_PREFER_WRITER_NP, true },
		{ "PREFER_WRITER_NONRECURSIVE_NP", PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP, false },
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		must(pthread_rwlockattr_init(&a));
		must(pthread_rwlockattr_setkind_np(&a, kinds[i].kind));
		must(pthread_rwlock_init(&rw, &a));
		must(pthread_rwlockattr_destroy(&a));
		hammer(kinds[i].name, &rw, kinds[i].recursive_ok, iters);
		must(pthread_rwlock_destroy(&rw));
	}
	return posix_test_done();
}
