/* gs_rwmutex: parallel readers, the reader/writer activity invariant (Go's
 * HammerRWMutex), try operations, writer preference, readers before the next writer,
 * deadlines, timeouts that leave no trace or let blocked readers in, cross-thread
 * unlock, timeout storms with reuse, free right after the last release, misuse, and
 * what ThreadSanitizer sees; the reader-preferring (recursive) read locks, the
 * barging releases and the reader limit.
 *
 * Some tests are white-box: they read the private state word through the bits
 * documented in src/rwmutex.c (mirrored below) to tell when a thread is queued and to
 * check that every waiter leaves the word exactly as it found it. */
#include "harness.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>

#include <gosync/rwmutex.h>
#include <gosync/time.h>

/* The state bits of src/rwmutex.c. */
enum { WRITER = 1u, WRITER_PARKED = 2u, READERS_PARKED = 4u, ONE_READER = 8u };



static uint32_t state(gs_rwmutex_t *rw) { return __atomic_load_n(&rw->state_, __ATOMIC_RELAXED); }




/* Threads that count themselves out, so that main can give up on them: a lost
 * wakeup then fails a test instead of hanging it. The count's release/acquire is the
 * happens-before edge (TSan does not see a timed join). */
struct counted {
	void *(*fn)(void *);
	void *arg;
	int *done;
};

static void *counted_main(void *p)
{
	struct counted c = *(struct counted *)p;
	free(p);
	c.fn(c.arg);
	__atomic_fetch_add(c.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static pthread_t spawn_counted(void *(*fn)(void *), void *arg, int *done)
{
	struct counted *c = malloc(sizeof *c);
	if (!c)
		abort();
	*c = (struct counted){ fn, arg, done };
	return spawn(counted_main, c);
}

/* Waits at most `ns` for the n threads counted in *done, joins them if all finished;
 * returns how many did not (left running: their data must be static). */
static int join_bounded(pthread_t *t, int n, int *done, int64_t ns)
{
	int64_t give_up = gs_now() + ns;
	while (__atomic_load_n(done, __ATOMIC_ACQUIRE) < n && gs_now() < give_up)
		sleep_ns(GS_MSEC);
	int finished = __atomic_load_n(done, __ATOMIC_ACQUIRE);
	if (finished == n)
		for (int i = 0; i < n; i++)
			join(t[i]);
	return n - finished;
}


#define BARRIER() __asm__ __volatile__("" ::: "memory")

/* Releases, handing over (gs_rwmutex_unlock / runlock) or barging. */
static void release_w(gs_rwmutex_t *rw, bool barge)
{
	if (barge)
		gs_rwmutex_unlock_barging(rw);
	else
		gs_rwmutex_unlock(rw);
}

static void release_r(gs_rwmutex_t *rw, bool barge)
{
	if (barge)
		gs_rwmutex_runlock_barging(rw);
	else
		gs_rwmutex_runlock(rw);
}


/* Waits (at most 10 s) until (state & mask) == want. */
static bool wait_state(gs_rwmutex_t *rw, uint32_t mask, uint32_t want)
{
	int64_t give_up = gs_now() + 10 * GS_SEC;
	while ((state(rw) & mask) != want) {
		if (gs_now() > give_up)
			return false;
		sleep_ns(50 * GS_USEC);
	}
	return true;
}

/* Waits (at most 10 s) until *p != 0. */
static bool wait_flag(const int *p)
{
	int64_t give_up = gs_now() + 10 * GS_SEC;
	while (!load_int(p)) {
		if (gs_now() > give_up)
			return false;
		sleep_ns(50 * GS_USEC);
	}
	return true;
}

/* --- actors: one thread, one acquisition, held until main says release ---------- */

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int order[16], order_len;

static void order_reset(void)
{
	pthread_mutex_lock(&order_lock);
	order_len = 0;
	pthread_mutex_unlock(&order_lock);
}

/* How an actor read-locks: gs_rwmutex_rlock/_until, _rlock_recursive_clock or
 * _rlock_clock (CLOCK_MONOTONIC). */
enum { FORM_PLAIN, FORM_RECURSIVE, FORM_CLOCK };

struct actor {
	gs_rwmutex_t *rw;
	bool write;         /* lock, else rlock */
	int form;           /* readers: FORM_* */
	bool barge;         /* release with the barging calls */
	int64_t deadline;   /* GS_NO_DEADLINE: the plain call */
	int id;             /* appended to order[] on acquisition */
	/* set by the actor */
	pid_t tid;
	int started, held, done;
	int r;
	int64_t returned;
	uint32_t seen;      /* the state word right after acquiring */
	/* set by main */
	int release;
	pthread_t thread;
};

static void *actor_fn(void *arg)
{
	struct actor *a = arg;

	a->tid = (pid_t)syscall(SYS_gettid);
	store_int(&a->started, 1);
	if (!a->write && a->form == FORM_RECURSIVE) {
		a->r = gs_rwmutex_rlock_recursive_clock(a->rw, CLOCK_MONOTONIC, a->deadline);
	} else if (!a->write && a->form == FORM_CLOCK) {
		a->r = gs_rwmutex_rlock_clock(a->rw, CLOCK_MONOTONIC, a->deadline);
	} else if (a->deadline == GS_NO_DEADLINE) {
		if (a->write)
			gs_rwmutex_lock(a->rw);
		else
			gs_rwmutex_rlock(a->rw);
		a->r = 0;
	} else {
		a->r = a->write ? gs_rwmutex_lock_until(a->rw, a->deadline)
				: gs_rwmutex_rlock_until(a->rw, a->deadline);
	}
	a->returned = gs_now();
	if (a->r == 0) {
		a->seen = state(a->rw);
		pthread_mutex_lock(&order_lock);
		if (order_len < (int)(sizeof order / sizeof order[0]))
			order[order_len++] = a->id;
		pthread_mutex_unlock(&order_lock);
		store_int(&a->held, 1);
		while (!load_int(&a->release))
			sleep_ns(100 * GS_USEC);
		if (a->write)
			release_w(a->rw, a->barge);
		else
			release_r(a->rw, a->barge);
	}
	store_int(&a->done, 1);
	return NULL;
}

static void actor_start_form(struct actor *a, gs_rwmutex_t *rw, bool write, int form,
			     int64_t deadline, int id)
{
	*a = (struct actor){ .rw = rw, .write = write, .form = form, .deadline = deadline, .id = id };
	a->thread = spawn(actor_fn, a);
	while (!load_int(&a->started))
		sleep_ns(50 * GS_USEC);
}

static void actor_start(struct actor *a, gs_rwmutex_t *rw, bool write, int64_t deadline, int id)
{
	actor_start_form(a, rw, write, FORM_PLAIN, deadline, id);
}

/* Starts an actor that must block, and waits until it sleeps in park. */
static bool actor_queue(struct actor *a, gs_rwmutex_t *rw, bool write, int64_t deadline, int id)
{
	actor_start(a, rw, write, deadline, id);
	return wait_parked(a->tid);
}

static void actor_finish(struct actor *a)
{
	store_int(&a->release, 1);
	join(a->thread);
}

/* --- parallel readers (Go's TestParallelReaders) ------------------------------- */

struct par {
	gs_rwmutex_t rw;
	int n;
	int locked;     /* readers holding the lock */
	int all_in;     /* readers that saw all n holding at once */
	int gave_up;    /* readers that did not see that within 10 s */
	int ids;
};

static void *par_reader(void *arg)
{
	struct par *p = arg;
	int i = __atomic_fetch_add(&p->ids, 1, __ATOMIC_RELAXED);

	switch (i % 3) {
	case 0:
		gs_rwmutex_rlock(&p->rw);
		break;
	case 1:
		while (!gs_rwmutex_tryrlock(&p->rw))
			sched_yield();
		break;
	default:
		while (gs_rwmutex_rlock_until(&p->rw, gs_now() + GS_MSEC) != 0)
			;
	}
	__atomic_fetch_add(&p->locked, 1, __ATOMIC_ACQ_REL);
	/* Would deadlock if readers excluded each other: bounded, so it fails instead. */
	int64_t give_up = gs_now() + 10 * GS_SEC;
	while (__atomic_load_n(&p->locked, __ATOMIC_ACQUIRE) < p->n && gs_now() < give_up)
		sleep_ns(50 * GS_USEC);
	if (__atomic_load_n(&p->locked, __ATOMIC_ACQUIRE) >= p->n)
		__atomic_fetch_add(&p->all_in, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&p->gave_up, 1, __ATOMIC_RELAXED);
	gs_rwmutex_runlock(&p->rw);
	return NULL;
}

static void test_parallel_readers(void **st)
{
	(void)st;
	static const int counts[] = { 1, 3, 4, 16, 64 };
	static struct par p;
	pthread_t t[64];

	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		memset(&p, 0, sizeof p);
		p.n = counts[c];
		for (int i = 0; i < p.n; i++)
			t[i] = spawn(par_reader, &p);
		for (int i = 0; i < p.n; i++)
			join(t[i]);
		assert_int_equal(p.gave_up, 0);
		assert_int_equal(p.all_in, p.n);
		assert_int_equal(state(&p.rw), 0);
	}
}

/* --- the activity invariant (Go's HammerRWMutex) ------------------------------- */

enum { MODE_PLAIN, MODE_TRY, MODE_UNTIL, MODES };

struct hammer {
	gs_rwmutex_t rw;
	int iters;
	int activity;   /* active readers + 10000 * active writers */
	int bad;        /* invariant violations */
	int bad_ret;    /* _until returned something other than 0 / ETIMEDOUT */
	bool barge;     /* release with the barging calls */
};

struct hammer_arg {
	struct hammer *h;
	int mode;
	uint64_t rng;
};

static void h_acquire(struct hammer_arg *a, bool write)
{
	gs_rwmutex_t *rw = &a->h->rw;
	int mode = a->mode == MODES ? (int)(xorshift(&a->rng) % MODES) : a->mode;

	switch (mode) {
	case MODE_PLAIN:
		if (write)
			gs_rwmutex_lock(rw);
		else
			gs_rwmutex_rlock(rw);
		return;
	case MODE_TRY:
		while (!(write ? gs_rwmutex_trylock(rw) : gs_rwmutex_tryrlock(rw)))
			sched_yield();
		return;
	default:
		for (;;) {
			int64_t d = gs_now() + (int64_t)(xorshift(&a->rng) % 200) * GS_USEC;
			int r = write ? gs_rwmutex_lock_until(rw, d) : gs_rwmutex_rlock_until(rw, d);
			if (r == 0)
				return;
			if (r != ETIMEDOUT)
				__atomic_fetch_add(&a->h->bad_ret, 1, __ATOMIC_RELAXED);
		}
	}
}

static void *h_reader(void *arg)
{
	struct hammer_arg *a = arg;
	struct hammer *h = a->h;

	for (int i = 0; i < h->iters; i++) {
		h_acquire(a, false);
		int n = __atomic_add_fetch(&h->activity, 1, __ATOMIC_RELAXED);
		if (n < 1 || n >= 10000)
			__atomic_fetch_add(&h->bad, 1, __ATOMIC_RELAXED);
		for (int k = 0; k < 100; k++)
			BARRIER();
		__atomic_fetch_sub(&h->activity, 1, __ATOMIC_RELAXED);
		release_r(&h->rw, h->barge);
	}
	return NULL;
}

static void *h_writer(void *arg)
{
	struct hammer_arg *a = arg;
	struct hammer *h = a->h;

	for (int i = 0; i < h->iters; i++) {
		h_acquire(a, true);
		int n = __atomic_add_fetch(&h->activity, 10000, __ATOMIC_RELAXED);
		if (n != 10000)
			__atomic_fetch_add(&h->bad, 1, __ATOMIC_RELAXED);
		for (int k = 0; k < 100; k++)
			BARRIER();
		__atomic_fetch_sub(&h->activity, 10000, __ATOMIC_RELAXED);
		release_w(&h->rw, h->barge);
	}
	return NULL;
}

/* Go starts a writer, half the readers, a second writer, the other readers. */
static void hammer(int writers, int readers, int mode, int iters, bool barge)
{
	static struct hammer h;
	static struct hammer_arg a[64];
	static int done;
	pthread_t t[64];
	int n = 0;

	memset(&h, 0, sizeof h);
	h.iters = iters;
	h.barge = barge;
	store_int(&done, 0);
	for (int w = 0; w < writers; w++) {
		int from = readers * w / writers, to = readers * (w + 1) / writers;
		a[n] = (struct hammer_arg){ .h = &h, .mode = mode, .rng = 0x9E3779B97F4A7C15ull * (uint64_t)(n + 1) };
		t[n] = spawn_counted(h_writer, &a[n], &done);
		n++;
		for (int r = from; r < to; r++, n++) {
			a[n] = (struct hammer_arg){ .h = &h, .mode = mode, .rng = 0xD1B54A32D192ED03ull * (uint64_t)(n + 1) };
			t[n] = spawn_counted(h_reader, &a[n], &done);
		}
	}
	int stuck = join_bounded(t, n, &done, 20 * GS_SEC);
	if (h.bad || h.bad_ret || state(&h.rw) || stuck)
		fprintf(stderr, "hammer(%d writers, %d readers, mode %d, barge %d): %d violations, "
			"%d bad returns, %d threads stuck, state 0x%x\n", writers, readers, mode,
			barge, h.bad, h.bad_ret, stuck, state(&h.rw));
	assert_int_equal(stuck, 0);
	assert_int_equal(h.bad, 0);
	assert_int_equal(h.bad_ret, 0);
	assert_int_equal(h.activity, 0);
	assert_int_equal(state(&h.rw), 0);
}

static void test_hammer(void **st)
{
	(void)st;
	static const int readers[] = { 1, 3, 10, 5 };
	static const int writers[] = { 1, 2, 4 };
	const int iters = scaled(1000, 100);

	for (size_t w = 0; w < sizeof writers / sizeof writers[0]; w++)
		for (size_t r = 0; r < sizeof readers / sizeof readers[0]; r++)
			for (int mode = 0; mode <= MODES; mode++) /* MODES: a random mix */
				hammer(writers[w], readers[r], mode, mode == MODE_PLAIN ? iters : iters / 4,
				       false);
}

/* Plain (writer-preferring) readers with barging releases: a writer's unlock wakes
 * the readers it held back and the first writer; readers blocked by WRITER_PARKED must
 * never be stranded on a free lock. */
static void test_hammer_barging(void **st)
{
	(void)st;
	static const int readers[] = { 1, 3, 10 };
	static const int writers[] = { 1, 2, 4 };
	const int iters = scaled(1000, 100);

	for (size_t w = 0; w < sizeof writers / sizeof writers[0]; w++)
		for (size_t r = 0; r < sizeof readers / sizeof readers[0]; r++)
			for (int mode = 0; mode <= MODES; mode += MODES) /* plain, and the mix */
				hammer(writers[w], readers[r], mode, iters, true);
}

/* --- try operations (Go's TestRWMutex) ------------------------------------------ */

struct try_arg {
	gs_rwmutex_t *rw;
	bool write;
	bool recursive;  /* readers: tryrlock_recursive */
	bool got;
};

static void *try_fn(void *arg)
{
	struct try_arg *a = arg;
	a->got = a->write     ? gs_rwmutex_trylock(a->rw)
		 : a->recursive ? gs_rwmutex_tryrlock_recursive(a->rw)
				: gs_rwmutex_tryrlock(a->rw);
	if (a->got) {
		if (a->write)
			gs_rwmutex_unlock(a->rw);
		else
			gs_rwmutex_runlock(a->rw);
	}
	return NULL;
}

/* Another thread's try: true if it got the lock (released again at once). */
static bool try_elsewhere(gs_rwmutex_t *rw, bool write)
{
	struct try_arg a = { .rw = rw, .write = write };
	join(spawn(try_fn, &a));
	return a.got;
}

static bool tryr_recursive_elsewhere(gs_rwmutex_t *rw)
{
	struct try_arg a = { .rw = rw, .recursive = true };
	join(spawn(try_fn, &a));
	return a.got;
}

static gs_rwmutex_t static_rw; /* zero-initialized storage */

static void test_try(void **st)
{
	(void)st;
	static gs_rwmutex_t m = GS_RWMUTEX_INIT;
	gs_rwmutex_t zero;
	memset(&zero, 0, sizeof zero);
	assert_memory_equal(&m, &zero, sizeof m);

	/* Write-locked: neither try succeeds. */
	gs_rwmutex_lock(&m);
	assert_int_equal(state(&m), WRITER);
	assert_false(try_elsewhere(&m, true));
	assert_false(try_elsewhere(&m, false));
	gs_rwmutex_unlock(&m);
	assert_int_equal(state(&m), 0);

	assert_true(gs_rwmutex_trylock(&m));
	assert_int_equal(state(&m), WRITER);
	assert_false(try_elsewhere(&m, true));
	assert_false(try_elsewhere(&m, false));
	gs_rwmutex_unlock(&m);

	/* Read-locked: tryrlock succeeds (twice), trylock does not. */
	assert_true(gs_rwmutex_tryrlock(&m));
	assert_int_equal(state(&m), ONE_READER);
	assert_true(try_elsewhere(&m, false));
	assert_false(try_elsewhere(&m, true));
	gs_rwmutex_rlock(&m);
	assert_int_equal(state(&m), 2 * ONE_READER);
	assert_false(try_elsewhere(&m, true));
	gs_rwmutex_runlock(&m);
	assert_false(try_elsewhere(&m, true));
	gs_rwmutex_runlock(&m);
	assert_int_equal(state(&m), 0);
	assert_true(try_elsewhere(&m, true));
	assert_true(try_elsewhere(&m, false));

	/* A queued writer: tryrlock fails (writer preference), trylock too. */
	static struct actor w;
	gs_rwmutex_rlock(&m);
	assert_true(actor_queue(&w, &m, true, GS_NO_DEADLINE, 1));
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED);
	assert_false(try_elsewhere(&m, false));
	assert_false(try_elsewhere(&m, true));
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED);
	gs_rwmutex_runlock(&m); /* hands off to the writer */
	assert_true(wait_flag(&w.held));
	assert_int_equal(w.seen, WRITER);
	assert_false(try_elsewhere(&m, false));
	assert_false(try_elsewhere(&m, true));
	actor_finish(&w);
	assert_int_equal(state(&m), 0);

	/* Static storage is a ready rwmutex. */
	assert_true(gs_rwmutex_tryrlock(&static_rw));
	gs_rwmutex_runlock(&static_rw);
	assert_true(gs_rwmutex_trylock(&static_rw));
	gs_rwmutex_unlock(&static_rw);
	assert_int_equal(state(&static_rw), 0);
}

/* --- writer preference ------------------------------------------------------------ */

/* R1 holds, W queues: a new reader must not get in; when R1 leaves, W gets it. */
static void test_writer_preference(void **st)
{
	(void)st;
	static gs_rwmutex_t m;
	static struct actor r1, w, r2;

	actor_start(&r1, &m, false, GS_NO_DEADLINE, 1);
	assert_true(wait_flag(&r1.held));
	actor_start(&w, &m, true, GS_NO_DEADLINE, 2);
	assert_true(wait_state(&m, WRITER_PARKED, WRITER_PARKED));
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED);

	int64_t deadline = gs_now() + 50 * GS_MSEC;
	actor_start(&r2, &m, false, deadline, 3);
	join(r2.thread);
	assert_int_equal(r2.r, ETIMEDOUT);
	assert_true(r2.returned >= deadline);
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED); /* no trace */
	assert_int_equal(load_int(&w.held), 0);

	actor_finish(&r1);
	assert_true(wait_flag(&w.held));
	assert_int_equal(w.seen, WRITER);
	actor_finish(&w);
	assert_int_equal(state(&m), 0);
}

/* R1 holds, W1 queues, R2 and R3 queue behind W1 with W2 between them. R1 leaves:
 * W1. W1 leaves: all the readers it held back (R2 and R3) go in before W2. */
static void test_readers_before_next_writer(void **st)
{
	(void)st;
	static gs_rwmutex_t m;
	static struct actor r1, w1, r2, w2, r3;

	order_reset();
	actor_start(&r1, &m, false, GS_NO_DEADLINE, 1);
	assert_true(wait_flag(&r1.held));
	assert_true(actor_queue(&w1, &m, true, GS_NO_DEADLINE, 2));
	assert_true(actor_queue(&r2, &m, false, GS_NO_DEADLINE, 3));
	assert_true(actor_queue(&w2, &m, true, GS_NO_DEADLINE, 4));
	assert_true(actor_queue(&r3, &m, false, GS_NO_DEADLINE, 5));
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED | READERS_PARKED);

	actor_finish(&r1); /* hands off to W1 */
	assert_true(wait_flag(&w1.held));
	assert_int_equal(w1.seen, WRITER | WRITER_PARKED | READERS_PARKED);

	store_int(&w1.release, 1); /* admits R2 and R3, not W2 */
	join(w1.thread);
	assert_true(wait_flag(&r2.held));
	assert_true(wait_flag(&r3.held));
	assert_int_equal(load_int(&w2.held), 0);
	assert_int_equal(state(&m), 2 * ONE_READER | WRITER_PARKED);

	store_int(&r2.release, 1);
	join(r2.thread);
	assert_int_equal(load_int(&w2.held), 0); /* R3 still reads */
	actor_finish(&r3); /* the last reader hands off to W2 */
	assert_true(wait_flag(&w2.held));
	assert_int_equal(w2.seen, WRITER);
	actor_finish(&w2);
	assert_int_equal(state(&m), 0);

	pthread_mutex_lock(&order_lock);
	int len = order_len, got[5];
	memcpy(got, order, sizeof got);
	pthread_mutex_unlock(&order_lock);
	assert_int_equal(len, 5);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 2);
	assert_true((got[2] == 3 && got[3] == 5) || (got[2] == 5 && got[3] == 3));
	assert_int_equal(got[4], 4);
}

/* --- deadlines -------------------------------------------------------------------- */

/* Deadlines in the future, now, the past, 0 and INT64_MIN: ETIMEDOUT, never early,
 * and the word exactly as before. */
static void expect_timeouts(gs_rwmutex_t *m, bool write)
{
	const int64_t offsets[] = { 20 * GS_MSEC, 1 * GS_MSEC, 50 * GS_USEC, 0, -GS_SEC };
	uint32_t before = state(m);

	for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
		int64_t deadline = gs_now() + offsets[i];
		int r = write ? gs_rwmutex_lock_until(m, deadline) : gs_rwmutex_rlock_until(m, deadline);
		int64_t now = gs_now();
		assert_int_equal(r, ETIMEDOUT);
		assert_true(now >= deadline);
		assert_true(now - deadline < 2 * GS_SEC); /* generous */
		assert_int_equal(state(m), before);
	}
	const int64_t absolute[] = { 0, -1, INT64_MIN };
	for (size_t i = 0; i < sizeof absolute / sizeof absolute[0]; i++) {
		int r = write ? gs_rwmutex_lock_until(m, absolute[i])
			      : gs_rwmutex_rlock_until(m, absolute[i]);
		assert_int_equal(r, ETIMEDOUT);
		assert_int_equal(state(m), before);
	}
}

static void test_deadlines(void **st)
{
	(void)st;
	static gs_rwmutex_t m;
	static struct actor h, w, a;

	/* Write-held: both forms time out. */
	actor_start(&h, &m, true, GS_NO_DEADLINE, 1);
	assert_true(wait_flag(&h.held));
	expect_timeouts(&m, false);
	expect_timeouts(&m, true);
	assert_int_equal(state(&m), WRITER);
	actor_finish(&h);

	/* Read-held: lock_until times out; rlock_until succeeds whatever the deadline. */
	actor_start(&h, &m, false, GS_NO_DEADLINE, 1);
	assert_true(wait_flag(&h.held));
	expect_timeouts(&m, true);
	assert_int_equal(state(&m), ONE_READER);
	const int64_t past[] = { gs_now() - GS_SEC, gs_now(), 0, -1, INT64_MIN };
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
		assert_int_equal(gs_rwmutex_rlock_until(&m, past[i]), 0);
		assert_int_equal(state(&m), 2 * ONE_READER);
		gs_rwmutex_runlock(&m);
	}

	/* Read-held with a writer queued: rlock_until times out too. */
	assert_true(actor_queue(&w, &m, true, GS_NO_DEADLINE, 2));
	expect_timeouts(&m, false);
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED);
	actor_finish(&h);
	assert_true(wait_flag(&w.held));
	actor_finish(&w);
	assert_int_equal(state(&m), 0);

	/* Free: both forms take it whatever the deadline. */
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
		assert_int_equal(gs_rwmutex_lock_until(&m, past[i]), 0);
		assert_int_equal(state(&m), WRITER);
		gs_rwmutex_unlock(&m);
		assert_int_equal(gs_rwmutex_rlock_until(&m, past[i]), 0);
		assert_int_equal(state(&m), ONE_READER);
		gs_rwmutex_runlock(&m);
		assert_int_equal(state(&m), 0);
	}
	assert_int_equal(gs_rwmutex_lock_until(&m, GS_NO_DEADLINE), 0);
	gs_rwmutex_unlock(&m);
	assert_int_equal(gs_rwmutex_rlock_until(&m, GS_NO_DEADLINE), 0);
	gs_rwmutex_runlock(&m);

	/* Released in time: 0 before the deadline, for both forms against both holds. */
	for (int k = 0; k < 4; k++) {
		bool hold_write = k & 1, want_write = k & 2;
		if (!hold_write && !want_write)
			continue; /* readers share */
		actor_start(&h, &m, hold_write, GS_NO_DEADLINE, 1);
		assert_true(wait_flag(&h.held));
		int64_t deadline = gs_now() + 10 * GS_SEC;
		assert_true(actor_queue(&a, &m, want_write, deadline, 2));
		actor_finish(&h);
		assert_true(wait_flag(&a.held));
		assert_int_equal(a.r, 0);
		assert_true(a.returned < deadline);
		actor_finish(&a);
		assert_int_equal(state(&m), 0);
	}
}

/* Several waiters of both kinds time out at once, in both orders. */
static void test_many_timeouts(void **st)
{
	(void)st;
	enum { N = 8 };
	static gs_rwmutex_t m;
	static struct actor h, a[N];

	for (int hold_write = 0; hold_write < 2; hold_write++) {
		actor_start(&h, &m, hold_write, GS_NO_DEADLINE, 0);
		assert_true(wait_flag(&h.held));
		uint32_t before = state(&m);
		int64_t base = gs_now();
		for (int i = 0; i < N; i++)
			actor_start(&a[i], &m, i % 2 == 0 || !hold_write, /* readers share */
				    base + (i % 3 ? 5 : 15 + i) * GS_MSEC, i + 1);
		for (int i = 0; i < N; i++)
			join(a[i].thread);
		for (int i = 0; i < N; i++) {
			assert_int_equal(a[i].r, ETIMEDOUT);
			assert_true(a[i].returned >= a[i].deadline);
		}
		assert_int_equal(state(&m), before);
		actor_finish(&h);
		assert_int_equal(state(&m), 0);
	}
}

/* R1 holds, W queues with a deadline, R2 queues behind W. W times out: nothing blocks
 * R2 any more, and it must get in without R1 unlocking. Then: a writer that times
 * out while another writer waits or holds must leave the queued readers to that
 * writer, and they must get in when it unlocks. */
static void test_writer_timeout_admits_readers(void **st)
{
	(void)st;
	static gs_rwmutex_t m;
	static struct actor r1, w, r2, r3, w2;
	bool tested = false;

	for (int attempt = 0; attempt < 5 && !tested; attempt++) {
		actor_start(&r1, &m, false, GS_NO_DEADLINE, 1);
		assert_true(wait_flag(&r1.held));
		int64_t deadline = gs_now() + 300 * GS_MSEC;
		actor_start(&w, &m, true, deadline, 2);
		bool queued = wait_parked(w.tid);
		actor_start(&r2, &m, false, GS_NO_DEADLINE, 3);
		queued = wait_parked(r2.tid) && queued;
		actor_start(&r3, &m, false, gs_now() + 20 * GS_SEC, 4);
		queued = wait_parked(r3.tid) && queued;
		/* Both readers queued behind W before it gave up (else: retry). */
		bool in_time = queued && !load_int(&w.done);
		join(w.thread);
		assert_int_equal(w.r, ETIMEDOUT);
		assert_true(w.returned >= deadline);
		assert_true(wait_flag(&r2.held));
		assert_true(wait_flag(&r3.held));
		assert_int_equal(load_int(&r1.done), 0); /* R1 never left */
		assert_int_equal(state(&m), 3 * ONE_READER);
		actor_finish(&r2);
		actor_finish(&r3);
		actor_finish(&r1);
		assert_int_equal(state(&m), 0);
		tested = in_time;
	}
	assert_true(tested);

	/* W times out while W2 waits: R2 keeps waiting, for W2. */
	actor_start(&r1, &m, false, GS_NO_DEADLINE, 1);
	assert_true(wait_flag(&r1.held));
	int64_t deadline = gs_now() + 200 * GS_MSEC;
	assert_true(actor_queue(&w, &m, true, deadline, 2));
	assert_true(actor_queue(&w2, &m, true, GS_NO_DEADLINE, 3));
	assert_true(actor_queue(&r2, &m, false, GS_NO_DEADLINE, 4));
	join(w.thread);
	assert_int_equal(w.r, ETIMEDOUT);
	sleep_ns(20 * GS_MSEC);
	uint32_t after_timeout = state(&m);
	assert_int_equal(load_int(&r2.held), 0);
	actor_finish(&r1); /* -> W2 */
	assert_true(wait_flag(&w2.held));
	assert_int_equal(load_int(&r2.held), 0);
	actor_finish(&w2); /* -> R2 */
	assert_true(wait_flag(&r2.held));
	actor_finish(&r2);
	assert_int_equal(state(&m), 0);
	assert_int_equal(after_timeout, ONE_READER | WRITER_PARKED | READERS_PARKED);

	/* W times out while H holds the write lock: R2 gets in when H unlocks. */
	static struct actor h;
	actor_start(&h, &m, true, GS_NO_DEADLINE, 1);
	assert_true(wait_flag(&h.held));
	deadline = gs_now() + 200 * GS_MSEC;
	assert_true(actor_queue(&w, &m, true, deadline, 2));
	assert_true(actor_queue(&r2, &m, false, GS_NO_DEADLINE, 3));
	join(w.thread);
	assert_int_equal(w.r, ETIMEDOUT);
	after_timeout = state(&m);
	actor_finish(&h);
	assert_true(wait_flag(&r2.held));
	actor_finish(&r2);
	assert_int_equal(state(&m), 0);
	assert_int_equal(after_timeout, WRITER | READERS_PARKED);
}

/* A reader that times out leaves the word exactly as it found it. */
static void test_reader_timeout_no_trace(void **st)
{
	(void)st;
	static gs_rwmutex_t m;
	static struct actor h, w, r, t;

	/* Behind a writer. */
	actor_start(&h, &m, true, GS_NO_DEADLINE, 1);
	assert_true(wait_flag(&h.held));
	actor_start(&t, &m, false, gs_now() + 30 * GS_MSEC, 2);
	join(t.thread);
	assert_int_equal(t.r, ETIMEDOUT);
	assert_int_equal(state(&m), WRITER);

	/* Behind a writer, with another reader queued that stays. */
	assert_true(actor_queue(&r, &m, false, GS_NO_DEADLINE, 3));
	assert_int_equal(state(&m), WRITER | READERS_PARKED);
	actor_start(&t, &m, false, gs_now() + 30 * GS_MSEC, 4);
	join(t.thread);
	assert_int_equal(t.r, ETIMEDOUT);
	assert_int_equal(state(&m), WRITER | READERS_PARKED);
	actor_finish(&h);
	assert_true(wait_flag(&r.held));
	assert_int_equal(state(&m), ONE_READER);

	/* Behind a queued writer, the lock read-held. */
	assert_true(actor_queue(&w, &m, true, GS_NO_DEADLINE, 5));
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED);
	actor_start(&t, &m, false, gs_now() + 30 * GS_MSEC, 6);
	join(t.thread);
	assert_int_equal(t.r, ETIMEDOUT);
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED);
	actor_finish(&r);
	assert_true(wait_flag(&w.held));
	actor_finish(&w);
	assert_int_equal(state(&m), 0);
}

/* --- unlock by another thread (a fresh process: TSan needs report_mutex_bugs=0) --- */

struct elsewhere {
	gs_rwmutex_t m, a, b, c;
	const char *msg;
	int rounds;
	int val, ack;   /* protected only by the handovers */
	int rlocked;    /* round whose read lock on c the thread took */
	int released;   /* round whose read lock main released */
	int errors;
};

static void *hello_fn(void *arg)
{
	struct elsewhere *e = arg;
	e->msg = "hello";
	gs_rwmutex_unlock(&e->m); /* write-locked by main */
	return NULL;
}

static void *rhello_fn(void *arg)
{
	struct elsewhere *e = arg;
	if (!e->msg)
		e->errors++;
	gs_rwmutex_runlock(&e->m); /* read-locked by main */
	return NULL;
}

/* Write locks: round i, main sets val and unlocks a (locked by this thread in round
 * i-1), then waits for b; this thread takes a, checks val, sets ack and unlocks b
 * (locked by main). Read locks: this thread rlocks c; main runlocks it and proves it
 * free by taking the write lock. */
static void *pingpong_fn(void *arg)
{
	struct elsewhere *e = arg;
	for (int i = 0; i < e->rounds; i++) {
		gs_rwmutex_lock(&e->a);
		if (e->val != i)
			e->errors++;
		e->ack = i;
		gs_rwmutex_rlock(&e->c);
		store_int(&e->rlocked, i + 1);
		gs_rwmutex_unlock(&e->b);
	}
	return NULL;
}

static void scenario_unlock_elsewhere(void)
{
	static struct elsewhere e;

	gs_rwmutex_lock(&e.m);
	pthread_t t = spawn(hello_fn, &e);
	gs_rwmutex_lock(&e.m); /* waits for the other thread's unlock */
	if (!e.msg || strcmp(e.msg, "hello") != 0) {
		fprintf(stderr, "msg not visible after lock\n");
		exit(1);
	}
	gs_rwmutex_unlock(&e.m);
	join(t);

	gs_rwmutex_rlock(&e.m);
	t = spawn(rhello_fn, &e);
	gs_rwmutex_lock(&e.m); /* waits for the other thread's runlock */
	gs_rwmutex_unlock(&e.m);
	join(t);

	e.rounds = scaled(3000, 300);
	gs_rwmutex_lock(&e.a);
	gs_rwmutex_lock(&e.b);
	t = spawn(pingpong_fn, &e);
	for (int i = 0; i < e.rounds; i++) {
		e.val = i;
		gs_rwmutex_unlock(&e.a);
		gs_rwmutex_lock(&e.b);
		if (e.ack != i || load_int(&e.rlocked) != i + 1)
			e.errors++;
		gs_rwmutex_runlock(&e.c); /* read-locked by the other thread */
		if (!gs_rwmutex_trylock(&e.c))
			e.errors++;
		else
			gs_rwmutex_unlock(&e.c);
	}
	join(t);
	gs_rwmutex_unlock(&e.a); /* locked by the other thread in its last round */
	gs_rwmutex_unlock(&e.b);
	if (e.errors || state(&e.m) || state(&e.a) || state(&e.b) || state(&e.c)) {
		fprintf(stderr, "errors %d states %x %x %x %x\n", e.errors, state(&e.m),
			state(&e.a), state(&e.b), state(&e.c));
		exit(1);
	}
	exit(0);
}

static const char *const tsan_env_mutex_bugs_off[] = {
	"TSAN_OPTIONS=report_mutex_bugs=0 halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void print_child(const char *name, const struct scenario_result *r)
{
	fprintf(stderr, "scenario %s: status 0x%x, stderr:\n%s\n", name, r->status, r->err);
}

static void assert_child_ok(const char *name, const char *const *env)
{
	static struct scenario_result r;
	scenario_run(name, env, &r);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || strstr(r.err, "ThreadSanitizer"))
		print_child(name, &r);
	assert_exited_with(&r, 0);
	assert_null(strstr(r.err, "ThreadSanitizer"));
}

/* Besides report_mutex_bugs=0: TSan's deadlock detector keeps every read lock in the
 * locking thread's lock set until that thread unlocks it, so a thread whose read locks
 * are all released elsewhere overflows it after 64 (a CHECK failure in the runtime). */
static const char *const tsan_env_elsewhere[] = {
	"TSAN_OPTIONS=report_mutex_bugs=0 detect_deadlocks=0 halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void test_unlock_elsewhere(void **st)
{
	(void)st;
	assert_child_ok("unlock_elsewhere", tsan_env_elsewhere);
}

/* --- timeout storm with reuse ----------------------------------------------------- */

struct storm {
	gs_rwmutex_t m;
	int stop;
	int activity;   /* readers + 10000 * writers inside */
	long a, b;      /* written under the write lock: a == b outside it */
	int bad;        /* activity or torn-data violations */
};

struct storm_worker {
	struct storm *s;
	uint64_t rng;
	bool holder;    /* plain lock/rlock with longer holds */
	long ok, timeouts, early, bad_ret, tries;
};

static void storm_read(struct storm *s)
{
	int n = __atomic_add_fetch(&s->activity, 1, __ATOMIC_RELAXED);
	if (n < 1 || n >= 10000 || s->a != s->b)
		__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&s->activity, 1, __ATOMIC_RELAXED);
}

static void storm_write(struct storm *s)
{
	int n = __atomic_add_fetch(&s->activity, 10000, __ATOMIC_RELAXED);
	if (n != 10000 || s->a != s->b)
		__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
	s->a++;
	BARRIER();
	s->b++;
	__atomic_fetch_sub(&s->activity, 10000, __ATOMIC_RELAXED);
}

static void *storm_fn(void *arg)
{
	struct storm_worker *w = arg;
	struct storm *s = w->s;

	while (!load_int(&s->stop)) {
		uint64_t x = xorshift(&w->rng);
		bool write = x % 3 == 0;
		bool recursive = x >> 41 & 1; /* readers: the reader-preferring forms */
		if (w->holder) {
			if (write)
				gs_rwmutex_lock(&s->m);
			else
				gs_rwmutex_rlock(&s->m);
			write ? storm_write(s) : storm_read(s);
			sleep_ns((int64_t)(x >> 8) % 50 * GS_USEC);
			write ? release_w(&s->m, x >> 40 & 1) : release_r(&s->m, x >> 40 & 1);
			w->ok++;
			continue;
		}
		if ((x >> 4) % 5 == 0) {
			w->tries++;
			if (write ? gs_rwmutex_trylock(&s->m)
				  : recursive ? gs_rwmutex_tryrlock_recursive(&s->m)
					      : gs_rwmutex_tryrlock(&s->m)) {
				write ? storm_write(s) : storm_read(s);
				write ? release_w(&s->m, x >> 40 & 1) : release_r(&s->m, x >> 40 & 1);
				w->ok++;
			}
			continue;
		}
		/* -10 .. +50 us: some deadlines already past */
		int64_t deadline = gs_now() + ((int64_t)((x >> 8) % 61) - 10) * GS_USEC;
		int r = write ? gs_rwmutex_lock_until(&s->m, deadline)
			: recursive ? gs_rwmutex_rlock_recursive_clock(&s->m, CLOCK_MONOTONIC, deadline)
				    : gs_rwmutex_rlock_until(&s->m, deadline);
		int64_t now = gs_now();
		if (r == 0) {
			write ? storm_write(s) : storm_read(s);
			write ? release_w(&s->m, x >> 40 & 1) : release_r(&s->m, x >> 40 & 1);
			w->ok++;
		} else if (r == ETIMEDOUT) {
			w->timeouts++;
			if (now < deadline)
				w->early++;
		} else {
			w->bad_ret++;
		}
		if ((x >> 20) % 4 == 0)
			sched_yield();
	}
	return NULL;
}

static void test_storm(void **st)
{
	(void)st;
	enum { WORKERS = 16, HOLDERS = 3, ROUNDS = 4 };
	static struct storm s;
	static struct storm_worker w[WORKERS + HOLDERS];
	static int done;
	pthread_t t[WORKERS + HOLDERS];
	const int64_t round_ns = scaled(250, 600) * GS_MSEC;
	long ok = 0, timeouts = 0, early = 0, bad_ret = 0, tries = 0;

	memset(&s, 0, sizeof s);
	for (int round = 0; round < ROUNDS; round++) { /* the same rwmutex, reused */
		store_int(&s.stop, 0);
		store_int(&done, 0);
		memset(w, 0, sizeof w);
		for (int i = 0; i < WORKERS + HOLDERS; i++) {
			w[i] = (struct storm_worker){ .s = &s, .holder = i >= WORKERS,
				.rng = 0x9E3779B97F4A7C15ull * (uint64_t)(round * 100 + i + 1) };
			t[i] = spawn_counted(storm_fn, &w[i], &done);
		}
		sleep_ns(round_ns);
		store_int(&s.stop, 1);
		int stuck = join_bounded(t, WORKERS + HOLDERS, &done, 20 * GS_SEC);
		if (stuck)
			fprintf(stderr, "storm round %d: %d threads stuck, state 0x%x\n", round,
				stuck, state(&s.m));
		assert_int_equal(stuck, 0);
		for (int i = 0; i < WORKERS + HOLDERS; i++) {
			ok += w[i].ok;
			timeouts += w[i].timeouts;
			early += w[i].early;
			bad_ret += w[i].bad_ret;
			tries += w[i].tries;
		}
		if (state(&s.m) != 0)
			fprintf(stderr, "storm round %d ends with state 0x%x\n", round, state(&s.m));
		assert_int_equal(state(&s.m), 0);
	}
	printf("  storm: %ld locked, %ld timed out, %ld tries\n", ok, timeouts, tries);
	fflush(stdout);
	assert_int_equal(s.bad, 0);
	assert_int_equal(bad_ret, 0);
	assert_int_equal(early, 0);
	assert_int_equal(s.a, s.b);
	assert_true(ok > 0);
	assert_true(timeouts > 0);
	/* Everyone gone: the word is zero and the rwmutex works. */
	assert_true(gs_rwmutex_trylock(&s.m));
	assert_int_equal(state(&s.m), WRITER);
	gs_rwmutex_unlock(&s.m);
	assert_true(gs_rwmutex_tryrlock(&s.m));
	gs_rwmutex_runlock(&s.m);
	assert_int_equal(state(&s.m), 0);
}

/* --- free right after the last release -------------------------------------------- */

/* Round r: A (main) holds a heap rwmutex (read or write, by variant); B takes it in a
 * way that can only succeed after A's release, releases at once and frees it, while
 * A may still be inside its unlock. Variants: A write / B lock, A write / B rlock,
 * A read / B lock, A read / B trylock spin (A's runlock fast path), A write / B
 * lock_until retries. */
enum { FAU_VARIANTS = 5 };

struct fau {
	gs_rwmutex_t *m;  /* this round's heap rwmutex (published with release) */
	int round;        /* published round, 1-based */
	int b_ready;      /* B is about to take round's rwmutex */
	int a_last;       /* A is about to make its last release of round */
	int b_done;       /* B freed round's rwmutex */
	int rounds;
};

static void *fau_b(void *arg)
{
	struct fau *f = arg;
	for (int r = 1; r <= f->rounds; r++) {
		while (load_int(&f->round) != r)
			sched_yield();
		gs_rwmutex_t *m = __atomic_load_n(&f->m, __ATOMIC_ACQUIRE);
		store_int(&f->b_ready, r);
		bool write = true;
		switch (r % FAU_VARIANTS) {
		case 0:
		case 2:
			gs_rwmutex_lock(m);
			break;
		case 1:
			gs_rwmutex_rlock(m);
			write = false;
			break;
		case 3:
			while (!gs_rwmutex_trylock(m))
				sched_yield();
			break;
		default:
			while (gs_rwmutex_lock_until(m, gs_now() + GS_MSEC) != 0)
				;
		}
		/* A set a_last before the release B's acquisition waited for. */
		while (load_int(&f->a_last) != r)
			;
		if (write)
			gs_rwmutex_unlock(m);
		else
			gs_rwmutex_runlock(m);
		free(m);
		store_int(&f->b_done, r);
	}
	return NULL;
}

static void test_free_after_unlock(void **st)
{
	(void)st;
	static struct fau f;
	memset(&f, 0, sizeof f);
	f.rounds = scaled(3000, 400);
	int queued = 0;

	pthread_t b = spawn(fau_b, &f);
	for (int r = 1; r <= f.rounds; r++) {
		gs_rwmutex_t *m = malloc(sizeof *m);
		assert_non_null(m);
		*m = (gs_rwmutex_t)GS_RWMUTEX_INIT;
		int v = r % FAU_VARIANTS;
		bool a_reads = v == 2 || v == 3;
		if (a_reads)
			gs_rwmutex_rlock(m);
		else
			gs_rwmutex_lock(m);
		__atomic_store_n(&f.m, m, __ATOMIC_RELEASE);
		store_int(&f.round, r);
		while (load_int(&f.b_ready) != r)
			sched_yield();
		/* Let B queue (bounded: proceed anyway after 20 ms). B must not free m
		 * before a_last, so reading its state here is safe. */
		if (v != 3) {
			int64_t give_up = gs_now() + 20 * GS_MSEC;
			while (!(state(m) & (WRITER_PARKED | READERS_PARKED)) && gs_now() < give_up)
				sched_yield();
			queued += (state(m) & (WRITER_PARKED | READERS_PARKED)) != 0;
		}
		store_int(&f.a_last, r);
		bool barge = r / FAU_VARIANTS % 2;
		if (a_reads)
			release_r(m, barge); /* B may free m from here on */
		else
			release_w(m, barge);
		while (load_int(&f.b_done) != r)
			sched_yield();
	}
	join(b);
	printf("  free after unlock: %d rounds, %d with B queued\n", f.rounds, queued);
	fflush(stdout);
	assert_true(queued > 0);
}

/* --- reader-preferring (recursive) read locks ------------------------------------ */

static bool actor_queue_form(struct actor *a, gs_rwmutex_t *rw, int form, int64_t deadline, int id)
{
	actor_start_form(a, rw, false, form, deadline, id);
	return wait_parked(a->tid);
}

static int rlock_rec(gs_rwmutex_t *m, int64_t deadline)
{
	return gs_rwmutex_rlock_recursive_clock(m, CLOCK_MONOTONIC, deadline);
}

/* Recursive read locks get in while a writer waits (plain ones do not), wait only for
 * a writer that holds the lock, go in before the next writer, and time out cleanly. */
static void test_recursive(void **st)
{
	(void)st;
	static gs_rwmutex_t m;
	static struct actor w, r, w2;

	assert_int_equal(rlock_rec(&m, GS_NO_DEADLINE), 0);
	assert_true(gs_rwmutex_tryrlock_recursive(&m));
	assert_int_equal(state(&m), 2 * ONE_READER);
	assert_int_equal(gs_rwmutex_readers(&m), 2);

	/* A writer queues behind them: recursive read locks still go in at once, whatever
	 * the deadline and from any thread; plain ones wait (writer preference). */
	assert_true(actor_queue(&w, &m, true, GS_NO_DEADLINE, 1));
	assert_int_equal(state(&m), 2 * ONE_READER | WRITER_PARKED);
	assert_true(gs_rwmutex_tryrlock_recursive(&m));
	assert_int_equal(rlock_rec(&m, 0), 0);
	assert_int_equal(gs_rwmutex_rlock_recursive_clock(&m, CLOCK_REALTIME, INT64_MIN), 0);
	assert_true(tryr_recursive_elsewhere(&m));
	assert_false(gs_rwmutex_tryrlock(&m));
	assert_int_equal(gs_rwmutex_rlock_clock(&m, CLOCK_MONOTONIC, gs_now() + GS_MSEC), ETIMEDOUT);
	assert_int_equal(state(&m), 5 * ONE_READER | WRITER_PARKED);
	assert_int_equal(gs_rwmutex_readers(&m), 5);
	for (int i = 0; i < 4; i++)
		gs_rwmutex_runlock(&m);
	assert_int_equal(load_int(&w.held), 0);
	gs_rwmutex_runlock(&m); /* the last reader hands off to W */
	assert_true(wait_flag(&w.held));
	assert_int_equal(w.seen, WRITER);
	assert_int_equal(gs_rwmutex_readers(&m), 0);

	/* Write-held: recursive readers wait; a timed one leaves no trace. */
	assert_false(gs_rwmutex_tryrlock_recursive(&m));
	assert_false(tryr_recursive_elsewhere(&m));
	const int64_t offsets[] = { 5 * GS_MSEC, 0, -GS_SEC };
	for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
		int64_t d = gs_now() + offsets[i];
		assert_int_equal(rlock_rec(&m, d), ETIMEDOUT);
		assert_true(gs_now() >= d);
		assert_int_equal(state(&m), WRITER);
	}

	/* A queued recursive reader goes in before a writer queued after it. */
	assert_true(actor_queue_form(&r, &m, FORM_RECURSIVE, GS_NO_DEADLINE, 2));
	assert_int_equal(state(&m), WRITER | READERS_PARKED);
	assert_true(actor_queue(&w2, &m, true, GS_NO_DEADLINE, 3));
	assert_int_equal(state(&m), WRITER | WRITER_PARKED | READERS_PARKED);
	actor_finish(&w);
	assert_true(wait_flag(&r.held));
	assert_int_equal(r.r, 0);
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED);
	/* ... and recursive readers keep joining while W2 waits */
	assert_int_equal(rlock_rec(&m, GS_NO_DEADLINE), 0);
	actor_finish(&r);
	assert_int_equal(load_int(&w2.held), 0);
	assert_int_equal(state(&m), ONE_READER | WRITER_PARKED);
	gs_rwmutex_runlock(&m);
	assert_true(wait_flag(&w2.held));
	actor_finish(&w2);
	assert_int_equal(state(&m), 0);

	/* A timed recursive waiter that gives up while another stays queued. */
	actor_start(&w, &m, true, GS_NO_DEADLINE, 1);
	assert_true(wait_flag(&w.held));
	assert_true(actor_queue_form(&r, &m, FORM_RECURSIVE, GS_NO_DEADLINE, 2));
	assert_int_equal(rlock_rec(&m, gs_now() + 5 * GS_MSEC), ETIMEDOUT);
	assert_int_equal(state(&m), WRITER | READERS_PARKED);
	actor_finish(&w);
	assert_true(wait_flag(&r.held));
	actor_finish(&r);
	assert_int_equal(state(&m), 0);
}

/* Readers that nest recursive read locks (the inner one must always be granted at
 * once: only a writer that holds the lock blocks it, and none can while we read)
 * against writers of every form: the activity invariant, no deadlock, a zero word. */
static void *h_reader_recursive(void *arg)
{
	struct hammer_arg *a = arg;
	struct hammer *h = a->h;
	gs_rwmutex_t *rw = &h->rw;

	for (int i = 0; i < h->iters; i++) {
		uint64_t x = xorshift(&a->rng);
		switch (x % 3) {
		case 0:
			if (rlock_rec(rw, GS_NO_DEADLINE) != 0)
				__atomic_fetch_add(&h->bad_ret, 1, __ATOMIC_RELAXED);
			break;
		case 1:
			while (!gs_rwmutex_tryrlock_recursive(rw))
				sched_yield();
			break;
		default:
			for (;;) {
				int r = rlock_rec(rw, gs_now() + (int64_t)((x >> 8) % 200) * GS_USEC);
				if (r == 0)
					break;
				if (r != ETIMEDOUT)
					__atomic_fetch_add(&h->bad_ret, 1, __ATOMIC_RELAXED);
			}
		}
		int depth = 1 + (int)((x >> 16) % 3);
		for (int k = 1; k < depth; k++) {
			bool ok = (x >> (20 + k)) & 1 ? gs_rwmutex_tryrlock_recursive(rw)
						      : rlock_rec(rw, INT64_MIN) == 0;
			if (!ok)
				__atomic_fetch_add(&h->bad, 1, __ATOMIC_RELAXED);
		}
		int n = __atomic_add_fetch(&h->activity, 1, __ATOMIC_RELAXED);
		if (n < 1 || n >= 10000)
			__atomic_fetch_add(&h->bad, 1, __ATOMIC_RELAXED);
		for (int k = 0; k < 100; k++)
			BARRIER();
		__atomic_fetch_sub(&h->activity, 1, __ATOMIC_RELAXED);
		for (int k = 0; k < depth; k++)
			release_r(rw, h->barge);
	}
	return NULL;
}

static void test_recursive_hammer(void **st)
{
	(void)st;
	static const int readers[] = { 1, 3, 10 };
	static const int writers[] = { 1, 2, 4 };
	static struct hammer h;
	static struct hammer_arg a[64];
	static int done;
	pthread_t t[64];
	const int iters = scaled(1000, 100);

	for (int barge = 0; barge < 2; barge++)
	for (size_t wi = 0; wi < sizeof writers / sizeof writers[0]; wi++)
		for (size_t ri = 0; ri < sizeof readers / sizeof readers[0]; ri++) {
			int n = 0;
			memset(&h, 0, sizeof h);
			h.iters = iters;
			h.barge = barge;
			store_int(&done, 0);
			for (int k = 0; k < writers[wi] + readers[ri]; k++, n++) {
				bool writer = k < writers[wi];
				a[n] = (struct hammer_arg){ .h = &h, .mode = MODES,
					.rng = 0x9E3779B97F4A7C15ull * (uint64_t)(n + 1 + 100 * (int)ri) };
				t[n] = spawn_counted(writer ? h_writer : h_reader_recursive, &a[n], &done);
			}
			int stuck = join_bounded(t, n, &done, 20 * GS_SEC);
			if (h.bad || h.bad_ret || state(&h.rw) || stuck)
				fprintf(stderr, "recursive hammer(%d writers, %d readers, barge %d): %d "
					"violations, %d bad returns, %d stuck, state 0x%x\n", writers[wi],
					readers[ri], barge, h.bad, h.bad_ret, stuck, state(&h.rw));
			assert_int_equal(stuck, 0);
			assert_int_equal(h.bad, 0);
			assert_int_equal(h.bad_ret, 0);
			assert_int_equal(h.activity, 0);
			assert_int_equal(state(&h.rw), 0);
		}
}

/* --- barging releases -------------------------------------------------------------- */

static void actor_start_barging(struct actor *a, gs_rwmutex_t *rw, bool write, int form, int id)
{
	*a = (struct actor){ .rw = rw, .write = write, .form = form, .barge = true,
			     .deadline = GS_NO_DEADLINE, .id = id };
	a->thread = spawn(actor_fn, a);
	while (!load_int(&a->started))
		sleep_ns(50 * GS_USEC);
}

/* A barging release leaves the lock free for whoever runs first: the caller, taking
 * it again at once, can beat the sleeping writer it woke (a hand-off gives the writer
 * the lock, and the caller's try always fails). Racy by nature — the woken writer,
 * on an idle CPU, often runs first (6-75% of attempts here) — so the test repeats
 * until the caller has won once after each kind of release (at most 500 attempts). */
static void test_barging(void **st)
{
	(void)st;
	static gs_rwmutex_t m;
	static struct actor w, w2, w3, r, r2;
	int free_after_unlock = 0, free_after_runlock = 0;

	for (int attempt = 0; attempt < 500 && !(free_after_unlock && free_after_runlock); attempt++) {
		gs_rwmutex_lock(&m);
		actor_start_barging(&w, &m, true, FORM_PLAIN, 1);
		assert_true(wait_parked(w.tid));
		assert_int_equal(state(&m), WRITER | WRITER_PARKED);
		gs_rwmutex_unlock_barging(&m);
		if (gs_rwmutex_trylock(&m)) {
			free_after_unlock++;
			gs_rwmutex_unlock_barging(&m);
		}
		assert_true(wait_flag(&w.held));
		actor_finish(&w);
		assert_int_equal(state(&m), 0);

		assert_true(gs_rwmutex_tryrlock_recursive(&m));
		actor_start_barging(&w, &m, true, FORM_PLAIN, 1);
		assert_true(wait_parked(w.tid));
		assert_int_equal(state(&m), ONE_READER | WRITER_PARKED);
		gs_rwmutex_runlock_barging(&m);
		if (gs_rwmutex_tryrlock_recursive(&m)) {
			free_after_runlock++;
			gs_rwmutex_runlock_barging(&m);
		}
		assert_true(wait_flag(&w.held));
		actor_finish(&w);
		assert_int_equal(state(&m), 0);
	}
	assert_true(free_after_unlock > 0);
	assert_true(free_after_runlock > 0);

	/* Unlock wakes every queued reader and only the first writer: the second stays
	 * queued (WRITER_PARKED) whoever runs first. */
	gs_rwmutex_lock(&m);
	actor_start_barging(&r, &m, false, FORM_RECURSIVE, 1);
	assert_true(wait_parked(r.tid));
	actor_start_barging(&w2, &m, true, FORM_PLAIN, 2);
	assert_true(wait_parked(w2.tid));
	actor_start_barging(&r2, &m, false, FORM_RECURSIVE, 3);
	assert_true(wait_parked(r2.tid));
	actor_start_barging(&w3, &m, true, FORM_PLAIN, 4);
	assert_true(wait_parked(w3.tid));
	assert_int_equal(state(&m), WRITER | WRITER_PARKED | READERS_PARKED);
	gs_rwmutex_unlock_barging(&m);
	assert_true(state(&m) & WRITER_PARKED);
	struct actor *all[] = { &r, &r2, &w2, &w3 };
	for (int i = 0; i < 4; i++)
		store_int(&all[i]->release, 1);
	for (int i = 0; i < 4; i++)
		join(all[i]->thread);
	assert_int_equal(r.r | r2.r | w2.r | w3.r, 0);
	assert_int_equal(state(&m), 0);

	/* Plain readers blocked by WRITER_PARKED behind a woken writer are never stranded:
	 * W1 holds, W2 and plain R queue; every order of what follows ends with all done. */
	for (int round = 0; round < 20; round++) {
		gs_rwmutex_lock(&m);
		actor_start_barging(&w2, &m, true, FORM_PLAIN, 1);
		assert_true(wait_parked(w2.tid));
		actor_start_barging(&r, &m, false, round % 2 ? FORM_CLOCK : FORM_PLAIN, 2);
		assert_true(wait_parked(r.tid));
		gs_rwmutex_unlock_barging(&m);
		/* both may hold in turn: release both before joining either */
		store_int(&(round % 4 < 2 ? &w2 : &r)->release, 1);
		store_int(&(round % 4 < 2 ? &r : &w2)->release, 1);
		bool finished = wait_flag(&w2.done) && wait_flag(&r.done);
		if (!finished)
			fprintf(stderr, "barging round %d: stuck, state 0x%x\n", round, state(&m));
		assert_true(finished); /* else: stranded (the threads are left behind) */
		join(w2.thread);
		join(r.thread);
		assert_int_equal(r.r | w2.r, 0);
		assert_int_equal(state(&m), 0);
	}
}

/* --- the reader limit (white-box: the word is set near it) ------------------------- */

static void test_reader_limit(void **st)
{
	(void)st;
	static gs_rwmutex_t m;
	static struct actor w, r;
	const uint32_t full = GS_RWMUTEX_MAX_READERS * ONE_READER;

	__atomic_store_n(&m.state_, full - ONE_READER, __ATOMIC_RELAXED);
	assert_true(gs_rwmutex_tryrlock(&m)); /* the last one that fits */
	assert_int_equal(gs_rwmutex_readers(&m), GS_RWMUTEX_MAX_READERS);
	assert_false(gs_rwmutex_tryrlock(&m));
	assert_false(gs_rwmutex_tryrlock_recursive(&m));
	assert_int_equal(gs_rwmutex_rlock_clock(&m, CLOCK_MONOTONIC, GS_NO_DEADLINE), EAGAIN);
	assert_int_equal(gs_rwmutex_rlock_clock(&m, CLOCK_REALTIME, 0), EAGAIN);
	assert_int_equal(rlock_rec(&m, GS_NO_DEADLINE), EAGAIN);
	assert_int_equal(state(&m), full);
	gs_rwmutex_runlock(&m);
	assert_int_equal(rlock_rec(&m, GS_NO_DEADLINE), 0);
	assert_int_equal(state(&m), full);

	/* Full, W queued with a deadline, R (rlock_clock) queued behind W. W gives up; its
	 * timeout pass would admit R on top of a full count: R is told to retry instead and
	 * meets the limit itself. If W gave up before R queued, R meets it at once: EAGAIN
	 * either way, but only the first order tests the pass (retried, bounded). */
	bool tested = false;
	for (int attempt = 0; attempt < 5 && !tested; attempt++) {
		int64_t deadline = gs_now() + 300 * GS_MSEC;
		actor_start(&w, &m, true, deadline, 1);
		bool queued = wait_parked(w.tid);
		actor_start_form(&r, &m, false, FORM_CLOCK, GS_NO_DEADLINE, 2);
		queued = wait_parked(r.tid) && queued;
		bool in_time = queued && !load_int(&w.done);
		join(w.thread);
		int64_t give_up = gs_now() + 10 * GS_SEC;
		while (!load_int(&r.done) && !load_int(&r.held) && gs_now() < give_up)
			sleep_ns(50 * GS_USEC);
		uint32_t seen = state(&m);
		actor_finish(&r); /* releases it if it got in (a failure) */
		assert_int_equal(w.r, ETIMEDOUT);
		assert_int_equal(r.r, EAGAIN);
		assert_int_equal(seen, full);
		tested = in_time;
	}
	assert_true(tested);
	__atomic_store_n(&m.state_, 0, __ATOMIC_RELAXED);
}

/* --- misuse ------------------------------------------------------------------------ */

static void scenario_runlock_fresh(void)
{
	gs_rwmutex_t m = GS_RWMUTEX_INIT;
	gs_rwmutex_runlock(&m);
	exit(0); /* not reached */
}

static void scenario_runlock_write_locked(void)
{
	gs_rwmutex_t m = GS_RWMUTEX_INIT;
	gs_rwmutex_lock(&m);
	gs_rwmutex_runlock(&m);
	exit(0);
}

static void scenario_unlock_fresh(void)
{
	gs_rwmutex_t m = GS_RWMUTEX_INIT;
	gs_rwmutex_unlock(&m);
	exit(0);
}

static void scenario_rlock_over_limit(void)
{
	gs_rwmutex_t m = GS_RWMUTEX_INIT;
	__atomic_store_n(&m.state_, GS_RWMUTEX_MAX_READERS * ONE_READER, __ATOMIC_RELAXED);
	gs_rwmutex_rlock(&m);
	exit(0);
}

static void scenario_unlock_read_locked(void)
{
	gs_rwmutex_t m = GS_RWMUTEX_INIT;
	gs_rwmutex_rlock(&m);
	gs_rwmutex_unlock(&m);
	exit(0);
}

static void expect_death(const char *name, const char *line)
{
	static struct scenario_result r;
	scenario_run(name, tsan_env_mutex_bugs_off, &r);
	if (strcmp(r.err, line) != 0)
		print_child(name, &r);
	assert_died_with(&r, line);
	/* exactly that line: it is the whole of what was written */
	assert_string_equal(r.err, line);
}

static void test_misuse_dies(void **st)
{
	(void)st;
	const char *runlock_line = "gosync: fatal error: sync: RUnlock of unlocked RWMutex\n";
	const char *unlock_line = "gosync: fatal error: sync: Unlock of unlocked RWMutex\n";

	expect_death("runlock_fresh", runlock_line);
	expect_death("runlock_write_locked", runlock_line);
	expect_death("unlock_fresh", unlock_line);
	expect_death("unlock_read_locked", unlock_line);
	expect_death("rlock_over_limit", "gosync: fatal error: sync: RWMutex reader count overflow\n");
}

/* --- what ThreadSanitizer sees (fresh processes) ------------------------------------ */

static gs_rwmutex_t tsan_rw;
static long tsan_x;   /* the shared data */

/* The steps are relaxed atomics: no happens-before for TSan. Threads stay alive until
 * the end (TSan may reuse a finished thread's slot and miss a race with it). */
static int tsan_step, tsan_inside;

static void tsan_wait_step(int want)
{
	while (__atomic_load_n(&tsan_step, __ATOMIC_RELAXED) < want)
		sched_yield();
}

static void tsan_set_step(int v) { __atomic_store_n(&tsan_step, v, __ATOMIC_RELAXED); }

/* Readers 1 and 2 read x under rlock, both inside at once; then writer 3 writes it
 * under lock: no report. */
static void *tsan_reader_fn(void *arg)
{
	long id = (long)(intptr_t)arg;
	gs_rwmutex_rlock(&tsan_rw);
	__atomic_fetch_add(&tsan_inside, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&tsan_inside, __ATOMIC_RELAXED) < 2)
		sched_yield(); /* both readers hold the read lock now */
	long v = tsan_x;
	gs_rwmutex_runlock(&tsan_rw);
	if (v != 0)
		exit(1);
	__atomic_fetch_add(&tsan_step, 1, __ATOMIC_RELAXED);
	tsan_wait_step(3);
	(void)id;
	return NULL;
}

static void *tsan_writer_fn(void *arg)
{
	(void)arg;
	tsan_wait_step(2);
	gs_rwmutex_lock(&tsan_rw);
	tsan_x = 3;
	gs_rwmutex_unlock(&tsan_rw);
	tsan_set_step(3);
	return NULL;
}

static void scenario_tsan_readers(void)
{
	tsan_x = 0;
	pthread_t r1 = spawn(tsan_reader_fn, (void *)1), r2 = spawn(tsan_reader_fn, (void *)2);
	pthread_t w = spawn(tsan_writer_fn, NULL);
	join(r1);
	join(r2);
	join(w);
	if (tsan_x != 3)
		exit(1);
	/* and back: the write is visible to a later reader without a report */
	gs_rwmutex_rlock(&tsan_rw);
	long v = tsan_x;
	gs_rwmutex_runlock(&tsan_rw);
	exit(v == 3 ? 0 : 1);
}

/* Threads 1 and 2 WRITE x under the read lock, one after the other while both hold
 * it: a read lock does not exclude, so TSan must report the race. */
static void *tsan_rwrite_fn(void *arg)
{
	long id = (long)(intptr_t)arg;
	tsan_wait_step((int)id - 1);
	gs_rwmutex_rlock(&tsan_rw);
	tsan_x = id;
	tsan_set_step((int)id);
	tsan_wait_step(2); /* both hold the read lock */
	gs_rwmutex_runlock(&tsan_rw);
	return NULL;
}

static void scenario_tsan_racy_readers(void)
{
	pthread_t a = spawn(tsan_rwrite_fn, (void *)1), b = spawn(tsan_rwrite_fn, (void *)2);
	join(a);
	join(b);
	if (tsan_x != 1 && tsan_x != 2)
		exit(1);
	exit(0);
}

static const char *const tsan_env_plain[] = {
	"TSAN_OPTIONS=halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void test_tsan_read_locks(void **st)
{
	(void)st;
	static struct scenario_result r;

	assert_child_ok("tsan_readers", tsan_env_plain);

	scenario_run("tsan_racy_readers", tsan_env_plain, &r);
	if (under_tsan()) {
		if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 66 ||
		    !strstr(r.err, "WARNING: ThreadSanitizer: data race"))
			print_child("tsan_racy_readers", &r);
		assert_exited_with(&r, 66);
		assert_non_null(strstr(r.err, "WARNING: ThreadSanitizer: data race"));
	} else {
		assert_exited_with(&r, 0);
	}
}

static const struct scenario scenarios[] = {
	{ "unlock_elsewhere", scenario_unlock_elsewhere },
	{ "runlock_fresh", scenario_runlock_fresh },
	{ "runlock_write_locked", scenario_runlock_write_locked },
	{ "unlock_fresh", scenario_unlock_fresh },
	{ "unlock_read_locked", scenario_unlock_read_locked },
	{ "rlock_over_limit", scenario_rlock_over_limit },
	{ "tsan_readers", scenario_tsan_readers },
	{ "tsan_racy_readers", scenario_tsan_racy_readers },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	scenario_dispatch(argc, argv, scenarios);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parallel_readers),
		cmocka_unit_test(test_hammer),
		cmocka_unit_test(test_try),
		cmocka_unit_test(test_writer_preference),
		cmocka_unit_test(test_readers_before_next_writer),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_many_timeouts),
		cmocka_unit_test(test_writer_timeout_admits_readers),
		cmocka_unit_test(test_reader_timeout_no_trace),
		cmocka_unit_test(test_unlock_elsewhere),
		cmocka_unit_test(test_storm),
		cmocka_unit_test(test_free_after_unlock),
		cmocka_unit_test(test_recursive),
		cmocka_unit_test(test_recursive_hammer),
		cmocka_unit_test(test_hammer_barging),
		cmocka_unit_test(test_barging),
		cmocka_unit_test(test_reader_limit),
		cmocka_unit_test(test_misuse_dies),
		cmocka_unit_test(test_tsan_read_locks),
	};
	return cmocka_run_group_tests_name("rwmutex", tests, NULL, NULL);
}
