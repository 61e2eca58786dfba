/* Timed and clock rwlock forms against a lock held by another thread, for a
 * reader-preferring and a writer-preferring rwlock:
 *  - ETIMEDOUT, never before the deadline, for deadlines ahead, now, in the past and
 *    before the epoch, on CLOCK_REALTIME (timed*, clock* with CLOCK_REALTIME) and
 *    CLOCK_MONOTONIC; the lock is left as it was (the holder's unlock frees it);
 *  - a lock released before the deadline is taken: 0, whichever clock, for read and
 *    write waiters against read and write holders;
 *  - many timed waiters of both kinds giving up at once, then every one succeeding on
 *    a lock that is released in time: the counts stay consistent. */
#include "posix_test.h"

#include <sys/syscall.h>

enum form { TIMED, CLOCK_RT, CLOCK_MONO, FORMS };
static const char *const form_name[] = { "timed", "clock realtime", "clock monotonic" };

static clockid_t clock_of(enum form f) { return f == CLOCK_MONO ? CLOCK_MONOTONIC : CLOCK_REALTIME; }

static int timed(pthread_rwlock_t *rw, bool write, enum form f, const struct timespec *t)
{
	switch (f) {
	case TIMED:
		return write ? pthread_rwlock_timedwrlock(rw, t) : pthread_rwlock_timedrdlock(rw, t);
	default:
		return write ? pthread_rwlock_clockwrlock(rw, clock_of(f), t)
			     : pthread_rwlock_clockrdlock(rw, clock_of(f), t);
	}
}

/* A holder thread: takes the lock (read or write), holds it until told, then keeps it
 * `linger_ms` longer before unlocking. */
struct holder {
	pthread_rwlock_t *rw;
	bool write;
	int held, release, linger_ms;
	pthread_t t;
};

static void *holder_fn(void *arg)
{
	struct holder *h = arg;
	must(h->write ? pthread_rwlock_wrlock(h->rw) : pthread_rwlock_rdlock(h->rw));
	__atomic_store_n(&h->held, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&h->release, __ATOMIC_ACQUIRE))
		usleep(200);
	usleep(1000 * h->linger_ms);
	must(pthread_rwlock_unlock(h->rw));
	return NULL;
}

static void hold(struct holder *h, pthread_rwlock_t *rw, bool write, int linger_ms)
{
	*h = (struct holder){ .rw = rw, .write = write, .linger_ms = linger_ms };
	start_thread(&h->t, holder_fn, h);
	while (!__atomic_load_n(&h->held, __ATOMIC_ACQUIRE))
		usleep(100);
}

static void let_go(struct holder *h)
{
	__atomic_store_n(&h->release, 1, __ATOMIC_RELEASE);
	join_thread(h->t);
}

static const char *kind_name;

static void check(const char *what, int got, int want)
{
	char label[200];
	snprintf(label, sizeof label, "%s: %s", kind_name, what);
	expect_rc(label, got, want);
}

static void check_true(const char *what, bool ok)
{
	char label[200];
	snprintf(label, sizeof label, "%s: %s", kind_name, what);
	expect_true(label, ok);
}

static void timeouts(pthread_rwlock_t *rw)
{
	static struct holder h;
	static const long offsets_ms[] = { 30, 1, 0, -1, -1000 };
	char what[160];

	for (int hw = 0; hw < 2; hw++) {
		hold(&h, rw, hw, 0);
		for (int want_write = 0; want_write < 2; want_write++) {
			if (!hw && !want_write)
				continue; /* readers share */
			for (int f = 0; f < FORMS; f++) {
				for (size_t i = 0; i < sizeof offsets_ms / sizeof offsets_ms[0]; i++) {
					struct timespec t = deadline_in(clock_of(f), offsets_ms[i]);
					snprintf(what, sizeof what, "%s held, %s %s, %+ld ms", hw ? "write" : "read",
						 form_name[f], want_write ? "wrlock" : "rdlock", offsets_ms[i]);
					check(what, timed(rw, want_write, f, &t), ETIMEDOUT);
					if (!reached(clock_of(f), &t))
						check_true("  ... returned before the deadline", false);
				}
				struct timespec epoch = { -1, 0 };
				snprintf(what, sizeof what, "%s held, %s %s, before the epoch",
					 hw ? "write" : "read", form_name[f], want_write ? "wrlock" : "rdlock");
				check(what, timed(rw, want_write, f, &epoch), ETIMEDOUT);
			}
		}
		let_go(&h);
		check("free again: trywrlock", pthread_rwlock_trywrlock(rw), 0);
		check("unlock", pthread_rwlock_unlock(rw), 0);
	}
}

static void released_in_time(pthread_rwlock_t *rw)
{
	static struct holder h;
	char what[160];

	for (int hw = 0; hw < 2; hw++)
		for (int want_write = 0; want_write < 2; want_write++) {
			if (!hw && !want_write)
				continue;
			for (int f = 0; f < FORMS; f++) {
				hold(&h, rw, hw, 20);
				__atomic_store_n(&h.release, 1, __ATOMIC_RELEASE); /* unlocks in 20 ms */
				struct timespec t = deadline_in(clock_of(f), 20000);
				snprintf(what, sizeof what, "%s held, released in 20 ms: %s %s",
					 hw ? "write" : "read", form_name[f], want_write ? "wrlock" : "rdlock");
				check(what, timed(rw, want_write, f, &t), 0);
				check_true("  ... before the deadline", !reached(clock_of(f), &t));
				check("unlock", pthread_rwlock_unlock(rw), 0);
				join_thread(h.t);
			}
		}
}

/* N waiters (alternating read / write, all forms) with short deadlines give up
 * against a writer; then N waiters with long deadlines all get the lock when the
 * writer lets go. */
struct waiter {
	pthread_rwlock_t *rw;
	bool write;
	enum form f;
	long ms;
	int r;
	bool early;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct timespec t = deadline_in(clock_of(w->f), w->ms);
	w->r = timed(w->rw, w->write, w->f, &t);
	w->early = w->r == ETIMEDOUT && !reached(clock_of(w->f), &t);
	if (w->r == 0)
		must(pthread_rwlock_unlock(w->rw));
	return NULL;
}

static void crowd(pthread_rwlock_t *rw)
{
	enum { N = 12 };
	static struct holder h;
	struct waiter w[N];
	pthread_t t[N];

	for (int round = 0; round < 2; round++) {
		hold(&h, rw, true, round == 0 ? 0 : 50);
		if (round == 1)
			__atomic_store_n(&h.release, 1, __ATOMIC_RELEASE);
		for (int i = 0; i < N; i++) {
			w[i] = (struct waiter){ rw, i % 2 == 1, (enum form)(i % FORMS),
						round == 0 ? 5 + 3 * i : 20000, -1, false };
			start_thread(&t[i], waiter_fn, &w[i]);
		}
		int timedout = 0, ok = 0, early = 0;
		for (int i = 0; i < N; i++) {
			join_thread(t[i]);
			timedout += w[i].r == ETIMEDOUT;
			ok += w[i].r == 0;
			early += w[i].early;
		}
		if (round == 0)
			let_go(&h);
		else
			join_thread(h.t);
		char what[100];
		snprintf(what, sizeof what, "%s: waiters that timed out", round ? "released" : "held");
		expect_long(what, timedout, round ? 0 : N);
		snprintf(what, sizeof what, "%s: waiters that got the lock", round ? "released" : "held");
		expect_long(what, ok, round ? N : 0);
		expect_long("timeouts before the deadline", early, 0);
		check("afterwards: trywrlock", pthread_rwlock_trywrlock(rw), 0);
		check("unlock", pthread_rwlock_unlock(rw), 0);
		check("afterwards: tryrdlock", pthread_rwlock_tryrdlock(rw), 0);
		check("unlock", pthread_rwlock_unlock(rw), 0);
	}
}

static pthread_rwlock_t static_default = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t static_nonrec = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

int main(void)
{
	pthread_rwlock_t *locks[] = { &static_default, &static_nonrec };
	const char *names[] = { "default", "writer nonrecursive" };

	for (int k = 0; k < 2; k++) {
		kind_name = names[k];
		timeouts(locks[k]);
		released_in_time(locks[k]);
		crowd(locks[k]);
	}
	return posix_test_done();
}
