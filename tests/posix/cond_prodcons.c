/* Condition variables lose no wakeup:
 *  - a bounded buffer (capacity 4) between 3 producers and 3 consumers, with a cond
 *    for "not full" and one for "not empty", signalled under the mutex or after
 *    unlocking it, or broadcast; every item arrives exactly once (count and sum), for
 *    every mutex kind the shim runs;
 *  - tokens: 6 threads each wait for a token; the main thread hands out tokens one
 *    signal at a time, 150 rounds: every waiter must get one (a lost signal hangs and
 *    the watchdog fails the program);
 *  - a barrier built from a generation counter and broadcast, 1000 rounds;
 *  - signal and broadcast with nobody waiting answer 0 and are not remembered. */
#include "posix_test.h"

#define CAP 4
#define PRODUCERS 3
#define CONSUMERS 3
#define ITEMS 4000 /* per producer */

enum notify { SIGNAL_LOCKED, SIGNAL_UNLOCKED, BROADCAST };

struct buffer {
	pthread_mutex_t *m;
	pthread_cond_t not_full, not_empty;
	enum notify how;
	long items[CAP];
	int head, len;
	int producers_left;
	long consumed, sum;
};

static void notify(struct buffer *b, pthread_cond_t *c, bool *pending)
{
	if (b->how == SIGNAL_LOCKED)
		must(pthread_cond_signal(c));
	else if (b->how == BROADCAST)
		must(pthread_cond_broadcast(c));
	else
		*pending = true; /* after the unlock */
}

static void *producer(void *arg)
{
	struct buffer *b = arg;
	for (long i = 1; i <= ITEMS; i++) {
		bool pending = false;
		must(pthread_mutex_lock(b->m));
		while (b->len == CAP)
			must(pthread_cond_wait(&b->not_full, b->m));
		b->items[(b->head + b->len++) % CAP] = i;
		notify(b, &b->not_empty, &pending);
		must(pthread_mutex_unlock(b->m));
		if (pending)
			must(pthread_cond_signal(&b->not_empty));
	}
	must(pthread_mutex_lock(b->m));
	if (--b->producers_left == 0)
		must(pthread_cond_broadcast(&b->not_empty)); /* consumers may stop */
	must(pthread_mutex_unlock(b->m));
	return NULL;
}

static void *consumer(void *arg)
{
	struct buffer *b = arg;
	long n = 0, sum = 0;
	for (;;) {
		bool pending = false;
		must(pthread_mutex_lock(b->m));
		while (b->len == 0 && b->producers_left > 0)
			must(pthread_cond_wait(&b->not_empty, b->m));
		if (b->len == 0) {
			must(pthread_mutex_unlock(b->m));
			break;
		}
		sum += b->items[b->head];
		b->head = (b->head + 1) % CAP;
		b->len--;
		n++;
		notify(b, &b->not_full, &pending);
		must(pthread_mutex_unlock(b->m));
		if (pending)
			must(pthread_cond_signal(&b->not_full));
	}
	must(pthread_mutex_lock(b->m));
	b->consumed += n;
	b->sum += sum;
	must(pthread_mutex_unlock(b->m));
	return NULL;
}

static void prodcons(pthread_mutex_t *m, enum notify how, const char *label)
{
	struct buffer b = {.m = m, .how = how, .producers_left = PRODUCERS};
	pthread_t p[PRODUCERS], c[CONSUMERS];
	char lb[128];
	must(pthread_cond_init(&b.not_full, NULL));
	must(pthread_cond_init(&b.not_empty, NULL));
	for (int i = 0; i < CONSUMERS; i++)
		start_thread(&c[i], consumer, &b);
	for (int i = 0; i < PRODUCERS; i++)
		start_thread(&p[i], producer, &b);
	for (int i = 0; i < PRODUCERS; i++)
		join_thread(p[i]);
	for (int i = 0; i < CONSUMERS; i++)
		join_thread(c[i]);
	snprintf(lb, sizeof lb, "%s: items consumed", label);
	expect_long(lb, b.consumed, (long)PRODUCERS * ITEMS);
	snprintf(lb, sizeof lb, "%s: sum of items", label);
	expect_long(lb, b.sum, (long)PRODUCERS * ITEMS * (ITEMS + 1) / 2);
	snprintf(lb, sizeof lb, "%s: destroy", label);
	expect_rc(lb, pthread_cond_destroy(&b.not_full) | pthread_cond_destroy(&b.not_empty), 0);
}

/* --- tokens ------------------------------------------------------------------------- */
#define TOKEN_WAITERS 6
#define TOKEN_ROUNDS 150
static pthread_mutex_t tok_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tok_c = PTHREAD_COND_INITIALIZER;
static int tokens, waiting;
static long taken;

static void *token_waiter(void *arg)
{
	must(pthread_mutex_lock(&tok_m));
	waiting++;
	while (tokens == 0)
		must(pthread_cond_wait(&tok_c, &tok_m));
	tokens--;
	taken++;
	waiting--;
	must(pthread_mutex_unlock(&tok_m));
	return arg;
}

static long token_rounds(void)
{
	for (int r = 0; r < TOKEN_ROUNDS; r++) {
		pthread_t t[TOKEN_WAITERS];
		for (int i = 0; i < TOKEN_WAITERS; i++)
			start_thread(&t[i], token_waiter, NULL);
		/* every other round, let the waiters sleep first (the answer is the same) */
		if (r % 2) {
			for (;;) {
				must(pthread_mutex_lock(&tok_m));
				int w = waiting;
				must(pthread_mutex_unlock(&tok_m));
				if (w == TOKEN_WAITERS)
					break;
				sched_yield();
			}
		}
		for (int i = 0; i < TOKEN_WAITERS; i++) {
			must(pthread_mutex_lock(&tok_m));
			tokens++;
			if (i % 2 == 0)
				must(pthread_cond_signal(&tok_c));
			must(pthread_mutex_unlock(&tok_m));
			if (i % 2 == 1)
				must(pthread_cond_signal(&tok_c));
		}
		for (int i = 0; i < TOKEN_WAITERS; i++)
			join_thread(t[i]);
	}
	return taken;
}

/* --- a barrier from a generation counter ------------------------------------------ */
#define BARRIER_THREADS 4
#define BARRIER_ROUNDS 1000
static pthread_mutex_t bar_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bar_c = PTHREAD_COND_INITIALIZER;
static int bar_arrived;
static unsigned bar_gen;
static long bar_slots[BARRIER_THREADS];
static long bar_mismatch;

static void *barrier_thread(void *arg)
{
	long id = (long)arg;
	for (int r = 0; r < BARRIER_ROUNDS; r++) {
		bar_slots[id] = r;
		must(pthread_mutex_lock(&bar_m));
		unsigned gen = bar_gen;
		if (++bar_arrived == BARRIER_THREADS) {
			bar_arrived = 0;
			bar_gen++;
			must(pthread_cond_broadcast(&bar_c));
		} else {
			while (gen == bar_gen)
				must(pthread_cond_wait(&bar_c, &bar_m));
		}
		must(pthread_mutex_unlock(&bar_m));
		/* everybody wrote round r before anybody passed */
		for (int i = 0; i < BARRIER_THREADS; i++)
			if (__atomic_load_n(&bar_slots[i], __ATOMIC_RELAXED) < r)
				__atomic_fetch_add(&bar_mismatch, 1, __ATOMIC_RELAXED);
		/* and nobody writes round r+1 before everybody checked: a second barrier */
		must(pthread_mutex_lock(&bar_m));
		gen = bar_gen;
		if (++bar_arrived == BARRIER_THREADS) {
			bar_arrived = 0;
			bar_gen++;
			must(pthread_cond_broadcast(&bar_c));
		} else {
			while (gen == bar_gen)
				must(pthread_cond_wait(&bar_c, &bar_m));
		}
		must(pthread_mutex_unlock(&bar_m));
	}
	return NULL;
}

int main(void)
{
	static pthread_mutex_t normal = PTHREAD_MUTEX_INITIALIZER;
	static pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	static pthread_mutex_t ec = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	static pthread_mutex_t adaptive = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
	prodcons(&normal, SIGNAL_LOCKED, "normal, signal under the mutex");
	prodcons(&normal, SIGNAL_UNLOCKED, "normal, signal after unlock");
	prodcons(&normal, BROADCAST, "normal, broadcast");
	prodcons(&rec, SIGNAL_LOCKED, "recursive, signal under the mutex");
	prodcons(&ec, SIGNAL_UNLOCKED, "errorcheck, signal after unlock");
	prodcons(&adaptive, BROADCAST, "adaptive, broadcast");

	expect_long("tokens: taken", token_rounds(), (long)TOKEN_ROUNDS * TOKEN_WAITERS);
	expect_long("tokens: left", tokens, 0);

	pthread_t t[BARRIER_THREADS];
	for (long i = 0; i < BARRIER_THREADS; i++)
		start_thread(&t[i], barrier_thread, (void *)i);
	for (int i = 0; i < BARRIER_THREADS; i++)
		join_thread(t[i]);
	expect_long("cond barrier: generations", bar_gen, 2L * BARRIER_ROUNDS);
	expect_long("cond barrier: a thread passed early", bar_mismatch, 0);

	/* nobody waiting: 0, and nothing is remembered for a later waiter */
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	expect_rc("no waiters: signal", pthread_cond_signal(&c), 0);
	expect_rc("no waiters: broadcast", pthread_cond_broadcast(&c), 0);
	struct timespec t0 = deadline_in(CLOCK_REALTIME, 20);
	must(pthread_mutex_lock(&normal));
	expect_rc("no waiters: a later timedwait is not woken by them",
		  pthread_cond_timedwait(&c, &normal, &t0), ETIMEDOUT);
	must(pthread_mutex_unlock(&normal));
	expect_rc("no waiters: destroy", pthread_cond_destroy(&c), 0);
	return posix_test_done();
}
