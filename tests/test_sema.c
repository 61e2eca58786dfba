/* sema: Go's runtime semaphore on park, tested on its own. */
#include "harness.h"

#include <errno.h>
#include <gosync/time.h>

#include "park.h"
#include "sema.h"

static int acquire_now(const void *key)
{
	/* a deadline already passed: succeeds only if a token is there right now */
	return gs__sema_acquire(key, false, CLOCK_MONOTONIC, 0);
}

struct acquirer {
	const void *key;
	bool lifo;
	int64_t deadline;
	int id;
	int *order, *order_len;
	bool idle;
	int result;
	int done;
	pthread_t thread;
};

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

/* An acquirer with `idle` set runs on main_cpu at SCHED_IDLE: only when main sleeps,
 * so main deterministically wins a race against it. */
static cpu_set_t main_cpu;

static void pin_main(cpu_set_t *saved)
{
	pthread_getaffinity_np(pthread_self(), sizeof *saved, saved);
	CPU_ZERO(&main_cpu);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &main_cpu);
	pthread_setaffinity_np(pthread_self(), sizeof main_cpu, &main_cpu);
}

static void *acquirer_main(void *arg)
{
	struct acquirer *a = arg;
	if (a->idle) {
		struct sched_param none = { 0 };
		pthread_setaffinity_np(pthread_self(), sizeof main_cpu, &main_cpu);
		pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
	}
	a->result = gs__sema_acquire(a->key, a->lifo, CLOCK_MONOTONIC,
				     a->deadline ? a->deadline : INT64_MAX);
	if (a->order) {
		pthread_mutex_lock(&order_lock);
		a->order[(*a->order_len)++] = a->id;
		pthread_mutex_unlock(&order_lock);
	}
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* How many threads wait on key: a filter that counts and skips every waiter. */
static enum gs__filter_op count_and_skip(void *arg, uint64_t park_token)
{
	(void)park_token;
	++*(int *)arg;
	return GS_FILTER_SKIP;
}

static int queue_len(const void *key)
{
	int n = 0;
	gs__unpark_filter(key, count_and_skip, NULL, &n);
	return n;
}

static void wait_queue_len(const void *key, int n)
{
	while (queue_len(key) != n)
		sleep_ns(100 * GS_USEC);
}

/* Starts a, and returns once it sleeps in the queue. */
static void start_and_settle(struct acquirer *a)
{
	int before = queue_len(a->key);
	pthread_create(&a->thread, NULL, acquirer_main, a);
	wait_queue_len(a->key, before + 1);
}

static void test_release_before_acquire_is_kept(void **state)
{
	(void)state;
	static int key;
	assert_int_equal(acquire_now(&key), ETIMEDOUT);
	gs__sema_release(&key, false);
	gs__sema_release(&key, true);
	assert_int_equal(acquire_now(&key), 0);
	assert_int_equal(acquire_now(&key), 0);
	assert_int_equal(acquire_now(&key), ETIMEDOUT);
}

static void test_acquire_sleeps_until_release(void **state)
{
	(void)state;
	static int key;
	struct acquirer a = { .key = &key };

	start_and_settle(&a);
	assert_int_equal(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE), 0);
	gs__sema_release(&key, false);
	pthread_join(a.thread, NULL);
	assert_int_equal(a.result, 0);
	assert_int_equal(acquire_now(&key), ETIMEDOUT); /* the token was consumed */
}

/* A handed-off token belongs to the head waiter: a newcomer cannot take it even if
 * it asks before the waiter has woken. */
static void test_handoff_cannot_be_stolen(void **state)
{
	(void)state;
	static int key;
	for (int i = 0; i < 20; i++) {
		struct acquirer a = { .key = &key };
		start_and_settle(&a);
		gs__sema_release(&key, true);
		assert_int_equal(acquire_now(&key), ETIMEDOUT);
		pthread_join(a.thread, NULL);
		assert_int_equal(a.result, 0);
	}
}

/* Without handoff a newcomer may take the token; the woken waiter that lost then
 * requeues at the head, ahead of a waiter that came after it. */
static void test_lost_race_requeues_at_head(void **state)
{
	(void)state;
	static int key;
	int steals = 0;
	cpu_set_t saved;

	/* The woken waiter must lose to main's acquire: it runs only when main sleeps
	 * (on another CPU it often won every race and the barging path went untested). */
	pin_main(&saved);
	for (int i = 0; i < 20; i++) {
		int order[2], len = 0;
		struct acquirer a = { .key = &key, .id = 0, .order = order, .order_len = &len, .idle = true };
		struct acquirer b = { .key = &key, .id = 1, .order = order, .order_len = &len, .idle = true };
		start_and_settle(&a);
		start_and_settle(&b);
		gs__sema_release(&key, false);
		bool stole = acquire_now(&key) == 0;
		steals += stole;
		if (stole)
			wait_queue_len(&key, 2); /* a is back in the queue */
		gs__sema_release(&key, true);
		if (stole) {
			/* a lost its race and requeued at the head: the handoff is its */
			while (!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE))
				sleep_ns(GS_MSEC);
			assert_int_equal(__atomic_load_n(&b.done, __ATOMIC_ACQUIRE), 0);
			gs__sema_release(&key, true);
		}
		pthread_join(a.thread, NULL);
		pthread_join(b.thread, NULL);
		assert_int_equal(len, 2);
		assert_int_equal(order[0], 0);
		assert_int_equal(acquire_now(&key), ETIMEDOUT);
	}
	pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
	assert_int_equal(steals, 20); /* the barging path was exercised every time */
}

static void test_fifo_order(void **state)
{
	(void)state;
	static int key;
	enum { N = 5 };
	struct acquirer a[N];
	int order[N], len = 0;

	for (int i = 0; i < N; i++) {
		a[i] = (struct acquirer){ .key = &key, .id = i, .order = order, .order_len = &len };
		start_and_settle(&a[i]);
	}
	for (int i = 0; i < N; i++) {
		gs__sema_release(&key, true);
		pthread_join(a[i].thread, NULL);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(order[i], i);
}

static void test_timed_out_waiter_leaves_no_trace(void **state)
{
	(void)state;
	static int key;
	int64_t deadline = gs_now() + 10 * GS_MSEC;

	assert_int_equal(gs__sema_acquire(&key, false, CLOCK_MONOTONIC, deadline), ETIMEDOUT);
	assert_true(gs_now() >= deadline);
	/* no waiter is left behind to swallow the next token, nor a token owed */
	gs__sema_release(&key, false);
	assert_int_equal(acquire_now(&key), 0);
	assert_int_equal(acquire_now(&key), ETIMEDOUT);
}

/* More keys with pending tokens in one bucket than it has slots: the extra release
 * waits for its acquirer instead of losing the token. */
static void *release_one(void *key)
{
	gs__sema_release(key, false);
	return NULL;
}

static void test_full_token_slots_keep_every_token(void **state)
{
	(void)state;
	static int keys[1 << 14];
	const void *same[GS_PARK_TOKEN_SLOTS + 1];
	int n = 0;

	for (int i = 0; i < (1 << 14) && n < GS_PARK_TOKEN_SLOTS + 1; i++)
		if (gs__park_bucket_of(&keys[i]) == gs__park_bucket_of(&keys[0]))
			same[n++] = &keys[i];
	assert_int_equal(n, GS_PARK_TOKEN_SLOTS + 1);

	for (int i = 0; i < GS_PARK_TOKEN_SLOTS; i++)
		gs__sema_release(same[i], false);
	pthread_t t;
	pthread_create(&t, NULL, release_one, (void *)same[GS_PARK_TOKEN_SLOTS]);
	sleep_ns(5 * GS_MSEC);
	assert_int_equal(gs__sema_acquire(same[GS_PARK_TOKEN_SLOTS], false, CLOCK_MONOTONIC,
					  gs_now() + 5 * GS_SEC), 0);
	pthread_join(t, NULL);
	for (int i = 0; i < GS_PARK_TOKEN_SLOTS; i++) {
		assert_int_equal(acquire_now(same[i]), 0);
		assert_int_equal(acquire_now(same[i]), ETIMEDOUT);
	}
}

/* Storm: acquirers with tiny deadlines against releasers; every released token is
 * acquired exactly once or still pooled at the end. */
static int storm_key;
static int storm_acquired[4];

static void *storm_acquirer(void *arg)
{
	int *got = arg;
	for (int i = 0; i < 4000; i++)
		if (gs__sema_acquire(&storm_key, i % 3 == 0, CLOCK_MONOTONIC,
				     gs_now() + (i % 4) * 3 * GS_USEC) == 0)
			++*got;
	return NULL;
}

static void *storm_releaser(void *arg)
{
	for (int i = 0; i < 3000; i++)
		gs__sema_release(&storm_key, i % 2 == 0);
	(void)arg;
	return NULL;
}

static void test_deadline_storm_conserves_tokens(void **state)
{
	(void)state;
	pthread_t a[4], r[2];
	int acquired = 0, left = 0;

	for (int i = 0; i < 4; i++)
		pthread_create(&a[i], NULL, storm_acquirer, &storm_acquired[i]);
	for (int i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, storm_releaser, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(a[i], NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	for (int i = 0; i < 4; i++)
		acquired += storm_acquired[i];
	while (acquire_now(&storm_key) == 0)
		left++;
	assert_int_equal(acquired + left, 2 * 3000);
	assert_true(acquired > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_before_acquire_is_kept),
		cmocka_unit_test(test_acquire_sleeps_until_release),
		cmocka_unit_test(test_handoff_cannot_be_stolen),
		cmocka_unit_test(test_lost_race_requeues_at_head),
		cmocka_unit_test(test_fifo_order),
		cmocka_unit_test(test_timed_out_waiter_leaves_no_trace),
		cmocka_unit_test(test_full_token_slots_keep_every_token),
		cmocka_unit_test(test_deadline_storm_conserves_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
