/* gs_cond: Go's sync.Cond behaviours (cond_test.go, adapted to threads), deadlines,
 * the requeue onto the mutex, free-after-wait, a producer/consumer, misuse.
 *
 * Some tests are white-box: they read the cond's private `waiters_` (queued waiters,
 * exact under the cond's bucket lock; src/cond.c) to know that a thread is queued, and
 * the mutex's private state word (bits mirrored below from src/mutex.c) to see that a
 * signal under the mutex moved its waiter onto the mutex and that everything ends in
 * the all-zero state.
 *
 * Waits on other threads are bounded (WAIT_FOR gives up after 10 s), so a lost wakeup
 * fails the test instead of hanging it. "Nothing else happens" is checked by looking
 * again after a quiet period: that can miss a late extra wakeup, never invent one. */
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>

#include <gosync.h>

/* The state bits of src/mutex.c. */
enum { LOCKED = 1u, WOKEN = 2u, STARVING = 4u, PARKED = 8u };



/* How long to look again for an event that must not happen. */
static int64_t quiet_ns(void) { return under_tsan() ? 60 * GS_MSEC : 20 * GS_MSEC; }

static uint32_t nwaiters(gs_cond_t *c) { return __atomic_load_n(&c->waiters_, __ATOMIC_RELAXED); }
static uint32_t mstate(gs_mutex_t *m) { return __atomic_load_n(&m->state_, __ATOMIC_RELAXED); }

static void add_int(int *p, int v) { __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }

/* Evaluates `expr` until it holds, for at most 10 s; the last value. */
#define WAIT_FOR(expr)                                                   \
	({                                                               \
		int64_t wf_give_up_ = gs_now() + 10 * GS_SEC;            \
		bool wf_ok_;                                             \
		while (!(wf_ok_ = (expr)) && gs_now() < wf_give_up_)     \
			sleep_ns(50 * GS_USEC);                          \
		wf_ok_;                                                  \
	})




static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }

/* A thread's voluntary context switches so far: one per sleep it woke from. */
static long nvcsw(pid_t tid)
{
	char path[64], line[256];
	long v = -1;
	snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0)
			v = strtol(line + 24, NULL, 10);
	fclose(f);
	return v;
}

/* --- a cond, its mutex and generic waiters ------------------------------------ */

enum { MAX_WAITERS = 128 };

struct cv {
	gs_cond_t c;
	gs_mutex_t m;
	int inside;     /* threads in a checked critical section (atomic) */
	int bad;        /* violations seen by workers (atomic) */
	int returned;   /* waits returned (atomic; release after order[] is written) */
	int64_t hold_ns;/* how long each waiter keeps m after its wait returns */
	int order_len;  /* under m */
	int order[MAX_WAITERS];
};

/* A thread in a critical section of v->m checks that it is alone. */
static void checked_section(struct cv *v, int64_t hold_ns)
{
	if (__atomic_add_fetch(&v->inside, 1, __ATOMIC_ACQ_REL) != 1)
		add_int(&v->bad, 1);
	if (hold_ns)
		sleep_ns(hold_ns);
	__atomic_sub_fetch(&v->inside, 1, __ATOMIC_ACQ_REL);
}

struct waiter {
	struct cv *v;
	int id;
	bool plain;        /* gs_cond_wait; else gs_cond_wait_until(deadline) */
	int64_t deadline;
	/* results */
	int tid;
	int entered;       /* holds m and is about to wait */
	int rc;
	int64_t returned_at;
	int done;
	pthread_t t;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct cv *v = w->v;
	int rc = 0;

	store_int(&w->tid, my_tid());
	gs_mutex_lock(&v->m);
	store_int(&w->entered, 1);
	if (w->plain)
		gs_cond_wait(&v->c, &v->m);
	else
		rc = gs_cond_wait_until(&v->c, &v->m, w->deadline);
	w->returned_at = gs_now();
	checked_section(v, v->hold_ns);
	v->order[v->order_len++] = w->id;
	w->rc = rc;
	__atomic_add_fetch(&v->returned, 1, __ATOMIC_RELEASE);
	gs_mutex_unlock(&v->m);
	store_int(&w->done, 1);
	return NULL;
}

static void start_waiter(struct waiter *w, struct cv *v, int id, bool plain, int64_t deadline)
{
	memset(w, 0, sizeof *w);
	w->v = v;
	w->id = id;
	w->plain = plain;
	w->deadline = deadline;
	w->t = spawn(waiter_main, w);
}

/* Starts waiter id and returns once it is queued (the cond counts it in the same
 * bucket critical section that enqueues it), assuming `before` were queued. */
static bool queue_waiter(struct waiter *w, struct cv *v, int id, bool plain, uint32_t before)
{
	start_waiter(w, v, id, plain, GS_NO_DEADLINE);
	return WAIT_FOR(nwaiters(&v->c) == before + 1);
}

static void reset_cv(struct cv *v) { memset(v, 0, sizeof *v); }

/* The cond and the mutex are back to the zeroed state (every thread is done). */
static void assert_idle(struct cv *v)
{
	assert_int_equal(nwaiters(&v->c), 0);
	assert_int_equal(mstate(&v->m), 0);
	assert_int_equal(load_int(&v->bad), 0);
}

/* --- basics -------------------------------------------------------------------- */

static void test_zero_init_and_empty_notify(void **st)
{
	(void)st;
	gs_cond_t c = GS_COND_INIT, zero;
	memset(&zero, 0, sizeof zero);
	assert_memory_equal(&c, &zero, sizeof c);
	assert_true(sizeof(gs_cond_t) <= 16);

	/* a signal or broadcast with nobody waiting is dropped, not stored */
	gs_cond_signal(&c);
	gs_cond_broadcast(&c);
	assert_memory_equal(&c, &zero, sizeof c);

	gs_mutex_t m = GS_MUTEX_INIT;
	gs_mutex_lock(&m);
	int64_t d = gs_now() + 2 * GS_MSEC;
	assert_int_equal(gs_cond_wait_until(&c, &m, d), ETIMEDOUT); /* nothing was stored */
	assert_true(gs_now() >= d);
	gs_mutex_unlock(&m);
	assert_int_equal(nwaiters(&c), 0);
	assert_int_equal(mstate(&m), 0);
}

/* --- signal wakes exactly one (Go's TestCondSignal) ------------------------------- */

static void signal_wakes_one(bool held)
{
	enum { N = 6 };
	static struct cv v;
	struct waiter w[N];

	reset_cv(&v);
	for (int i = 0; i < N; i++)
		assert_true(queue_waiter(&w[i], &v, i, i % 2 == 0, (uint32_t)i));
	sleep_ns(quiet_ns());
	assert_int_equal(load_int(&v.returned), 0); /* all asleep */

	for (int k = 0; k < N; k++) {
		if (held) {
			gs_mutex_lock(&v.m);
			gs_cond_signal(&v.c);
			/* moved onto the mutex: off the cond's queue, nobody returns yet */
			assert_int_equal(nwaiters(&v.c), N - k - 1);
			assert_true(mstate(&v.m) & PARKED);
			gs_mutex_unlock(&v.m);
		} else {
			gs_cond_signal(&v.c);
		}
		assert_true(WAIT_FOR(load_int(&v.returned) >= k + 1));
		sleep_ns(quiet_ns());
		assert_int_equal(load_int(&v.returned), k + 1); /* exactly one */
		assert_int_equal(nwaiters(&v.c), N - k - 1);
		assert_int_equal(v.order[k], k);                /* the oldest */
	}
	for (int i = 0; i < N; i++) {
		join(w[i].t);
		assert_int_equal(w[i].rc, 0);
	}
	gs_cond_signal(&v.c); /* nobody left: a no-op */
	assert_idle(&v);
}

static void test_signal_wakes_one(void **st)
{
	(void)st;
	signal_wakes_one(false);
}

static void test_signal_wakes_one_held(void **st)
{
	(void)st;
	signal_wakes_one(true);
}

/* --- FIFO generations (Go's TestCondSignalGenerations) ------------------------- */

enum { GENS = 100 };

/* All queued one after another, then woken one signal at a time, without the mutex
 * (the direct wake path): each signal wakes the oldest. */
static void test_signal_generations_direct(void **st)
{
	(void)st;
	static struct cv v;
	static struct waiter w[GENS];

	reset_cv(&v);
	for (int i = 0; i < GENS; i++)
		assert_true(queue_waiter(&w[i], &v, i, i % 3 != 0, (uint32_t)i));
	for (int i = 0; i < GENS; i++) {
		gs_cond_signal(&v.c);
		assert_true(WAIT_FOR(load_int(&v.returned) == i + 1));
		assert_int_equal(v.order[i], i);
	}
	for (int i = 0; i < GENS; i++) {
		join(w[i].t);
		assert_int_equal(w[i].rc, 0);
	}
	assert_idle(&v);
}

/* All queued, then 100 signals in one critical section (the requeue path): they move
 * onto the mutex in queue order and its unlocks let them in in that order. */
static void test_signal_generations_held(void **st)
{
	(void)st;
	static struct cv v;
	static struct waiter w[GENS];

	reset_cv(&v);
	for (int i = 0; i < GENS; i++)
		assert_true(queue_waiter(&w[i], &v, i, i % 3 != 0, (uint32_t)i));
	gs_mutex_lock(&v.m);
	for (int i = 0; i < GENS; i++) {
		gs_cond_signal(&v.c);
		assert_int_equal(nwaiters(&v.c), GENS - i - 1);
	}
	assert_true(mstate(&v.m) & PARKED);
	sleep_ns(quiet_ns());
	assert_int_equal(load_int(&v.returned), 0);
	gs_mutex_unlock(&v.m);
	assert_true(WAIT_FOR(load_int(&v.returned) == GENS));
	for (int i = 0; i < GENS; i++) {
		join(w[i].t);
		assert_int_equal(w[i].rc, 0);
		assert_int_equal(v.order[i], i);
	}
	assert_idle(&v);
}

/* Go's interleaving: waiter i queues, then a signal under the mutex; the waiter woken
 * by signal i is always waiter i, never a later one. */
static void test_signal_generations_interleaved(void **st)
{
	(void)st;
	static struct cv v;
	static struct waiter w[GENS];

	reset_cv(&v);
	for (int i = 0; i < GENS; i++) {
		start_waiter(&w[i], &v, i, i % 2 == 0, GS_NO_DEADLINE);
		if (i > 0) {
			assert_true(WAIT_FOR(load_int(&v.returned) == i));
			assert_int_equal(v.order[i - 1], i - 1);
		}
		assert_true(WAIT_FOR(nwaiters(&v.c) == 1)); /* waiter i, alone */
		gs_mutex_lock(&v.m);
		gs_cond_signal(&v.c);
		gs_mutex_unlock(&v.m);
	}
	assert_true(WAIT_FOR(load_int(&v.returned) == GENS));
	for (int i = 0; i < GENS; i++) {
		join(w[i].t);
		assert_int_equal(w[i].rc, 0);
		assert_int_equal(v.order[i], i);
	}
	assert_idle(&v);
}

/* --- broadcast rounds (Go's TestCondBroadcast) ---------------------------------- */

struct bcast {
	struct cv v;
	int n;
	int exit;              /* under m */
	int wakes[MAX_WAITERS];/* under m */
};

struct bcast_thread {
	struct bcast *b;
	int g;
};

static void *bcast_main(void *arg)
{
	struct bcast_thread *t = arg;
	struct bcast *b = t->b;

	gs_mutex_lock(&b->v.m);
	while (!b->exit) {
		if (t->g % 2)
			gs_cond_wait(&b->v.c, &b->v.m);
		else if (gs_cond_wait_until(&b->v.c, &b->v.m, gs_now() + 3600 * GS_SEC) != 0)
			add_int(&b->v.bad, 1);
		b->wakes[t->g]++;
	}
	gs_mutex_unlock(&b->v.m);
	return NULL;
}

/* min and max of wakes[], read under the mutex */
static void wake_range(struct bcast *b, int *lo, int *hi)
{
	gs_mutex_lock(&b->v.m);
	*lo = INT32_MAX;
	*hi = 0;
	for (int g = 0; g < b->n; g++) {
		if (b->wakes[g] < *lo)
			*lo = b->wakes[g];
		if (b->wakes[g] > *hi)
			*hi = b->wakes[g];
	}
	gs_mutex_unlock(&b->v.m);
}

/* Every round: all n threads queued; one broadcast (with or without the mutex) wakes
 * each exactly once; they queue again, after the broadcast, and it does not wake them
 * a second time. */
static void test_broadcast_rounds(void **st)
{
	(void)st;
	static struct bcast b;
	static struct bcast_thread th[MAX_WAITERS];
	pthread_t t[MAX_WAITERS];
	int rounds = scaled(64, 16);
	int lo, hi;

	memset(&b, 0, sizeof b);
	b.n = scaled(64, 24);
	for (int g = 0; g < b.n; g++) {
		th[g] = (struct bcast_thread){ &b, g };
		t[g] = spawn(bcast_main, &th[g]);
	}
	for (int r = 0; r < rounds; r++) {
		assert_true(WAIT_FOR(nwaiters(&b.v.c) == (uint32_t)b.n));
		wake_range(&b, &lo, &hi);
		assert_int_equal(lo, r);
		assert_int_equal(hi, r); /* nobody woke twice, nobody missed a round */
		gs_mutex_lock(&b.v.m);
		if (r == rounds - 1)
			b.exit = 1;
		if (r % 2 == 0) {
			gs_cond_broadcast(&b.v.c);
			assert_int_equal(nwaiters(&b.v.c), 0); /* all moved onto m */
			gs_mutex_unlock(&b.v.m);
		} else {
			gs_mutex_unlock(&b.v.m);
			gs_cond_broadcast(&b.v.c);
		}
		assert_true(WAIT_FOR((wake_range(&b, &lo, &hi), lo == r + 1)));
	}
	for (int g = 0; g < b.n; g++)
		join(t[g]);
	wake_range(&b, &lo, &hi);
	assert_int_equal(lo, rounds);
	assert_int_equal(hi, rounds);
	gs_cond_broadcast(&b.v.c);
	assert_idle(&b.v);
}

/* A waiter that queues after a broadcast is not woken by it. */
static void test_broadcast_spares_later_waiters(void **st)
{
	(void)st;
	enum { N = 4 };
	static struct cv v;
	struct waiter w[N + 1];

	reset_cv(&v);
	for (int i = 0; i < N; i++)
		assert_true(queue_waiter(&w[i], &v, i, true, (uint32_t)i));
	gs_cond_broadcast(&v.c);
	assert_true(queue_waiter(&w[N], &v, N, true, 0));
	assert_true(WAIT_FOR(load_int(&v.returned) == N));
	sleep_ns(quiet_ns());
	assert_int_equal(load_int(&v.returned), N);
	assert_int_equal(nwaiters(&v.c), 1);
	for (int i = 0; i < N; i++)
		assert_int_not_equal(v.order[i], N);
	gs_cond_signal(&v.c);
	for (int i = 0; i <= N; i++)
		join(w[i].t);
	assert_int_equal(v.order[N], N);
	assert_idle(&v);
}

/* --- no signal stealing (Go's TestCondSignalStealing) --------------------------- */

struct steal {
	struct cv v;
	bool use_signal;
	int stop;        /* under m */
	int first_entered, first_done;
};

static void *steal_first(void *arg)
{
	struct steal *s = arg;
	gs_mutex_lock(&s->v.m);
	store_int(&s->first_entered, 1);
	gs_cond_wait(&s->v.c, &s->v.m);
	gs_mutex_unlock(&s->v.m);
	store_int(&s->first_done, 1);
	return NULL;
}

static void *steal_notifier(void *arg)
{
	struct steal *s = arg;
	if (s->use_signal)
		gs_cond_signal(&s->v.c);
	else
		gs_cond_broadcast(&s->v.c);
	return NULL;
}

static void *steal_late(void *arg)
{
	struct steal *s = arg;
	gs_mutex_lock(&s->v.m);
	while (!s->stop)
		gs_cond_wait(&s->v.c, &s->v.m);
	gs_mutex_unlock(&s->v.m);
	return NULL;
}

/* A first waiter is known to be queued; then a notify races a second waiter's
 * arrival. The second may or may not be woken, but the first must be. */
static void no_stealing(bool use_signal)
{
	static struct steal s;
	int iters = scaled(1000, 150);

	for (int i = 0; i < iters; i++) {
		memset(&s, 0, sizeof s);
		s.use_signal = use_signal;
		pthread_t first = spawn(steal_first, &s);
		assert_true(WAIT_FOR(load_int(&s.first_entered) == 1));
		gs_mutex_lock(&s.v.m); /* the first waiter released it: it is queued */
		gs_mutex_unlock(&s.v.m);

		pthread_t notifier = spawn(steal_notifier, &s);
		pthread_t late = spawn(steal_late, &s);
		bool ok = WAIT_FOR(load_int(&s.first_done) == 1);
		if (!ok)
			fprintf(stderr, "iteration %d: the first waiter was not woken (%s)\n", i,
				use_signal ? "signal" : "broadcast");
		assert_true(ok);

		gs_mutex_lock(&s.v.m);
		s.stop = 1;
		gs_mutex_unlock(&s.v.m);
		gs_cond_broadcast(&s.v.c);
		join(first);
		join(notifier);
		join(late);
		assert_idle(&s.v);
	}
}

static void test_no_stealing_broadcast(void **st)
{
	(void)st;
	no_stealing(false);
}

static void test_no_stealing_signal(void **st)
{
	(void)st;
	no_stealing(true);
}

/* --- Go's TestRace: a later waiter cannot take an earlier waiter's signal -------- */

struct race {
	struct cv v;
	int x;          /* under m */
	int t1_saw, t3_saw, t3_waited;
	int done;       /* atomic */
};

static void *race_t1(void *arg)
{
	struct race *r = arg;
	gs_mutex_lock(&r->v.m);
	r->x = 1;
	gs_cond_wait(&r->v.c, &r->v.m);
	r->t1_saw = r->x;     /* must be 2: T2's signal was for us */
	r->x = 3;
	gs_cond_signal(&r->v.c);
	gs_mutex_unlock(&r->v.m);
	add_int(&r->done, 1);
	return NULL;
}

static void *race_t2(void *arg)
{
	struct race *r = arg;
	gs_mutex_lock(&r->v.m);
	while (r->x != 1) {
		gs_mutex_unlock(&r->v.m);
		sched_yield();
		gs_mutex_lock(&r->v.m);
	}
	r->x = 2;
	gs_cond_signal(&r->v.c);
	gs_mutex_unlock(&r->v.m);
	add_int(&r->done, 1);
	return NULL;
}

static void *race_t3(void *arg)
{
	struct race *r = arg;
	gs_mutex_lock(&r->v.m);
	for (;;) {
		if (r->x == 2) {
			r->t3_waited = 1;
			gs_cond_wait(&r->v.c, &r->v.m);
			r->t3_saw = r->x; /* must be 3: woken by T1, not T2's signal */
			break;
		}
		if (r->x == 3)
			break;
		gs_mutex_unlock(&r->v.m);
		sched_yield();
		gs_mutex_lock(&r->v.m);
	}
	gs_mutex_unlock(&r->v.m);
	add_int(&r->done, 1);
	return NULL;
}

static void test_race_later_waiter(void **st)
{
	(void)st;
	static struct race r;
	int iters = scaled(300, 60), waited = 0;

	for (int i = 0; i < iters; i++) {
		memset(&r, 0, sizeof r);
		pthread_t a = spawn(race_t1, &r), b = spawn(race_t2, &r), c = spawn(race_t3, &r);
		bool ok = WAIT_FOR(load_int(&r.done) == 3);
		if (!ok)
			fprintf(stderr, "iteration %d: stuck, x=%d done=%d\n", i,
				__atomic_load_n(&r.x, __ATOMIC_RELAXED), load_int(&r.done));
		assert_true(ok);
		join(a);
		join(b);
		join(c);
		assert_int_equal(r.t1_saw, 2);
		if (r.t3_waited)
			assert_int_equal(r.t3_saw, 3);
		waited += r.t3_waited;
		assert_idle(&r.v);
	}
	printf("  later waiter queued behind the first in %d of %d runs\n", waited, iters);
	fflush(stdout);
}

/* --- deadlines --------------------------------------------------------------------- */

static void *try_lock_once(void *arg)
{
	gs_mutex_t *m = arg;
	if (gs_mutex_trylock(m)) {
		gs_mutex_unlock(m);
		return (void *)1;
	}
	return NULL;
}

/* Another thread's trylock: false when the mutex is held. */
static bool other_can_lock(gs_mutex_t *m)
{
	void *r;
	pthread_t t = spawn(try_lock_once, m);
	if (pthread_join(t, &r) != 0)
		abort();
	return r != NULL;
}

/* ETIMEDOUT no earlier than the deadline, with the mutex held again. */
static void test_wait_until_times_out_holding_mutex(void **st)
{
	(void)st;
	static const int64_t spans[] = { 30 * GS_MSEC, 2 * GS_MSEC, 200 * GS_USEC, 1, 0 };
	gs_cond_t c = GS_COND_INIT;
	gs_mutex_t m = GS_MUTEX_INIT;

	for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
		gs_mutex_lock(&m);
		int64_t d = gs_now() + spans[i];
		int rc = gs_cond_wait_until(&c, &m, d);
		int64_t back = gs_now();
		assert_int_equal(rc, ETIMEDOUT);
		assert_true(back >= d);
		assert_false(other_can_lock(&m)); /* re-acquired before returning */
		assert_int_equal(nwaiters(&c), 0);
		gs_mutex_unlock(&m);
		assert_true(other_can_lock(&m));
	}
	assert_int_equal(nwaiters(&c), 0);
	assert_int_equal(mstate(&m), 0);
}

struct past {
	struct cv v;
	int inside_wait;   /* under m: the main thread is inside wait_until */
	int got_in;        /* under m */
	int saw_inside;
	int tid;
};

static void *past_locker(void *arg)
{
	struct past *p = arg;
	store_int(&p->tid, my_tid());
	gs_mutex_lock(&p->v.m);
	p->saw_inside = p->inside_wait;
	p->got_in = 1;
	gs_mutex_unlock(&p->v.m);
	return NULL;
}

/* A past deadline still releases and re-acquires the mutex: a thread blocked on the
 * mutex gets in while (and only while) we are inside wait_until. It may lose the
 * first races (the waiter barges back), but once it has waited over 1 ms the mutex
 * turns to starvation mode and our release inside wait_until hands it the lock. */
static void test_wait_until_past_deadline_releases_mutex(void **st)
{
	(void)st;
	static struct past p;
	int calls = 0, not_timedout = 0;

	memset(&p, 0, sizeof p);
	gs_mutex_lock(&p.v.m);
	pthread_t t = spawn(past_locker, &p);
	assert_true(WAIT_FOR(mstate(&p.v.m) & PARKED)); /* it is queued on m */
	int64_t give_up = gs_now() + 10 * GS_SEC;
	while (!p.got_in && gs_now() < give_up) {
		int64_t d = calls % 3 == 0 ? 0 : calls % 3 == 1 ? gs_now() - 1 : gs_now();
		p.inside_wait = 1;
		int rc = gs_cond_wait_until(&p.v.c, &p.v.m, d);
		p.inside_wait = 0;
		calls++;
		not_timedout += rc != ETIMEDOUT;
	}
	bool got_in = p.got_in;
	gs_mutex_unlock(&p.v.m);
	join(t);
	printf("  the blocked locker got in during wait_until call %d\n", calls);
	fflush(stdout);
	assert_true(got_in);
	assert_int_equal(p.saw_inside, 1);
	assert_int_equal(not_timedout, 0);
	assert_idle(&p.v);
}

/* W1 (short deadline) queued before W2 (none): once W1 has timed out, one signal must
 * wake W2 — W1 left no trace that could swallow it. */
static void timed_out_does_not_swallow(bool held)
{
	static struct cv v;
	struct waiter w1, w2;

	reset_cv(&v);
	int64_t d = gs_now() + 50 * GS_MSEC;
	start_waiter(&w1, &v, 1, false, d);
	assert_true(WAIT_FOR(load_int(&w1.entered)));
	gs_mutex_lock(&v.m); /* W1 is queued (or already gone) */
	gs_mutex_unlock(&v.m);
	start_waiter(&w2, &v, 2, true, 0);
	assert_true(WAIT_FOR(load_int(&w2.entered)));
	gs_mutex_lock(&v.m); /* W2 is queued */
	gs_mutex_unlock(&v.m);

	assert_true(WAIT_FOR(load_int(&w1.done)));
	join(w1.t);
	assert_int_equal(w1.rc, ETIMEDOUT);
	assert_true(w1.returned_at >= d);
	assert_int_equal(nwaiters(&v.c), 1);

	if (held)
		gs_mutex_lock(&v.m);
	gs_cond_signal(&v.c);
	if (held)
		gs_mutex_unlock(&v.m);
	assert_true(WAIT_FOR(load_int(&w2.done)));
	join(w2.t);
	assert_int_equal(w2.rc, 0);
	assert_idle(&v);
}

static void test_timed_out_does_not_swallow_signal(void **st)
{
	(void)st;
	timed_out_does_not_swallow(false);
	timed_out_does_not_swallow(true);
}

/* A signal racing W1's deadline, W2 (no deadline) queued behind W1. Exactly one of
 * them gets it: W1 returns 0 and W2 stays queued, or W1 returns ETIMEDOUT (no earlier
 * than its deadline) and the signal woke W2. Never neither, never both. */
static void test_signal_racing_deadline(void **st)
{
	(void)st;
	static struct cv v;
	struct waiter w1, w2;
	int iters = scaled(2000, 300);
	int got[2] = { 0, 0 }, late = 0;
	uint64_t rnd = 0x9E3779B97F4A7C15ull;

	for (int i = 0; i < iters; i++) {
		reset_cv(&v);
		int64_t span = (int64_t)(50 + xorshift(&rnd) % 400) * GS_USEC;
		start_waiter(&w1, &v, 1, false, gs_now() + span);
		assert_true(WAIT_FOR(load_int(&w1.entered)));
		gs_mutex_lock(&v.m);
		gs_mutex_unlock(&v.m);
		start_waiter(&w2, &v, 2, true, 0);
		assert_true(WAIT_FOR(load_int(&w2.entered)));
		gs_mutex_lock(&v.m);
		gs_mutex_unlock(&v.m);

		/* signal somewhere in [deadline - span/2, deadline + span/2] */
		int64_t at = w1.deadline - span / 2 + (int64_t)(xorshift(&rnd) % (uint64_t)span);
		while (gs_now() < at)
			;
		bool held = xorshift(&rnd) & 1;
		if (held)
			gs_mutex_lock(&v.m);
		int64_t signalled_at = gs_now();
		gs_cond_signal(&v.c);
		if (held)
			gs_mutex_unlock(&v.m);

		assert_true(WAIT_FOR(load_int(&w1.done)));
		join(w1.t);
		gs_mutex_lock(&v.m);
		uint32_t queued = nwaiters(&v.c);
		int w2_done = load_int(&w2.done);
		gs_mutex_unlock(&v.m);
		if (w1.rc == 0) {
			if (queued != 1 || w2_done)
				fprintf(stderr, "iteration %d: W1 took the signal but W2 woke too "
					"(queued %u)\n", i, queued);
			assert_int_equal(queued, 1);
			assert_false(w2_done);
			got[0]++;
			late += signalled_at >= w1.deadline; /* reached it at/after the deadline */
			gs_cond_broadcast(&v.c);
		} else {
			assert_int_equal(w1.rc, ETIMEDOUT);
			assert_true(w1.returned_at >= w1.deadline);
			if (queued != 0)
				fprintf(stderr, "iteration %d: W1 timed out and the signal was "
					"lost (W2 still queued)\n", i);
			assert_int_equal(queued, 0);
			got[1]++;
		}
		assert_true(WAIT_FOR(load_int(&w2.done)));
		join(w2.t);
		assert_int_equal(w2.rc, 0);
		assert_idle(&v);
	}
	printf("  signal vs deadline: W1 signalled %d (%d of them signalled past its deadline), "
	       "W1 timed out %d\n", got[0], late, got[1]);
	fflush(stdout);
}

/* --- timeout storm --------------------------------------------------------------- */

struct storm {
	struct cv v;
	int tokens;          /* under m */
	long produced, consumed, woke, timed_out, untimed_woke; /* under m */
	int finish;          /* under m */
	int timed_left;      /* timed consumers still running (atomic) */
	long signals;        /* atomic */
	int attempts, per_producer;
};

static void *storm_timed(void *arg)
{
	struct storm *s = arg;
	uint64_t rnd = (uint64_t)(uintptr_t)&rnd | 1;

	for (int k = 0; k < s->attempts; k++) {
		gs_mutex_lock(&s->v.m);
		while (s->tokens == 0) {
			int rc = gs_cond_wait_until(&s->v.c, &s->v.m,
						    gs_now() + (int64_t)(xorshift(&rnd) % 60) * GS_USEC);
			checked_section(&s->v, 0);
			if (rc == 0) {
				s->woke++;
			} else if (rc == ETIMEDOUT) {
				s->timed_out++;
				break;
			} else {
				add_int(&s->v.bad, 1);
			}
		}
		if (s->tokens > 0) {
			s->tokens--;
			s->consumed++;
		}
		gs_mutex_unlock(&s->v.m);
		if (k % 8 == 0)
			sched_yield();
	}
	add_int(&s->timed_left, -1);
	return NULL;
}

static void *storm_untimed(void *arg)
{
	struct storm *s = arg;

	gs_mutex_lock(&s->v.m);
	for (;;) {
		while (s->tokens == 0 && !s->finish) {
			gs_cond_wait(&s->v.c, &s->v.m);
			checked_section(&s->v, 0);
			s->untimed_woke++;
		}
		if (s->tokens > 0) {
			s->tokens--;
			s->consumed++;
			continue;
		}
		break;
	}
	gs_mutex_unlock(&s->v.m);
	return NULL;
}

static void *storm_producer(void *arg)
{
	struct storm *s = arg;
	uint64_t rnd = (uint64_t)(uintptr_t)&rnd | 1;

	for (int k = 0; k < s->per_producer; k++) {
		gs_mutex_lock(&s->v.m);
		s->tokens++;
		s->produced++;
		if (xorshift(&rnd) & 1) {
			gs_cond_signal(&s->v.c);
			gs_mutex_unlock(&s->v.m);
		} else {
			gs_mutex_unlock(&s->v.m);
			gs_cond_signal(&s->v.c);
		}
		__atomic_fetch_add(&s->signals, 1, __ATOMIC_RELAXED);
		uint64_t r = xorshift(&rnd) % 16;
		if (r == 0)
			sleep_ns(20 * GS_USEC);
		else if (r < 4)
			sched_yield();
	}
	return NULL;
}

static int storm_tokens(struct storm *s)
{
	gs_mutex_lock(&s->v.m);
	int n = s->tokens;
	gs_mutex_unlock(&s->v.m);
	return n;
}

/* Many waiters with tiny deadlines, two without, and producers that signal with and
 * without the mutex. Checked: every token consumed (once the timed waiters are gone,
 * the untimed ones drain the rest with no further signal: a signal lost to a timed-out
 * waiter would leave a token behind), at most one wakeup per signal, mutual exclusion
 * on every return, and the zero state at the end. */
static void test_timeout_storm(void **st)
{
	(void)st;
	enum { TIMED = 12, UNTIMED = 2, PRODUCERS = 3 };
	static struct storm s;
	pthread_t tt[TIMED], ut[UNTIMED], pt[PRODUCERS];

	memset(&s, 0, sizeof s);
	s.attempts = scaled(2000, 300);
	s.per_producer = scaled(8000, 1000);
	s.timed_left = TIMED;
	for (int i = 0; i < UNTIMED; i++)
		ut[i] = spawn(storm_untimed, &s);
	for (int i = 0; i < TIMED; i++)
		tt[i] = spawn(storm_timed, &s);
	for (int i = 0; i < PRODUCERS; i++)
		pt[i] = spawn(storm_producer, &s);
	for (int i = 0; i < PRODUCERS; i++)
		join(pt[i]);
	assert_true(WAIT_FOR(load_int(&s.timed_left) == 0));
	for (int i = 0; i < TIMED; i++)
		join(tt[i]);

	/* No more signals from here on: the untimed consumers must drain what is left. */
	bool drained = WAIT_FOR(storm_tokens(&s) == 0);
	if (!drained)
		fprintf(stderr, "storm: %d tokens left with waiters_=%u mutex=0x%x\n", s.tokens,
			nwaiters(&s.v.c), mstate(&s.v.m));
	assert_true(drained);
	long woke_before_finish;
	gs_mutex_lock(&s.v.m);
	woke_before_finish = s.untimed_woke;
	s.finish = 1;
	gs_mutex_unlock(&s.v.m);
	gs_cond_broadcast(&s.v.c);
	for (int i = 0; i < UNTIMED; i++)
		join(ut[i]);

	printf("  storm: %ld tokens, %ld signals, timed waits woken %ld / timed out %ld, "
	       "untimed woken %ld\n", s.produced, s.signals, s.woke, s.timed_out, woke_before_finish);
	fflush(stdout);
	assert_int_equal(s.produced, (long)PRODUCERS * s.per_producer);
	assert_int_equal(s.consumed, s.produced);
	assert_int_equal(s.tokens, 0);
	assert_true(s.woke + woke_before_finish <= s.signals); /* no spurious wakeups */
	assert_true(s.timed_out > 0);
	assert_idle(&s.v);
}

/* --- broadcast under the mutex moves the waiters onto it ----------------------- */

/* With N queued and the broadcaster holding the mutex, broadcast wakes nobody: the
 * waiters move onto the mutex (off the cond, the mutex marked PARKED), no thread
 * returns — nor, counted by context switches, even wakes — until the unlock; then all
 * N get through one at a time, in queue order, holding the mutex, returning 0. */
static void test_broadcast_held_moves_waiters(void **st)
{
	(void)st;
	enum { N = 16 };
	static struct cv v;
	static struct waiter w[N];
	long before[N];

	reset_cv(&v);
	v.hold_ns = 200 * GS_USEC;
	for (int i = 0; i < N; i++)
		assert_true(queue_waiter(&w[i], &v, i, i % 2 == 0, (uint32_t)i));
	for (int i = 0; i < N; i++)
		before[i] = nvcsw(load_int(&w[i].tid));

	gs_mutex_lock(&v.m);
	gs_cond_broadcast(&v.c);
	assert_int_equal(nwaiters(&v.c), 0);
	assert_true(mstate(&v.m) & PARKED);
	sleep_ns(quiet_ns());
	assert_int_equal(load_int(&v.returned), 0);
	int woke = 0;
	for (int i = 0; i < N; i++)
		woke += nvcsw(load_int(&w[i].tid)) != before[i];
	gs_mutex_unlock(&v.m);

	assert_true(WAIT_FOR(load_int(&v.returned) == N));
	for (int i = 0; i < N; i++) {
		join(w[i].t);
		assert_int_equal(w[i].rc, 0);
		assert_int_equal(v.order[i], i);
	}
	printf("  broadcast under the mutex: %d of %d waiters woke before the unlock\n", woke, N);
	fflush(stdout);
	/* a herd would wake all N; a stray stale futex wake may account for one or two */
	assert_true(woke < N / 2);
	assert_idle(&v);
}

/* --- free right after the last wait returns --------------------------------------- */

struct heapcv {
	gs_cond_t c;
	gs_mutex_t m;
	int go;      /* under m */
	int left;    /* under m: waiters still inside */
};

struct fawait {
	struct heapcv *h;
	bool timed;
	int entered;
};

static void *fa_waiter(void *arg)
{
	struct fawait *f = arg;
	struct heapcv *h = f->h;

	gs_mutex_lock(&h->m);
	while (!h->go) {
		if (f->timed)
			(void)gs_cond_wait_until(&h->c, &h->m, gs_now() + 3600 * GS_SEC);
		else
			gs_cond_wait(&h->c, &h->m);
	}
	bool last = --h->left == 0;
	gs_mutex_unlock(&h->m);
	if (last)
		free(h); /* the notifier and the other waiters must be done with it */
	return NULL;
}

/* The last waiter to leave frees the cond and the mutex at once; under ASan any later
 * touch by the notifier (signal, broadcast, their unlock) or another waiter is caught. */
static void test_free_after_last_wait(void **st)
{
	(void)st;
	enum { K = 3 };
	int rounds = scaled(400, 60);

	for (int r = 0; r < rounds; r++) {
		for (int variant = 0; variant < 4; variant++) {
			struct heapcv *h = calloc(1, sizeof *h);
			struct fawait f[K];
			pthread_t t[K];
			assert_non_null(h);
			h->left = K;
			for (int i = 0; i < K; i++) {
				f[i] = (struct fawait){ .h = h, .timed = (i + r) % 2 == 0 };
				t[i] = spawn(fa_waiter, &f[i]);
			}
			assert_true(WAIT_FOR(nwaiters(&h->c) == K));
			gs_mutex_lock(&h->m);
			h->go = 1;
			switch (variant) {
			case 0: /* broadcast with the mutex held */
				gs_cond_broadcast(&h->c);
				gs_mutex_unlock(&h->m);
				break;
			case 1: /* broadcast after unlocking */
				gs_mutex_unlock(&h->m);
				gs_cond_broadcast(&h->c);
				break;
			case 2: /* K signals with the mutex held */
				for (int i = 0; i < K; i++)
					gs_cond_signal(&h->c);
				gs_mutex_unlock(&h->m);
				break;
			default: /* K signals without it: the last wakes the freeing waiter */
				gs_mutex_unlock(&h->m);
				for (int i = 0; i < K; i++)
					gs_cond_signal(&h->c);
				break;
			}
			/* h may be gone from here on */
			for (int i = 0; i < K; i++)
				join(t[i]);
		}
	}
}

/* --- producer / consumer with a bounded buffer ------------------------------------- */

enum { PC_CAP = 4, PC_PRODUCERS = 6, PC_CONSUMERS = 6, PC_MAX_ITEMS = 20000 };

struct pc {
	gs_mutex_t m;
	gs_cond_t not_full, not_empty; /* one_cond: both are not_full, with broadcasts */
	bool one_cond;
	int items;                      /* per producer */
	int buf[PC_CAP], head, count;   /* under m */
	long taken, total, sum;         /* under m */
	unsigned char seen[PC_PRODUCERS * PC_MAX_ITEMS];
	int bad;
	int waits, timeouts;            /* under m */
};

static void pc_wait(struct pc *p, gs_cond_t *c, uint64_t *rnd)
{
	p->waits++;
	if (xorshift(rnd) % 4 == 0) {
		int rc = gs_cond_wait_until(c, &p->m, gs_now() + (int64_t)(xorshift(rnd) % 200) * GS_USEC);
		if (rc == ETIMEDOUT)
			p->timeouts++;
		else if (rc != 0)
			add_int(&p->bad, 1);
	} else {
		gs_cond_wait(c, &p->m);
	}
}

static void pc_notify(struct pc *p, gs_cond_t *c, bool all, uint64_t *rnd)
{
	/* with or without the mutex: the caller holds it; maybe release first */
	bool after = xorshift(rnd) & 1;
	if (after)
		gs_mutex_unlock(&p->m);
	if (all)
		gs_cond_broadcast(c);
	else
		gs_cond_signal(c);
	if (after)
		gs_mutex_lock(&p->m);
}

struct pc_thread {
	struct pc *p;
	int id;
};

static void *pc_producer(void *arg)
{
	struct pc_thread *t = arg;
	struct pc *p = t->p;
	gs_cond_t *nf = &p->not_full, *ne = p->one_cond ? &p->not_full : &p->not_empty;
	uint64_t rnd = 0x1234567ull * (uint64_t)(t->id + 1);

	gs_mutex_lock(&p->m);
	for (int k = 0; k < p->items; k++) {
		while (p->count == PC_CAP)
			pc_wait(p, nf, &rnd);
		p->buf[(p->head + p->count) % PC_CAP] = t->id * p->items + k;
		p->count++;
		pc_notify(p, ne, p->one_cond, &rnd);
	}
	gs_mutex_unlock(&p->m);
	return NULL;
}

static void *pc_consumer(void *arg)
{
	struct pc_thread *t = arg;
	struct pc *p = t->p;
	gs_cond_t *ne = p->one_cond ? &p->not_full : &p->not_empty, *nf = &p->not_full;
	uint64_t rnd = 0x7654321ull * (uint64_t)(t->id + 1);

	gs_mutex_lock(&p->m);
	for (;;) {
		while (p->count == 0 && p->taken < p->total)
			pc_wait(p, ne, &rnd);
		if (p->count == 0)
			break; /* everything taken */
		int x = p->buf[p->head];
		p->head = (p->head + 1) % PC_CAP;
		p->count--;
		p->taken++;
		p->sum += x;
		if (x < 0 || x >= p->total || p->seen[x]++)
			add_int(&p->bad, 1);
		if (p->taken == p->total)
			pc_notify(p, ne, true, &rnd); /* release the other consumers */
		pc_notify(p, nf, p->one_cond, &rnd);
	}
	gs_mutex_unlock(&p->m);
	return NULL;
}

static void producer_consumer(bool one_cond)
{
	static struct pc p;
	struct pc_thread th[PC_PRODUCERS + PC_CONSUMERS];
	pthread_t t[PC_PRODUCERS + PC_CONSUMERS];

	memset(&p, 0, sizeof p);
	p.one_cond = one_cond;
	p.items = scaled(PC_MAX_ITEMS, 2000);
	p.total = (long)PC_PRODUCERS * p.items;
	for (int i = 0; i < PC_PRODUCERS + PC_CONSUMERS; i++) {
		th[i] = (struct pc_thread){ &p, i < PC_PRODUCERS ? i : i - PC_PRODUCERS };
		t[i] = spawn(i < PC_PRODUCERS ? pc_producer : pc_consumer, &th[i]);
	}
	for (int i = 0; i < PC_PRODUCERS + PC_CONSUMERS; i++)
		join(t[i]);
	printf("  producer/consumer (%s): %ld items, %d waits, %d timed out\n",
	       one_cond ? "one cond, broadcast" : "two conds, signal", p.taken, p.waits, p.timeouts);
	fflush(stdout);
	assert_int_equal(p.bad, 0);
	assert_int_equal(p.taken, p.total);
	assert_int_equal(p.count, 0);
	assert_int_equal(p.sum, p.total * (p.total - 1) / 2);
	for (long x = 0; x < p.total; x++)
		assert_int_equal(p.seen[x], 1);
	assert_int_equal(nwaiters(&p.not_full), 0);
	assert_int_equal(nwaiters(&p.not_empty), 0);
	assert_int_equal(mstate(&p.m), 0);
}

static void test_producer_consumer(void **st)
{
	(void)st;
	producer_consumer(false);
}

static void test_producer_consumer_one_cond(void **st)
{
	(void)st;
	producer_consumer(true);
}

/* --- POSIX-style waits: clocks, cancellation, foreign mutexes ----------------------- */

static void test_wait_clock_realtime_times_out_holding_mutex(void **st)
{
	(void)st;
	gs_cond_t c = GS_COND_INIT;
	gs_mutex_t m = GS_MUTEX_INIT;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	gs_mutex_lock(&m);
	int64_t deadline = (int64_t)now.tv_sec * GS_SEC + now.tv_nsec + 10 * GS_MSEC;
	assert_int_equal(gs_cond_wait_clock(&c, &m, CLOCK_REALTIME, deadline), ETIMEDOUT);
	assert_true(mstate(&m) & LOCKED);
	assert_int_equal(nwaiters(&c), 0);
	assert_int_equal(gs_cond_wait_clock(&c, &m, CLOCK_MONOTONIC, gs_now() - GS_SEC), ETIMEDOUT);
	gs_mutex_unlock(&m);
	assert_int_equal(mstate(&m), 0);
}

/* A thread waiting in gs_cond_wait_clock until cancelled; its cleanup handler records
 * whether it held the mutex (it must) and releases it. */
struct cancelee {
	gs_cond_t *c;
	gs_mutex_t *m;
	int tid;
	int held_in_cleanup; /* 1: the mutex was locked when the handler ran */
	int rc;              /* of a wait that returned */
	int done;            /* the wait returned normally and the thread is finishing */
};

static void cancelee_cleanup(void *arg)
{
	struct cancelee *k = arg;
	store_int(&k->held_in_cleanup, gs_mutex_is_locked(k->m) ? 1 : 0);
	gs_mutex_unlock(k->m);
}

static void *cancelee_main(void *arg)
{
	struct cancelee *k = arg;

	store_int(&k->tid, my_tid());
	gs_mutex_lock(k->m);
	pthread_cleanup_push(cancelee_cleanup, k);
	k->rc = gs_cond_wait_clock(k->c, k->m, CLOCK_MONOTONIC, GS_NO_DEADLINE);
	pthread_cleanup_pop(1);
	store_int(&k->done, 1);
	return NULL;
}

/* SIGCANCEL (glibc's SIGRTMIN, 32) is no longer pending for thread tid. */
static bool cancel_signal_taken(int tid)
{
	char path[64], line[256];
	bool taken = false;
	snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true; /* the thread is gone: it took it */
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "SigPnd:", 7) == 0)
			taken = !(strtoull(line + 7, NULL, 16) & (1ull << 31));
	fclose(f);
	return taken;
}

static void test_cancel_queued_waiter(void **st)
{
	(void)st;
	gs_cond_t c = GS_COND_INIT;
	gs_mutex_t m = GS_MUTEX_INIT;
	struct cancelee k = { .c = &c, .m = &m };

	pthread_t t = spawn(cancelee_main, &k);
	assert_true(WAIT_FOR(nwaiters(&c) == 1));
	assert_true(wait_parked(load_int(&k.tid)));
	assert_int_equal(pthread_cancel(t), 0);
	assert_ptr_equal(join(t), PTHREAD_CANCELED);
	assert_int_equal(load_int(&k.held_in_cleanup), 1);
	assert_int_equal(nwaiters(&c), 0);   /* it left the queue */
	assert_int_equal(mstate(&m), 0);
	gs_cond_signal(&c);                  /* nobody to wake, nothing stored */
	assert_int_equal(nwaiters(&c), 0);
}

/* A waiter that a signal already moved onto the mutex is cancelled before it gets the
 * mutex: it must take the mutex before its cleanup handler runs and pass the signal on
 * to the other waiter, which gets nothing else. */
static void test_cancel_moved_waiter_passes_signal_on(void **st)
{
	(void)st;
	gs_cond_t c = GS_COND_INIT;
	gs_mutex_t m = GS_MUTEX_INIT;
	struct cancelee a = { .c = &c, .m = &m }, b = { .c = &c, .m = &m };

	pthread_t ta = spawn(cancelee_main, &a);
	assert_true(WAIT_FOR(nwaiters(&c) == 1));
	pthread_t tb = spawn(cancelee_main, &b);
	assert_true(WAIT_FOR(nwaiters(&c) == 2));
	assert_true(wait_parked(load_int(&a.tid)));

	gs_mutex_lock(&m);
	gs_cond_signal(&c); /* a, the oldest, moves onto m */
	assert_int_equal(nwaiters(&c), 1);
	assert_int_equal(pthread_cancel(ta), 0);
	/* a handles the cancel and goes back to sleep, now uncancellably, on m */
	assert_true(WAIT_FOR(cancel_signal_taken(load_int(&a.tid))));
	assert_true(wait_parked(load_int(&a.tid)));
	gs_mutex_unlock(&m);

	assert_ptr_equal(join(ta), PTHREAD_CANCELED);
	assert_int_equal(load_int(&a.held_in_cleanup), 1);
	assert_true(WAIT_FOR(load_int(&b.done))); /* woken by the signal a passed on */
	assert_ptr_equal(join(tb), NULL);
	assert_int_equal(b.rc, 0);
	assert_int_equal(load_int(&b.held_in_cleanup), 1);
	assert_int_equal(nwaiters(&c), 0);
	assert_int_equal(mstate(&m), 0);
}

/* gs_cond_wait_func: a mutex gosync does not own (here glibc's), never moved onto. */
struct foreign {
	gs_cond_t c;
	pthread_mutex_t pm;
	int go;
	int rc;
};

static int foreign_unlock(void *arg) { return pthread_mutex_unlock(arg); }
static int foreign_lock(void *arg) { return pthread_mutex_lock(arg); }

static void *foreign_waiter(void *arg)
{
	struct foreign *f = arg;

	pthread_mutex_lock(&f->pm);
	while (!f->go)
		f->rc = gs_cond_wait_func(&f->c, foreign_unlock, foreign_lock, &f->pm,
					  CLOCK_MONOTONIC, GS_NO_DEADLINE);
	pthread_mutex_unlock(&f->pm);
	return NULL;
}

static void test_wait_func_foreign_mutex(void **st)
{
	(void)st;
	static struct foreign f = { .pm = PTHREAD_MUTEX_INITIALIZER };

	/* timeout: returns holding the foreign mutex */
	pthread_mutex_lock(&f.pm);
	assert_int_equal(gs_cond_wait_func(&f.c, foreign_unlock, foreign_lock, &f.pm,
					   CLOCK_MONOTONIC, gs_now() + 5 * GS_MSEC), ETIMEDOUT);
	assert_int_equal(pthread_mutex_trylock(&f.pm), EBUSY);
	pthread_mutex_unlock(&f.pm);

	/* signal under the foreign mutex wakes (no requeue onto it) */
	pthread_t t = spawn(foreign_waiter, &f);
	assert_true(WAIT_FOR(nwaiters(&f.c) == 1));
	pthread_mutex_lock(&f.pm);
	f.go = 1;
	gs_cond_signal(&f.c);
	assert_int_equal(nwaiters(&f.c), 0);
	pthread_mutex_unlock(&f.pm);
	join(t);
	assert_int_equal(f.rc, 0);
}

/* A foreign mutex that refuses to unlock (like an error-checking one the caller does
 * not hold; a flag here, so TSan sees no misuse): the wait returns its EPERM at once,
 * leaves no waiter behind, and does not touch the mutex. */
struct flag_lock {
	int held, unlocks, locks;
};

static int flag_unlock(void *arg)
{
	struct flag_lock *l = arg;
	l->unlocks++;
	if (!l->held)
		return EPERM;
	l->held = 0;
	return 0;
}

static int flag_lock(void *arg)
{
	struct flag_lock *l = arg;
	l->locks++;
	l->held = 1;
	return 0;
}

static void test_wait_func_unlock_refused(void **st)
{
	(void)st;
	gs_cond_t c = GS_COND_INIT;
	struct flag_lock l = { 0 };

	assert_int_equal(gs_cond_wait_func(&c, flag_unlock, flag_lock, &l, CLOCK_MONOTONIC,
					   GS_NO_DEADLINE), EPERM);
	assert_int_equal(nwaiters(&c), 0);
	assert_int_equal(l.unlocks, 1);
	assert_int_equal(l.locks, 0); /* not re-taken: it was never released */
	assert_int_equal(l.held, 0);
}

/* A signal that reaches the refused waiter while it is still queued goes on to the
 * next waiter. Deterministic: the refusing unlock callback runs with us queued at the
 * head; it starts the other waiter, lets it queue behind us, signals (which takes
 * us) and only then refuses. */
static struct foreign refusing;
static pthread_t refusing_other;

static void *refusing_other_waiter(void *arg)
{
	struct foreign *f = arg;

	pthread_mutex_lock(&f->pm);
	f->rc = gs_cond_wait_func(&f->c, foreign_unlock, foreign_lock, &f->pm,
				  CLOCK_MONOTONIC, GS_NO_DEADLINE);
	__atomic_store_n(&f->go, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&f->pm);
	return NULL;
}

static int signal_then_refuse(void *arg)
{
	(void)arg;
	refusing_other = spawn(refusing_other_waiter, &refusing);
	if (!WAIT_FOR(nwaiters(&refusing.c) == 2))
		return EINVAL;
	gs_cond_signal(&refusing.c); /* dequeues the head: us */
	return EPERM;
}

static void test_wait_func_refused_passes_signal(void **st)
{
	(void)st;
	refusing = (struct foreign){ .pm = PTHREAD_MUTEX_INITIALIZER, .rc = -1 };

	assert_int_equal(gs_cond_wait_func(&refusing.c, signal_then_refuse, foreign_lock,
					   NULL, CLOCK_MONOTONIC, GS_NO_DEADLINE), EPERM);
	bool woken = WAIT_FOR(__atomic_load_n(&refusing.go, __ATOMIC_ACQUIRE) == 1);
	if (!woken)
		gs_cond_broadcast(&refusing.c); /* so the join below returns */
	join(refusing_other);
	assert_true(woken);
	assert_int_equal(refusing.rc, 0);
	assert_int_equal(nwaiters(&refusing.c), 0);
}

/* TSan: a broadcast from a thread that does not hold the mutex moves a waiter onto
 * the mutex behind a thread parked in gs_mutex_lock, writing that thread's park
 * record outside any lock annotation. The locker takes its record back inside the
 * lock's annotation window, where TSan ignores the acquire, and nothing else orders
 * it after the broadcaster: the lock must acquire the record again once the window
 * closes, or the locker's next use of that stack is a race to TSan (which then fails
 * this test in the TSan build). */
static struct {
	gs_mutex_t m;
	gs_cond_t c;
	int go;
} behind;

static void *behind_cond_waiter(void *arg)
{
	(void)arg;
	gs_mutex_lock(&behind.m);
	/* acquire: pairs with behind_broadcaster's release */
	while (!__atomic_load_n(&behind.go, __ATOMIC_ACQUIRE))
		gs_cond_wait(&behind.c, &behind.m);
	gs_mutex_unlock(&behind.m);
	return NULL;
}

static __attribute__((noinline)) void scribble_stack(void)
{
	char buf[16384];
	memset(buf, 1, sizeof buf); /* over the frames gs_mutex_lock's park used */
	__asm__ __volatile__("" : : "r"(buf) : "memory");
}

static void *behind_locker(void *arg)
{
	(void)arg;
	gs_mutex_lock(&behind.m);
	gs_mutex_unlock(&behind.m);
	scribble_stack();
	return NULL;
}

static void *behind_broadcaster(void *arg)
{
	(void)arg;
	__atomic_store_n(&behind.go, 1, __ATOMIC_RELEASE);
	gs_cond_broadcast(&behind.c); /* moves the waiter onto m, behind the locker */
	return NULL;
}

static void test_requeue_behind_parked_locker(void **st)
{
	(void)st;
	pthread_t b = spawn(behind_cond_waiter, NULL);
	assert_true(WAIT_FOR(nwaiters(&behind.c) == 1));
	gs_mutex_lock(&behind.m);
	pthread_t a = spawn(behind_locker, NULL);
	assert_true(WAIT_FOR(mstate(&behind.m) & PARKED));
	pthread_t n = spawn(behind_broadcaster, NULL);
	/* relaxed polling: no happens-before from the broadcaster to this unlock */
	bool moved = WAIT_FOR(nwaiters(&behind.c) == 0);
	gs_mutex_unlock(&behind.m);
	join(a);
	join(b);
	join(n);
	assert_true(moved);
	assert_int_equal(mstate(&behind.m), 0);
}

/* --- misuse ------------------------------------------------------------------------- */

/* Waiting without holding the mutex unlocks an unlocked mutex: Go's Cond.Wait panics
 * the same way (c.L.Unlock). */
static void scenario_wait_unlocked(void)
{
	gs_cond_t c = GS_COND_INIT;
	gs_mutex_t m = GS_MUTEX_INIT;
	gs_cond_wait(&c, &m);
	exit(0); /* not reached */
}

static const char *const tsan_env_mutex_bugs_off[] = {
	"TSAN_OPTIONS=report_mutex_bugs=0 halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void test_wait_without_mutex_dies(void **st)
{
	(void)st;
	static struct scenario_result r;
	const char *line = "gosync: fatal error: sync: unlock of unlocked mutex\n";

	scenario_run("wait_unlocked", tsan_env_mutex_bugs_off, &r);
	assert_died_with(&r, line);
	assert_string_equal(r.err, line);
}

static const struct scenario scenarios[] = {
	{ "wait_unlocked", scenario_wait_unlocked },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	scenario_dispatch(argc, argv, scenarios);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_init_and_empty_notify),
		cmocka_unit_test(test_signal_wakes_one),
		cmocka_unit_test(test_signal_wakes_one_held),
		cmocka_unit_test(test_signal_generations_direct),
		cmocka_unit_test(test_signal_generations_held),
		cmocka_unit_test(test_signal_generations_interleaved),
		cmocka_unit_test(test_broadcast_rounds),
		cmocka_unit_test(test_broadcast_spares_later_waiters),
		cmocka_unit_test(test_no_stealing_broadcast),
		cmocka_unit_test(test_no_stealing_signal),
		cmocka_unit_test(test_race_later_waiter),
		cmocka_unit_test(test_wait_until_times_out_holding_mutex),
		cmocka_unit_test(test_wait_until_past_deadline_releases_mutex),
		cmocka_unit_test(test_timed_out_does_not_swallow_signal),
		cmocka_unit_test(test_signal_racing_deadline),
		cmocka_unit_test(test_timeout_storm),
		cmocka_unit_test(test_broadcast_held_moves_waiters),
		cmocka_unit_test(test_free_after_last_wait),
		cmocka_unit_test(test_producer_consumer),
		cmocka_unit_test(test_producer_consumer_one_cond),
		cmocka_unit_test(test_wait_clock_realtime_times_out_holding_mutex),
		cmocka_unit_test(test_cancel_queued_waiter),
		cmocka_unit_test(test_cancel_moved_waiter_passes_signal_on),
		cmocka_unit_test(test_wait_func_foreign_mutex),
		cmocka_unit_test(test_wait_func_unlock_refused),
		cmocka_unit_test(test_wait_func_refused_passes_signal),
		cmocka_unit_test(test_requeue_behind_parked_locker),
		cmocka_unit_test(test_wait_without_mutex_dies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
