/* gs_mutex: mutual exclusion, trylock, lock_until, cross-thread unlock, misuse,
 * fairness (Go's lockskew), starvation mode, timeout storms, free-after-unlock and
 * what ThreadSanitizer sees.
 *
 * Some tests are white-box: they read the private state word through the bits
 * documented in src/mutex.c (mirrored below) to check that the mutex enters and leaves
 * starvation mode and always ends in the all-zero state. */
#include "harness.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>

#include <gosync.h>

#include "park.h"

/* The state bits of src/mutex.c. */
enum { LOCKED = 1u, WOKEN = 2u, STARVING = 4u, PARKED = 8u };



static uint32_t state(gs_mutex_t *m) { return __atomic_load_n(&m->state_, __ATOMIC_RELAXED); }






/* Waits (at most 10 s) until (state & mask) == want. */
static bool wait_state(gs_mutex_t *m, uint32_t mask, uint32_t want)
{
	int64_t give_up = gs_now() + 10 * GS_SEC;
	while ((state(m) & mask) != want) {
		if (gs_now() > give_up)
			return false;
		sleep_ns(50 * GS_USEC);
	}
	return true;
}

#define BARRIER() __asm__ __volatile__("" ::: "memory")

/* --- mutual exclusion ------------------------------------------------------ */

struct mx {
	gs_mutex_t m;
	int iters;
	long counter;
	long a, b;   /* a == b outside every critical section */
	long torn;   /* critical sections that saw a != b */
	int bad;     /* lock_until returned something other than 0 / ETIMEDOUT */
};

static void *mx_worker(void *arg)
{
	struct mx *s = arg;

	for (int i = 0; i < s->iters; i++) {
		switch (i % 3) {
		case 0:
			gs_mutex_lock(&s->m);
			break;
		case 1:
			while (!gs_mutex_trylock(&s->m))
				sched_yield();
			break;
		default:
			for (;;) {
				int r = gs_mutex_lock_until(&s->m, gs_now() + 200 * GS_USEC);
				if (r == 0)
					break;
				if (r != ETIMEDOUT)
					__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
			}
		}
		long a = s->a;
		BARRIER();
		s->a = a + 1;
		if (i % 64 == 0)
			for (int k = 0; k < 200; k++)
				BARRIER(); /* widen the window between the two writes */
		long b = s->b;
		if (b != a)
			s->torn++;
		s->b = b + 1;
		s->counter++;
		gs_mutex_unlock(&s->m);
	}
	return NULL;
}

static void test_mutual_exclusion(void **st)
{
	(void)st;
	enum { THREADS = 16 };
	static struct mx s; /* zero: a zeroed mutex is unlocked */
	pthread_t t[THREADS];

	memset(&s, 0, sizeof s);
	s.iters = scaled(20000, 2000);
	for (int i = 0; i < THREADS; i++)
		t[i] = spawn(mx_worker, &s);
	for (int i = 0; i < THREADS; i++)
		join(t[i]);
	assert_int_equal(s.counter, (long)THREADS * s.iters);
	assert_int_equal(s.a, s.counter);
	assert_int_equal(s.b, s.counter);
	assert_int_equal(s.torn, 0);
	assert_int_equal(s.bad, 0);
	assert_int_equal(state(&s.m), 0);
}

/* --- trylock ---------------------------------------------------------------- */

struct try_arg {
	gs_mutex_t *m;
	bool got;
	bool unlock_after;
};

static void *try_worker(void *arg)
{
	struct try_arg *a = arg;
	a->got = gs_mutex_trylock(a->m);
	if (a->got && a->unlock_after)
		gs_mutex_unlock(a->m);
	return NULL;
}

static gs_mutex_t static_mutex; /* zero-initialized storage */

static void test_trylock(void **st)
{
	(void)st;
	gs_mutex_t m;
	memset(&m, 0, sizeof m);

	assert_true(gs_mutex_trylock(&m));
	assert_int_equal(state(&m), LOCKED);
	assert_false(gs_mutex_trylock(&m)); /* held (by us): not recursive */

	struct try_arg a = { .m = &m, .unlock_after = true };
	join(spawn(try_worker, &a));
	assert_false(a.got);                /* held by another thread */
	assert_int_equal(state(&m), LOCKED);

	gs_mutex_unlock(&m);
	assert_int_equal(state(&m), 0);
	join(spawn(try_worker, &a));
	assert_true(a.got);                 /* free: another thread takes it */
	assert_int_equal(state(&m), 0);

	gs_mutex_t init = GS_MUTEX_INIT;
	assert_memory_equal(&init, &m, sizeof m);
	assert_true(gs_mutex_trylock(&init));
	gs_mutex_unlock(&init);
	gs_mutex_lock(&init);
	assert_false(gs_mutex_trylock(&init));
	gs_mutex_unlock(&init);
	assert_int_equal(state(&init), 0);

	assert_true(gs_mutex_trylock(&static_mutex));
	gs_mutex_unlock(&static_mutex);
	assert_int_equal(state(&static_mutex), 0);
}

/* --- lock_until ------------------------------------------------------------- */

/* Holds m until `release` is set (hold_ns == 0) or for hold_ns. */
struct holder {
	gs_mutex_t *m;
	int64_t hold_ns;
	int held;
	int release;
};

static void *holder_fn(void *arg)
{
	struct holder *h = arg;
	gs_mutex_lock(h->m);
	store_int(&h->held, 1);
	if (h->hold_ns > 0)
		sleep_ns(h->hold_ns);
	else
		while (!load_int(&h->release))
			sleep_ns(100 * GS_USEC);
	gs_mutex_unlock(h->m);
	return NULL;
}

static pthread_t start_holder(struct holder *h, gs_mutex_t *m, int64_t hold_ns)
{
	*h = (struct holder){ .m = m, .hold_ns = hold_ns };
	pthread_t t = spawn(holder_fn, h);
	while (!load_int(&h->held))
		sleep_ns(50 * GS_USEC);
	return t;
}

/* A waiter with its own deadline, for several timing out at once. */
struct timed {
	gs_mutex_t *m;
	int64_t deadline;
	int r;
	int64_t returned;
	int finished;
};

static void *timed_fn(void *arg)
{
	struct timed *w = arg;
	w->r = gs_mutex_lock_until(w->m, w->deadline);
	w->returned = gs_now();
	if (w->r == 0)
		gs_mutex_unlock(w->m);
	store_int(&w->finished, 1);
	return NULL;
}

static void test_lock_until_timeout(void **st)
{
	(void)st;
	gs_mutex_t m = GS_MUTEX_INIT;
	struct holder h;
	pthread_t ht = start_holder(&h, &m, 0);

	/* Deadlines in the future, now, and in the past: ETIMEDOUT, never early. */
	const int64_t offsets[] = { 1 * GS_MSEC, 20 * GS_MSEC, 50 * GS_USEC, 0, -GS_SEC };
	for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
		int64_t deadline = gs_now() + offsets[i];
		int r = gs_mutex_lock_until(&m, deadline);
		int64_t now = gs_now();
		assert_int_equal(r, ETIMEDOUT);
		assert_true(now >= deadline);
		assert_true(now - deadline < 2 * GS_SEC); /* generous */
		/* The waiter left cleanly: held, nobody queued, not starving. */
		assert_int_equal(state(&m), LOCKED);
	}
	assert_int_equal(gs_mutex_lock_until(&m, 0), ETIMEDOUT);
	assert_int_equal(gs_mutex_lock_until(&m, INT64_MIN), ETIMEDOUT);

	/* Several waiters queued, timing out in both orders. */
	enum { W = 6 };
	struct timed w[W];
	pthread_t wt[W];
	int64_t base = gs_now();
	for (int i = 0; i < W; i++) {
		w[i] = (struct timed){ .m = &m, .deadline = base + (i % 2 ? 5 : 15 + i) * GS_MSEC };
		wt[i] = spawn(timed_fn, &w[i]);
	}
	for (int i = 0; i < W; i++)
		join(wt[i]);
	for (int i = 0; i < W; i++) {
		assert_int_equal(w[i].r, ETIMEDOUT);
		assert_true(w[i].returned >= w[i].deadline);
	}
	assert_int_equal(state(&m), LOCKED);

	store_int(&h.release, 1);
	join(ht);
	assert_int_equal(state(&m), 0);
}

static void test_lock_until_success(void **st)
{
	(void)st;
	gs_mutex_t m = GS_MUTEX_INIT;
	struct holder h;

	/* Released in time: 0, before the deadline. */
	pthread_t ht = start_holder(&h, &m, 20 * GS_MSEC);
	int64_t deadline = gs_now() + 10 * GS_SEC;
	assert_int_equal(gs_mutex_lock_until(&m, deadline), 0);
	assert_true(gs_now() < deadline);
	assert_int_equal(state(&m) & LOCKED, LOCKED);
	gs_mutex_unlock(&m);
	join(ht);
	assert_int_equal(state(&m), 0);

	/* A free mutex is taken whatever the deadline. */
	const int64_t past[] = { gs_now() - GS_SEC, gs_now(), 0, -1, INT64_MIN };
	for (size_t i = 0; i < sizeof past / sizeof past[0]; i++) {
		assert_int_equal(gs_mutex_lock_until(&m, past[i]), 0);
		assert_int_equal(state(&m), LOCKED);
		gs_mutex_unlock(&m);
		assert_int_equal(state(&m), 0);
	}

	/* GS_NO_DEADLINE: free, then held for a while. */
	assert_int_equal(gs_mutex_lock_until(&m, GS_NO_DEADLINE), 0);
	gs_mutex_unlock(&m);
	ht = start_holder(&h, &m, 20 * GS_MSEC);
	assert_int_equal(gs_mutex_lock_until(&m, GS_NO_DEADLINE), 0);
	gs_mutex_unlock(&m);
	join(ht);
	assert_int_equal(state(&m), 0);
}

/* --- unlock by another thread (a fresh process: TSan needs report_mutex_bugs=0) --- */

struct elsewhere {
	gs_mutex_t m, a, b;
	const char *msg;
	int rounds;
	int val, ack;   /* protected only by the handovers through a and b */
	int errors;
};

static void *hello_fn(void *arg)
{
	struct elsewhere *e = arg;
	e->msg = "hello";
	gs_mutex_unlock(&e->m); /* locked by main */
	return NULL;
}

/* Round i: main sets val and unlocks a (locked by this thread in round i-1), then
 * waits for b; this thread takes a, checks val, sets ack and unlocks b (locked by
 * main). Every unlock is by the thread that did not lock. */
static void *pingpong_fn(void *arg)
{
	struct elsewhere *e = arg;
	for (int i = 0; i < e->rounds; i++) {
		gs_mutex_lock(&e->a);
		if (e->val != i)
			e->errors++;
		e->ack = i;
		gs_mutex_unlock(&e->b);
	}
	return NULL;
}

static void scenario_unlock_elsewhere(void)
{
	static struct elsewhere e;

	/* The seeds' pattern: the second lock waits for the other thread's unlock. */
	gs_mutex_lock(&e.m);
	pthread_t t = spawn(hello_fn, &e);
	gs_mutex_lock(&e.m);
	if (!e.msg || strcmp(e.msg, "hello") != 0) {
		fprintf(stderr, "msg not visible after lock\n");
		exit(1);
	}
	gs_mutex_unlock(&e.m);
	join(t);

	/* Many handovers. */
	e.rounds = scaled(5000, 500);
	gs_mutex_lock(&e.a);
	gs_mutex_lock(&e.b);
	t = spawn(pingpong_fn, &e);
	for (int i = 0; i < e.rounds; i++) {
		e.val = i;
		gs_mutex_unlock(&e.a);
		gs_mutex_lock(&e.b);
		if (e.ack != i)
			e.errors++;
	}
	join(t);
	gs_mutex_unlock(&e.a); /* locked by the other thread in its last round */
	gs_mutex_unlock(&e.b);
	if (e.errors || state(&e.m) || state(&e.a) || state(&e.b)) {
		fprintf(stderr, "errors %d states %u %u %u\n", e.errors, state(&e.m),
			state(&e.a), state(&e.b));
		exit(1);
	}
	/* Still a working mutex. */
	if (!gs_mutex_trylock(&e.a))
		exit(1);
	gs_mutex_unlock(&e.a);
	exit(0);
}

static const char *const tsan_env_mutex_bugs_off[] = {
	"TSAN_OPTIONS=report_mutex_bugs=0 halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void print_child(const char *name, const struct scenario_result *r)
{
	fprintf(stderr, "scenario %s: status 0x%x, stderr:\n%s\n", name, r->status, r->err);
}

static void test_unlock_elsewhere(void **st)
{
	(void)st;
	static struct scenario_result r;
	scenario_run("unlock_elsewhere", tsan_env_mutex_bugs_off, &r);
	assert_exited_with(&r, 0);
	assert_null(strstr(r.err, "ThreadSanitizer"));
}

/* --- misuse ----------------------------------------------------------------- */

static void scenario_unlock_unlocked(void)
{
	gs_mutex_t m = GS_MUTEX_INIT;
	gs_mutex_unlock(&m);
	exit(0); /* not reached */
}

static void scenario_unlock_twice(void)
{
	gs_mutex_t m = GS_MUTEX_INIT;
	gs_mutex_lock(&m);
	gs_mutex_unlock(&m);
	gs_mutex_unlock(&m);
	exit(0);
}

static void test_unlock_unlocked_dies(void **st)
{
	(void)st;
	static struct scenario_result r;
	const char *line = "gosync: fatal error: sync: unlock of unlocked mutex\n";

	scenario_run("unlock_unlocked", tsan_env_mutex_bugs_off, &r);
	assert_died_with(&r, line);
	/* exactly that line: it is the whole of what gosync wrote */
	assert_null(strstr(r.err, "ThreadSanitizer"));
	assert_string_equal(r.err, line);

	scenario_run("unlock_twice", tsan_env_mutex_bugs_off, &r);
	assert_died_with(&r, line);
	assert_string_equal(r.err, line);
}

/* --- fairness (Go's TestMutexFairness) ------------------------------------- */

struct fair {
	gs_mutex_t m;
	int stop;
	int done;
	int64_t worst_wait;
};

static void *fair_holder(void *arg)
{
	struct fair *f = arg;
	while (!load_int(&f->stop)) {
		gs_mutex_lock(&f->m);
		sleep_ns(100 * GS_USEC);
		gs_mutex_unlock(&f->m);
	}
	return NULL;
}

static void *fair_waiter(void *arg)
{
	struct fair *f = arg;
	for (int i = 0; i < 10; i++) {
		sleep_ns(100 * GS_USEC);
		int64_t t0 = gs_now();
		gs_mutex_lock(&f->m);
		int64_t w = gs_now() - t0;
		if (w > f->worst_wait)
			f->worst_wait = w;
		gs_mutex_unlock(&f->m);
	}
	store_int(&f->done, 1);
	return NULL;
}

static void test_fairness(void **st)
{
	(void)st;
	static struct fair f;
	memset(&f, 0, sizeof f);
	const int64_t bound = (under_tsan() || ASAN_BUILD ? 10 : 2) * GS_SEC;

	pthread_t h = spawn(fair_holder, &f);
	sleep_ns(GS_MSEC);
	int64_t t0 = gs_now();
	pthread_t w = spawn(fair_waiter, &f);
	while (!load_int(&f.done) && gs_now() - t0 < bound)
		sleep_ns(GS_MSEC);
	int64_t took = gs_now() - t0;
	store_int(&f.stop, 1);
	join(w);
	join(h);
	printf("  fairness: 10 acquisitions in %.1f ms, worst wait %.2f ms\n",
		took / 1e6, f.worst_wait / 1e6);
	fflush(stdout);
	assert_true(load_int(&f.done));
	assert_true(took < bound);
	assert_int_equal(state(&f.m), 0);
}

/* --- starvation mode --------------------------------------------------------- */

enum { SV_WAITERS = 4, SV_MAX = SV_WAITERS + 1 };

struct sv {
	gs_mutex_t m;
	int n;                   /* acquisitions so far (under m) */
	int order[SV_MAX];       /* who acquired, in order (under m) */
	uint32_t seen[SV_MAX];   /* the state word inside each critical section */
};

struct sv_waiter {
	struct sv *s;
	int id;
	pid_t tid;
	int started;
};

static void *sv_fn(void *arg)
{
	struct sv_waiter *w = arg;
	struct sv *s = w->s;

	w->tid = (pid_t)syscall(SYS_gettid);
	store_int(&w->started, 1);
	gs_mutex_lock(&s->m);
	s->order[s->n] = w->id;
	s->seen[s->n] = state(&s->m);
	s->n++;
	gs_mutex_unlock(&s->m);
	return NULL;
}

static bool sv_start(struct sv_waiter *w, pthread_t *t)
{
	*t = spawn(sv_fn, w);
	while (!load_int(&w->started))
		sleep_ns(50 * GS_USEC);
	return wait_parked(w->tid);
}

static void test_starvation_fifo(void **st)
{
	(void)st;
	static struct sv s;
	struct sv_waiter w[SV_MAX];
	pthread_t t[SV_MAX];
	bool tested = false;
	int attempts = 0;

	while (!tested && attempts++ < 50) {
		memset(&s, 0, sizeof s);
		memset(w, 0, sizeof w);
		gs_mutex_lock(&s.m);
		/* Queue the waiters in a known order. */
		bool parked = true;
		for (int i = 0; i < SV_WAITERS; i++) {
			w[i] = (struct sv_waiter){ .s = &s, .id = i };
			parked = sv_start(&w[i], &t[i]) && parked;
		}
		assert_true(parked);
		assert_int_equal(state(&s.m), LOCKED | PARKED);
		sleep_ns(2 * GS_MSEC); /* every waiter has now waited > 1 ms */

		/* Wake the head waiter and barge ahead of it: it loses, having waited
		 * > 1 ms, and requeues at the head in starvation mode. */
		gs_mutex_unlock(&s.m);
		bool barged = gs_mutex_trylock(&s.m);
		if (!barged || s.n > 0) {
			/* The woken waiter won (we were preempted after the unlock, and
			 * maybe more waiters went through in normal mode): drain, retry. */
			if (barged)
				gs_mutex_unlock(&s.m);
			for (int i = 0; i < SV_WAITERS; i++)
				join(t[i]);
			assert_int_equal(s.n, SV_WAITERS);
			assert_int_equal(state(&s.m), 0);
			continue;
		}
		assert_true(wait_state(&s.m, STARVING, STARVING));
		assert_int_equal(state(&s.m) & (LOCKED | PARKED), LOCKED | PARKED);

		/* In starvation mode: newcomers neither barge nor spin, they queue last. */
		assert_false(gs_mutex_trylock(&s.m));
		w[SV_WAITERS] = (struct sv_waiter){ .s = &s, .id = SV_WAITERS };
		assert_true(sv_start(&w[SV_WAITERS], &t[SV_WAITERS]));
		assert_true(state(&s.m) & STARVING);

		gs_mutex_unlock(&s.m); /* hand off, and on down the queue */
		for (int i = 0; i < SV_MAX; i++)
			join(t[i]);
		assert_int_equal(s.n, SV_MAX);
		for (int i = 0; i < SV_MAX; i++) {
			if (s.order[i] != i)
				fprintf(stderr, "acquisition %d by waiter %d\n", i, s.order[i]);
			assert_int_equal(s.order[i], i);
		}
		/* Handed off, with others still queued: starvation mode persists. Every
		 * one of them waited > 1 ms. */
		for (int i = 0; i < SV_MAX; i++)
			if ((s.seen[i] & STARVING) != (i < SV_MAX - 1 ? STARVING : 0))
				fprintf(stderr, "acquisition %d saw state 0x%x\n", i, s.seen[i]);
		for (int i = 0; i < SV_MAX - 1; i++)
			assert_int_equal(s.seen[i] & (LOCKED | STARVING | PARKED),
					 LOCKED | STARVING | PARKED);
		/* The last one was handed the lock with nobody behind it: back to
		 * normal mode, no waiters. */
		assert_int_equal(s.seen[SV_MAX - 1], LOCKED);
		assert_int_equal(state(&s.m), 0);
		tested = true;
	}
	if (attempts > 1)
		printf("  starvation: %d attempts\n", attempts);
	assert_true(tested);

	/* Normal mode again: uncontended lock / trylock behave as on a fresh mutex. */
	assert_true(gs_mutex_trylock(&s.m));
	assert_int_equal(state(&s.m), LOCKED);
	gs_mutex_unlock(&s.m);
	assert_int_equal(state(&s.m), 0);
}

/* timed_fn on main's CPU at SCHED_IDLE: it runs only when main sleeps, so main's
 * unlock-then-trylock always beats it (on another CPU it often won the race). */
static cpu_set_t main_cpu;

static void *idle_timed_fn(void *arg)
{
	struct sched_param none = { 0 };
	pthread_setaffinity_np(pthread_self(), sizeof main_cpu, &main_cpu);
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
	return timed_fn(arg);
}

/* A starving waiter with a deadline that times out as the only waiter takes the
 * starvation bit with it. */
static void test_starvation_timeout_clears(void **st)
{
	(void)st;
	static struct sv s;
	struct timed tw;
	bool tested = false;
	cpu_set_t saved;

	pthread_getaffinity_np(pthread_self(), sizeof saved, &saved);
	CPU_ZERO(&main_cpu);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &main_cpu);
	pthread_setaffinity_np(pthread_self(), sizeof main_cpu, &main_cpu);

	for (int attempt = 0; attempt < 50 && !tested; attempt++) {
		memset(&s, 0, sizeof s);
		gs_mutex_lock(&s.m);
		tw = (struct timed){ .m = &s.m, .deadline = gs_now() + 300 * GS_MSEC };
		pthread_t t = spawn(idle_timed_fn, &tw);
		assert_true(wait_state(&s.m, PARKED, PARKED));
		sleep_ns(2 * GS_MSEC);
		gs_mutex_unlock(&s.m);
		if (!gs_mutex_trylock(&s.m)) {
			join(t);
			assert_int_equal(tw.r, 0);
			continue;
		}
		/* It lost after > 1 ms: starvation mode, then its deadline passes —
		 * unless we were preempted after the unlock and it went through. */
		bool starving = false;
		for (int64_t give_up = gs_now() + 10 * GS_SEC; gs_now() < give_up;) {
			if ((starving = state(&s.m) & STARVING) || load_int(&tw.finished))
				break;
			sleep_ns(50 * GS_USEC);
		}
		join(t);
		if (!starving) {
			/* it went through, or timed out before requeueing: retry */
			gs_mutex_unlock(&s.m);
			continue;
		}
		assert_int_equal(tw.r, ETIMEDOUT);
		assert_true(tw.returned >= tw.deadline);
		assert_int_equal(state(&s.m), LOCKED);
		gs_mutex_unlock(&s.m);
		assert_int_equal(state(&s.m), 0);
		tested = true;
	}
	pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
	assert_true(tested);
}

/* --- timeout storm ------------------------------------------------------------ */

struct storm {
	gs_mutex_t m;
	int stop;
	int64_t hold_ns;    /* the churning holder's hold time */
	long counter;       /* under m */
	long a, b;          /* under m: a == b */
	long torn;          /* under m */
	int saw_starving;
};

struct storm_worker {
	struct storm *s;
	uint64_t rng;
	bool patient;       /* plain lock() (waits long enough to starve) */
	long ok, timeouts, early, late_ok, bad;
};

static void storm_critical(struct storm *s)
{
	long a = s->a;
	BARRIER();
	s->a = a + 1;
	if (s->b != a)
		s->torn++;
	s->b = a + 1;
	s->counter++;
	if (state(&s->m) & STARVING)
		__atomic_store_n(&s->saw_starving, 1, __ATOMIC_RELAXED);
}

static void *storm_fn(void *arg)
{
	struct storm_worker *w = arg;
	struct storm *s = w->s;

	while (!load_int(&s->stop)) {
		if (w->patient) {
			gs_mutex_lock(&s->m);
			storm_critical(s);
			gs_mutex_unlock(&s->m);
			w->ok++;
			sleep_ns(100 * GS_USEC);
			continue;
		}
		int64_t deadline = gs_now() + (int64_t)(xorshift(&w->rng) % 51) * GS_USEC;
		int r = gs_mutex_lock_until(&s->m, deadline);
		int64_t now = gs_now();
		if (r == 0) {
			storm_critical(s);
			gs_mutex_unlock(&s->m);
			w->ok++;
			if (now > deadline)
				w->late_ok++;
		} else if (r == ETIMEDOUT) {
			w->timeouts++;
			if (now < deadline)
				w->early++;
		} else {
			w->bad++;
		}
		if (xorshift(&w->rng) % 4 == 0)
			sched_yield();
	}
	return NULL;
}

static void *storm_holder(void *arg)
{
	struct storm_worker *w = arg;
	struct storm *s = w->s;

	while (!load_int(&s->stop)) {
		gs_mutex_lock(&s->m);
		storm_critical(s);
		if (s->hold_ns >= GS_MSEC)
			sleep_ns(s->hold_ns);
		else
			for (int64_t end = gs_now() + s->hold_ns; gs_now() < end;)
				;
		gs_mutex_unlock(&s->m);
		w->ok++;
	}
	return NULL;
}

static void run_storm(int64_t hold_ns, int patient, const char *name)
{
	enum { WORKERS = 10 };
	static struct storm s;
	struct storm_worker w[WORKERS + 3];
	pthread_t t[WORKERS + 3];
	int n = 0;
	const int64_t min_run = scaled(400, 1000) * GS_MSEC;
	const int64_t max_run = 5 * GS_SEC;

	memset(&s, 0, sizeof s);
	memset(w, 0, sizeof w);
	s.hold_ns = hold_ns;
	w[n] = (struct storm_worker){ .s = &s };
	t[n] = spawn(storm_holder, &w[n]);
	n++;
	for (int i = 0; i < patient; i++, n++) {
		w[n] = (struct storm_worker){ .s = &s, .patient = true };
		t[n] = spawn(storm_fn, &w[n]);
	}
	for (int i = 0; i < WORKERS; i++, n++) {
		w[n] = (struct storm_worker){ .s = &s, .rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) };
		t[n] = spawn(storm_fn, &w[n]);
	}
	/* Run at least min_run; with patient waiters, until starvation mode was seen. */
	int64_t t0 = gs_now();
	for (;;) {
		sleep_ns(10 * GS_MSEC);
		if (state(&s.m) & STARVING)
			__atomic_store_n(&s.saw_starving, 1, __ATOMIC_RELAXED);
		int64_t el = gs_now() - t0;
		if (el >= max_run || (el >= min_run && (!patient || load_int(&s.saw_starving))))
			break;
	}
	store_int(&s.stop, 1);
	for (int i = 0; i < n; i++)
		join(t[i]);

	long ok = 0, timeouts = 0, early = 0, late_ok = 0, bad = 0;
	for (int i = 0; i < n; i++) {
		ok += w[i].ok;
		timeouts += w[i].timeouts;
		early += w[i].early;
		late_ok += w[i].late_ok;
		bad += w[i].bad;
	}
	printf("  storm %s: %ld locked (%ld after their deadline), %ld timed out, "
		"starvation mode %sseen\n", name, ok, late_ok, timeouts,
		s.saw_starving ? "" : "not ");
	fflush(stdout);
	assert_int_equal(bad, 0);
	assert_int_equal(early, 0);
	assert_int_equal(s.torn, 0);
	assert_int_equal(s.counter, ok);
	assert_true(ok > 0);
	assert_true(timeouts > 0);
	if (patient)
		assert_true(s.saw_starving);
	/* Everyone gone: the word is back to zero and the mutex works. */
	assert_int_equal(state(&s.m), 0);
	assert_true(gs_mutex_trylock(&s.m));
	assert_int_equal(state(&s.m), LOCKED);
	gs_mutex_unlock(&s.m);
	assert_int_equal(state(&s.m), 0);
}

static void test_storm_normal(void **st)
{
	(void)st;
	run_storm(20 * GS_USEC, 0, "normal");
}

static void test_storm_starving(void **st)
{
	(void)st;
	run_storm(2 * GS_MSEC, 2, "starving");
}

/* --- free right after unlock ---------------------------------------------------- */

struct fau {
	gs_mutex_t *m;  /* this round's heap mutex (published with release) */
	int round;      /* published round, 1-based */
	int b_ready;    /* B is about to lock round's mutex */
	int a_last;     /* A is about to make its last unlock of round */
	int b_done;     /* B freed round's mutex */
	int rounds;
};

static void *fau_b(void *arg)
{
	struct fau *f = arg;
	for (int r = 1; r <= f->rounds; r++) {
		while (load_int(&f->round) != r)
			sched_yield();
		gs_mutex_t *m = __atomic_load_n(&f->m, __ATOMIC_ACQUIRE);
		store_int(&f->b_ready, r);
		if (r % 3 == 2) {
			while (gs_mutex_lock_until(m, gs_now() + GS_MSEC) != 0)
				;
		} else {
			gs_mutex_lock(m);
		}
		/* Do not free before A has started its last unlock (it may still use
		 * m before that), but free at once after that point. */
		while (load_int(&f->a_last) != r)
			;
		gs_mutex_unlock(m);
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
	int blocked = 0, handoffs = 0;

	pthread_t b = spawn(fau_b, &f);
	for (int r = 1; r <= f.rounds; r++) {
		gs_mutex_t *m = malloc(sizeof *m);
		assert_non_null(m);
		*m = (gs_mutex_t)GS_MUTEX_INIT;
		gs_mutex_lock(m);
		__atomic_store_n(&f.m, m, __ATOMIC_RELEASE);
		store_int(&f.round, r);
		while (load_int(&f.b_ready) != r)
			sched_yield();
		/* Let B queue (bounded: proceed anyway after 20 ms). */
		int64_t give_up = gs_now() + 20 * GS_MSEC;
		while (!(state(m) & PARKED) && gs_now() < give_up)
			sched_yield();
		blocked += (state(m) & PARKED) != 0;
		if (r % 16 == 0 && (state(m) & PARKED)) {
			/* Starvation round: B waits > 1 ms, we barge after unlocking, B
			 * requeues starving, and our next unlock hands off to it. B does not
			 * free before a_last, so our trylock cannot touch freed memory. */
			sleep_ns(2 * GS_MSEC);
			gs_mutex_unlock(m);
			if (gs_mutex_trylock(m)) {
				int64_t until = gs_now() + 100 * GS_MSEC;
				while (!(state(m) & STARVING) && gs_now() < until)
					sched_yield();
				handoffs += (state(m) & STARVING) != 0;
				store_int(&f.a_last, r);
				gs_mutex_unlock(m); /* B may free m from here on */
			} else {
				store_int(&f.a_last, r); /* B holds it */
			}
		} else {
			store_int(&f.a_last, r);
			gs_mutex_unlock(m); /* B may free m from here on */
		}
		while (load_int(&f.b_done) != r)
			sched_yield();
	}
	join(b);
	printf("  free after unlock: %d rounds, %d with B queued, %d handoffs\n",
		f.rounds, blocked, handoffs);
	fflush(stdout);
	assert_true(blocked > 0);
}

/* --- what ThreadSanitizer sees (fresh processes) --------------------------------- */

static gs_mutex_t tsan_m;
static long tsan_x;   /* the shared data */
static long tsan_y;   /* always under tsan_m */

/* Thread 1 accesses first, then thread 2, while both are alive (TSan may reuse a
 * finished thread's slot and miss a race with it; truly simultaneous accesses can
 * also slip past it). The steps are relaxed atomics: no happens-before for TSan. */
static int tsan_step;

static void tsan_wait_step(int want)
{
	while (__atomic_load_n(&tsan_step, __ATOMIC_RELAXED) != want)
		sched_yield();
}

static void tsan_set_step(int v) { __atomic_store_n(&tsan_step, v, __ATOMIC_RELAXED); }

static void *tsan_racy_fn(void *arg)
{
	long id = (long)(intptr_t)arg;
	tsan_wait_step((int)id - 1);
	tsan_x = id; /* outside the lock */
	gs_mutex_lock(&tsan_m);
	tsan_y++;
	gs_mutex_unlock(&tsan_m);
	tsan_set_step((int)id);
	tsan_wait_step(2);
	return NULL;
}

static void *tsan_locked_fn(void *arg)
{
	long id = (long)(intptr_t)arg;
	tsan_wait_step((int)id - 1);
	gs_mutex_lock(&tsan_m);
	tsan_x = id;
	tsan_y++;
	gs_mutex_unlock(&tsan_m);
	tsan_set_step((int)id);
	tsan_wait_step(2);
	return NULL;
}

static void tsan_two(void *(*fn)(void *))
{
	pthread_t a = spawn(fn, (void *)1), b = spawn(fn, (void *)2);
	join(a);
	join(b);
	/* Read the data, or the compiler drops the stores to these statics. */
	if (tsan_x != 1 && tsan_x != 2)
		exit(1);
	if (tsan_y != 2)
		exit(1);
}

static void scenario_tsan_racy(void) { tsan_two(tsan_racy_fn); }
static void scenario_tsan_locked(void) { tsan_two(tsan_locked_fn); }

static const char *const tsan_env_plain[] = {
	"TSAN_OPTIONS=halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void test_tsan_sees_races(void **st)
{
	(void)st;
	static struct scenario_result r;

	scenario_run("tsan_racy", tsan_env_plain, &r);
	if (under_tsan()) {
		if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 66 ||
		    !strstr(r.err, "WARNING: ThreadSanitizer: data race"))
			print_child("tsan_racy", &r);
		assert_exited_with(&r, 66);
		assert_non_null(strstr(r.err, "WARNING: ThreadSanitizer: data race"));
	} else {
		assert_exited_with(&r, 0);
	}

	scenario_run("tsan_locked", tsan_env_plain, &r);
	assert_exited_with(&r, 0);
	assert_null(strstr(r.err, "ThreadSanitizer"));
}

/* A forked child inherits a WOKEN set by a thread of the parent (a spinner, say) in a
 * mutex the forking thread held; that thread does not exist in the child. The child's
 * unlock must still wake the child's waiter (WOKEN carries the fork epoch). */
static void *stale_woken_locker(void *arg)
{
	gs_mutex_t *m = arg;
	int r = gs_mutex_lock_until(m, gs_now() + 3 * GS_SEC);
	if (r == 0)
		gs_mutex_unlock(m);
	return (void *)(intptr_t)r;
}

static void scenario_fork_stale_woken(void)
{
	static gs_mutex_t m;
	/* held by this thread, with WOKEN owned by some other thread of this process */
	gs_mutex_lock(&m);
	__atomic_fetch_or(&m.state_, WOKEN | (gs__fork_epoch() & 3u) << 4, __ATOMIC_RELAXED);
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t t = spawn(stale_woken_locker, &m);
		sleep_ns(100 * GS_MSEC); /* t queues behind the lock */
		gs_mutex_unlock(&m);
		_exit(join(t) == 0 && state(&m) == 0 ? 0 : 1);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
}

static void test_fork_stale_woken(void **st)
{
	(void)st;
	struct scenario_result r;
	scenario_run("fork_stale_woken", NULL, &r);
	assert_exited_with(&r, 0);
}

static const struct scenario scenarios[] = {
	{ "fork_stale_woken", scenario_fork_stale_woken },
	{ "unlock_elsewhere", scenario_unlock_elsewhere },
	{ "unlock_unlocked", scenario_unlock_unlocked },
	{ "unlock_twice", scenario_unlock_twice },
	{ "tsan_racy", scenario_tsan_racy },
	{ "tsan_locked", scenario_tsan_locked },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	scenario_dispatch(argc, argv, scenarios);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutual_exclusion),
		cmocka_unit_test(test_trylock),
		cmocka_unit_test(test_lock_until_timeout),
		cmocka_unit_test(test_lock_until_success),
		cmocka_unit_test(test_unlock_elsewhere),
		cmocka_unit_test(test_unlock_unlocked_dies),
		cmocka_unit_test(test_fairness),
		cmocka_unit_test(test_starvation_fifo),
		cmocka_unit_test(test_starvation_timeout_clears),
		cmocka_unit_test(test_storm_normal),
		cmocka_unit_test(test_storm_starving),
		cmocka_unit_test(test_free_after_unlock),
		cmocka_unit_test(test_tsan_sees_races),
		cmocka_unit_test(test_fork_stale_woken),
	};
	return cmocka_run_group_tests_name("mutex", tests, NULL, NULL);
}
