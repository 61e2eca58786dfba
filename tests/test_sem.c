/* gs_sem: the weighted, FIFO-fair semaphore (Go's x/sync/semaphore). */
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <gosync/sem.h>
#include <gosync/time.h>

#include "park.h"

#define WAITERS ((uint64_t)1 << 63)

static uint64_t state(gs_sem_t *s) { return __atomic_load_n(&s->state_, __ATOMIC_ACQUIRE); }


/* --- looking into the queue ------------------------------------------------- */

/* The weights of the threads queued on s, in queue order: a filter that records each
 * waiter's park_token and skips it (no callback: nothing changes). */
struct peek {
	int n;
	int64_t w[64];
};

static enum gs__filter_op peek_filter(void *arg, uint64_t park_token)
{
	struct peek *p = arg;
	if (p->n < 64)
		p->w[p->n] = (int64_t)park_token;
	p->n++;
	return GS_FILTER_SKIP;
}

static struct peek queue_of(gs_sem_t *s)
{
	struct peek p = { 0 };
	gs__unpark_filter(s, peek_filter, NULL, &p);
	return p;
}

static int queue_len(gs_sem_t *s) { return queue_of(s).n; }

static void wait_queue_len(gs_sem_t *s, int n)
{
	while (queue_len(s) != n)
		sleep_ns(100 * 1000);
}

/* --- acquirer threads -------------------------------------------------------- */

enum { OP_ACQUIRE, OP_UNTIL };

struct acq {
	gs_sem_t *s;
	int64_t n;
	int op;
	int64_t deadline;
	int id;
	/* results */
	int result;
	int64_t returned_at;
	int done;
	pthread_t thread;
};

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int order[64];
static int order_len;

static void order_reset(void)
{
	pthread_mutex_lock(&order_lock);
	order_len = 0;
	pthread_mutex_unlock(&order_lock);
}

static void *acq_main(void *arg)
{
	struct acq *a = arg;
	if (a->op == OP_ACQUIRE) {
		gs_sem_acquire(a->s, a->n);
		a->result = 0;
	} else {
		a->result = gs_sem_acquire_until(a->s, a->n, a->deadline);
	}
	a->returned_at = gs_now();
	if (a->result == 0) {
		pthread_mutex_lock(&order_lock);
		order[order_len++] = a->id;
		pthread_mutex_unlock(&order_lock);
	}
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Starts an acquirer and waits until it is queued as the qlen-th waiter. */
static void start_queued(struct acq *a, int qlen)
{
	pthread_create(&a->thread, NULL, acq_main, a);
	wait_queue_len(a->s, qlen);
}

static bool is_done(struct acq *a) { return __atomic_load_n(&a->done, __ATOMIC_ACQUIRE); }

/* Joins a, which must finish within a generous bound: a lost wakeup fails the test
 * instead of hanging it. */
static void join_within(struct acq *a, int64_t ns)
{
	int64_t end = gs_now() + ns;
	while (!is_done(a) && gs_now() < end)
		sleep_ns(GS_MSEC);
	assert_true(is_done(a));
	pthread_join(a->thread, NULL);
}

/* --- initialisation ---------------------------------------------------------- */

static void test_init(void **st)
{
	(void)st;
	gs_sem_t a = GS_SEM_INIT(5);
	assert_int_equal(a.capacity_, 5);
	assert_int_equal(a.state_, 0);
	assert_true(gs_sem_try_acquire(&a, 5));
	assert_false(gs_sem_try_acquire(&a, 1));
	assert_true(gs_sem_try_acquire(&a, 0));
	gs_sem_release(&a, 2);
	assert_true(gs_sem_try_acquire(&a, 2));
	gs_sem_release(&a, 5);
	assert_int_equal(state(&a), 0);

	gs_sem_t b;
	memset(&b, 0xff, sizeof b);
	gs_sem_init(&b, 3);
	assert_int_equal(b.capacity_, 3);
	assert_int_equal(state(&b), 0);
	gs_sem_acquire(&b, 3);
	assert_false(gs_sem_try_acquire(&b, 1));
	gs_sem_release(&b, 3);

	gs_sem_t c;
	gs_sem_init_available(&c, 10, 4);
	assert_int_equal(state(&c), 6); /* six units count as held */
	assert_false(gs_sem_try_acquire(&c, 5));
	assert_true(gs_sem_try_acquire(&c, 4));
	gs_sem_release(&c, 10);
	assert_int_equal(state(&c), 0);
	gs_sem_init_available(&c, 7, 0);
	assert_false(gs_sem_try_acquire(&c, 1));
	gs_sem_release(&c, 7);
	assert_true(gs_sem_try_acquire(&c, 7));
	gs_sem_release(&c, 7);

	/* The largest capacity: held never reaches the flag bit. */
	gs_sem_t big = GS_SEM_INIT(INT64_MAX);
	assert_true(gs_sem_try_acquire(&big, INT64_MAX));
	assert_false(gs_sem_try_acquire(&big, 1));
	gs_sem_release(&big, INT64_MAX - 1);
	assert_true(gs_sem_try_acquire(&big, INT64_MAX - 1));
	assert_int_equal(state(&big), (uint64_t)INT64_MAX);
	gs_sem_release(&big, INT64_MAX);
	assert_int_equal(state(&big), 0);
}

/* A zeroed semaphore has capacity 0. */
static void test_zeroed(void **st)
{
	(void)st;
	gs_sem_t z;
	memset(&z, 0, sizeof z);
	gs_sem_acquire(&z, 0);
	assert_false(gs_sem_try_acquire(&z, 1));
	assert_true(gs_sem_try_acquire(&z, 0));
	gs_sem_release(&z, 0);
	int64_t deadline = gs_now() + 10 * GS_MSEC;
	assert_int_equal(gs_sem_acquire_until(&z, 1, deadline), ETIMEDOUT);
	assert_true(gs_now() >= deadline);
	assert_int_equal(state(&z), 0);
}

/* --- try_acquire and queue order --------------------------------------------- */

/* try_acquire (and any newcomer) does not pass the queue, even when units are free. */
static void test_try_acquire_while_queued(void **st)
{
	(void)st;
	gs_sem_t s = GS_SEM_INIT(10);
	struct acq a = { .s = &s, .n = 10, .op = OP_ACQUIRE, .id = 1 };

	gs_sem_acquire(&s, 5);
	start_queued(&a, 1);
	assert_int_equal(state(&s), 5 | WAITERS);
	assert_false(gs_sem_try_acquire(&s, 1));
	assert_false(gs_sem_try_acquire(&s, 0));
	/* A newcomer with a deadline queues behind and leaves on time. */
	int64_t deadline = gs_now() + 20 * GS_MSEC;
	assert_int_equal(gs_sem_acquire_until(&s, 1, deadline), ETIMEDOUT);
	assert_true(gs_now() >= deadline);
	/* Even with a deadline already passed: units are free, but someone is queued. */
	assert_int_equal(gs_sem_acquire_until(&s, 0, 0), ETIMEDOUT);
	assert_int_equal(queue_len(&s), 1);
	assert_int_equal(state(&s), 5 | WAITERS);
	assert_false(is_done(&a));

	gs_sem_release(&s, 5);
	pthread_join(a.thread, NULL);
	assert_int_equal(a.result, 0);
	assert_int_equal(state(&s), 10);
	gs_sem_release(&s, 10); /* A's units, given back by another thread */
	assert_int_equal(state(&s), 0);
	assert_true(gs_sem_try_acquire(&s, 10));
	gs_sem_release(&s, 10);
}

/* Capacity 10, all held; A(10) queued, then B(1). Releasing 1 unit must not let B
 * overtake A; releasing the other 9 grants A; A's release then grants B. */
static void test_fifo_large_head(void **st)
{
	(void)st;
	gs_sem_t s = GS_SEM_INIT(10);
	struct acq a = { .s = &s, .n = 10, .op = OP_ACQUIRE, .id = 1 };
	struct acq b = { .s = &s, .n = 1, .op = OP_ACQUIRE, .id = 2 };

	order_reset();
	gs_sem_acquire(&s, 10);
	start_queued(&a, 1);
	start_queued(&b, 2);
	struct peek q = queue_of(&s);
	assert_int_equal(q.n, 2);
	assert_int_equal(q.w[0], 10);
	assert_int_equal(q.w[1], 1);

	gs_sem_release(&s, 1);
	sleep_ns(50 * GS_MSEC);
	assert_false(is_done(&b));
	assert_false(is_done(&a));
	assert_int_equal(queue_len(&s), 2);
	assert_int_equal(state(&s), 9 | WAITERS);

	gs_sem_release(&s, 9);
	pthread_join(a.thread, NULL);
	assert_int_equal(state(&s), 10 | WAITERS);
	assert_int_equal(queue_len(&s), 1);
	assert_false(is_done(&b));

	gs_sem_release(&s, 10);
	pthread_join(b.thread, NULL);
	assert_int_equal(order_len, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(state(&s), 1);
	gs_sem_release(&s, 1);
	assert_int_equal(state(&s), 0);
}

/* One release grants every waiter that fits, in order, and stops at the first that
 * does not. */
static void test_release_grants_several(void **st)
{
	(void)st;
	gs_sem_t s = GS_SEM_INIT(10);
	struct acq w[4] = {
		{ .s = &s, .n = 3, .op = OP_ACQUIRE, .id = 1 },
		{ .s = &s, .n = 3, .op = OP_ACQUIRE, .id = 2 },
		{ .s = &s, .n = 3, .op = OP_ACQUIRE, .id = 3 },
		{ .s = &s, .n = 2, .op = OP_ACQUIRE, .id = 4 },
	};

	order_reset();
	gs_sem_acquire(&s, 10);
	for (int i = 0; i < 4; i++)
		start_queued(&w[i], i + 1);

	gs_sem_release(&s, 9); /* 9 free: 3 + 3 + 3 fit, then 2 does not */
	for (int i = 0; i < 3; i++) {
		pthread_join(w[i].thread, NULL);
		assert_int_equal(w[i].result, 0);
	}
	assert_int_equal(order_len, 3);
	assert_int_equal(state(&s), 10 | WAITERS);
	struct peek q = queue_of(&s);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.w[0], 2);
	assert_false(is_done(&w[3]));

	gs_sem_release(&s, 1); /* 1 free: 2 does not fit */
	sleep_ns(20 * GS_MSEC);
	assert_false(is_done(&w[3]));
	assert_int_equal(state(&s), 9 | WAITERS);

	gs_sem_release(&s, 3); /* w[0]'s units: now it fits */
	pthread_join(w[3].thread, NULL);
	assert_int_equal(order_len, 4);
	assert_int_equal(state(&s), 8);
	gs_sem_release(&s, 8);
	assert_int_equal(state(&s), 0);
}

/* n == 0 queues behind others, as in Go, and is granted in its turn. */
static void test_zero_waits_its_turn(void **st)
{
	(void)st;
	gs_sem_t s = GS_SEM_INIT(4);
	struct acq a = { .s = &s, .n = 4, .op = OP_ACQUIRE, .id = 1 };
	struct acq z = { .s = &s, .n = 0, .op = OP_ACQUIRE, .id = 2 };

	order_reset();
	gs_sem_acquire(&s, 1);
	start_queued(&a, 1);
	start_queued(&z, 2);
	sleep_ns(10 * GS_MSEC);
	assert_false(is_done(&z));
	gs_sem_release(&s, 1); /* grants A(4), then Z(0) fits too (one pass) */
	pthread_join(a.thread, NULL);
	pthread_join(z.thread, NULL);
	assert_int_equal(order_len, 2);
	assert_int_equal(state(&s), 4);
	gs_sem_release(&s, 4);
	assert_int_equal(state(&s), 0);
}

/* --- deadlines ---------------------------------------------------------------- */

static void test_until(void **st)
{
	(void)st;
	gs_sem_t s = GS_SEM_INIT(2);

	order_reset();
	gs_sem_acquire(&s, 2);
	int64_t deadline = gs_now() + 30 * GS_MSEC;
	assert_int_equal(gs_sem_acquire_until(&s, 1, deadline), ETIMEDOUT);
	assert_true(gs_now() >= deadline);
	assert_int_equal(state(&s), 2); /* the last waiter left: no WAITERS */
	assert_int_equal(queue_len(&s), 0);
	assert_int_equal(gs_sem_acquire_until(&s, 1, 0), ETIMEDOUT);

	/* Free units and nobody queued: taken even past the deadline. */
	gs_sem_release(&s, 2);
	assert_int_equal(gs_sem_acquire_until(&s, 2, 0), 0);
	assert_int_equal(state(&s), 2);
	gs_sem_release(&s, 1);
	assert_int_equal(gs_sem_acquire_until(&s, 1, gs_now() - GS_SEC), 0);
	gs_sem_release(&s, 2);

	/* Woken in time: released by another thread while waiting. */
	struct acq a = { .s = &s, .n = 2, .op = OP_UNTIL, .deadline = gs_now() + 10 * GS_SEC };
	gs_sem_acquire(&s, 1);
	start_queued(&a, 1);
	gs_sem_release(&s, 1);
	pthread_join(a.thread, NULL);
	assert_int_equal(a.result, 0);
	assert_true(a.returned_at < a.deadline);
	gs_sem_release(&s, 2);
	assert_int_equal(state(&s), 0);
}

/* n > capacity with a deadline: waits until the deadline without queueing (nobody is
 * held up behind it), then ETIMEDOUT. */
static void test_over_capacity_times_out(void **st)
{
	(void)st;
	gs_sem_t s = GS_SEM_INIT(4);
	struct acq x = { .s = &s, .n = 5, .op = OP_UNTIL, .deadline = gs_now() + 200 * GS_MSEC };

	pthread_create(&x.thread, NULL, acq_main, &x);
	sleep_ns(50 * GS_MSEC);
	assert_int_equal(queue_len(&s), 0);
	assert_int_equal(state(&s), 0);
	assert_true(gs_sem_try_acquire(&s, 4));
	gs_sem_release(&s, 4);
	pthread_join(x.thread, NULL);
	assert_int_equal(x.result, ETIMEDOUT);
	assert_true(x.returned_at >= x.deadline);
	assert_int_equal(state(&s), 0);

	/* Past deadline: at once. */
	assert_int_equal(gs_sem_acquire_until(&s, 5, 0), ETIMEDOUT);
	assert_int_equal(state(&s), 0);
}

/* A(10) at the head, behind it B(2) and C(3); 5 units are free. When A times out,
 * nobody releases anything: only A's notify pass can let B and C in. */
static void test_head_timeout_lets_others_in(void **st)
{
	(void)st;
	gs_sem_t s = GS_SEM_INIT(10);
	struct acq a = { .s = &s, .n = 10, .op = OP_UNTIL, .id = 1,
			 .deadline = gs_now() + 200 * GS_MSEC };
	struct acq b = { .s = &s, .n = 2, .op = OP_ACQUIRE, .id = 2 };
	struct acq c = { .s = &s, .n = 3, .op = OP_ACQUIRE, .id = 3 };

	order_reset();
	gs_sem_acquire(&s, 5);
	start_queued(&a, 1);
	start_queued(&b, 2);
	start_queued(&c, 3);
	assert_false(is_done(&a)); /* (the deadline is far enough on a slow machine) */

	pthread_join(a.thread, NULL);
	assert_int_equal(a.result, ETIMEDOUT);
	assert_true(a.returned_at >= a.deadline);
	join_within(&b, 10 * GS_SEC);
	join_within(&c, 10 * GS_SEC);
	assert_int_equal(b.result, 0);
	assert_int_equal(c.result, 0);
	/* (both were granted by the one pass: the order they return in is the
	 * scheduler's) */
	assert_int_equal(order_len, 2);
	assert_int_equal(order[0] + order[1], 2 + 3);
	assert_int_equal(state(&s), 10);
	gs_sem_release(&s, 5);
	gs_sem_release(&s, 2);
	gs_sem_release(&s, 3);
	assert_int_equal(state(&s), 0);
}

/* A waiter in the middle times out: the order of the others is kept, and the
 * queue and WAITERS stay in step. */
static void test_middle_timeout(void **st)
{
	(void)st;
	gs_sem_t s = GS_SEM_INIT(10);
	struct acq a = { .s = &s, .n = 5, .op = OP_ACQUIRE, .id = 1 };
	struct acq b = { .s = &s, .n = 5, .op = OP_UNTIL, .id = 2,
			 .deadline = gs_now() + 100 * GS_MSEC };
	struct acq c = { .s = &s, .n = 1, .op = OP_ACQUIRE, .id = 3 };

	order_reset();
	gs_sem_acquire(&s, 10);
	start_queued(&a, 1);
	start_queued(&b, 2);
	start_queued(&c, 3);
	pthread_join(b.thread, NULL);
	assert_int_equal(b.result, ETIMEDOUT);
	assert_true(b.returned_at >= b.deadline);
	struct peek q = queue_of(&s);
	assert_int_equal(q.n, 2);
	assert_int_equal(q.w[0], 5);
	assert_int_equal(q.w[1], 1);
	assert_int_equal(state(&s), 10 | WAITERS);

	gs_sem_release(&s, 10); /* one pass grants A(5) and C(1) */
	pthread_join(a.thread, NULL);
	pthread_join(c.thread, NULL);
	assert_int_equal(a.result, 0);
	assert_int_equal(c.result, 0);
	assert_int_equal(order_len, 2);
	assert_int_equal(state(&s), 6);
	gs_sem_release(&s, 6);
	assert_int_equal(state(&s), 0);
}

/* --- many threads ------------------------------------------------------------ */

struct load {
	gs_sem_t s;
	int64_t cap;
	int iters;
	int stop;
	int64_t inuse;     /* units held as the workers count them */
	int64_t max_inuse;
	int64_t errors;
	int64_t ok, timeouts;
};

static void note_acquired(struct load *l, int64_t n)
{
	int64_t cur = __atomic_add_fetch(&l->inuse, n, __ATOMIC_RELAXED);
	int64_t m = __atomic_load_n(&l->max_inuse, __ATOMIC_RELAXED);
	while (cur > m && !__atomic_compare_exchange_n(&l->max_inuse, &m, cur, false,
						       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (cur > l->cap)
		__atomic_add_fetch(&l->errors, 1, __ATOMIC_RELAXED);
}

static void hold_and_release(struct load *l, int64_t n, unsigned *seed)
{
	note_acquired(l, n);
	if (rand_r(seed) % 4 == 0)
		sched_yield();
	__atomic_sub_fetch(&l->inuse, n, __ATOMIC_RELAXED);
	gs_sem_release(&l->s, n);
}

static void *load_worker(void *arg)
{
	struct load *l = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed ^ (unsigned)gs_now();

	for (int i = 0; i < l->iters; i++) {
		int64_t n = 1 + rand_r(&seed) % l->cap;
		switch (rand_r(&seed) % 3) {
		case 0:
			gs_sem_acquire(&l->s, n);
			hold_and_release(l, n, &seed);
			break;
		case 1:
			if (gs_sem_acquire_until(&l->s, n, gs_now() + rand_r(&seed) % (200 * GS_USEC)) == 0)
				hold_and_release(l, n, &seed);
			break;
		default:
			if (gs_sem_try_acquire(&l->s, n))
				hold_and_release(l, n, &seed);
			break;
		}
	}
	return NULL;
}

static void test_capacity_never_exceeded(void **st)
{
	(void)st;
	static struct load l;
	pthread_t t[16];

	memset(&l, 0, sizeof l);
	l.cap = 10;
	l.iters = scaled(3000, 300);
	gs_sem_init(&l.s, l.cap);
	for (int i = 0; i < 16; i++)
		pthread_create(&t[i], NULL, load_worker, &l);
	for (int i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(l.errors, 0);
	assert_true(l.max_inuse <= l.cap);
	assert_true(l.max_inuse > 0);
	assert_int_equal(l.inuse, 0);
	assert_int_equal(state(&l.s), 0);
	assert_int_equal(queue_len(&l.s), 0);
}

/* Storm (rule 2): many acquirers with tiny deadlines race releases and each other's
 * notify passes; some ask for more than the capacity, some for nothing. The end
 * state is clean: 0 held, no WAITERS, nobody queued. */
static void *storm_worker(void *arg)
{
	struct load *l = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed ^ (unsigned)gs_now();

	while (!__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
		int64_t n = rand_r(&seed) % (l->cap + 2); /* 0 .. cap + 1 */
		int64_t deadline = gs_now() + rand_r(&seed) % (30 * GS_USEC);
		int r = gs_sem_acquire_until(&l->s, n, deadline);
		if (r == 0) {
			__atomic_add_fetch(&l->ok, 1, __ATOMIC_RELAXED);
			hold_and_release(l, n, &seed);
		} else if (r == ETIMEDOUT) {
			__atomic_add_fetch(&l->timeouts, 1, __ATOMIC_RELAXED);
			if (gs_now() < deadline)
				__atomic_add_fetch(&l->errors, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&l->errors, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/* Holders that take big chunks without deadline, so the storm has heads to block. */
static void *storm_holder(void *arg)
{
	struct load *l = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed ^ (unsigned)gs_now();

	while (!__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
		int64_t n = l->cap / 2 + rand_r(&seed) % (l->cap / 2 + 1);
		gs_sem_acquire(&l->s, n);
		__atomic_add_fetch(&l->ok, 1, __ATOMIC_RELAXED);
		note_acquired(l, n);
		sleep_ns(rand_r(&seed) % (50 * GS_USEC));
		__atomic_sub_fetch(&l->inuse, n, __ATOMIC_RELAXED);
		gs_sem_release(&l->s, n);
	}
	return NULL;
}

static void test_storm(void **st)
{
	(void)st;
	static struct load l;
	enum { WORKERS = 12, HOLDERS = 2 };
	pthread_t t[WORKERS + HOLDERS];

	for (int round = 0; round < 3; round++) {
		memset(&l, 0, sizeof l);
		l.cap = 4 + round * 6;
		gs_sem_init(&l.s, l.cap);
		for (int i = 0; i < WORKERS; i++)
			pthread_create(&t[i], NULL, storm_worker, &l);
		for (int i = 0; i < HOLDERS; i++)
			pthread_create(&t[WORKERS + i], NULL, storm_holder, &l);
		sleep_ns(scaled(400, 800) * GS_MSEC);
		__atomic_store_n(&l.stop, 1, __ATOMIC_RELAXED);
		for (int i = 0; i < WORKERS + HOLDERS; i++)
			pthread_join(t[i], NULL);
		if (l.errors || state(&l.s) != 0)
			fprintf(stderr, "storm round %d: errors %ld state %#lx\n", round,
				(long)l.errors, (unsigned long)state(&l.s));
		assert_int_equal(l.errors, 0);
		assert_true(l.max_inuse <= l.cap);
		assert_true(l.ok > 0);
		assert_true(l.timeouts > 0); /* some asked for more than the capacity */
		assert_int_equal(l.inuse, 0);
		assert_int_equal(state(&l.s), 0);
		assert_int_equal(queue_len(&l.s), 0);
		/* still a working semaphore */
		assert_true(gs_sem_try_acquire(&l.s, l.cap));
		gs_sem_release(&l.s, l.cap);
	}
}

/* --- rule 1: free right after the final release ------------------------------ */

struct freer {
	gs_sem_t *s;
	int ready;
};

/* Waits for the unit main holds, gives it back and frees the semaphore at once,
 * possibly while main's release is still waking it. */
static void *freer_main(void *arg)
{
	struct freer *f = arg;
	gs_sem_t *s = f->s;

	__atomic_store_n(&f->ready, 1, __ATOMIC_RELEASE);
	gs_sem_acquire(s, 1);
	gs_sem_release(s, 1);
	free(s);
	return NULL;
}

/* A timed-out head whose notify pass grants the freer: the pass is the last access. */
struct head {
	gs_sem_t *s;
	int done;
};

static void *timeout_head_main(void *arg)
{
	struct head *h = arg;
	(void)gs_sem_acquire_until(h->s, 2, gs_now() + 5 * GS_MSEC);
	__atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_free_after_release(void **st)
{
	(void)st;
	int rounds = scaled(2000, 300);

	for (int i = 0; i < rounds; i++) {
		gs_sem_t *s = malloc(sizeof *s);
		struct freer f = { .s = s };
		pthread_t t;

		gs_sem_init(s, 1);
		gs_sem_acquire(s, 1);
		pthread_create(&t, NULL, freer_main, &f);
		while (!__atomic_load_n(&f.ready, __ATOMIC_ACQUIRE))
			sched_yield();
		if (i % 2)
			wait_queue_len(s, 1); /* release takes the slow path */
		gs_sem_release(s, 1);     /* s may be gone when this returns */
		pthread_join(t, NULL);
	}

	/* The notify pass as the last access: main holds 1 of 2 units; a head waiter
	 * wants 2 and times out; the freer behind it (wants 1) is let in by the pass,
	 * gives the unit back and frees the semaphore while main still holds its unit
	 * — so main's unit is never given back: the freer owns the object's end. */
	for (int i = 0; i < scaled(50, 10); i++) {
		gs_sem_t *s = malloc(sizeof *s);
		struct freer f = { .s = s };
		pthread_t h, t;

		gs_sem_init_available(s, 2, 1);
		struct head hd = { .s = s };
		pthread_create(&h, NULL, timeout_head_main, &hd);
		while (queue_len(s) == 0 && !__atomic_load_n(&hd.done, __ATOMIC_ACQUIRE))
			sched_yield();
		pthread_create(&t, NULL, freer_main, &f);
		pthread_join(h, NULL); /* h's pass may already have let t in */
		pthread_join(t, NULL);
	}
}

/* --- ThreadSanitizer sees the semaphore's happens-before ---------------------- */

struct handoff {
	gs_sem_t ready;
	gs_sem_t lock;
	int data;
	int counter;
};

static void *handoff_producer(void *arg)
{
	struct handoff *h = arg;
	h->data = 42;              /* plain write, published by the release */
	gs_sem_release(&h->ready, 1);
	return NULL;
}

static void *handoff_counter(void *arg)
{
	struct handoff *h = arg;
	for (int i = 0; i < 1000; i++) {
		gs_sem_acquire(&h->lock, 1);
		h->counter++;      /* plain: the semaphore of capacity 1 is a lock */
		gs_sem_release(&h->lock, 1);
	}
	return NULL;
}

/* Under TSan (halt_on_error) a missed edge would end the binary with a report. */
static void test_happens_before(void **st)
{
	(void)st;
	static struct handoff h;
	pthread_t t[4];

	gs_sem_init_available(&h.ready, 1, 0);
	gs_sem_init(&h.lock, 1);
	pthread_create(&t[0], NULL, handoff_producer, &h);
	gs_sem_acquire(&h.ready, 1);
	assert_int_equal(h.data, 42);
	pthread_join(t[0], NULL);

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, handoff_counter, &h);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(h.counter, 4000);
}

/* --- misuse ------------------------------------------------------------------ */

static void scenario_release_unheld(void)
{
	gs_sem_t s = GS_SEM_INIT(3);
	gs_sem_release(&s, 1);
	exit(0); /* not reached */
}

static void scenario_release_too_much(void)
{
	gs_sem_t s = GS_SEM_INIT(3);
	gs_sem_acquire(&s, 2);
	gs_sem_release(&s, 3);
	exit(0);
}

static void scenario_release_queued(void)
{
	static gs_sem_t s = GS_SEM_INIT(3);
	static struct acq a = { .s = &s, .n = 3, .op = OP_ACQUIRE };
	gs_sem_acquire(&s, 2);
	start_queued(&a, 1);
	gs_sem_release(&s, 3);
	exit(0);
}

static void scenario_init_overfull(void)
{
	gs_sem_t s;
	gs_sem_init_available(&s, 3, 4);
	exit(0);
}

static void scenario_acquire_over_capacity(void)
{
	gs_sem_t s = GS_SEM_INIT(3);
	gs_sem_acquire(&s, 4);
	exit(0);
}

static void scenario_acquire_zeroed(void)
{
	gs_sem_t s;
	memset(&s, 0, sizeof s);
	gs_sem_acquire(&s, 1);
	exit(0);
}

static void scenario_neg_acquire(void)
{
	gs_sem_t s = GS_SEM_INIT(3);
	gs_sem_acquire(&s, -1);
	exit(0);
}

static void scenario_neg_until(void)
{
	gs_sem_t s = GS_SEM_INIT(3);
	(void)gs_sem_acquire_until(&s, -1, 0);
	exit(0);
}

static void scenario_neg_try(void)
{
	gs_sem_t s = GS_SEM_INIT(3);
	(void)gs_sem_try_acquire(&s, -1);
	exit(0);
}

static void scenario_neg_release(void)
{
	gs_sem_t s = GS_SEM_INIT(3);
	gs_sem_acquire(&s, 1);
	gs_sem_release(&s, -1);
	exit(0);
}

static void scenario_neg_init(void)
{
	gs_sem_t s;
	gs_sem_init(&s, -1);
	exit(0);
}

static const char *const tsan_env[] = {
	"TSAN_OPTIONS=report_mutex_bugs=0 halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void expect_death(const char *scenario, const char *what)
{
	static struct scenario_result r;
	char line[256];

	snprintf(line, sizeof line, "gosync: fatal error: %s\n", what);
	scenario_run(scenario, tsan_env, &r);
	if (strcmp(r.err, line) != 0)
		fprintf(stderr, "scenario %s: status 0x%x, stderr:\n%s\n", scenario, r.status, r.err);
	assert_died_with(&r, line);
	assert_string_equal(r.err, line); /* exactly that line, nothing else */
}

static void test_misuse_dies(void **st)
{
	(void)st;
	expect_death("release_unheld", "semaphore: released more than held");
	expect_death("release_too_much", "semaphore: released more than held");
	expect_death("release_queued", "semaphore: released more than held");
	expect_death("init_overfull", "semaphore: released more than held");
	expect_death("acquire_over_capacity", "semaphore: acquire of more than capacity");
	expect_death("acquire_zeroed", "semaphore: acquire of more than capacity");
	expect_death("neg_acquire", "semaphore: negative count");
	expect_death("neg_until", "semaphore: negative count");
	expect_death("neg_try", "semaphore: negative count");
	expect_death("neg_release", "semaphore: negative count");
	expect_death("neg_init", "semaphore: negative count");
}

static const struct scenario scenarios[] = {
	{ "release_unheld", scenario_release_unheld },
	{ "release_too_much", scenario_release_too_much },
	{ "release_queued", scenario_release_queued },
	{ "init_overfull", scenario_init_overfull },
	{ "acquire_over_capacity", scenario_acquire_over_capacity },
	{ "acquire_zeroed", scenario_acquire_zeroed },
	{ "neg_acquire", scenario_neg_acquire },
	{ "neg_until", scenario_neg_until },
	{ "neg_try", scenario_neg_try },
	{ "neg_release", scenario_neg_release },
	{ "neg_init", scenario_neg_init },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	scenario_dispatch(argc, argv, scenarios);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_zeroed),
		cmocka_unit_test(test_try_acquire_while_queued),
		cmocka_unit_test(test_fifo_large_head),
		cmocka_unit_test(test_release_grants_several),
		cmocka_unit_test(test_zero_waits_its_turn),
		cmocka_unit_test(test_until),
		cmocka_unit_test(test_over_capacity_times_out),
		cmocka_unit_test(test_head_timeout_lets_others_in),
		cmocka_unit_test(test_middle_timeout),
		cmocka_unit_test(test_capacity_never_exceeded),
		cmocka_unit_test(test_storm),
		cmocka_unit_test(test_free_after_release),
		cmocka_unit_test(test_happens_before),
		cmocka_unit_test(test_misuse_dies),
	};
	return cmocka_run_group_tests_name("sem", tests, NULL, NULL);
}
