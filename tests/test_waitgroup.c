/* gs_waitgroup: add/done/wait, reuse rounds, Done→Wait visibility, deadlines, a
 * deadline storm, free right after wait, the three misuse deaths, a lost-wakeup
 * hunter and what ThreadSanitizer sees.
 *
 * Some tests are white-box: they read the private state word through the layout
 * documented in src/waitgroup.c (counter in the high 32 bits, waiters in the low 32)
 * to check that waiters are counted while they sleep and uncounted when they leave,
 * and that every round ends in the all-zero state. Two use park directly to hold the
 * wait group's bucket lock and so stop a last done() inside its slow path. */
#include "harness.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>

#include <gosync/time.h>
#include <gosync/waitgroup.h>

#include "park.h"



/* The state layout of src/waitgroup.c. */
static uint64_t state(gs_waitgroup_t *wg) { return __atomic_load_n(&wg->state_, __ATOMIC_RELAXED); }
static int32_t counter_of(uint64_t s) { return (int32_t)(uint32_t)(s >> 32); }
static uint32_t waiters_of(uint64_t s) { return (uint32_t)s; }
static uint64_t make_state(int32_t c, uint32_t w) { return (uint64_t)(uint32_t)c << 32 | w; }





/* Waits (at most 10 s) until the wait group counts `n` waiters. */
static bool wait_waiters(gs_waitgroup_t *wg, uint32_t n)
{
	int64_t give_up = gs_now() + 10 * GS_SEC;
	while (waiters_of(state(wg)) != n) {
		if (gs_now() > give_up)
			return false;
		sleep_ns(50 * GS_USEC);
	}
	return true;
}

static void print_child(const char *name, const struct scenario_result *r)
{
	fprintf(stderr, "scenario %s: status 0x%x, stderr:\n%s\n", name, r->status, r->err);
}

/* --- a crew: persistent threads running one function per round --------------------
 * Driven by a pthread mutex and condition variables, not by the wait group under
 * test, so that a lost wakeup in the wait group shows up as a stuck round that the
 * driver reports, not as a hang of the driver itself. */

#define CREW_MAX 64

struct crew;
struct crew_member {
	struct crew *crew;
	int id;
	pthread_t thread;
};

struct crew {
	int n;
	void (*fn)(void *arg, int id, int round);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t start, finish;
	int round;                 /* the round being run; mu */
	bool stop;                 /* mu */
	int finished;              /* members done with `round`; mu */
	int last[CREW_MAX];        /* last round each member finished; mu */
	struct crew_member members[CREW_MAX];
};

static void *crew_main(void *arg)
{
	struct crew_member *m = arg;
	struct crew *c = m->crew;
	int seen = 0;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		while (c->round == seen && !c->stop)
			pthread_cond_wait(&c->start, &c->mu);
		if (c->stop) {
			pthread_mutex_unlock(&c->mu);
			return NULL;
		}
		seen = c->round;
		pthread_mutex_unlock(&c->mu);

		c->fn(c->arg, m->id, seen);

		pthread_mutex_lock(&c->mu);
		c->last[m->id] = seen;
		if (++c->finished == c->n)
			pthread_cond_signal(&c->finish);
		pthread_mutex_unlock(&c->mu);
	}
}

static void crew_start(struct crew *c, int n, void (*fn)(void *, int, int), void *arg)
{
	pthread_condattr_t ca;

	memset(c, 0, sizeof *c);
	c->n = n;
	c->fn = fn;
	c->arg = arg;
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->start, &ca);
	pthread_cond_init(&c->finish, &ca);
	for (int i = 0; i < n; i++) {
		c->members[i] = (struct crew_member){ .crew = c, .id = i };
		c->members[i].thread = spawn(crew_main, &c->members[i]);
	}
}

/* Runs one round; false if it has not finished by `deadline` (members still in it). */
static bool crew_run(struct crew *c, int64_t deadline)
{
	struct timespec ts = { deadline / GS_SEC, deadline % GS_SEC };
	bool ok = true;

	pthread_mutex_lock(&c->mu);
	c->finished = 0;
	c->round++;
	pthread_cond_broadcast(&c->start);
	while (c->finished < c->n && ok)
		ok = pthread_cond_timedwait(&c->finish, &c->mu, &ts) != ETIMEDOUT || c->finished == c->n;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

/* Prints the members that have not finished the current round. */
static void crew_print_stuck(struct crew *c, const char *what)
{
	pthread_mutex_lock(&c->mu);
	fprintf(stderr, "%s: round %d: members still inside:", what, c->round);
	for (int i = 0; i < c->n; i++)
		if (c->last[i] != c->round)
			fprintf(stderr, " %d", i);
	fprintf(stderr, "\n");
	pthread_mutex_unlock(&c->mu);
}

static void crew_stop(struct crew *c)
{
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->start);
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < c->n; i++)
		join(c->members[i].thread);
	pthread_cond_destroy(&c->start);
	pthread_cond_destroy(&c->finish);
	pthread_mutex_destroy(&c->mu);
}

/* --- basics ----------------------------------------------------------------- */

struct basic {
	gs_waitgroup_t *wg;
	int64_t delay;
	int value;
};

static void *basic_worker(void *arg)
{
	struct basic *b = arg;
	if (b->delay)
		sleep_ns(b->delay);
	b->value = 42; /* published by done */
	gs_waitgroup_done(b->wg);
	return NULL;
}

static gs_waitgroup_t static_wg; /* zero storage: ready */

static void test_basic(void **st)
{
	(void)st;
	enum { N = 8 };
	gs_waitgroup_t wg = GS_WAITGROUP_INIT;
	gs_waitgroup_t zero;
	struct basic b[N];
	pthread_t t[N];

	memset(&zero, 0, sizeof zero);
	assert_memory_equal(&wg, &zero, sizeof wg);
	assert_int_equal(sizeof(gs_waitgroup_t), 8);
	assert_int_equal(_Alignof(gs_waitgroup_t), 8);

	/* counter 0: wait returns at once */
	gs_waitgroup_wait(&wg);
	gs_waitgroup_wait(&static_wg);
	assert_int_equal(gs_waitgroup_wait_until(&wg, GS_NO_DEADLINE), 0);

	/* add / negative add / add(0) */
	gs_waitgroup_add(&wg, 3);
	assert_int_equal(state(&wg), make_state(3, 0));
	gs_waitgroup_add(&wg, 0);
	gs_waitgroup_add(&wg, -2);
	assert_int_equal(state(&wg), make_state(1, 0));
	gs_waitgroup_done(&wg);
	assert_int_equal(state(&wg), 0);
	gs_waitgroup_add(&wg, 0);
	assert_int_equal(state(&wg), 0);

	/* N workers, some finishing before the wait, some after it parked */
	gs_waitgroup_add(&wg, N);
	for (int i = 0; i < N; i++) {
		b[i] = (struct basic){ .wg = &wg, .delay = i % 2 ? 20 * GS_MSEC : 0 };
		t[i] = spawn(basic_worker, &b[i]);
	}
	gs_waitgroup_wait(&wg);
	for (int i = 0; i < N; i++)
		assert_int_equal(b[i].value, 42); /* plain reads: done → wait */
	assert_int_equal(state(&wg), 0);
	for (int i = 0; i < N; i++)
		join(t[i]);

	/* a waiter that surely parks: counted while asleep, released by done */
	gs_waitgroup_add(&wg, 1);
	b[0] = (struct basic){ .wg = &wg, .delay = 30 * GS_MSEC };
	t[0] = spawn(basic_worker, &b[0]);
	int64_t deadline = gs_now() + 30 * GS_SEC;
	assert_int_equal(gs_waitgroup_wait_until(&wg, deadline), 0);
	assert_true(gs_now() < deadline);
	assert_int_equal(state(&wg), 0);
	join(t[0]);

	/* the static one, too */
	gs_waitgroup_add(&static_wg, 1);
	b[0] = (struct basic){ .wg = &static_wg, .delay = 5 * GS_MSEC };
	t[0] = spawn(basic_worker, &b[0]);
	gs_waitgroup_wait(&static_wg);
	join(t[0]);
	assert_int_equal(state(&static_wg), 0);
}

/* --- rounds with reuse -------------------------------------------------------------
 * Everything is driven by wait groups: gate[r % 2] releases round r; each worker
 * writes its slot, calls done(wg), then itself waits on wg (so each round has N + 1
 * waiters) and checks every slot, then done(ack). Main reuses wg (and ack, and the
 * gates) only when every wait of the previous round has returned, as Go requires:
 * workers return from wait(wg) before done(ack), and main waits for ack. */

enum { RW_N = 6 };

struct reuse {
	gs_waitgroup_t wg, ack, gate[2];
	int rounds;
	int data[RW_N];    /* plain: written before done(wg), read after wait(wg) */
	int errors[RW_N];
	int main_errors;
};

struct reuse_member {
	struct reuse *s;
	int id;
};

static void *reuse_worker(void *arg)
{
	struct reuse_member *m = arg;
	struct reuse *s = m->s;

	for (int r = 0; r < s->rounds; r++) {
		gs_waitgroup_wait(&s->gate[r % 2]);
		s->data[m->id] = r;
		gs_waitgroup_done(&s->wg);
		if (r % 3 == 0)
			while (gs_waitgroup_wait_until(&s->wg, gs_now() + 5 * GS_USEC) != 0)
				;
		else
			gs_waitgroup_wait(&s->wg);
		for (int j = 0; j < RW_N; j++)
			if (s->data[j] != r)
				s->errors[m->id]++;
		gs_waitgroup_done(&s->ack);
	}
	return NULL;
}

static void test_rounds_reuse(void **st)
{
	(void)st;
	static struct reuse s;
	struct reuse_member m[RW_N];
	pthread_t t[RW_N];

	memset(&s, 0, sizeof s);
	s.rounds = scaled(3000, 1000);
	gs_waitgroup_add(&s.gate[0], 1);
	gs_waitgroup_add(&s.gate[1], 1);
	for (int i = 0; i < RW_N; i++) {
		m[i] = (struct reuse_member){ .s = &s, .id = i };
		t[i] = spawn(reuse_worker, &m[i]);
	}
	for (int r = 0; r < s.rounds; r++) {
		gs_waitgroup_add(&s.wg, RW_N);
		gs_waitgroup_add(&s.ack, RW_N);
		gs_waitgroup_done(&s.gate[r % 2]); /* gate[(r+1) % 2] is already armed */
		gs_waitgroup_wait(&s.wg);
		for (int j = 0; j < RW_N; j++)
			if (s.data[j] != r)
				s.main_errors++;
		gs_waitgroup_wait(&s.ack);
		if (state(&s.wg) != 0 || state(&s.ack) != 0)
			s.main_errors++;
		gs_waitgroup_add(&s.gate[r % 2], 1); /* arms round r + 2 */
	}
	for (int i = 0; i < RW_N; i++)
		join(t[i]);
	for (int i = 0; i < RW_N; i++)
		assert_int_equal(s.errors[i], 0);
	assert_int_equal(s.main_errors, 0);
	assert_int_equal(state(&s.wg), 0);
	assert_int_equal(state(&s.ack), 0);
	assert_int_equal(state(&s.gate[0]), make_state(1, 0));
	assert_int_equal(state(&s.gate[1]), make_state(1, 0));
	gs_waitgroup_done(&s.gate[0]);
	gs_waitgroup_done(&s.gate[1]);
	assert_int_equal(state(&s.gate[0]), 0);
	assert_int_equal(state(&s.gate[1]), 0);
}

/* --- Done → Wait visibility (Go's TestWaitGroupRace, hammered) ----------------------
 * Two workers write plain fields and call done; the waiter reads them after wait.
 * Without the happens-before edge TSan reports the plain accesses; on weak hardware
 * the reads could see stale values. */

struct vis {
	gs_waitgroup_t wg;
	long a, b;
	long payload[8];
};

static void *vis_a(void *arg)
{
	struct vis *v = arg;
	v->a = 1;
	for (int i = 0; i < 4; i++)
		v->payload[i] = i + 1;
	gs_waitgroup_done(&v->wg);
	return NULL;
}

static void *vis_b(void *arg)
{
	struct vis *v = arg;
	v->b = 1;
	for (int i = 4; i < 8; i++)
		v->payload[i] = i + 1;
	gs_waitgroup_done(&v->wg);
	return NULL;
}

static void test_done_wait_visibility(void **st)
{
	(void)st;
	int iters = scaled(2000, 800), bad = 0;

	for (int i = 0; i < iters; i++) {
		struct vis *v = calloc(1, sizeof *v);
		gs_waitgroup_add(&v->wg, 1);
		pthread_t ta = spawn(vis_a, v);
		gs_waitgroup_add(&v->wg, 1);
		pthread_t tb = spawn(vis_b, v);
		if (i % 2)
			gs_waitgroup_wait(&v->wg);
		else
			while (gs_waitgroup_wait_until(&v->wg, gs_now() + (i % 7) * GS_USEC) != 0)
				;
		long sum = v->a + v->b;
		for (int k = 0; k < 8; k++)
			sum += v->payload[k] == k + 1;
		bad += sum != 10;
		join(ta);
		join(tb);
		if (state(&v->wg) != 0)
			bad++;
		free(v);
	}
	assert_int_equal(bad, 0);
}

/* --- deadlines ---------------------------------------------------------------- */

struct timed {
	gs_waitgroup_t *wg;
	int64_t deadline;
	int r;
	int64_t returned;
	int back;          /* set (release) once the wait has returned */
};

static void *timed_fn(void *arg)
{
	struct timed *w = arg;
	w->r = gs_waitgroup_wait_until(w->wg, w->deadline);
	w->returned = gs_now();
	store_int(&w->back, 1);
	return NULL;
}

static void test_wait_until_counter_zero(void **st)
{
	(void)st;
	gs_waitgroup_t wg = GS_WAITGROUP_INIT;
	const int64_t past[] = { gs_now() - GS_SEC, gs_now(), 0, -1, INT64_MIN, GS_NO_DEADLINE };

	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
		assert_int_equal(gs_waitgroup_wait_until(&wg, past[i]), 0);
		assert_int_equal(state(&wg), 0);
	}
	/* after a completed round, too */
	gs_waitgroup_add(&wg, 2);
	gs_waitgroup_done(&wg);
	gs_waitgroup_done(&wg);
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++)
		assert_int_equal(gs_waitgroup_wait_until(&wg, past[i]), 0);
	assert_int_equal(state(&wg), 0);
}

static void test_wait_until_timeout(void **st)
{
	(void)st;
	gs_waitgroup_t wg = GS_WAITGROUP_INIT;

	gs_waitgroup_add(&wg, 1);
	/* Deadlines in the future, now, and in the past: ETIMEDOUT, never early, and
	 * the waiter is uncounted again. */
	const int64_t offsets[] = { 1 * GS_MSEC, 20 * GS_MSEC, 50 * GS_USEC, 0, -GS_SEC };
	for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
		int64_t deadline = gs_now() + offsets[i];
		int r = gs_waitgroup_wait_until(&wg, deadline);
		int64_t now = gs_now();
		assert_int_equal(r, ETIMEDOUT);
		assert_true(now >= deadline);
		assert_true(now - deadline < 2 * GS_SEC); /* generous */
		assert_int_equal(state(&wg), make_state(1, 0));
	}
	assert_int_equal(gs_waitgroup_wait_until(&wg, 0), ETIMEDOUT);
	assert_int_equal(gs_waitgroup_wait_until(&wg, INT64_MIN), ETIMEDOUT);
	assert_int_equal(state(&wg), make_state(1, 0));

	/* Several waiters timing out in both orders, while one waits without deadline. */
	enum { W = 6 };
	struct timed w[W], forever = { .wg = &wg, .deadline = GS_NO_DEADLINE };
	pthread_t wt[W], ft = spawn(timed_fn, &forever);
	assert_true(wait_waiters(&wg, 1));
	int64_t base = gs_now();
	for (int i = 0; i < W; i++) {
		w[i] = (struct timed){ .wg = &wg, .deadline = base + (i % 2 ? 5 : 15 + i) * GS_MSEC };
		wt[i] = spawn(timed_fn, &w[i]);
	}
	for (int i = 0; i < W; i++)
		join(wt[i]);
	for (int i = 0; i < W; i++) {
		assert_int_equal(w[i].r, ETIMEDOUT);
		assert_true(w[i].returned >= w[i].deadline);
	}
	assert_int_equal(state(&wg), make_state(1, 1)); /* only the untimed one left */

	/* ... which is still woken by the last done. */
	gs_waitgroup_done(&wg);
	join(ft);
	assert_int_equal(forever.r, 0);
	assert_int_equal(state(&wg), 0);
}

/* --- holding the wait group's bucket lock (white-box, through park) -----------------
 * A helper thread unparks a key that hashes to the same park bucket as wg, with a
 * callback that spins until told to stop: while it spins, the bucket lock is held, so
 * a last done() of wg is stopped inside its slow path, before release_cb. (Callbacks
 * must not block; this one does so on purpose, in a test.) */

struct bucket_hold {
	const void *key;   /* shares wg's bucket */
	int held;
	int release;
	pthread_t thread;
};

static uint64_t hold_cb(void *arg, struct gs__unpark_result r)
{
	struct bucket_hold *h = arg;
	(void)r;
	store_int(&h->held, 1);
	while (!load_int(&h->release))
		sched_yield();
	return 0;
}

static void *hold_main(void *arg)
{
	struct bucket_hold *h = arg;
	gs__unpark_one(h->key, hold_cb, h);
	return NULL;
}

static char bucket_keys[1 << 16];

static void bucket_hold_start(struct bucket_hold *h, gs_waitgroup_t *wg)
{
	memset(h, 0, sizeof *h);
	for (size_t i = 0; i < sizeof bucket_keys && !h->key; i++)
		if (gs__park_bucket_of(&bucket_keys[i]) == gs__park_bucket_of(wg))
			h->key = &bucket_keys[i];
	assert_non_null(h->key);
	h->thread = spawn(hold_main, h);
	while (!load_int(&h->held))
		sleep_ns(50 * GS_USEC);
}

static void bucket_hold_end(struct bucket_hold *h)
{
	store_int(&h->release, 1);
	join(h->thread);
}


struct doner {
	gs_waitgroup_t *wg;
	pid_t tid;
	int returned;
};

static void *doner_fn(void *arg)
{
	struct doner *d = arg;
	store_int(&d->tid, (int)syscall(SYS_gettid));
	gs_waitgroup_done(d->wg);
	store_int(&d->returned, 1);
	return NULL;
}

/* The last done() decided to take the slow path (counter 1, one waiter), and before
 * it could run its callback a legal add (the counter was above zero) raised the
 * counter: release_cb finds counter 1, so it is a plain decrement; the dequeued
 * waiter is told to re-park and is woken only by the real last done. */
static void test_add_overtakes_last_done(void **st)
{
	(void)st;
	gs_waitgroup_t wg = GS_WAITGROUP_INIT;
	struct bucket_hold h;
	struct timed w = { .wg = &wg, .deadline = GS_NO_DEADLINE };
	struct doner d = { .wg = &wg };

	gs_waitgroup_add(&wg, 1);
	pthread_t wt = spawn(timed_fn, &w);
	assert_true(wait_waiters(&wg, 1));

	bucket_hold_start(&h, &wg);
	pthread_t dt = spawn(doner_fn, &d);
	while (!load_int(&d.tid))
		sleep_ns(50 * GS_USEC);
	assert_true(wait_futex_sleeper(load_int(&d.tid), 2));
	assert_int_equal(state(&wg), make_state(1, 1)); /* done has not decremented */
	gs_waitgroup_add(&wg, 1);                        /* legal: counter is 1 */
	assert_int_equal(state(&wg), make_state(2, 1));
	bucket_hold_end(&h);
	join(dt);
	/* the waiter was dequeued, told to retry, and parks again */
	assert_true(wait_waiters(&wg, 1));
	assert_int_equal(counter_of(state(&wg)), 1);
	sleep_ns(5 * GS_MSEC);
	assert_int_equal(load_int(&w.back), 0); /* still waiting */
	gs_waitgroup_done(&wg);
	join(wt);
	assert_int_equal(w.r, 0);
	assert_int_equal(state(&wg), 0);
}

/* A waiter's deadline passes while the last done() is stopped before its callback:
 * whoever gets the bucket lock first decides. Either the waiter removed itself
 * (ETIMEDOUT, and release_cb finds nobody) or it was dequeued (0, though late).
 * The deadline must fall after the bucket lock is held, or the waiter leaves alone
 * and done() never meets it: a round where it did not (a slow machine, an emulator)
 * is not counted, and the next one gets twice the time. */
static void test_deadline_meets_last_done(void **st)
{
	(void)st;
	int outcomes[2] = { 0, 0 };
	int rounds = scaled(20, 6);
	int64_t span = 20 * GS_MSEC;

	for (int i = 0; i < rounds; i++) {
		gs_waitgroup_t wg = GS_WAITGROUP_INIT;
		struct bucket_hold h;
		struct doner d = { .wg = &wg };

		assert_true(span <= 10 * GS_SEC);
		gs_waitgroup_add(&wg, 1);
		struct timed w = { .wg = &wg, .deadline = gs_now() + span };
		pthread_t wt = spawn(timed_fn, &w);
		int64_t give_up = gs_now() + 10 * GS_SEC;
		while (waiters_of(state(&wg)) != 1 && !load_int(&w.back) && gs_now() < give_up)
			sleep_ns(50 * GS_USEC);
		bool in_time = waiters_of(state(&wg)) == 1;
		if (in_time) {
			bucket_hold_start(&h, &wg);
			in_time = gs_now() < w.deadline;
			if (!in_time)
				bucket_hold_end(&h);
		}
		if (!in_time) {
			join(wt);
			assert_int_equal(w.r, ETIMEDOUT);
			gs_waitgroup_done(&wg);
			assert_int_equal(state(&wg), 0);
			span *= 2;
			i--;
			continue;
		}
		pthread_t dt = spawn(doner_fn, &d);
		while (!load_int(&d.tid))
			sleep_ns(50 * GS_USEC);
		assert_true(wait_futex_sleeper(load_int(&d.tid), 2));
		while (gs_now() < w.deadline + (i % 3) * GS_MSEC)
			sleep_ns(GS_MSEC); /* the waiter's futex times out; it queues on the lock */
		bucket_hold_end(&h);
		join(dt);
		join(wt);
		assert_true(w.r == 0 || w.r == ETIMEDOUT);
		outcomes[w.r == ETIMEDOUT]++;
		assert_int_equal(state(&wg), 0);
	}
	printf("  deadline meets last done: %d returned 0, %d timed out (deadlines %lld ms away)\n",
	       outcomes[0], outcomes[1], (long long)(span / GS_MSEC));
	fflush(stdout);
}

/* --- storm: tiny deadlines racing done()s and reuse rounds ---------------------- */

enum { ST_DONORS = 4, ST_WAITERS = 8 };

struct storm {
	gs_waitgroup_t wg;
	int data[ST_DONORS];          /* plain: written before done, read after wait */
	int64_t done_at[ST_DONORS];   /* when each donor's done() had returned */
	int64_t max_timeout_deadline[ST_WAITERS]; /* latest deadline that timed out, per round */
	long timeouts[ST_WAITERS], successes[ST_WAITERS];
	int early[ST_WAITERS];        /* ETIMEDOUT before the deadline */
	int stale[ST_WAITERS];        /* returned 0 without seeing every donor's data */
	int bad_rc[ST_WAITERS];
	uint64_t seed[ST_DONORS + ST_WAITERS];
	int max_spread_us;            /* waiter deadlines: now + [0, max_spread_us) */
};

static void storm_member(void *arg, int id, int round)
{
	struct storm *s = arg;
	uint64_t *seed = &s->seed[id];

	if (id < ST_DONORS) {
		for (int k = (int)(xorshift(seed) % 4); k > 0; k--)
			sched_yield();
		for (int k = (int)(xorshift(seed) % 2000); k > 0; k--)
			__asm__ __volatile__("" ::: "memory");
		s->data[id] = round;
		gs_waitgroup_done(&s->wg);
		s->done_at[id] = gs_now();
		return;
	}
	int w = id - ST_DONORS;
	s->max_timeout_deadline[w] = INT64_MIN;
	for (;;) {
		int64_t deadline = gs_now() + (int64_t)(xorshift(seed) % (uint64_t)s->max_spread_us) * GS_USEC;
		int r = gs_waitgroup_wait_until(&s->wg, deadline);
		if (r == 0)
			break;
		if (r != ETIMEDOUT) {
			s->bad_rc[w]++;
			break;
		}
		s->timeouts[w]++;
		if (gs_now() < deadline)
			s->early[w]++;
		if (deadline > s->max_timeout_deadline[w])
			s->max_timeout_deadline[w] = deadline;
	}
	s->successes[w]++;
	for (int j = 0; j < ST_DONORS; j++)
		if (s->data[j] != round)
			s->stale[w]++;
}

static void test_storm(void **st)
{
	(void)st;
	static struct storm s;
	static struct crew c;
	int rounds = scaled(3000, 1000), lost = 0, not_zero = 0;
	long timeouts = 0, successes = 0;

	memset(&s, 0, sizeof s);
	for (int i = 0; i < ST_DONORS + ST_WAITERS; i++)
		s.seed[i] = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
	crew_start(&c, ST_DONORS + ST_WAITERS, storm_member, &s);
	for (int r = 0; r < rounds; r++) {
		s.max_spread_us = 1 + r % 40;
		/* reuse: every wait of the previous round has returned (crew_run) */
		gs_waitgroup_add(&s.wg, ST_DONORS);
		if (!crew_run(&c, gs_now() + (under_tsan() ? 60 : 20) * GS_SEC)) {
			crew_print_stuck(&c, "storm");
			fprintf(stderr, "storm: state counter %d waiters %u\n",
				counter_of(state(&s.wg)), waiters_of(state(&s.wg)));
			fail_msg("storm: round %d did not finish", r);
		}
		not_zero += state(&s.wg) != 0;
		/* A waiter that timed out with a deadline after the last done() had
		 * returned was still queued after the counter reached zero: lost. */
		int64_t zero_by = INT64_MIN;
		for (int j = 0; j < ST_DONORS; j++)
			if (s.done_at[j] > zero_by)
				zero_by = s.done_at[j];
		for (int w = 0; w < ST_WAITERS; w++)
			lost += s.max_timeout_deadline[w] > zero_by;
	}
	crew_stop(&c);
	for (int w = 0; w < ST_WAITERS; w++) {
		assert_int_equal(s.bad_rc[w], 0);
		assert_int_equal(s.early[w], 0);
		assert_int_equal(s.stale[w], 0);
		assert_int_equal(s.successes[w], rounds);
		timeouts += s.timeouts[w];
		successes += s.successes[w];
	}
	assert_int_equal(lost, 0);
	assert_int_equal(not_zero, 0);
	assert_int_equal(state(&s.wg), 0);
	printf("  storm: %d rounds, %ld waits returned 0, %ld timed out\n", rounds, successes, timeouts);
	fflush(stdout);
	assert_true(timeouts > 0);
}

/* --- free right after wait returns (meaningful under ASan) ---------------------- */

struct heap_wg {
	gs_waitgroup_t wg;
	long payload[3];    /* one per donor */
};

struct free_job {
	struct heap_wg *h;  /* freed by the waiter once its wait returns */
	int mode;
	int slot;
};

static void *free_worker(void *arg)
{
	struct free_job *j = arg;
	struct heap_wg *h = j->h;
	int mode = j->mode, slot = j->slot;

	free(j);
	h->payload[slot] = 7;
	if (mode == 1) /* make sure the waiter is parked: the slow path */
		while (waiters_of(__atomic_load_n(&h->wg.state_, __ATOMIC_RELAXED)) == 0)
			sched_yield();
	gs_waitgroup_done(&h->wg); /* h may be freed from here on */
	return NULL;
}

static void test_free_after_wait(void **st)
{
	(void)st;
	int iters = scaled(3000, 1000), bad = 0;

	for (int i = 0; i < iters; i++) {
		struct heap_wg *h = calloc(1, sizeof *h);
		int donors = 1 + i % 3;
		pthread_t t[3];

		gs_waitgroup_add(&h->wg, donors);
		for (int k = 0; k < donors; k++) {
			struct free_job *j = malloc(sizeof *j);
			*j = (struct free_job){ .h = h, .mode = (i + k) % 3, .slot = k };
			t[k] = spawn(free_worker, j);
		}
		if (i % 4 == 3)
			while (gs_waitgroup_wait_until(&h->wg, gs_now() + (i % 5) * GS_USEC) != 0)
				;
		else
			gs_waitgroup_wait(&h->wg);
		for (int k = 0; k < donors; k++)
			bad += h->payload[k] != 7;
		bad += state(&h->wg) != 0;
		free(h); /* at once: the donors must not touch it any more */
		for (int k = 0; k < donors; k++)
			join(t[k]);
	}
	assert_int_equal(bad, 0);
}

/* --- misuse (fresh processes) ------------------------------------------------ */

static void scenario_negative(void)
{
	gs_waitgroup_t wg = GS_WAITGROUP_INIT;
	gs_waitgroup_add(&wg, 1);
	gs_waitgroup_done(&wg);
	gs_waitgroup_done(&wg);
	exit(0); /* not reached */
}

static void scenario_done_on_zero(void)
{
	gs_waitgroup_t wg = GS_WAITGROUP_INIT;
	gs_waitgroup_done(&wg);
	exit(0);
}

static void scenario_add_negative(void)
{
	gs_waitgroup_t wg = GS_WAITGROUP_INIT;
	gs_waitgroup_add(&wg, 3);
	gs_waitgroup_add(&wg, -4);
	exit(0);
}

/* The counter is 32 bits, as in Go: overflow wraps negative. */
static void scenario_overflow(void)
{
	gs_waitgroup_t wg = GS_WAITGROUP_INIT;
	gs_waitgroup_add(&wg, INT32_MAX);
	gs_waitgroup_add(&wg, 1);
	exit(0);
}

/* With a waiter queued, the last done's slow path finds the counter already at zero
 * (a second done raced it): negative, reported from inside the callback. */
static void *double_done_fn(void *arg)
{
	gs_waitgroup_done(arg);
	return NULL;
}

static void scenario_negative_slow(void)
{
	static gs_waitgroup_t wg;
	static struct timed w = { .wg = &wg, .deadline = GS_NO_DEADLINE };
	gs_waitgroup_add(&wg, 1);
	pthread_t wt = spawn(timed_fn, &w);
	if (!wait_waiters(&wg, 1))
		exit(2);
	pthread_t a = spawn(double_done_fn, &wg);
	gs_waitgroup_done(&wg);
	join(a);
	join(wt);
	exit(0);
}

/* Go's check: an add takes the counter from 0 to delta while waiters are counted. In
 * Go that state (counter 0, waiters > 0) exists between the last Done's decrement and
 * its reset of the word; here the last done makes both changes in one step under the
 * bucket lock, so the public API can never produce it (the same misuse is caught as
 * "reused", below). White-box: forge Go's in-between state and add. */
static void scenario_add_during_wait(void)
{
	gs_waitgroup_t wg = GS_WAITGROUP_INIT;
	wg.state_ = make_state(0, 1);
	gs_waitgroup_add(&wg, 1);
	exit(0);
}

/* Reuse before the previous wait returned: done() releases the waiter, and add()
 * starts a new round before the waiter has run. Made near-deterministic by running
 * both threads on one CPU with the waiter under SCHED_IDLE, so the releasing thread
 * keeps the CPU until it blocks in join; the waiter then finds the counter at 1.
 * Still a race in principle, so it loops (bounded) until the child dies. */
static void *reuse_waiter_fn(void *arg)
{
	gs_waitgroup_wait(arg);
	return NULL;
}

static void scenario_reused(void)
{
	static gs_waitgroup_t wg;
	cpu_set_t mine, one;

	int pin_rc = -1, unpinned_waiters = 0;

	CPU_ZERO(&one);
	if (sched_getaffinity(0, sizeof mine, &mine) == 0) {
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &mine)) {
				CPU_SET(c, &one);
				break;
			}
		pin_rc = sched_setaffinity(0, sizeof one, &one);
	}
	for (int i = 0; i < 2000; i++) {
		pthread_attr_t at;
		struct sched_param sp = { .sched_priority = 0 };
		pthread_t t;

		gs_waitgroup_add(&wg, 1);
		pthread_attr_init(&at);
		if (CPU_COUNT(&one))
			pthread_attr_setaffinity_np(&at, sizeof one, &one);
		pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&at, SCHED_IDLE);
		pthread_attr_setschedparam(&at, &sp);
		if (pthread_create(&t, &at, reuse_waiter_fn, &wg) != 0) {
			unpinned_waiters++;
			t = spawn(reuse_waiter_fn, &wg);
		}
		pthread_attr_destroy(&at);
		if (!wait_waiters(&wg, 1))
			exit(2);
		gs_waitgroup_done(&wg);    /* releases the waiter ... */
		gs_waitgroup_add(&wg, 1);  /* ... and reuses the group before it returned */
		join(t);                   /* the waiter dies here, normally in round 0 */
		gs_waitgroup_done(&wg);
	}
	/* Every waiter returned before the add: say why the setup did not hold it back. */
	fprintf(stderr, "reused: no death in 2000 rounds (main pinned: %s; waiters created "
		"without SCHED_IDLE and pinning: %d)\n", pin_rc == 0 ? "yes" : "no", unpinned_waiters);
	exit(3);
}

static const char *const tsan_env_plain[] = {
	"TSAN_OPTIONS=halt_on_error=1 atexit_sleep_ms=0 die_after_fork=0", NULL
};

static void expect_death(const char *scenario, const char *line, bool exact)
{
	static struct scenario_result r;
	scenario_run(scenario, tsan_env_plain, &r);
	if (!WIFSIGNALED(r.status) || !strstr(r.err, line))
		print_child(scenario, &r);
	assert_died_with(&r, line);
	assert_null(strstr(r.err, "ThreadSanitizer"));
	if (exact)
		assert_string_equal(r.err, line);
}

static void test_negative_counter_dies(void **st)
{
	(void)st;
	const char *line = "gosync: fatal error: sync: negative WaitGroup counter\n";
	expect_death("negative", line, true);
	expect_death("done_on_zero", line, true);
	expect_death("add_negative", line, true);
	expect_death("overflow", line, true);
	expect_death("negative_slow", line, true);
}

static void test_add_during_wait_dies(void **st)
{
	(void)st;
	expect_death("add_during_wait",
		     "gosync: fatal error: sync: WaitGroup misuse: Add called concurrently with Wait\n",
		     true);
}

static void test_reused_dies(void **st)
{
	(void)st;
	expect_death("reused",
		     "gosync: fatal error: sync: WaitGroup is reused before previous Wait has returned\n",
		     true);
}

/* --- lost-wakeup hunter ---------------------------------------------------------
 * Each round: donors call done() after random tiny delays; waiters wait without a
 * deadline, with a long deadline, or in a loop of tiny deadlines. Once the last
 * done() has returned, every waiter must come back: the round is watched, and a
 * waiter still inside long after the counter reached zero fails the test loudly (the
 * stuck thread is left behind). A timed waiter that reports ETIMEDOUT for a deadline
 * later than the last done()'s return was still queued after the counter reached
 * zero: a lost wakeup, caught without any timing margin. */

enum { LW_DONORS = 3, LW_WAITERS = 12 };

struct hunter {
	gs_waitgroup_t wg;
	int64_t done_at[LW_DONORS];
	int64_t late_timeout[LW_WAITERS];   /* latest deadline that timed out this round */
	int bad_rc[LW_WAITERS];
	long waits[LW_WAITERS];
	uint64_t seed[LW_DONORS + LW_WAITERS];
};

static void hunter_member(void *arg, int id, int round)
{
	struct hunter *s = arg;
	uint64_t *seed = &s->seed[id];
	(void)round;

	if (id < LW_DONORS) {
		for (int k = (int)(xorshift(seed) % 3000); k > 0; k--)
			__asm__ __volatile__("" ::: "memory");
		if (xorshift(seed) % 4 == 0)
			sched_yield();
		gs_waitgroup_done(&s->wg);
		s->done_at[id] = gs_now();
		return;
	}
	int w = id - LW_DONORS;
	s->late_timeout[w] = INT64_MIN;
	switch (w % 3) {
	case 0:
		gs_waitgroup_wait(&s->wg);
		break;
	case 1: {
		int64_t deadline = gs_now() + 30 * GS_SEC;
		int r = gs_waitgroup_wait_until(&s->wg, deadline);
		if (r == ETIMEDOUT)
			s->late_timeout[w] = deadline;
		else if (r != 0)
			s->bad_rc[w]++;
		break;
	}
	default:
		for (;;) {
			int64_t deadline = gs_now() + (int64_t)(xorshift(seed) % 20) * GS_USEC;
			int r = gs_waitgroup_wait_until(&s->wg, deadline);
			if (r == 0)
				break;
			if (r != ETIMEDOUT) {
				s->bad_rc[w]++;
				break;
			}
			if (deadline > s->late_timeout[w])
				s->late_timeout[w] = deadline;
		}
	}
	s->waits[w]++;
}

static void test_lost_wakeup_hunter(void **st)
{
	(void)st;
	static struct hunter s;
	static struct crew c;
	int rounds = scaled(3000, 1000), lost = 0;

	memset(&s, 0, sizeof s);
	for (int i = 0; i < LW_DONORS + LW_WAITERS; i++)
		s.seed[i] = 0xD1B54A32D192ED03ull * (uint64_t)(i + 7);
	crew_start(&c, LW_DONORS + LW_WAITERS, hunter_member, &s);
	for (int r = 0; r < rounds; r++) {
		gs_waitgroup_add(&s.wg, LW_DONORS);
		if (!crew_run(&c, gs_now() + (under_tsan() ? 60 : 15) * GS_SEC)) {
			crew_print_stuck(&c, "LOST WAKEUP");
			fprintf(stderr, "LOST WAKEUP: state counter %d waiters %u\n",
				counter_of(state(&s.wg)), waiters_of(state(&s.wg)));
			fail_msg("lost wakeup: round %d: waiters still blocked long after the counter reached zero", r);
		}
		int64_t zero_by = INT64_MIN;
		for (int j = 0; j < LW_DONORS; j++)
			if (s.done_at[j] > zero_by)
				zero_by = s.done_at[j];
		for (int w = 0; w < LW_WAITERS; w++)
			if (s.late_timeout[w] > zero_by) {
				fprintf(stderr, "LOST WAKEUP: round %d waiter %d timed out at a deadline "
					"%lld ns after the last done returned\n", r, w,
					(long long)(s.late_timeout[w] - zero_by));
				lost++;
			}
		if (state(&s.wg) != 0)
			fail_msg("round %d ended in state %#llx", r, (unsigned long long)state(&s.wg));
	}
	crew_stop(&c);
	assert_int_equal(lost, 0);
	for (int w = 0; w < LW_WAITERS; w++) {
		assert_int_equal(s.bad_rc[w], 0);
		assert_int_equal(s.waits[w], rounds);
	}
	assert_int_equal(state(&s.wg), 0);
}

/* --- what ThreadSanitizer sees (fresh processes) --------------------------------- */

static gs_waitgroup_t tsan_wg;
static long tsan_x;

static void *tsan_before_done(void *arg)
{
	(void)arg;
	tsan_x = 1;
	gs_waitgroup_done(&tsan_wg);
	return NULL;
}

static void *tsan_after_done(void *arg)
{
	(void)arg;
	gs_waitgroup_done(&tsan_wg);
	tsan_x = 1; /* not ordered before the waiter's read */
	return NULL;
}

static void tsan_one(void *(*fn)(void *))
{
	gs_waitgroup_add(&tsan_wg, 1);
	pthread_t t = spawn(fn, NULL);
	gs_waitgroup_wait(&tsan_wg);
	long x = tsan_x;
	join(t);
	exit(x == 1 || fn == tsan_after_done ? 0 : 1);
}

static void scenario_tsan_ok(void) { tsan_one(tsan_before_done); }
static void scenario_tsan_racy(void) { tsan_one(tsan_after_done); }

static void test_tsan_sees_waitgroup(void **st)
{
	(void)st;
	static struct scenario_result r;

	scenario_run("tsan_ok", tsan_env_plain, &r);
	assert_exited_with(&r, 0);
	assert_null(strstr(r.err, "ThreadSanitizer"));

	if (!under_tsan())
		return;
	/* A write after done() is not ordered before the wait's return: reported. May
	 * take a few tries for both accesses to be in TSan's history window. */
	for (int i = 0; i < 5; i++) {
		scenario_run("tsan_racy", tsan_env_plain, &r);
		if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 66)
			break;
	}
	assert_exited_with(&r, 66);
	assert_non_null(strstr(r.err, "WARNING: ThreadSanitizer: data race"));
}

/* Whole-binary watchdog: a bug that leaves a thread blocked outside the watched
 * rounds would otherwise hang the run silently. */
static void *watchdog_fn(void *arg)
{
	int64_t limit = (int64_t)(intptr_t)arg * GS_SEC;
	sleep_ns(limit);
	fprintf(stderr, "test_waitgroup: watchdog: still running after %lld s: a thread is "
		"stuck (lost wakeup?)\n", (long long)(limit / GS_SEC));
	_exit(1);
	return NULL;
}

static const struct scenario scenarios[] = {
	{ "negative", scenario_negative },
	{ "done_on_zero", scenario_done_on_zero },
	{ "add_negative", scenario_add_negative },
	{ "overflow", scenario_overflow },
	{ "negative_slow", scenario_negative_slow },
	{ "add_during_wait", scenario_add_during_wait },
	{ "reused", scenario_reused },
	{ "tsan_ok", scenario_tsan_ok },
	{ "tsan_racy", scenario_tsan_racy },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	scenario_dispatch(argc, argv, scenarios);
	pthread_t wd = spawn(watchdog_fn, (void *)(intptr_t)(under_tsan() ? 600 : 180));
	pthread_detach(wd);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_rounds_reuse),
		cmocka_unit_test(test_done_wait_visibility),
		cmocka_unit_test(test_wait_until_counter_zero),
		cmocka_unit_test(test_wait_until_timeout),
		cmocka_unit_test(test_add_overtakes_last_done),
		cmocka_unit_test(test_deadline_meets_last_done),
		cmocka_unit_test(test_storm),
		cmocka_unit_test(test_free_after_wait),
		cmocka_unit_test(test_negative_counter_dies),
		cmocka_unit_test(test_add_during_wait_dies),
		cmocka_unit_test(test_reused_dies),
		cmocka_unit_test(test_lost_wakeup_hunter),
		cmocka_unit_test(test_tsan_sees_waitgroup),
	};
	return cmocka_run_group_tests_name("waitgroup", tests, NULL, NULL);
}
