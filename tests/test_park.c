/* park: the address-keyed wait queues, tested on their own. */
#include "harness.h"

#include <errno.h>
#include <gosync/time.h>

#include "park.h"

/* A parker thread: parks on key with a flag-checking validate and records what it
 * got. `queued` counts validations that chose to sleep, so main can tell when the
 * thread is in the queue (it is enqueued in the same critical section). */
struct parker {
	const void *key;
	uint32_t *flag;          /* validate: sleep only while *flag == 0 (NULL: always) */
	bool at_head;
	uint64_t park_token;
	int64_t deadline;
	int *order, *order_len;  /* where to append id on wake-up (main-owned arrays) */
	int id;
	/* results */
	int queued;
	enum gs__park_status status;
	uint64_t token;
	int64_t returned_at;
	int timed_out_calls;
	bool timed_out_others;
	pthread_t thread;
};

static bool flag_validate(void *arg)
{
	struct parker *p = arg;
	if (p->flag && __atomic_load_n(p->flag, __ATOMIC_ACQUIRE))
		return false;
	__atomic_store_n(&p->queued, 1, __ATOMIC_RELEASE);
	return true;
}

static void record_timeout(void *arg, bool others)
{
	struct parker *p = arg;
	p->timed_out_calls++;
	p->timed_out_others = others;
}

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

static void *parker_main(void *arg)
{
	struct parker *p = arg;
	struct gs__park_args a = {
		.key = p->key, .validate = flag_validate, .timed_out = record_timeout,
		.arg = p, .park_token = p->park_token, .at_head = p->at_head,
		.clock = CLOCK_MONOTONIC, .deadline = p->deadline ? p->deadline : INT64_MAX,
	};
	p->status = gs__park(&a, &p->token);
	p->returned_at = gs_now();
	if (p->order) {
		pthread_mutex_lock(&order_lock);
		p->order[(*p->order_len)++] = p->id;
		pthread_mutex_unlock(&order_lock);
	}
	return NULL;
}

static void start_parker(struct parker *p)
{
	pthread_create(&p->thread, NULL, parker_main, p);
}

static void wait_queued(struct parker *p)
{
	while (!__atomic_load_n(&p->queued, __ATOMIC_ACQUIRE))
		sleep_ns(100 * 1000);
	/* validate and enqueue share one bucket critical section: any unpark from
	 * here on finds the thread queued */
}

struct cb_log {
	int calls;
	struct gs__unpark_result last;
	uint64_t token;
};

static uint64_t log_cb(void *arg, struct gs__unpark_result r)
{
	struct cb_log *l = arg;
	l->calls++;
	l->last = r;
	return l->token;
}

static void test_unpark_one_hands_token(void **state)
{
	(void)state;
	static int key;
	struct parker p = { .key = &key };
	struct cb_log log = { .token = 42 };

	start_parker(&p);
	wait_queued(&p);
	assert_int_equal(gs__unpark_one(&key, log_cb, &log), 1);
	pthread_join(p.thread, NULL);
	assert_int_equal(p.status, GS_PARK_UNPARKED);
	assert_int_equal(p.token, 42);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.last.unparked, 1);
	assert_false(log.last.have_more);
	/* nobody left: a wake that finds no waiter is dropped and says so */
	assert_int_equal(gs__unpark_one(&key, log_cb, &log), 0);
	assert_int_equal(log.last.unparked, 0);
	assert_false(log.last.have_more);
}

static void test_validate_false_never_sleeps(void **state)
{
	(void)state;
	static int key;
	uint32_t flag = 1;
	struct parker p = { .key = &key, .flag = &flag };

	parker_main(&p);
	assert_int_equal(p.status, GS_PARK_INVALID);
	assert_int_equal(p.queued, 0);
	assert_int_equal(gs__unpark_one(&key, NULL, NULL), 0);
}

/* The wake may come before the sleep: waker sets the flag then unparks; the parker's
 * validate sees the flag (INVALID) or it was queued and gets exactly that wake. */
static void test_wake_before_sleep_is_never_lost(void **state)
{
	(void)state;
	static int key;
	int unparked_by_waker = 0, unparked_parkers = 0;

	for (int i = 0; i < 2000; i++) {
		uint32_t flag = 0;
		struct parker p = { .key = &key, .flag = &flag };
		start_parker(&p);
		if (i % 2)
			sleep_ns(i % 7 * 1000);
		__atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
		unparked_by_waker += (int)gs__unpark_one(&key, NULL, NULL);
		pthread_join(p.thread, NULL); /* hangs if the wake was lost */
		unparked_parkers += p.status == GS_PARK_UNPARKED;
		assert_true(p.status == GS_PARK_UNPARKED || p.status == GS_PARK_INVALID);
	}
	assert_int_equal(unparked_by_waker, unparked_parkers);
}

static void test_fifo_and_head_insertion(void **state)
{
	(void)state;
	static int key;
	enum { N = 5 };
	struct parker p[N + 1];
	int order[N + 1], len = 0;

	memset(p, 0, sizeof p);
	for (int i = 0; i < N; i++) {
		p[i] = (struct parker){ .key = &key, .id = i, .order = order, .order_len = &len };
		start_parker(&p[i]);
		wait_queued(&p[i]);
	}
	/* a requeued waiter goes first */
	p[N] = (struct parker){ .key = &key, .id = N, .at_head = true, .order = order, .order_len = &len };
	start_parker(&p[N]);
	wait_queued(&p[N]);

	for (int i = 0; i <= N; i++) {
		assert_int_equal(gs__unpark_one(&key, NULL, NULL), 1);
		pthread_join(p[i == 0 ? N : i - 1].thread, NULL);
	}
	assert_int_equal(len, N + 1);
	assert_int_equal(order[0], N);
	for (int i = 1; i <= N; i++)
		assert_int_equal(order[i], i - 1);
}

static void test_unpark_all_and_have_more(void **state)
{
	(void)state;
	static int key;
	struct parker p[3];
	struct cb_log log = { .token = 7 };

	memset(p, 0, sizeof p);
	for (int i = 0; i < 3; i++) {
		p[i].key = &key;
		start_parker(&p[i]);
		wait_queued(&p[i]);
	}
	assert_int_equal(gs__unpark_one(&key, log_cb, &log), 1);
	assert_true(log.last.have_more);
	assert_int_equal(gs__unpark_all(&key, log_cb, &log), 2);
	assert_int_equal(log.last.unparked, 2);
	assert_false(log.last.have_more);
	for (int i = 0; i < 3; i++) {
		pthread_join(p[i].thread, NULL);
		assert_int_equal(p[i].status, GS_PARK_UNPARKED);
		assert_int_equal(p[i].token, 7);
	}
}

static enum gs__filter_op odd_only(void *arg, uint64_t park_token)
{
	(void)arg;
	return park_token % 2 ? GS_FILTER_UNPARK : GS_FILTER_SKIP;
}

static void test_unpark_filter_sees_park_tokens(void **state)
{
	(void)state;
	static int key;
	struct parker p[4];
	struct cb_log log = { .token = 1 };

	memset(p, 0, sizeof p);
	for (int i = 0; i < 4; i++) {
		p[i] = (struct parker){ .key = &key, .park_token = (uint64_t)i };
		start_parker(&p[i]);
		wait_queued(&p[i]);
	}
	assert_int_equal(gs__unpark_filter(&key, odd_only, log_cb, &log), 2);
	assert_true(log.last.have_more); /* the even ones stay */
	pthread_join(p[1].thread, NULL);
	pthread_join(p[3].thread, NULL);
	assert_int_equal(gs__unpark_all(&key, NULL, NULL), 2);
	pthread_join(p[0].thread, NULL);
	pthread_join(p[2].thread, NULL);
}

static void test_timeout_leaves_no_trace(void **state)
{
	(void)state;
	static int key;
	struct parker other = { .key = &key };
	struct parker p = { .key = &key };

	/* alone: times out no earlier than its deadline, told nobody remains */
	p.deadline = gs_now() + 20 * GS_MSEC;
	parker_main(&p);
	assert_int_equal(p.status, GS_PARK_TIMEDOUT);
	assert_true(p.returned_at >= p.deadline);
	assert_int_equal(p.timed_out_calls, 1);
	assert_false(p.timed_out_others);
	assert_int_equal(gs__unpark_one(&key, NULL, NULL), 0);

	/* behind another waiter: told that one remains, and it is still wakeable */
	start_parker(&other);
	wait_queued(&other);
	memset(&p, 0, sizeof p);
	p.key = &key;
	p.deadline = gs_now() + 5 * GS_MSEC;
	parker_main(&p);
	assert_int_equal(p.status, GS_PARK_TIMEDOUT);
	assert_true(p.timed_out_others);
	assert_int_equal(gs__unpark_one(&key, NULL, NULL), 1);
	pthread_join(other.thread, NULL);
	assert_int_equal(other.status, GS_PARK_UNPARKED);
	assert_int_equal(gs__unpark_one(&key, NULL, NULL), 0);
}

/* Deadlines racing wakes: every wake that dequeued somebody reaches exactly that
 * somebody (as UNPARKED, even if its deadline passed meanwhile); every other
 * waiter times out, and the queue ends empty. */
static int storm_key;
static int storm_finished;

struct racer_stats {
	int unparked, timed_out;
};

static void *racer(void *arg)
{
	struct racer_stats *st = arg;
	for (int i = 0; i < 3000; i++) {
		struct parker p = { .key = &storm_key, .deadline = gs_now() + (i % 5) * 2 * GS_USEC };
		parker_main(&p);
		if (p.status == GS_PARK_UNPARKED)
			st->unparked++;
		else
			st->timed_out++;
	}
	__atomic_fetch_add(&storm_finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_deadline_storm_pairs_every_wake(void **state)
{
	(void)state;
	enum { T = 4 };
	pthread_t t[T];
	struct racer_stats st[T];
	int woken = 0, unparked = 0, timed_out = 0;

	memset(st, 0, sizeof st);
	for (int i = 0; i < T; i++)
		pthread_create(&t[i], NULL, racer, &st[i]);
	for (int n = 0; __atomic_load_n(&storm_finished, __ATOMIC_ACQUIRE) < T; n++) {
		woken += (int)gs__unpark_one(&storm_key, NULL, NULL);
		for (int i = 0; i < 200; i++)
			__asm__ __volatile__("" ::: "memory");
		if (n % 64 == 63)
			sleep_ns(50 * GS_USEC); /* let some deadlines pass unwoken */
	}
	for (int i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		unparked += st[i].unparked;
		timed_out += st[i].timed_out;
	}
	assert_int_equal(unparked + timed_out, T * 3000);
	assert_int_equal(woken, unparked);
	assert_true(unparked > 0);
	assert_true(timed_out > 0);
	assert_int_equal(gs__unpark_one(&storm_key, NULL, NULL), 0);
}

static void test_keys_sharing_a_bucket_are_separate(void **state)
{
	(void)state;
	static int keys[4096];
	int *k1 = &keys[0], *k2 = NULL;

	for (int i = 1; i < 4096 && !k2; i++)
		if (gs__park_bucket_of(&keys[i]) == gs__park_bucket_of(k1))
			k2 = &keys[i];
	assert_non_null(k2);

	struct parker p = { .key = k1 };
	start_parker(&p);
	wait_queued(&p);
	assert_int_equal(gs__unpark_one(k2, NULL, NULL), 0);
	assert_int_equal(gs__unpark_all(k2, NULL, NULL), 0);
	assert_int_equal(gs__unpark_one(k1, NULL, NULL), 1);
	pthread_join(p.thread, NULL);
	assert_int_equal(p.status, GS_PARK_UNPARKED);
}

/* fork while another thread is parked: the child's table is fresh and usable. */
static void scenario_fork_child_parks(void)
{
	static int key;
	struct parker p = { .key = &key };
	start_parker(&p);
	wait_queued(&p);

	pid_t pid = fork();
	if (pid == 0) {
		struct parker c = { .key = &key, .deadline = gs_now() + GS_MSEC };
		parker_main(&c); /* the parent's waiter is not in our queue */
		_exit(c.status == GS_PARK_TIMEDOUT && c.timed_out_calls == 1 && !c.timed_out_others
		      && gs__unpark_one(&key, NULL, NULL) == 0 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	gs__unpark_one(&key, NULL, NULL);
	pthread_join(p.thread, NULL);
	exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
}

static void test_fork_child_gets_fresh_table(void **state)
{
	(void)state;
	struct scenario_result r;
	scenario_run("fork_child_parks", NULL, &r);
	assert_exited_with(&r, 0);
}

static const struct scenario scenarios[] = {
	{ "fork_child_parks", scenario_fork_child_parks },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	scenario_dispatch(argc, argv, scenarios);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unpark_one_hands_token),
		cmocka_unit_test(test_validate_false_never_sleeps),
		cmocka_unit_test(test_wake_before_sleep_is_never_lost),
		cmocka_unit_test(test_fifo_and_head_insertion),
		cmocka_unit_test(test_unpark_all_and_have_more),
		cmocka_unit_test(test_unpark_filter_sees_park_tokens),
		cmocka_unit_test(test_timeout_leaves_no_trace),
		cmocka_unit_test(test_deadline_storm_pairs_every_wake),
		cmocka_unit_test(test_keys_sharing_a_bucket_are_separate),
		cmocka_unit_test(test_fork_child_gets_fresh_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
