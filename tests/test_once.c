/* gs_once: exactly once, visibility, sleeping waiters, cancellation, recursion,
 * free right after return. */
#include "harness.h"

#include <gosync/once.h>
#include <gosync/time.h>

/* White-box: the state word's values (src/once.c). */
#define ONCE_DONE    1u
#define ONCE_RUNNING 2u
#define ONCE_WAITERS 4u

static uint32_t state(gs_once_t *o) { return __atomic_load_n(&o->state_, __ATOMIC_ACQUIRE); }


/* Fewer rounds under a sanitizer-slowed build. */

/* Waits (sleeping) until *p >= v. */
static void wait_int(const int *p, int v)
{
	while (load_int(p) < v)
		sleep_ns(100 * 1000);
}

/* --- exactly once, 32 threads racing --------------------------------------- */

enum { RACERS = 32 };

struct race {
	gs_once_t once;
	pthread_barrier_t start;
	int calls;      /* fn invocations (atomic) */
	int after[RACERS]; /* calls seen by each racer after gs_once_do returned */
};

static void race_fn(void *arg)
{
	struct race *r = arg;
	__atomic_fetch_add(&r->calls, 1, __ATOMIC_RELAXED);
	sleep_ns(1000 * 1000); /* long enough for the others to arrive and wait */
}

struct racer {
	struct race *r;
	int id;
};

static void *racer_main(void *arg)
{
	struct racer *me = arg;
	pthread_barrier_wait(&me->r->start);
	gs_once_do(&me->r->once, race_fn, me->r);
	me->r->after[me->id] = __atomic_load_n(&me->r->calls, __ATOMIC_RELAXED);
	return NULL;
}

static void test_runs_exactly_once(void **st)
{
	(void)st;
	int rounds = scaled(20, 5);

	for (int round = 0; round < rounds; round++) {
		static struct race r;
		struct racer rs[RACERS];
		pthread_t t[RACERS];

		memset(&r, 0, sizeof r);
		pthread_barrier_init(&r.start, NULL, RACERS);
		for (int i = 0; i < RACERS; i++) {
			rs[i] = (struct racer){ .r = &r, .id = i };
			t[i] = spawn(racer_main, &rs[i]);
		}
		for (int i = 0; i < RACERS; i++)
			join(t[i]);
		pthread_barrier_destroy(&r.start);
		assert_int_equal(r.calls, 1);
		for (int i = 0; i < RACERS; i++)
			assert_int_equal(r.after[i], 1);
		assert_int_equal(state(&r.once), ONCE_DONE);
	}
}

/* --- every caller sees fn's writes (plain memory: TSan checks the edge) ----- */

enum { HAMMER_THREADS = 8 };

struct payload {
	int a, b;
	char text[32];
	int *heap;
};

struct hammer {
	gs_once_t once;
	struct payload p;       /* written by fn only, read by every caller after do */
	pthread_barrier_t start, end;
	int rounds;
	int stop;
	int bad[HAMMER_THREADS];
};

static void hammer_fn(void *arg)
{
	struct hammer *h = arg;
	h->p.a = 17;
	h->p.b = 42;
	strcpy(h->p.text, "initialized");
	h->p.heap = malloc(sizeof *h->p.heap);
	*h->p.heap = 99;
}

struct hammer_worker {
	struct hammer *h;
	int id;
};

static void *hammer_main(void *arg)
{
	struct hammer_worker *w = arg;
	struct hammer *h = w->h;

	for (int i = 0; i < h->rounds; i++) {
		pthread_barrier_wait(&h->start);
		gs_once_do(&h->once, hammer_fn, h);
		if (h->p.a != 17 || h->p.b != 42 || strcmp(h->p.text, "initialized") != 0 ||
		    !h->p.heap || *h->p.heap != 99)
			w->h->bad[w->id]++;
		pthread_barrier_wait(&h->end);
	}
	return NULL;
}

static void test_callers_see_fn_writes(void **st)
{
	(void)st;
	static struct hammer h;
	struct hammer_worker w[HAMMER_THREADS];
	pthread_t t[HAMMER_THREADS];

	memset(&h, 0, sizeof h);
	h.rounds = scaled(2000, 300);
	pthread_barrier_init(&h.start, NULL, HAMMER_THREADS + 1);
	pthread_barrier_init(&h.end, NULL, HAMMER_THREADS + 1);
	for (int i = 0; i < HAMMER_THREADS; i++) {
		w[i] = (struct hammer_worker){ .h = &h, .id = i };
		t[i] = spawn(hammer_main, &w[i]);
	}
	for (int i = 0; i < h.rounds; i++) {
		/* a fresh, not-done once and payload each round (the barrier orders
		 * this against the workers) */
		h.once = (gs_once_t)GS_ONCE_INIT;
		h.p = (struct payload){ 0 };
		pthread_barrier_wait(&h.start);
		pthread_barrier_wait(&h.end);
		assert_int_equal(state(&h.once), ONCE_DONE);
		free(h.p.heap);
	}
	for (int i = 0; i < HAMMER_THREADS; i++) {
		join(t[i]);
		assert_int_equal(h.bad[i], 0);
	}
	pthread_barrier_destroy(&h.start);
	pthread_barrier_destroy(&h.end);
}

/* --- zeroed, GS_ONCE_INIT and heap onces; late callers --------------------- */

static void count_fn(void *arg) { ++*(int *)arg; }
static void never_fn(void *arg) { (void)arg; abort(); }

static gs_once_t static_zeroed; /* zero-initialized storage */

static void test_zeroed_and_init(void **st)
{
	(void)st;
	gs_once_t init = GS_ONCE_INIT;
	gs_once_t *heap = calloc(1, sizeof *heap);
	gs_once_t *all[] = { &static_zeroed, &init, heap };

	assert_non_null(heap);
	assert_int_equal(sizeof(gs_once_t), 4);
	assert_int_equal(init.state_, 0);
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		int n = 0;
		gs_once_do(all[i], count_fn, &n);
		assert_int_equal(n, 1);
		gs_once_do(all[i], count_fn, &n);
		gs_once_do(all[i], never_fn, NULL);
		assert_int_equal(n, 1);
		assert_int_equal(all[i]->state_, ONCE_DONE);
	}
	free(heap);
}

struct late {
	gs_once_t *once;
	uint32_t seen_before, seen_after;
};

static void *late_main(void *arg)
{
	struct late *l = arg;
	l->seen_before = state(l->once);
	gs_once_do(l->once, never_fn, NULL);
	l->seen_after = state(l->once);
	return NULL;
}

/* After completion the word is exactly DONE, which is what the fast path tests;
 * late callers (other threads included) never call fn and leave it unchanged. */
static void test_late_callers_fast_path(void **st)
{
	(void)st;
	gs_once_t o = GS_ONCE_INIT;
	int n = 0;
	struct late l[4];
	pthread_t t[4];

	gs_once_do(&o, count_fn, &n);
	assert_int_equal(o.state_, ONCE_DONE);
	for (int i = 0; i < 4; i++) {
		l[i] = (struct late){ .once = &o };
		t[i] = spawn(late_main, &l[i]);
	}
	for (int i = 0; i < 4; i++) {
		join(t[i]);
		assert_int_equal(l[i].seen_before, ONCE_DONE);
		assert_int_equal(l[i].seen_after, ONCE_DONE);
	}
	for (int i = 0; i < 1000; i++)
		gs_once_do(&o, never_fn, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(o.state_, ONCE_DONE);
}

/* fn of one once may run other onces: the recursion chain tells them apart. */
struct nest {
	gs_once_t a, b, c;
	int order[3], len;
};

static void nest_c(void *arg) { struct nest *n = arg; n->order[n->len++] = 3; }
static void nest_b(void *arg)
{
	struct nest *n = arg;
	gs_once_do(&n->c, nest_c, n);
	n->order[n->len++] = 2;
}
static void nest_a(void *arg)
{
	struct nest *n = arg;
	gs_once_do(&n->b, nest_b, n);
	gs_once_do(&n->c, never_fn, NULL); /* done already: fast path */
	n->order[n->len++] = 1;
}

static void test_nested_onces(void **st)
{
	(void)st;
	struct nest n = { .a = GS_ONCE_INIT };

	gs_once_do(&n.a, nest_a, &n);
	assert_int_equal(n.len, 3);
	assert_int_equal(n.order[0], 3);
	assert_int_equal(n.order[1], 2);
	assert_int_equal(n.order[2], 1);
	assert_int_equal(n.a.state_, ONCE_DONE);
	assert_int_equal(n.b.state_, ONCE_DONE);
	assert_int_equal(n.c.state_, ONCE_DONE);
}

/* --- waiters sleep, they do not spin --------------------------------------- */

enum { SLEEPERS = 8 };

struct sleepy {
	gs_once_t once;
	int running;   /* fn has started */
	int finished;  /* fn's last write, plain */
	int64_t cpu_ns[SLEEPERS];
	int saw_finished[SLEEPERS];
};

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * GS_SEC + ts.tv_nsec;
}

static void sleepy_fn(void *arg)
{
	struct sleepy *s = arg;
	__atomic_store_n(&s->running, 1, __ATOMIC_RELEASE);
	sleep_ns(200 * GS_MSEC);
	s->finished = 1;
}

static void *sleepy_runner(void *arg)
{
	struct sleepy *s = arg;
	gs_once_do(&s->once, sleepy_fn, s);
	return NULL;
}

struct sleeper {
	struct sleepy *s;
	int id;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *me = arg;
	struct sleepy *s = me->s;
	int64_t t0 = thread_cpu_ns();

	gs_once_do(&s->once, never_fn, NULL);
	s->cpu_ns[me->id] = thread_cpu_ns() - t0;
	s->saw_finished[me->id] = s->finished;
	return NULL;
}

static void test_waiters_sleep(void **st)
{
	(void)st;
	static struct sleepy s;
	struct sleeper w[SLEEPERS];
	pthread_t runner, t[SLEEPERS];
	int64_t total = 0;

	memset(&s, 0, sizeof s);
	runner = spawn(sleepy_runner, &s);
	wait_int(&s.running, 1);
	for (int i = 0; i < SLEEPERS; i++) {
		w[i] = (struct sleeper){ .s = &s, .id = i };
		t[i] = spawn(sleeper_main, &w[i]);
	}
	for (int i = 0; i < SLEEPERS; i++)
		join(t[i]);
	join(runner);
	for (int i = 0; i < SLEEPERS; i++) {
		assert_int_equal(s.saw_finished[i], 1);
		total += s.cpu_ns[i];
	}
	/* Spinning for fn's 200 ms would burn hundreds of ms on two CPUs; sleeping
	 * waiters use next to nothing. The bound is generous for noisy machines. */
	if (total >= 100 * GS_MSEC)
		fprintf(stderr, "waiters used %lld ns of CPU\n", (long long)total);
	assert_true(total < 100 * GS_MSEC);
	assert_int_equal(s.once.state_, ONCE_DONE);
}

/* --- cancellation: fn's thread dies inside fn, a waiter runs fn -------------- */

enum { CANCEL_WAITERS = 4 };

struct cancel {
	gs_once_t once;
	int started;    /* fn invocations (atomic) */
	int blocked;    /* the first invocation is inside its cancellation point */
	int completed;  /* fn invocations that returned (atomic) */
	int value;      /* written by the completing fn, plain */
	int seen[CANCEL_WAITERS];
	bool use_exit;  /* the first invocation calls pthread_exit instead of blocking */
	bool exit_after_waiter; /* ... once a caller has queued behind it */
};

static void cancel_fn(void *arg)
{
	struct cancel *c = arg;

	if (__atomic_fetch_add(&c->started, 1, __ATOMIC_RELAXED) == 0) {
		__atomic_store_n(&c->blocked, 1, __ATOMIC_RELEASE);
		if (c->use_exit) {
			while (c->exit_after_waiter &&
			       !(__atomic_load_n(&c->once.state_, __ATOMIC_RELAXED) & ONCE_WAITERS))
				sleep_ns(100 * 1000);
			pthread_exit(NULL);
		}
		if (!under_tsan())
			for (;;)
				pause(); /* a cancellation point: pthread_cancel ends us here */
		/* TSan ignores the synchronization of cleanup handlers that run when a
		 * thread is cancelled inside an intercepted blocking call (google/
		 * sanitizers#646: false race reports). Under TSan, sleep with
		 * cancellation disabled and take the cancellation at pthread_testcancel,
		 * which TSan does not intercept. */
		for (;;) {
			pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
			sleep_ns(GS_MSEC);
			pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
			pthread_testcancel();
		}
	}
	c->value = 1234;
	__atomic_fetch_add(&c->completed, 1, __ATOMIC_RELAXED);
}

static void *cancel_runner(void *arg)
{
	struct cancel *c = arg;
	gs_once_do(&c->once, cancel_fn, c);
	return (void *)1; /* never: the first invocation does not return */
}

struct cancel_waiter {
	struct cancel *c;
	int id;
};

static void *cancel_waiter_main(void *arg)
{
	struct cancel_waiter *w = arg;
	gs_once_do(&w->c->once, cancel_fn, w->c);
	w->c->seen[w->id] = w->c->value;
	return NULL;
}

/* Waits until a caller has queued behind the runner (white-box). */
static void wait_waiters_flag(gs_once_t *o)
{
	while (!(state(o) & ONCE_WAITERS))
		sleep_ns(100 * 1000);
}

static void run_cancel_case(bool use_exit, int waiters)
{
	static struct cancel c;
	struct cancel_waiter w[CANCEL_WAITERS];
	pthread_t runner, t[CANCEL_WAITERS];

	memset(&c, 0, sizeof c);
	c.use_exit = use_exit;
	c.exit_after_waiter = waiters > 0;
	runner = spawn(cancel_runner, &c);
	wait_int(&c.blocked, 1);
	if (!use_exit)
		assert_int_equal(state(&c.once), ONCE_RUNNING);
	for (int i = 0; i < waiters; i++) {
		w[i] = (struct cancel_waiter){ .c = &c, .id = i };
		t[i] = spawn(cancel_waiter_main, &w[i]);
	}
	if (waiters && !use_exit) {
		wait_waiters_flag(&c.once);
		sleep_ns(20 * GS_MSEC); /* let the others queue too (not required) */
		assert_int_equal(state(&c.once), ONCE_RUNNING | ONCE_WAITERS);
	}
	if (!use_exit)
		assert_int_equal(pthread_cancel(runner), 0);
	void *ret = join(runner);
	assert_ptr_equal(ret, use_exit ? NULL : PTHREAD_CANCELED);
	for (int i = 0; i < waiters; i++) {
		join(t[i]);
		assert_int_equal(c.seen[i], 1234);
	}
	if (!waiters) {
		/* nobody waited: the once went back to not-done; the next call runs fn */
		assert_int_equal(state(&c.once), 0);
		gs_once_do(&c.once, cancel_fn, &c);
	}
	assert_int_equal(c.started, 2);   /* the unwound call and its replacement */
	assert_int_equal(c.completed, 1);
	assert_int_equal(c.value, 1234);
	assert_int_equal(state(&c.once), ONCE_DONE);
	gs_once_do(&c.once, never_fn, NULL);
}

static void test_cancel_with_waiters(void **st)
{
	(void)st;
	run_cancel_case(false, CANCEL_WAITERS);
}

static void test_cancel_without_waiters(void **st)
{
	(void)st;
	run_cancel_case(false, 0);
}

static void test_pthread_exit_in_fn(void **st)
{
	(void)st;
	run_cancel_case(true, 1);
	run_cancel_case(true, 0);
}

/* --- recursion is fatal ----------------------------------------------------- */

static gs_once_t rec_once, rec_outer;

static void rec_fn(void *arg)
{
	(void)arg;
	gs_once_do(&rec_once, rec_fn, NULL);
}

static void scenario_recursive(void)
{
	gs_once_do(&rec_once, rec_fn, NULL);
	exit(0); /* not reached */
}

/* outer's fn runs rec_once, whose fn calls outer again */
static void rec_inner_fn(void *arg)
{
	(void)arg;
	gs_once_do(&rec_outer, never_fn, NULL);
}

static void rec_outer_fn(void *arg)
{
	(void)arg;
	gs_once_do(&rec_once, rec_inner_fn, NULL);
}

static void scenario_recursive_nested(void)
{
	gs_once_do(&rec_outer, rec_outer_fn, NULL);
	exit(0);
}

static const char *const tsan_env[] = {
	"TSAN_OPTIONS=report_mutex_bugs=0 halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void test_recursive_call_dies(void **st)
{
	(void)st;
	static struct scenario_result r;
	const char *line = "gosync: fatal error: sync: recursive call of Once.Do\n";

	scenario_run("recursive", tsan_env, &r);
	assert_died_with(&r, line);
	assert_string_equal(r.err, line);

	scenario_run("recursive_nested", tsan_env, &r);
	assert_died_with(&r, line);
	assert_string_equal(r.err, line);
}

/* --- free right after gs_once_do returns (ASan checks rule 1) --------------- */

struct heap_once {
	gs_once_t once;
	int value;
	int cpu; /* the runner's CPU, or -1 */
};

/* Returns only once a waiter has queued, so the completion has someone to wake and
 * that someone frees the once while the runner may still be inside gs_once_do. */
static void heap_fn(void *arg)
{
	struct heap_once *h = arg;
	while (!(__atomic_load_n(&h->once.state_, __ATOMIC_RELAXED) & ONCE_WAITERS))
		sleep_ns(20 * 1000);
	h->value = 7;
}

static bool pin_to_cpu(pthread_t t, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(t, sizeof set, &set) == 0;
}

static void *heap_runner(void *arg)
{
	struct heap_once *h = arg;
	/* On main's CPU at idle priority: when the completion wakes main, main
	 * preempts us at once — we are still inside gs_once_do — and frees the once
	 * before we run again. Any access after the wake is then a use after free. */
	if (h->cpu >= 0 && pin_to_cpu(pthread_self(), h->cpu)) {
		struct sched_param p = { 0 };
		(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
	}
	gs_once_do(&h->once, heap_fn, h);
	return NULL; /* h may be freed already: not touched */
}

static void test_free_right_after_do(void **st)
{
	(void)st;
	int rounds = scaled(300, 100), bad = 0;
	cpu_set_t saved;
	int cpu = -1;

	if (pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0) {
		cpu = sched_getcpu();
		if (cpu >= 0 && !pin_to_cpu(pthread_self(), cpu))
			cpu = -1;
	}
	for (int i = 0; i < rounds; i++) {
		struct heap_once *h = calloc(1, sizeof *h);
		assert_non_null(h);
		h->cpu = cpu;
		pthread_t t = spawn(heap_runner, h);
		while (!(state(&h->once) & ONCE_RUNNING))
			sleep_ns(20 * 1000); /* let the idle-priority runner in */
		gs_once_do(&h->once, never_fn, NULL); /* waits: fn needs us queued */
		bad += h->value != 7;
		free(h); /* the runner is still inside gs_once_do */
		join(t);
	}
	if (cpu >= 0)
		pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
	assert_int_equal(bad, 0);

	/* the runner frees: nothing after its publication may touch the once */
	for (int i = 0; i < rounds; i++) {
		gs_once_t *o = malloc(sizeof *o);
		int n = 0;
		assert_non_null(o);
		*o = (gs_once_t)GS_ONCE_INIT;
		gs_once_do(o, count_fn, &n);
		free(o);
		assert_int_equal(n, 1);
	}
}

/* --- fork while fn runs: the child runs the once itself --------------------- */

/* The parent's side: a runner thread inside fn until told to finish, and a caller
 * queued behind it (so the word has WAITERS as well). */
struct forked {
	gs_once_t once;
	int in_fn;   /* the parent's runner is inside fn */
	int release; /* tells it to return */
	int calls;   /* fn invocations in this process */
};

static struct forked fk;

static void fork_fn(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&fk.calls, 1, __ATOMIC_RELAXED);
	store_int(&fk.in_fn, 1);
	while (!load_int(&fk.release))
		sleep_ns(100 * 1000);
}

static void child_fn(void *arg) { ++*(int *)arg; }

static void *fork_runner(void *arg)
{
	(void)arg;
	gs_once_do(&fk.once, fork_fn, NULL);
	return NULL;
}

static void *fork_waiter(void *arg)
{
	(void)arg;
	gs_once_do(&fk.once, never_fn, NULL);
	return NULL;
}

/* The child's exit code: 0 if the once ran child_fn exactly once and is done. */
static int child_runs_once(void)
{
	int n = 0;
	alarm(10); /* a child that waits for the parent's runner hangs: fail instead */
	gs_once_do(&fk.once, child_fn, &n);
	gs_once_do(&fk.once, never_fn, NULL);
	return n == 1 && state(&fk.once) == ONCE_DONE ? 0 : 1;
}

static int wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Another thread is inside fn (with a caller queued) when main forks. */
static void scenario_fork_other_running(void)
{
	pthread_t runner = spawn(fork_runner, NULL), waiter;

	wait_int(&fk.in_fn, 1);
	waiter = spawn(fork_waiter, NULL);
	wait_waiters_flag(&fk.once);
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_runs_once());
	int child = wait_child(pid);
	store_int(&fk.release, 1);
	join(runner);
	join(waiter);
	/* the parent is unaffected: its fn ran once and published */
	exit(child == 0 && fk.calls == 1 && state(&fk.once) == ONCE_DONE ? 0 : 10 + child);
}

/* The runner itself forks from inside fn. In the child its copy returns from fn and
 * publishes DONE with the parent's mark; a child thread that came first took the once
 * over and ran fn itself, and the inherited runner then leaves the word alone. */
static int inner_calls;
static int inner_takeover; /* a child thread calls the once while fn still runs */
static int inner_child_exit;

static void *takeover_main(void *arg)
{
	(void)arg;
	int n = 0;
	gs_once_do(&fk.once, child_fn, &n);
	return (void *)(intptr_t)n;
}

static void inner_fn(void *arg)
{
	(void)arg;
	inner_calls++;
	pid_t pid = fork();
	if (pid != 0) {
		inner_child_exit = wait_child(pid);
		return;
	}
	alarm(10);
	if (inner_takeover) {
		pthread_t t = spawn(takeover_main, NULL);
		if (join(t) != (void *)1 || state(&fk.once) != ONCE_DONE)
			_exit(1);
	}
	/* the child's copy of the runner returns from fn; the caller exits */
}

static void scenario_fork_inside_fn(void)
{
	for (int takeover = 0; takeover < 2; takeover++) {
		memset(&fk, 0, sizeof fk);
		inner_calls = 0;
		inner_takeover = takeover;
		inner_child_exit = -1; /* stays so in the child, which waits for nobody */
		gs_once_do(&fk.once, inner_fn, NULL);
		if (inner_child_exit == -1) {
			/* the child, its fn returned: the once is done, fn does not run
			 * again */
			gs_once_do(&fk.once, never_fn, NULL);
			_exit(state(&fk.once) == ONCE_DONE && inner_calls == 1 ? 0 : 2);
		}
		if (inner_child_exit != 0 || inner_calls != 1 || state(&fk.once) != ONCE_DONE)
			exit(20 + 10 * takeover + inner_child_exit);
	}
	exit(0);
}

static void test_fork_while_running(void **st)
{
	(void)st;
	static struct scenario_result r;

	scenario_run("fork_other_running", NULL, &r);
	assert_exited_with(&r, 0);
	scenario_run("fork_inside_fn", NULL, &r);
	assert_exited_with(&r, 0);
}

static const struct scenario scenarios[] = {
	{ "recursive", scenario_recursive },
	{ "recursive_nested", scenario_recursive_nested },
	{ "fork_other_running", scenario_fork_other_running },
	{ "fork_inside_fn", scenario_fork_inside_fn },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	scenario_dispatch(argc, argv, scenarios);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_exactly_once),
		cmocka_unit_test(test_callers_see_fn_writes),
		cmocka_unit_test(test_zeroed_and_init),
		cmocka_unit_test(test_late_callers_fast_path),
		cmocka_unit_test(test_nested_onces),
		cmocka_unit_test(test_waiters_sleep),
		cmocka_unit_test(test_cancel_with_waiters),
		cmocka_unit_test(test_cancel_without_waiters),
		cmocka_unit_test(test_pthread_exit_in_fn),
		cmocka_unit_test(test_recursive_call_dies),
		cmocka_unit_test(test_free_right_after_do),
		cmocka_unit_test(test_fork_while_running),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
