/* pthread_once: the routine runs exactly once however many threads race for it, every
 * caller returns after it has finished and sees what it wrote, later calls do
 * nothing, and a routine may run other onces. */
#include "posix_test.h"

enum { RACERS = 12, ROUNDS = 200 };

static pthread_once_t static_once = PTHREAD_ONCE_INIT;
static int static_calls;

static void static_routine(void) { static_calls++; }

/* --- racing callers ---------------------------------------------------------- */

static pthread_once_t race_once;
static int race_calls;        /* atomic */
static int race_data[4];      /* written by the routine, plain */
static int race_go;           /* the round's start flag (atomic) */
static int race_bad;          /* a caller that returned before the routine finished */
static int race_rcs;          /* nonzero return codes */
static int race_arrived;      /* atomic */

static void race_routine(void)
{
	__atomic_fetch_add(&race_calls, 1, __ATOMIC_RELAXED);
	usleep(200); /* long enough for others to arrive and wait */
	for (int i = 0; i < 4; i++)
		race_data[i] = i + 1;
}

static void *racer(void *arg)
{
	int round = (int)(long)arg;
	__atomic_fetch_add(&race_arrived, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&race_go, __ATOMIC_ACQUIRE) != round)
		sched_yield();
	int r = pthread_once(&race_once, race_routine);
	bool ok = true;
	for (int i = 0; i < 4; i++)
		ok &= race_data[i] == i + 1;
	if (r != 0)
		__atomic_fetch_add(&race_rcs, 1, __ATOMIC_RELAXED);
	if (!ok)
		__atomic_fetch_add(&race_bad, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void test_race(void)
{
	int wrong_calls = 0;
	for (int round = 1; round <= ROUNDS; round++) {
		pthread_t t[RACERS];
		race_once = (pthread_once_t)PTHREAD_ONCE_INIT;
		race_calls = 0;
		race_arrived = 0;
		memset(race_data, 0, sizeof race_data);
		for (int i = 0; i < RACERS; i++)
			start_thread(&t[i], racer, (void *)(long)round);
		while (__atomic_load_n(&race_arrived, __ATOMIC_RELAXED) < RACERS)
			sched_yield();
		__atomic_store_n(&race_go, round, __ATOMIC_RELEASE);
		for (int i = 0; i < RACERS; i++)
			join_thread(t[i]);
		wrong_calls += race_calls != 1;
	}
	expect_long("rounds where the routine did not run exactly once", wrong_calls, 0);
	expect_long("callers that returned before the routine's writes", race_bad, 0);
	expect_long("nonzero return codes", race_rcs, 0);
}

/* --- nested onces ------------------------------------------------------------ */

static pthread_once_t outer = PTHREAD_ONCE_INIT, inner = PTHREAD_ONCE_INIT;
static char order[8];
static int order_len;

static void inner_routine(void) { order[order_len++] = 'i'; }

static void outer_routine(void)
{
	pthread_once(&inner, inner_routine);
	pthread_once(&inner, inner_routine);
	order[order_len++] = 'o';
}

int main(void)
{
	expect_rc("pthread_once", pthread_once(&static_once, static_routine), 0);
	expect_rc("pthread_once again", pthread_once(&static_once, static_routine), 0);
	expect_long("static routine calls", static_calls, 1);

	pthread_once_t local = PTHREAD_ONCE_INIT;
	int before = static_calls;
	expect_rc("pthread_once on an automatic once", pthread_once(&local, static_routine), 0);
	expect_rc("pthread_once on it again", pthread_once(&local, static_routine), 0);
	expect_long("its routine calls", static_calls - before, 1);

	test_race();

	expect_rc("nested: outer", pthread_once(&outer, outer_routine), 0);
	expect_rc("nested: inner after", pthread_once(&inner, inner_routine), 0);
	order[order_len] = '\0';
	printf("nested: order %s\n", order);
	expect_true("nested: inner ran first, once each", strcmp(order, "io") == 0);
	return posix_test_done();
}
