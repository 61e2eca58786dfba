/* gs_sem — a weighted, FIFO-fair counting semaphore: Go's x/sync/semaphore.Weighted
 * on park. (Not to be confused with sema.c, Go's internal runtime semaphore.)
 *
 * Go's Weighted is a mutex, a counter `cur` of units held and a list of waiters,
 * each with its weight n and a channel. Acquire takes the units at once when they
 * fit and nobody waits; otherwise it joins the tail of the list. Release subtracts
 * and then walks the list from the head, granting every waiter that fits, and stops
 * at the first that does not: under load, skipping ahead to smaller requests would
 * starve the large one at the head. Here the mutex and the list are park's bucket
 * (lock and queue, keyed by the semaphore's address), the counter is the state word,
 * and a waiter's weight travels as its park_token, which an unpark filter can see.
 *
 * State word (64 bits, state_; capacity_ is fixed at init and only read):
 *
 *   HELD     bits 0..62: units held. Counting held rather than available units makes
 *            GS_SEM_INIT(c) = { c, 0 } a static initializer and a zeroed semaphore
 *            one of capacity 0. held <= capacity_ <= INT64_MAX < 2^63, so held never
 *            reaches the flag and held + n (n <= capacity_) never wraps 64 bits.
 *   WAITERS  bit 63: threads are queued in park under this semaphore's address.
 *
 * Legal states, whenever the bucket lock of the semaphore is free:
 *   held                   nobody queued (0 <= held <= capacity)
 *   held | WAITERS         queued; the head waiter's n does not fit:
 *                          n > capacity - held (so held > 0: every queued n is
 *                          <= capacity, hence someone holds units and will release)
 * with one brief, benign exception: after a head waiter timed out, until its notify
 * pass (below) has run, the waiter now at the head may fit.
 * Illegal: WAITERS with an empty queue (try_acquire would fail forever), no WAITERS
 * with a non-empty queue (a release would take the fast path and wake nobody: a lost
 * wakeup), held > capacity.
 *
 * Who changes what:
 *   HELD     + by acquirers' CAS when WAITERS is clear (fast path, try_acquire, and
 *            acquire_validate, under the bucket lock); - by release's fast CAS when
 *            WAITERS is clear; otherwise only by grant_cb, under the bucket lock,
 *            which subtracts the released units and adds those of every waiter it
 *            dequeued (the granted waiter never touches the word: its units were
 *            counted for it).
 *   WAITERS  only under the bucket lock: set by acquire_validate when it enqueues;
 *            cleared by grant_cb when no waiter remains, and by acquire_timed_out
 *            when the last waiter leaves. So WAITERS == "queue non-empty" whenever
 *            the bucket lock is free. While WAITERS is set, every path outside the
 *            bucket lock fails its CAS or defers to the slow path, so the word only
 *            changes under the bucket lock; grant_cb still uses a CAS loop, which
 *            costs nothing and does not depend on that argument.
 *
 * Operations:
 *   acquire(n)  fast: s = load; if !(s & WAITERS) and n <= capacity - held, CAS
 *               held += n. slow (acquire_slow, written once with a deadline): n >
 *               capacity can never be served, so without queueing (it must not hold
 *               up the waiters behind it) sleep until the deadline on a private
 *               futex word nobody wakes, then ETIMEDOUT. Else park with park_token =
 *               n; acquire_validate re-checks under the bucket lock: if nobody is
 *               queued and n fits, it takes the units with a CAS and declines to
 *               sleep; otherwise it sets WAITERS and park enqueues us at the tail
 *               (strict FIFO). Woken with GRANTED: the releaser already added our n
 *               to held; return 0.
 *   release(n)  fast: s = load; held < n is fatal; if !(s & WAITERS), CAS held -= n.
 *               slow: gs__unpark_filter with grant_filter and grant_cb. The filter
 *               sees the waiters in FIFO order and keeps a running tally that starts
 *               at held - n (the units free are capacity - tally): it UNPARKs each
 *               waiter whose n fits, adding n to the tally, and STOPs at the first
 *               that does not. grant_cb, still under the bucket lock, stores
 *               held = tally and WAITERS = have_more, and hands GRANTED to everyone
 *               dequeued.
 *   try_acquire false if WAITERS is set or n does not fit (as in Go: no barging past
 *               the queue, even when the units are free), else the fast path's CAS.
 *
 * Memory order. Every CAS that adds units is acquire; every operation that subtracts
 * units is release: release's fast CAS, and grant_cb's CAS, which is acq_rel. All
 * writes to the word are read-modify-writes, so each release heads a release
 * sequence that runs through every later change of the word: an acquirer whose CAS
 * reads the word synchronizes with all releases before it. A granted waiter never
 * reads the word; it synchronizes with its releaser through park (grant_cb runs
 * before the release store of the waiter's wake word, which pairs with the waiter's
 * acquire load of it), and with the releases before that one because grant_cb's CAS
 * is also acquire. WAITERS changes (acquire_validate's CAS when it enqueues,
 * acquire_timed_out's fetch_and) are relaxed: they decide who does what, and the
 * bucket lock (acquire/release) orders everything done under it. Capacity is
 * immutable after init and read relaxed. A failed try_acquire synchronizes with
 * nothing.
 *
 * No touch after release (DESIGN.md §3 rule 1). The operation that gives units back
 * is the last access to the semaphore: release's fast CAS, or grant_cb's CAS, after
 * which park only touches its bucket and the woken waiters' own stack records. Misuse
 * found inside grant_cb (more released than held) changes nothing and is reported
 * after park returns, without touching the semaphore again.
 *
 * Timeouts (rule 2). A waiter whose deadline passes after a releaser dequeued it
 * takes what it was handed and returns 0: its units were counted by the releaser, in
 * the critical section that dequeued it. A waiter still queued is removed by park,
 * and acquire_timed_out, in the same critical section, clears WAITERS if it was the
 * last — it has no units to give back, since units are only counted when a waiter is
 * dequeued. But if it was at the head, blocking smaller waiters behind it that fit
 * now, they must be granted, and a park callback may not unpark. So after park
 * returns TIMEDOUT with waiters remaining, the timed-out thread runs the same grant
 * walk as release with n = 0: a "notify" pass (Go does the same, notifyWaiters from
 * a cancelled Acquire). This is still rule 2: every waiter is dequeued, and its
 * units counted, by whoever dequeues it under the bucket lock — the notify pass is
 * just another unparker. The delay between the two critical sections is harmless:
 * in it WAITERS is still set, so no newcomer can take units past the queue (it
 * queues behind, in order), releases take the slow path and grant the head
 * themselves, and the notify pass that follows grants whatever is still due (a
 * second walk that finds the head does not fit changes nothing). Nobody can be left
 * stranded, because the timed-out thread does not return before its pass. We do not
 * know whether we were the head, so we notify whenever others remain; the pass costs
 * one bucket lock. The pass touches the semaphore after our own wait ended, but we
 * are still inside an acquire call, so the object is still alive by contract, and its
 * grant_cb store is its last access, as in release.
 *
 * ThreadSanitizer sees the atomics above, but a user program built with TSan against
 * the plain library does not see ours, and a semaphore is not a mutex (no owner; a
 * release from another thread is normal), so the public calls test gs__tsan_on() once
 * and branch to a cold copy that does __tsan_release(s) before a release and
 * __tsan_acquire(s) after a successful acquire.
 */
#include <errno.h>

#include <gosync/sem.h>

#include "fatal.h"
#include "futex.h"
#include "park.h"
#include "tsan_sync.h"

#define WAITERS ((uint64_t)1 << 63)
#define HELD_MASK (WAITERS - 1)

enum {
	TOKEN_GRANTED = 1, /* the releaser counted your units: you hold them */
};

static inline uint64_t load(const gs_sem_t *s)
{
	return __atomic_load_n(&s->state_, __ATOMIC_RELAXED);
}

static inline bool cas(gs_sem_t *s, uint64_t *old, uint64_t new, int order)
{
	return __atomic_compare_exchange_n(&s->state_, old, new, false, order, __ATOMIC_RELAXED);
}

static inline int64_t capacity(const gs_sem_t *s)
{
	return __atomic_load_n(&s->capacity_, __ATOMIC_RELAXED);
}

static inline int64_t held(uint64_t s) { return (int64_t)(s & HELD_MASK); }

/* n units fit next to those held in s. */
static inline bool fits(int64_t cap, uint64_t s, int64_t n) { return n <= cap - held(s); }

/* The fast paths: nobody queued and the units fit. acquire: pairs with the release
 * (fast CAS or grant_cb) that gave the units back. */
static inline bool acquire_fast(gs_sem_t *s, int64_t n)
{
	int64_t cap = capacity(s);
	uint64_t v = load(s);

	while (!(v & WAITERS) && fits(cap, v, n))
		if (cas(s, &v, v + (uint64_t)n, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/* A thread in acquire_slow, as park's callbacks see it. */
struct acquirer {
	gs_sem_t *s;
	int64_t n;
	bool got;        /* acquire_validate took the units */
	bool others;     /* acquire_timed_out: waiters remain after we left */
};

/* Under the bucket lock: take the units if nobody is queued and they fit (then do
 * not sleep), else record that a waiter is queued and sleep. */
static bool acquire_validate(void *arg)
{
	struct acquirer *a = arg;
	int64_t cap = capacity(a->s);
	uint64_t v = load(a->s);

	for (;;) {
		if (!(v & WAITERS) && fits(cap, v, a->n)) {
			/* acquire: pairs with the release that gave the units back */
			if (cas(a->s, &v, v + (uint64_t)a->n, __ATOMIC_ACQUIRE)) {
				a->got = true;
				return false;
			}
			continue;
		}
		if ((v & WAITERS) || cas(a->s, &v, v | WAITERS, __ATOMIC_RELAXED))
			return true;
	}
}

/* Under the bucket lock, after park removed us on our deadline. */
static void acquire_timed_out(void *arg, bool others_remain)
{
	struct acquirer *a = arg;

	a->others = others_remain;
	if (!others_remain)
		__atomic_fetch_and(&a->s->state_, ~WAITERS, __ATOMIC_RELAXED);
}

/* A grant walk (release's slow path, or a timed-out waiter's notify pass, n = 0). */
struct granter {
	gs_sem_t *s;
	int64_t n;        /* units given back by this call */
	int64_t cap;
	int64_t tally;    /* units held once the waiters dequeued so far are counted */
	int64_t granted;  /* units of the waiters dequeued */
	bool started;     /* tally was loaded */
	bool overdrawn;   /* released more than held: fatal, after the walk */
};

/* Under the bucket lock, for each waiter in FIFO order; park_token is its n. */
static enum gs__filter_op grant_filter(void *arg, uint64_t park_token)
{
	struct granter *g = arg;
	int64_t w = (int64_t)park_token;

	if (!g->started) {
		/* Waiters are queued, so WAITERS is set and the word only changes
		 * under this lock (see the essay): the tally stays exact. */
		int64_t h = held(load(g->s));
		g->started = true;
		g->overdrawn = h < g->n;
		g->tally = h - g->n;
	}
	if (g->overdrawn || w > g->cap - g->tally)
		return GS_FILTER_STOP; /* the head is not overtaken by smaller ones */
	g->tally += w;
	g->granted += w;
	return GS_FILTER_UNPARK;
}

/* Under the bucket lock, after the walk: give back n, count the dequeued waiters'
 * units for them, and keep WAITERS equal to "queue non-empty". */
static uint64_t grant_cb(void *arg, struct gs__unpark_result r)
{
	struct granter *g = arg;
	uint64_t v = load(g->s);

	if (g->overdrawn)
		return 0; /* nobody was dequeued; the caller dies */
	for (;;) {
		if (held(v) < g->n) {
			g->overdrawn = true; /* no waiter was queued: nobody dequeued */
			return 0;
		}
		int64_t h = held(v) - g->n + g->granted;
		if (h > g->cap)
			gs__internal_error("semaphore: granted more than capacity");
		uint64_t nv = (uint64_t)h | (r.have_more ? WAITERS : 0);
		/* release: pairs with the acquire CAS of later acquirers; acquire: the
		 * waiters we dequeued (woken by park after this) see the releases
		 * before ours. The last access to the semaphore (rule 1). */
		if (cas(g->s, &v, nv, __ATOMIC_ACQ_REL))
			return TOKEN_GRANTED;
	}
}

/* Gives back n units (0: only grant what is due) and grants the waiters that fit. */
static void grant(gs_sem_t *s, int64_t n)
{
	struct granter g = { .s = s, .n = n, .cap = capacity(s) };

	gs__unpark_filter(s, grant_filter, grant_cb, &g);
	if (g.overdrawn)
		gs__fatal("semaphore: released more than held");
}

/* Sleeps until the deadline on a word nobody wakes. */
static int sleep_until(int64_t deadline)
{
	uint32_t never = 0;

	while (gs__futex_wait(&never, 0, CLOCK_MONOTONIC, deadline) != ETIMEDOUT)
		;
	return ETIMEDOUT;
}

static int acquire_slow(gs_sem_t *s, int64_t n, int64_t deadline)
{
	if (n > capacity(s))
		return sleep_until(deadline); /* never served; don't hold others up */

	struct acquirer a = { .s = s, .n = n };
	struct gs__park_args pa = {
		.key = s, .validate = acquire_validate, .timed_out = acquire_timed_out,
		.arg = &a, .park_token = (uint64_t)n,
		.clock = CLOCK_MONOTONIC, .deadline = deadline,
	};
	uint64_t token = 0;

	switch (gs__park(&pa, &token)) {
	case GS_PARK_INVALID:
		if (!a.got)
			gs__internal_error("semaphore: validate neither took nor queued");
		return 0;
	case GS_PARK_UNPARKED:
		if (token != TOKEN_GRANTED)
			gs__internal_error("semaphore: woken without a grant");
		return 0;
	case GS_PARK_TIMEDOUT:
		if (a.others)
			grant(s, 0); /* the notify pass: we may have blocked the head */
		return ETIMEDOUT;
	}
	gs__internal_error("semaphore: unknown park status");
}

static inline int acquire_until(gs_sem_t *s, int64_t n, int64_t deadline)
{
	return acquire_fast(s, n) ? 0 : acquire_slow(s, n, deadline);
}

static inline bool try_acquire(gs_sem_t *s, int64_t n)
{
	return acquire_fast(s, n); /* fails while anyone is queued, as in Go */
}

static inline void release(gs_sem_t *s, int64_t n)
{
	uint64_t v = load(s);

	for (;;) {
		if (held(v) < n)
			gs__fatal("semaphore: released more than held");
		if (v & WAITERS)
			break;
		/* release: pairs with the acquire CAS of later acquirers. The last
		 * access to the semaphore (rule 1). */
		if (cas(s, &v, v - (uint64_t)n, __ATOMIC_RELEASE))
			return;
	}
	grant(s, n);
}

static inline void check_count(int64_t n)
{
	if (n < 0)
		gs__fatal("semaphore: negative count");
}

/* --- public calls: a cold annotated copy when a TSan runtime is present ------ */

void gs_sem_init(gs_sem_t *s, int64_t cap)
{
	gs_sem_init_available(s, cap, cap);
}

void gs_sem_init_available(gs_sem_t *s, int64_t cap, int64_t available)
{
	check_count(cap);
	check_count(available);
	if (available > cap)
		gs__fatal("semaphore: released more than held");
	__atomic_store_n(&s->capacity_, cap, __ATOMIC_RELAXED);
	__atomic_store_n(&s->state_, (uint64_t)(cap - available), __ATOMIC_RELAXED);
}

static __attribute__((noinline, cold)) int acquire_until_tsan(gs_sem_t *s, int64_t n,
							     int64_t deadline)
{
	int r = acquire_until(s, n, deadline);
	if (r == 0)
		gs__tsan_acquire(s);
	return r;
}

/* The one blocking acquire, in its deadline form; both public calls are this. */
static inline int sem_acquire_until(gs_sem_t *s, int64_t n, int64_t deadline)
{
	if (gs__tsan_on())
		return acquire_until_tsan(s, n, deadline);
	return acquire_until(s, n, deadline);
}

int gs_sem_acquire_until(gs_sem_t *s, int64_t n, int64_t deadline)
{
	check_count(n);
	return sem_acquire_until(s, n, deadline);
}

void gs_sem_acquire(gs_sem_t *s, int64_t n)
{
	check_count(n);
	if (n > capacity(s))
		gs__fatal("semaphore: acquire of more than capacity");
	(void)sem_acquire_until(s, n, GS_NO_DEADLINE);
}

static __attribute__((noinline, cold)) bool try_acquire_tsan(gs_sem_t *s, int64_t n)
{
	bool ok = try_acquire(s, n);
	if (ok)
		gs__tsan_acquire(s);
	return ok;
}

bool gs_sem_try_acquire(gs_sem_t *s, int64_t n)
{
	check_count(n);
	return gs__tsan_on() ? try_acquire_tsan(s, n) : try_acquire(s, n);
}

static __attribute__((noinline, cold)) void release_tsan(gs_sem_t *s, int64_t n)
{
	gs__tsan_release(s); /* before: after the release s may be freed */
	release(s, n);
}

void gs_sem_release(gs_sem_t *s, int64_t n)
{
	check_count(n);
	if (gs__tsan_on())
		release_tsan(s, n);
	else
		release(s, n);
}
