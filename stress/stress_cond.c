/* stress_cond — phases of 4..64 threads hammering one mutex and two conds.
 *
 * Each phase allocates a fresh world: a gs_mutex_t and two gs_cond_t on the heap, and
 * 4..64 threads that pick operations at random:
 *   - consume a token (cond `tok`): wait while no token is left;
 *   - produce 1..3 tokens and signal `tok` once per token, or broadcast it;
 *   - wait for personal mail (cond `mail`): wait while mail[i] == seen[i];
 *   - post mail to another thread and broadcast `mail` (a signal could wake the wrong
 *     thread: Go's rule, a per-thread predicate needs broadcast);
 *   - a stray signal or broadcast on either cond, changing nothing.
 * Every wait is gs_cond_wait or gs_cond_wait_until with a short random deadline (some
 * already past), every notify is made with or without the mutex held. The main thread
 * also posts a token and a letter every millisecond so that the world never stalls.
 *
 * Invariants, checked by the threads holding the mutex:
 *   - mutual exclusion: a wait returns with the mutex held, and nobody else holds it;
 *   - wait returns only 0 or ETIMEDOUT, and never ETIMEDOUT before its deadline;
 *   - tokens: produced == consumed + left, left >= 0; mail: seen[i] <= mail[i];
 *   - at the end of a phase, after every thread has gone: both conds' `waiters_` and
 *     the mutex state are zero (white-box: the zeroed state is the idle state).
 *
 * The lost-wakeup hunter, a watchdog thread, looks at the world every 50 ms (under the
 * mutex, taken with a deadline so that a stuck mutex is noticed too) and fails loudly
 * — prints every thread's state, the conds' and the mutex's words, exits 1 — when
 *   - a thread waits for its mail although mail was posted (and the cond broadcast)
 *     more than STUCK seconds ago, or
 *   - tokens are available, token consumers are blocked, and no token has been
 *     consumed for STUCK seconds (every produced token was followed by a signal);
 * and the end of a phase fails the same way if the threads do not all leave within
 * STUCK seconds of the final broadcast.
 *
 * usage: stress_cond [SECONDS]   prints progress each second and a final verdict;
 * exits non-zero on any violation. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gosync/cond.h>
#include <gosync/mutex.h>
#include <gosync/time.h>

#include "hang_guard.h"

enum { MIN_THREADS = 4, MAX_THREADS = 64 };

/* What a thread is doing, as the hunter sees it (under the mutex). */
enum tstate { RUNNING, WAIT_TOKEN, WAIT_MAIL, GONE };
static const char *const state_name[] = { "running", "wait-token", "wait-mail", "gone" };

struct world {
	gs_mutex_t m;
	gs_cond_t tok, mail;
	int nthreads;
	int quit;                        /* atomic: leave the operation loop */
	/* under m */
	int stop;                        /* waits stop waiting */
	long tokens, produced, consumed;
	int blocked_tok;                 /* threads inside a wait on tok */
	long letters[MAX_THREADS], seen[MAX_THREADS];
	int64_t pending_since[MAX_THREADS]; /* first unread letter's post time, 0: none */
	int state[MAX_THREADS];
	int64_t state_since[MAX_THREADS];
	/* the notification ledger, per cond (0 tok, 1 mail), under m */
	long bstarted[2], sstarted[2];   /* broadcasts / signals counted before the call */
	int inwait[2];                   /* threads inside a wait call on the cond */
	long finished[2];                /* atomic: notify calls returned */
	/* each thread's current wait call, under m */
	int wc_cond[MAX_THREADS];        /* -1: not waiting */
	long wc_id[MAX_THREADS];         /* wait calls made */
	long wc_b[MAX_THREADS], wc_s[MAX_THREADS]; /* bstarted / sstarted at entry */
	int wc_ahead[MAX_THREADS];       /* others inside a wait call on it at entry */
	long wc_inflight[MAX_THREADS];   /* notify calls in flight at entry (or more) */
	int inside;                      /* atomic: holders of m in a checked section */
	int exited;                      /* atomic */
	pthread_t threads[MAX_THREADS];
};

/* Totals over the run (atomic). */
static struct {
	long ops, waits, timeouts, woken, signals, broadcasts, held, letters, tokens;
} stats;

static int64_t stuck_ns;           /* how long a waiter may stay blocked after its event */
static pthread_mutex_t world_lock = PTHREAD_MUTEX_INITIALIZER; /* hunter vs phase end */
static struct world *current;      /* under world_lock */
static int hunter_quit;            /* atomic */

extern void __tsan_acquire(void *addr) __attribute__((weak));

static void bump(long *p, long n) { __atomic_fetch_add(p, n, __ATOMIC_RELAXED); }
static long get(const long *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Prints the world as far as it can be read; the caller holds m or gave up on it. */
static void dump(struct world *w, const char *why)
{
	int64_t now = gs_now();
	fprintf(stderr, "stress_cond: FAILURE: %s\n", why);
	fprintf(stderr, "  mutex state 0x%x, tok.waiters_ %u, mail.waiters_ %u\n",
		__atomic_load_n(&w->m.state_, __ATOMIC_RELAXED),
		__atomic_load_n(&w->tok.waiters_, __ATOMIC_RELAXED),
		__atomic_load_n(&w->mail.waiters_, __ATOMIC_RELAXED));
	fprintf(stderr, "  tokens %ld produced %ld consumed %ld blocked on tok %d, stop %d\n",
		w->tokens, w->produced, w->consumed, w->blocked_tok, w->stop);
	for (int x = 0; x < 2; x++)
		fprintf(stderr, "  %s: broadcasts %ld signals %ld counted, %ld calls returned, "
			"%d threads inside wait\n", x ? "mail" : "tok ", w->bstarted[x], w->sstarted[x],
			__atomic_load_n(&w->finished[x], __ATOMIC_RELAXED), w->inwait[x]);
	for (int i = 0; i < w->nthreads; i++) {
		fprintf(stderr, "  thread %2d: %-10s for %6.3f s, letters %ld seen %ld%s", i,
			state_name[w->state[i]], (double)(now - w->state_since[i]) / GS_SEC,
			w->letters[i], w->seen[i],
			w->pending_since[i] ? " (unread)" : "");
		if (w->wc_cond[i] >= 0)
			fprintf(stderr, ", in wait call %ld on %s: entered at b%ld s%ld, %d ahead",
				w->wc_id[i], w->wc_cond[i] ? "mail" : "tok", w->wc_b[i], w->wc_s[i],
				w->wc_ahead[i]);
		fputc('\n', stderr);
	}
	fflush(stderr);
}

static void fail(struct world *w, const char *why)
{
	dump(w, why);
	exit(1);
}

/* The mutex is held by the caller: check that nobody else is inside. */
static void enter(struct world *w)
{
	if (__atomic_add_fetch(&w->inside, 1, __ATOMIC_ACQ_REL) != 1)
		fail(w, "two threads hold the mutex");
}

static void leave(struct world *w) { __atomic_sub_fetch(&w->inside, 1, __ATOMIC_ACQ_REL); }

static void check_counts(struct world *w, int self)
{
	if (w->tokens < 0 || w->produced != w->consumed + w->tokens)
		fail(w, "token accounting broken");
	if (self >= 0 && w->seen[self] > w->letters[self])
		fail(w, "read more mail than was posted");
}

static void set_state(struct world *w, int self, int s)
{
	w->state[self] = s;
	w->state_since[self] = gs_now();
}

/* One wait on c, plain or with a random short deadline (sometimes past). Called and
 * returns with m held and checked-in (enter). */
static int cond_index(struct world *w, gs_cond_t *c) { return c == &w->tok ? 0 : 1; }

static int wait_once(struct world *w, int self, gs_cond_t *c, uint64_t *rnd)
{
	uint64_t r = xorshift(rnd) % 8;
	int rc = 0, x = cond_index(w, c);
	int64_t deadline = GS_NO_DEADLINE;

	if (self >= 0) {
		w->wc_cond[self] = x;
		w->wc_b[self] = w->bstarted[x];
		w->wc_s[self] = w->sstarted[x];
		w->wc_ahead[self] = w->inwait[x];
		/* finished may be read stale (low): an overestimate, which is safe */
		w->wc_inflight[self] = w->bstarted[x] + w->sstarted[x] -
				       __atomic_load_n(&w->finished[x], __ATOMIC_RELAXED);
	}
	w->inwait[x]++;
	leave(w);
	if (r < 3) {
		gs_cond_wait(c, &w->m);
	} else {
		deadline = r == 3 ? gs_now() - (int64_t)(xorshift(rnd) % 1000)
				  : gs_now() + (int64_t)(xorshift(rnd) % 500) * GS_USEC;
		rc = gs_cond_wait_until(c, &w->m, deadline);
	}
	enter(w);
	w->inwait[x]--;
	if (self >= 0) {
		/* Woken (0) means a signal or broadcast reached us: one that was counted
		 * after we entered, or one already in flight then. Anything else is a
		 * spurious wakeup. */
		if (rc == 0 && w->bstarted[x] == w->wc_b[self] && w->sstarted[x] == w->wc_s[self] &&
		    w->wc_inflight[self] == 0)
			fail(w, "spurious wakeup: wait returned 0 with no signal or broadcast");
		w->wc_cond[self] = -1;
		w->wc_id[self]++;
	}
	bump(&stats.waits, 1);
	if (rc == ETIMEDOUT) {
		bump(&stats.timeouts, 1);
		if (gs_now() < deadline)
			fail(w, "wait_until returned ETIMEDOUT before its deadline");
	} else if (rc == 0) {
		bump(&stats.woken, 1);
	} else {
		fail(w, "wait_until returned neither 0 nor ETIMEDOUT");
	}
	return rc;
}

/* Signal or broadcast c, with m held (the caller holds it) or after releasing it;
 * returns with m released. */
static void notify_and_unlock(struct world *w, gs_cond_t *c, bool all, int times, uint64_t *rnd)
{
	bool held = xorshift(rnd) & 1;
	int x = cond_index(w, c);

	if (all)
		w->bstarted[x] += times;
	else
		w->sstarted[x] += times;
	if (!held) {
		leave(w);
		gs_mutex_unlock(&w->m);
	}
	for (int i = 0; i < times; i++) {
		/* With the mutex held nobody can queue (a waiter queues before it lets the
		 * mutex go) and queued waiters can only leave by timing out, so the cond's
		 * queue is exactly what notify acts on (white-box: waiters_). */
		uint32_t before = held ? __atomic_load_n(&c->waiters_, __ATOMIC_RELAXED) : 0;
		if (all)
			gs_cond_broadcast(c);
		else
			gs_cond_signal(c);
		if (held) {
			uint32_t after = __atomic_load_n(&c->waiters_, __ATOMIC_RELAXED);
			if (all && after != 0)
				fail(w, "broadcast under the mutex left waiters queued");
			if (!all && before > 0 && after >= before)
				fail(w, "signal under the mutex found waiters and took none");
		}
		__atomic_fetch_add(&w->finished[x], 1, __ATOMIC_RELAXED);
	}
	if (held) {
		leave(w);
		gs_mutex_unlock(&w->m);
		bump(&stats.held, times);
	}
	bump(all ? &stats.broadcasts : &stats.signals, times);
}

static void lock(struct world *w)
{
	gs_mutex_lock(&w->m);
	enter(w);
}

static void unlock(struct world *w)
{
	leave(w);
	gs_mutex_unlock(&w->m);
}

static void consume_token(struct world *w, int self, uint64_t *rnd)
{
	lock(w);
	check_counts(w, self);
	while (w->tokens == 0 && !w->stop) {
		w->blocked_tok++;
		set_state(w, self, WAIT_TOKEN);
		int rc = wait_once(w, self, &w->tok, rnd);
		set_state(w, self, RUNNING);
		w->blocked_tok--;
		if (rc == ETIMEDOUT && xorshift(rnd) % 2)
			break; /* give up (a token that came meanwhile is still taken below) */
	}
	if (w->tokens > 0) {
		w->tokens--;
		w->consumed++;
	}
	check_counts(w, self);
	unlock(w);
}

static void produce_tokens(struct world *w, int n, uint64_t *rnd)
{
	lock(w);
	w->tokens += n;
	w->produced += n;
	check_counts(w, -1);
	bump(&stats.tokens, n);
	/* one signal per token, or one broadcast for all of them */
	if (n > 1 && xorshift(rnd) % 2)
		notify_and_unlock(w, &w->tok, true, 1, rnd);
	else
		notify_and_unlock(w, &w->tok, false, n, rnd);
}

static void wait_mail(struct world *w, int self, uint64_t *rnd)
{
	lock(w);
	check_counts(w, self);
	set_state(w, self, WAIT_MAIL);
	while (w->letters[self] == w->seen[self] && !w->stop) {
		int rc = wait_once(w, self, &w->mail, rnd);
		if (rc == ETIMEDOUT && xorshift(rnd) % 3 == 0)
			break;
	}
	if (w->letters[self] != w->seen[self]) {
		w->seen[self] = w->letters[self];
		w->pending_since[self] = 0;
	}
	set_state(w, self, RUNNING);
	check_counts(w, self);
	unlock(w);
}

static void post_mail(struct world *w, int to, uint64_t *rnd)
{
	lock(w);
	w->letters[to]++;
	if (!w->pending_since[to])
		w->pending_since[to] = gs_now();
	bump(&stats.letters, 1);
	notify_and_unlock(w, &w->mail, true, 1, rnd);
}

static void stray_notify(struct world *w, uint64_t *rnd)
{
	gs_cond_t *c = xorshift(rnd) % 2 ? &w->tok : &w->mail;
	lock(w);
	notify_and_unlock(w, c, xorshift(rnd) % 2, 1, rnd);
}

struct worker_arg {
	struct world *w;
	int self;
	uint64_t seed;
};

static void *worker(void *p)
{
	struct worker_arg *a = p;
	struct world *w = a->w;
	int self = a->self;
	uint64_t rnd = a->seed | 1;

	while (!__atomic_load_n(&w->quit, __ATOMIC_ACQUIRE)) {
		uint64_t r = xorshift(&rnd) % 100;
		if (r < 30)
			consume_token(w, self, &rnd);
		else if (r < 48)
			produce_tokens(w, 1 + (int)(xorshift(&rnd) % 3), &rnd);
		else if (r < 70)
			wait_mail(w, self, &rnd);
		else if (r < 92)
			post_mail(w, (self + 1 + (int)(xorshift(&rnd) % (uint64_t)(w->nthreads - 1))) % w->nthreads, &rnd);
		else
			stray_notify(w, &rnd);
		bump(&stats.ops, 1);
		if (xorshift(&rnd) % 32 == 0)
			sched_yield();
	}
	lock(w);
	set_state(w, self, GONE);
	unlock(w);
	__atomic_fetch_add(&w->exited, 1, __ATOMIC_RELEASE);
	free(a);
	return NULL;
}

/* --- the lost-wakeup hunter ------------------------------------------------------- */

struct token_watch {
	struct world *w;
	int64_t since;     /* tokens > 0 with consumers blocked, since; 0: not now */
	long consumed;     /* consumed count at `since` */
	int64_t owed_since[MAX_THREADS]; /* a notify owes thread i a wakeup, since */
	long owed_call[MAX_THREADS];     /* ... in this wait call of i */
};

static void hunt(struct world *w, struct token_watch *tw)
{
	if (gs_mutex_lock_until(&w->m, gs_now() + stuck_ns) != 0)
		fail(w, "the mutex could not be taken for STUCK seconds (lost wakeup on the mutex?)");
	enter(w);
	int64_t now = gs_now();
	for (int i = 0; i < w->nthreads; i++)
		if (w->state[i] == WAIT_MAIL && w->pending_since[i] &&
		    now - w->pending_since[i] > stuck_ns) {
			char why[160];
			snprintf(why, sizeof why, "lost wakeup: thread %d still waits for mail "
				 "posted and broadcast %.3f s ago", i,
				 (double)(now - w->pending_since[i]) / GS_SEC);
			fail(w, why);
		}
	if (tw->w != w) {
		memset(tw, 0, sizeof *tw);
		tw->w = w;
	}
	/* The ledger: a thread inside a wait call on cond x is owed a wakeup once a
	 * broadcast on x was counted after it entered, or more signals than there were
	 * threads waiting ahead of it (FIFO: each signal takes the oldest). */
	for (int i = 0; i < w->nthreads; i++) {
		int x = w->wc_cond[i];
		bool owed = x >= 0 && (w->bstarted[x] > w->wc_b[i] ||
				       w->sstarted[x] - w->wc_s[i] > w->wc_ahead[i]);
		if (!owed) {
			tw->owed_since[i] = 0;
			continue;
		}
		if (!tw->owed_since[i] || tw->owed_call[i] != w->wc_id[i]) {
			tw->owed_since[i] = now;
			tw->owed_call[i] = w->wc_id[i];
		} else if (now - tw->owed_since[i] > stuck_ns) {
			char why[200];
			snprintf(why, sizeof why, "lost wakeup: thread %d still in its wait on %s, "
				 "%ld broadcasts and %ld signals after it queued (%d ahead of it)",
				 i, x ? "mail" : "tok", w->bstarted[x] - w->wc_b[i],
				 w->sstarted[x] - w->wc_s[i], w->wc_ahead[i]);
			fail(w, why);
		}
	}
	for (int x = 0; x < 2; x++) {
		gs_cond_t *c = x ? &w->mail : &w->tok;
		if (__atomic_load_n(&c->waiters_, __ATOMIC_RELAXED) > (uint32_t)w->inwait[x])
			fail(w, "cond counts more queued waiters than threads inside wait");
	}
	if (w->tokens > 0 && w->blocked_tok > 0) {
		if (!tw->since || tw->consumed != w->consumed) {
			tw->since = now;
			tw->consumed = w->consumed;
		} else if (now - tw->since > stuck_ns) {
			fail(w, "lost wakeup: tokens available, consumers blocked on tok, "
				"and nothing consumed for STUCK seconds");
		}
	} else {
		tw->since = 0;
	}
	leave(w);
	gs_mutex_unlock(&w->m);
}

static void *hunter(void *arg)
{
	struct token_watch tw = { 0 };
	(void)arg;

	while (!__atomic_load_n(&hunter_quit, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&world_lock);
		if (current)
			hunt(current, &tw);
		pthread_mutex_unlock(&world_lock);
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* --- phases ------------------------------------------------------------------------ */

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

static void run_phase(int nthreads, int64_t until, uint64_t *rnd)
{
	struct world *w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->nthreads = nthreads;
	int64_t t0 = gs_now();
	for (int i = 0; i < nthreads; i++) {
		w->state_since[i] = t0;
		w->wc_cond[i] = -1;
	}
	for (int i = 0; i < nthreads; i++) {
		struct worker_arg *a = malloc(sizeof *a);
		if (!a)
			abort();
		*a = (struct worker_arg){ w, i, xorshift(rnd) };
		if (pthread_create(&w->threads[i], NULL, worker, a) != 0) {
			fprintf(stderr, "stress_cond: pthread_create failed\n");
			exit(2);
		}
	}
	pthread_mutex_lock(&world_lock);
	current = w;
	pthread_mutex_unlock(&world_lock);

	/* The ticker: a token and a letter every millisecond keep everyone moving. */
	while (gs_now() < until) {
		produce_tokens(w, 1, rnd);
		post_mail(w, (int)(xorshift(rnd) % (uint64_t)nthreads), rnd);
		sleep_us(1000);
	}

	lock(w);
	w->stop = 1;
	__atomic_store_n(&w->quit, 1, __ATOMIC_RELEASE);
	w->bstarted[0]++;
	w->bstarted[1]++;
	unlock(w);
	gs_cond_broadcast(&w->tok);
	gs_cond_broadcast(&w->mail);
	__atomic_fetch_add(&w->finished[0], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->finished[1], 1, __ATOMIC_RELAXED);
	int64_t give_up = gs_now() + stuck_ns;
	while (__atomic_load_n(&w->exited, __ATOMIC_ACQUIRE) != nthreads) {
		if (gs_now() > give_up) {
			pthread_mutex_lock(&world_lock); /* keep the hunter off */
			(void)gs_mutex_lock_until(&w->m, gs_now() + GS_SEC); /* dump anyway */
			fail(w, "lost wakeup: threads still blocked STUCK seconds after the final broadcast");
		}
		sleep_us(1000);
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(w->threads[i], NULL);

	pthread_mutex_lock(&world_lock);
	current = NULL;
	pthread_mutex_unlock(&world_lock);

	/* Everyone is gone: the world must be idle and consistent. */
	if (__atomic_load_n(&w->tok.waiters_, __ATOMIC_RELAXED) != 0 ||
	    __atomic_load_n(&w->mail.waiters_, __ATOMIC_RELAXED) != 0 ||
	    __atomic_load_n(&w->m.state_, __ATOMIC_RELAXED) != 0)
		fail(w, "not idle after the phase (waiters_ or mutex state not zero)");
	check_counts(w, -1);
	for (int i = 0; i < nthreads; i++)
		check_counts(w, i);
	free(w);
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 3;
	uint64_t rnd = (uint64_t)gs_now() | 1;
	long phases = 0;
	pthread_t h;

	if (seconds <= 0)
		seconds = 1;
	hang_guard_arm("stress_cond", seconds);
	stuck_ns = (__tsan_acquire ? 20 : 5) * GS_SEC;
	if (pthread_create(&h, NULL, hunter, NULL) != 0)
		return 2;

	int64_t start = gs_now(), end = start + seconds * GS_SEC, next_report = start + GS_SEC;
	while (gs_now() < end) {
		int n = MIN_THREADS + (int)(xorshift(&rnd) % (MAX_THREADS - MIN_THREADS + 1));
		int64_t len = (int64_t)(200 + xorshift(&rnd) % 800) * GS_MSEC;
		int64_t until = gs_now() + len;
		if (until > end)
			until = end;
		run_phase(n, until, &rnd);
		phases++;
		if (gs_now() >= next_report) {
			while (next_report <= gs_now())
				next_report += GS_SEC;
			printf("stress_cond: %llds phase %ld (%d threads) ops %ld waits %ld timed out %ld "
			       "signals %ld broadcasts %ld\n",
			       (long long)((gs_now() - start) / GS_SEC), phases, n, get(&stats.ops),
			       get(&stats.waits), get(&stats.timeouts), get(&stats.signals),
			       get(&stats.broadcasts));
			fflush(stdout);
		}
	}
	__atomic_store_n(&hunter_quit, 1, __ATOMIC_RELEASE);
	pthread_join(h, NULL);

	printf("stress_cond: OK %ld phases, %ld ops, %ld waits (%ld woken, %ld timed out), "
	       "%ld tokens, %ld letters, %ld signals, %ld broadcasts (%ld notifies with the mutex held), "
	       "0 lost wakeups\n",
	       phases, get(&stats.ops), get(&stats.waits), get(&stats.woken), get(&stats.timeouts),
	       get(&stats.tokens), get(&stats.letters), get(&stats.signals), get(&stats.broadcasts),
	       get(&stats.held));
	return 0;
}
