/* gs_value: load/store/swap/CAS/update semantics, destructor accounting, torn-free
 * readers, serialized writers, misuse deaths, fork, signal mask of the worker,
 * allocation failure, and ThreadSanitizer's view of the RCU hand-over.
 *
 * This test compiles its own debug copy of src/value.c (GS_DEBUG=1, src/debug.h), so
 * the checks that release builds leave out (a load outside a read section) are on;
 * the library's copy is then not linked in. It also reaches value.c's allocation
 * seam (retire_alloc). */
#define GS_DEBUG 1
#include "harness.h"

#include "value.c"

#include <gosync/time.h>



static int64_t scaled_ns(int64_t n, int64_t n_tsan) { return under_tsan() ? n_tsan : n; }

/* --- objects with a destruction count ------------------------------------------- */

enum { MAX_OBJS = 1 << 16 };

struct obj {
	int64_t id;
	int64_t a, b; /* the pair: b == a + 1 while alive */
};

static int destroyed[MAX_OBJS]; /* times each id was destroyed (atomic) */
static int next_id;             /* ids handed out (atomic) */

static struct obj *obj_new(int64_t a)
{
	struct obj *o = malloc(sizeof *o);
	if (!o)
		abort();
	o->id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
	if (o->id >= MAX_OBJS)
		abort();
	o->a = a;
	o->b = a + 1;
	return o;
}

static void obj_destroy(void *p)
{
	struct obj *o = p;
	__atomic_fetch_add(&destroyed[o->id], 1, __ATOMIC_RELAXED);
	o->a = -100; /* poison: a reader that still saw it would find b != a + 1 */
	o->b = 7;
	free(o);
}

static void reset_counts(void)
{
	memset(destroyed, 0, sizeof destroyed);
	next_id = 0;
}

/* Every id below next_id was destroyed exactly once, except `live` (not at all). */
static void assert_destroyed_once_except(int64_t live)
{
	for (int i = 0; i < next_id; i++) {
		int want = i == live ? 0 : 1;
		if (destroyed[i] != want)
			fprintf(stderr, "object %d destroyed %d times\n", i, destroyed[i]);
		assert_int_equal(destroyed[i], want);
	}
}

static void *load_in_section(gs_value_t *v)
{
	gs_rcu_read_lock();
	void *p = gs_value_load(v);
	gs_rcu_read_unlock();
	return p;
}

/* --- semantics ------------------------------------------------------------------ */

static gs_value_t static_value = GS_VALUE_INIT(NULL, obj_destroy);

static void *bump(const void *cur, void *arg)
{
	const struct obj *c = cur;
	(void)arg;
	return obj_new(c ? c->a + 1 : 0);
}

static void *no_change(const void *cur, void *arg)
{
	(void)arg;
	return (void *)cur;
}

static void *null_fn(const void *cur, void *arg)
{
	(void)cur;
	(void)arg;
	return NULL;
}

static void test_semantics(void **st)
{
	(void)st;
	reset_counts();

	gs_value_t zero;
	memset(&zero, 0, sizeof zero);
	assert_null(load_in_section(&zero));

	/* static initializer with a destructor */
	struct obj *o0 = obj_new(10);
	gs_value_store(&static_value, o0);
	assert_ptr_equal(load_in_section(&static_value), o0);
	gs_value_destroy(&static_value);
	gs_rcu_barrier();
	assert_int_equal(destroyed[0], 1);

	gs_value_t v;
	struct obj *o1 = obj_new(1);
	int64_t o1_id = o1->id;
	gs_value_init(&v, o1, obj_destroy);
	gs_rcu_read_lock();
	gs_rcu_read_lock(); /* nesting */
	assert_ptr_equal(gs_value_load(&v), o1);
	gs_rcu_read_unlock();
	assert_ptr_equal(gs_value_load(&v), o1); /* still inside the outer section */
	gs_rcu_read_unlock();

	/* store retires the old one */
	struct obj *o2 = obj_new(2);
	int64_t o2_id = o2->id;
	gs_value_store(&v, o2);
	assert_ptr_equal(load_in_section(&v), o2);
	gs_value_store(&v, o2); /* the current pointer again: nothing retired */
	gs_rcu_barrier();
	assert_int_equal(destroyed[o1_id], 1);
	assert_int_equal(destroyed[o2_id], 0);

	/* swap hands the old one to the caller */
	struct obj *o3 = obj_new(3);
	assert_ptr_equal(gs_value_swap(&v, o3), o2);
	gs_rcu_synchronize();
	assert_int_equal(destroyed[o2_id], 0);
	obj_destroy(o2); /* ours now */

	/* compare_and_swap: identity */
	struct obj *o4 = obj_new(4);
	assert_false(gs_value_compare_and_swap(&v, o1 /* stale */, o4));
	assert_ptr_equal(load_in_section(&v), o3);
	gs_rcu_read_lock();
	void *cur = gs_value_load(&v);
	assert_true(gs_value_compare_and_swap(&v, cur, o4));
	gs_rcu_read_unlock();
	assert_ptr_equal(load_in_section(&v), o4);
	assert_true(gs_value_compare_and_swap(&v, o4, o4)); /* no-op success */

	/* update */
	assert_true(gs_value_update(&v, bump, NULL));
	struct obj *o5 = load_in_section(&v);
	assert_int_equal(o5->a, 5);
	assert_false(gs_value_update(&v, null_fn, NULL));
	assert_false(gs_value_update(&v, no_change, NULL));
	assert_ptr_equal(load_in_section(&v), o5);

	gs_rcu_barrier();
	assert_destroyed_once_except(o5->id);

	/* destroy retires the current pointer and leaves NULL */
	gs_value_destroy(&v);
	assert_null(load_in_section(&v));
	gs_rcu_barrier();
	assert_destroyed_once_except(-1);

	/* a NULL destructor leaves retired pointers alone */
	struct obj *n1 = obj_new(0), *n2 = obj_new(0);
	gs_value_t nd = GS_VALUE_INIT(n1, NULL);
	gs_value_store(&nd, n2);
	gs_value_destroy(&nd);
	gs_rcu_barrier();
	assert_int_equal(destroyed[n1->id], 0);
	assert_int_equal(destroyed[n2->id], 0);
	free(n1);
	free(n2);

	gs_rcu_register_thread(); /* harmless when already registered */
}

/* --- allocation failure: store destroys the old pointer itself ------------------- */

static void *fail_alloc(size_t n)
{
	(void)n;
	return NULL;
}

static void test_retire_without_memory(void **st)
{
	(void)st;
	reset_counts();
	gs_value_t v = GS_VALUE_INIT(obj_new(0), obj_destroy);

	retire_alloc = fail_alloc;
	gs_value_store(&v, obj_new(1));
	assert_int_equal(destroyed[0], 1); /* already, without a barrier */
	gs_value_destroy(&v);
	assert_int_equal(destroyed[1], 1);
	retire_alloc = malloc;
	gs_rcu_barrier();
	assert_destroyed_once_except(-1);
}

/* --- one writer storing pairs, four readers -------------------------------------- */

enum { PAIR_READERS = 4 };

struct pairs {
	gs_value_t v;
	int stop;
	int64_t reads[PAIR_READERS];
	int64_t torn[PAIR_READERS];
	int64_t backwards[PAIR_READERS];
	int64_t stores;
};

struct pair_reader {
	struct pairs *p;
	int id;
};

static void *pair_reader_main(void *arg)
{
	struct pair_reader *r = arg;
	struct pairs *p = r->p;
	int64_t last = -1;

	while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
		gs_rcu_read_lock();
		const struct obj *o = gs_value_load(&p->v);
		int64_t a = o->a, b = o->b;
		gs_rcu_read_unlock();
		if (b != a + 1)
			r->p->torn[r->id]++;
		if (a < last)
			r->p->backwards[r->id]++;
		last = a;
		p->reads[r->id]++;
	}
	return NULL;
}

static void *pair_writer_main(void *arg)
{
	struct pairs *p = arg;
	int64_t end = gs_now() + scaled_ns(400 * GS_MSEC, 300 * GS_MSEC);
	int64_t i = 1;

	while (gs_now() < end && next_id < MAX_OBJS - 16) {
		gs_value_store(&p->v, obj_new(i++));
		if ((i & 255) == 0)
			gs_rcu_barrier(); /* keep the backlog bounded */
	}
	p->stores = i - 1;
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void test_pairs_never_torn(void **st)
{
	(void)st;
	reset_counts();
	static struct pairs p;
	memset(&p, 0, sizeof p);
	gs_value_init(&p.v, obj_new(0), obj_destroy);

	struct pair_reader r[PAIR_READERS];
	pthread_t t[PAIR_READERS + 1];
	for (int i = 0; i < PAIR_READERS; i++) {
		r[i] = (struct pair_reader){ &p, i };
		t[i] = spawn(pair_reader_main, &r[i]);
	}
	t[PAIR_READERS] = spawn(pair_writer_main, &p);
	for (int i = 0; i <= PAIR_READERS; i++)
		join(t[i]);

	for (int i = 0; i < PAIR_READERS; i++) {
		assert_int_equal(p.torn[i], 0);
		assert_int_equal(p.backwards[i], 0);
		assert_true(p.reads[i] > 0);
	}
	assert_true(p.stores > 0);
	struct obj *live = load_in_section(&p.v);
	gs_rcu_barrier();
	assert_destroyed_once_except(live->id);
	gs_value_destroy(&p.v);
	gs_rcu_barrier();
	assert_destroyed_once_except(-1);
}

/* --- serialized writers: an exact total ------------------------------------------ */

enum { UPDATERS = 8, UPDATES = 1000, CAS_EVERY = 4 };

struct counter {
	int64_t n;
	int64_t id;
};

static int counters_destroyed; /* atomic */

static void counter_destroy(void *p)
{
	__atomic_fetch_add(&counters_destroyed, 1, __ATOMIC_RELAXED);
	free(p);
}

static struct counter *counter_new(int64_t n)
{
	struct counter *c = malloc(sizeof *c);
	if (!c)
		abort();
	c->n = n;
	return c;
}

static int fn_calls; /* atomic: update's fn runs exactly once per call */

static void *add_one(const void *cur, void *arg)
{
	(void)arg;
	__atomic_fetch_add(&fn_calls, 1, __ATOMIC_RELAXED);
	return counter_new(((const struct counter *)cur)->n + 1);
}

static gs_value_t total = GS_VALUE_INIT(NULL, counter_destroy);

static void *updater_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < UPDATES; i++) {
		gs_value_update(&total, add_one, NULL);
		if (i % CAS_EVERY == 0) {
			/* a CAS increment: load, copy, compare_and_swap inside one section */
			for (;;) {
				gs_rcu_read_lock();
				struct counter *c = gs_value_load(&total);
				struct counter *n = counter_new(c->n + 1);
				bool ok = gs_value_compare_and_swap(&total, c, n);
				gs_rcu_read_unlock();
				if (ok)
					break;
				free(n);
			}
		}
		if (i % 100 == 0) {
			/* a reader between the writes */
			gs_rcu_read_lock();
			(void)gs_value_load(&total);
			gs_rcu_read_unlock();
		}
	}
	return NULL;
}

static void test_writers_serialize(void **st)
{
	(void)st;
	counters_destroyed = 0;
	fn_calls = 0;
	gs_value_store(&total, counter_new(0));

	pthread_t t[UPDATERS];
	for (int i = 0; i < UPDATERS; i++)
		t[i] = spawn(updater_main, NULL);
	for (int i = 0; i < UPDATERS; i++)
		join(t[i]);

	int64_t want = UPDATERS * (UPDATES + UPDATES / CAS_EVERY);
	struct counter *c = load_in_section(&total);
	assert_int_equal(c->n, want);
	assert_int_equal(fn_calls, UPDATERS * UPDATES);
	gs_rcu_barrier();
	/* every version but the live one: the initial one and one per increment */
	assert_int_equal(counters_destroyed, want);

	/* stores mixed in: replace with an equal copy, then keep counting */
	gs_value_store(&total, counter_new(c->n));
	assert_true(gs_value_update(&total, add_one, NULL));
	assert_int_equal(((struct counter *)load_in_section(&total))->n, want + 1);
	gs_value_destroy(&total);
	gs_rcu_barrier();
	assert_int_equal(counters_destroyed, want + 3);
}

/* --- the call_rcu worker runs with every signal blocked -------------------------- */

static int mask_checked, mask_all_blocked; /* atomic */

static void mask_probe_destroy(void *p)
{
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	int all = sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGINT) &&
		  sigismember(&cur, SIGTERM) && sigismember(&cur, SIGALRM);
	__atomic_store_n(&mask_all_blocked, all, __ATOMIC_RELAXED);
	__atomic_store_n(&mask_checked, 1, __ATOMIC_RELEASE);
	free(p);
}

static void test_worker_blocks_signals(void **st)
{
	(void)st;
	sigset_t none, old;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, &old); /* a caller with nothing blocked */
	gs_value_t v = GS_VALUE_INIT(malloc(1), mask_probe_destroy);
	gs_value_store(&v, malloc(1));
	gs_value_destroy(&v);
	gs_rcu_barrier();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(__atomic_load_n(&mask_checked, __ATOMIC_ACQUIRE), 1);
	assert_int_equal(mask_all_blocked, 1);
}

/* --- ASan: the value may be freed right after destroy ---------------------------- */

static void test_free_after_destroy(void **st)
{
	(void)st;
	reset_counts();
	for (int i = 0; i < 200; i++) {
		gs_value_t *v = malloc(sizeof *v);
		gs_value_init(v, obj_new(i), obj_destroy);
		gs_value_store(v, obj_new(i));
		gs_value_destroy(v);
		free(v);
	}
	gs_rcu_barrier();
	assert_destroyed_once_except(-1);
}

/* --- misuse ---------------------------------------------------------------------- */

static gs_value_t misuse_value = GS_VALUE_INIT(NULL, NULL);

static void scenario_load_outside(void) { (void)gs_value_load(&misuse_value); }

static void scenario_load_after_unlock(void)
{
	gs_rcu_read_lock();
	(void)gs_value_load(&misuse_value);
	gs_rcu_read_unlock();
	(void)gs_value_load(&misuse_value);
}

static void scenario_sync_in_section(void)
{
	gs_rcu_read_lock();
	gs_rcu_synchronize();
}

static void scenario_barrier_in_section(void)
{
	gs_rcu_read_lock();
	gs_rcu_read_lock();
	gs_rcu_read_unlock();
	gs_rcu_barrier();
}

static void sync_destroy(void *p)
{
	free(p);
	gs_rcu_synchronize();
}

static void scenario_sync_in_destructor(void)
{
	gs_value_t v = GS_VALUE_INIT(malloc(1), sync_destroy);
	gs_value_destroy(&v);
	gs_rcu_barrier();
	exit(3); /* not reached */
}

static const char *const tsan_env_misuse[] = {
	"TSAN_OPTIONS=report_mutex_bugs=0 halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void test_misuse_dies(void **st)
{
	(void)st;
	static struct scenario_result r;

	scenario_run("load_outside", tsan_env_misuse, &r);
	assert_died_with(&r, "gosync: fatal error: value: load outside a read section\n");
	scenario_run("load_after_unlock", tsan_env_misuse, &r);
	assert_died_with(&r, "gosync: fatal error: value: load outside a read section\n");
	scenario_run("sync_in_section", tsan_env_misuse, &r);
	assert_died_with(&r, "gosync: fatal error: value: synchronize inside a read section\n");
	scenario_run("barrier_in_section", tsan_env_misuse, &r);
	assert_died_with(&r, "gosync: fatal error: value: synchronize inside a read section\n");
	scenario_run("sync_in_destructor", tsan_env_misuse, &r);
	assert_died_with(&r, "gosync: fatal error: value: synchronize inside a read section\n");
}

/* --- fork ------------------------------------------------------------------------- *
 * A reader thread of the parent sits inside a read section across the fork, and (in
 * plain builds) call_rcu has been used. The child must read, store, synchronize (not
 * waiting for the parent's reader, which does not exist there) and have its retired
 * pointers destroyed by a new worker. gcc's TSan kills a forked child that starts a
 * thread, and the child's call_rcu worker is one: under TSan the parent uses a NULL
 * destructor (no worker) and the child only reads, stores and synchronizes. So under
 * qemu-user 7.2 (make check-cross), which aborts when the forked child of a threaded
 * process starts a thread. */

static gs_value_t fork_value;
static int fork_reader_in, fork_reader_go; /* atomic */

static void *fork_reader_main(void *arg)
{
	(void)arg;
	gs_rcu_read_lock();
	(void)gs_value_load(&fork_value);
	__atomic_store_n(&fork_reader_in, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&fork_reader_go, __ATOMIC_ACQUIRE))
		sleep_ns(1000 * 1000);
	gs_rcu_read_unlock();
	return NULL;
}

static void scenario_fork(void)
{
	bool workers = !under_tsan() && !test_emulator();
	reset_counts();
	gs_value_init(&fork_value, obj_new(0), workers ? obj_destroy : NULL);
	gs_value_store(&fork_value, obj_new(1));
	if (workers)
		gs_rcu_barrier();
	pthread_t t = spawn(fork_reader_main, NULL);
	while (!__atomic_load_n(&fork_reader_in, __ATOMIC_ACQUIRE))
		sleep_ns(1000 * 1000);

	pid_t pid = fork();
	if (pid < 0)
		exit(10);
	if (pid == 0) {
		alarm(20); /* a hang dies of SIGALRM */
		struct obj *o = load_in_section(&fork_value);
		if (o->a != 1)
			_exit(11);
		for (int i = 2; i < 50; i++)
			gs_value_store(&fork_value, obj_new(i));
		gs_rcu_synchronize();
		if (workers) {
			gs_rcu_barrier();
			for (int i = 0; i < 49; i++)
				if (destroyed[i] != 1)
					_exit(12);
		}
		if (((struct obj *)load_in_section(&fork_value))->a != 49)
			_exit(13);
		_exit(0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		;
	__atomic_store_n(&fork_reader_go, 1, __ATOMIC_RELEASE);
	join(t);
	/* the parent carries on too */
	gs_value_store(&fork_value, obj_new(100));
	gs_rcu_synchronize();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "fork child status 0x%x\n", status);
		exit(1);
	}
	exit(0);
}

static void test_fork_child_works(void **st)
{
	(void)st;
	static struct scenario_result r;

	scenario_run("fork", NULL, &r);
	assert_exited_with(&r, 0);
}

/* --- ThreadSanitizer: a use after unlock is reported, correct use is not --------- */

static gs_value_t tsan_value;
static int tsan_loaded, tsan_done; /* relaxed only: no happens-before from them */

static void *tsan_reader_main(void *arg)
{
	bool racy = arg != NULL;
	gs_rcu_read_lock();
	struct obj *o = gs_value_load(&tsan_value);
	int64_t a = o->a;
	gs_rcu_read_unlock();
	if (racy)
		a += o->b; /* use after unlock */
	__atomic_store_n(&tsan_loaded, 1, __ATOMIC_RELAXED);
	/* Stay alive until the object is destroyed: liburcu's thread-exit hook takes a
	 * lock the grace period also takes, which would order the use before the free. */
	while (!__atomic_load_n(&tsan_done, __ATOMIC_RELAXED))
		sleep_ns(1000 * 1000);
	return (void *)(intptr_t)a;
}

static void tsan_scenario(bool racy)
{
	gs_value_init(&tsan_value, obj_new(1), obj_destroy);
	pthread_t t = spawn(tsan_reader_main, racy ? (void *)1 : NULL);
	while (!__atomic_load_n(&tsan_loaded, __ATOMIC_RELAXED))
		sleep_ns(1000 * 1000);
	sleep_ns(20 * 1000 * 1000);
	gs_value_store(&tsan_value, obj_new(2)); /* destroys the reader's object */
	gs_rcu_barrier();
	__atomic_store_n(&tsan_done, 1, __ATOMIC_RELAXED);
	join(t);
	gs_value_destroy(&tsan_value);
	gs_rcu_barrier();
}

static void scenario_tsan_racy(void) { tsan_scenario(true); }
static void scenario_tsan_correct(void) { tsan_scenario(false); }

static const char *const tsan_env_plain[] = {
	"TSAN_OPTIONS=halt_on_error=1 atexit_sleep_ms=0", NULL
};

static void test_tsan_sees_use_after_unlock(void **st)
{
	(void)st;
	static struct scenario_result r;

	scenario_run("tsan_correct", tsan_env_plain, &r);
	assert_exited_with(&r, 0);
	assert_null(strstr(r.err, "ThreadSanitizer"));

	if (!under_tsan())
		return; /* the racy scenario reads freed memory only in theory; skip */
	scenario_run("tsan_racy", tsan_env_plain, &r);
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 66 ||
	    !strstr(r.err, "WARNING: ThreadSanitizer"))
		fprintf(stderr, "tsan_racy status 0x%x, stderr:\n%s\n", r.status, r.err);
	assert_exited_with(&r, 66);
	assert_non_null(strstr(r.err, "WARNING: ThreadSanitizer"));
}

static const struct scenario scenarios[] = {
	{ "load_outside", scenario_load_outside },
	{ "load_after_unlock", scenario_load_after_unlock },
	{ "sync_in_section", scenario_sync_in_section },
	{ "barrier_in_section", scenario_barrier_in_section },
	{ "sync_in_destructor", scenario_sync_in_destructor },
	{ "fork", scenario_fork },
	{ "tsan_racy", scenario_tsan_racy },
	{ "tsan_correct", scenario_tsan_correct },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	scenario_dispatch(argc, argv, scenarios);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_retire_without_memory),
		cmocka_unit_test(test_pairs_never_torn),
		cmocka_unit_test(test_writers_serialize),
		cmocka_unit_test(test_worker_blocks_signals),
		cmocka_unit_test(test_free_after_destroy),
		cmocka_unit_test(test_misuse_dies),
		cmocka_unit_test(test_fork_child_works),
		cmocka_unit_test(test_tsan_sees_use_after_unlock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
