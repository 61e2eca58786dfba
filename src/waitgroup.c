/* gs_waitgroup — Go's sync.WaitGroup on park.
 *
 * A counter of outstanding events and the threads waiting for it to reach zero. As in
 * Go, one 64-bit word holds both the counter and the number of waiters, so add() can
 * tell in one atomic step whether its decrement is the last one and whether anybody
 * has to be woken; the waiters themselves sleep in park's queue keyed by the wait
 * group's address (Go uses its runtime semaphore; we use park directly because the
 * last done() must reset the word and wake everybody in one step, see below).
 *
 * State word (64 bits; the whole gs_waitgroup_t):
 *
 *   COUNTER   bits 63..32, a signed 32-bit count of outstanding events (add/done)
 *   WAITERS   bits 31..0, the number of threads queued in park under this address
 *
 * Legal states (counter c, waiters w):
 *   (0, 0)       idle: no round in progress, wait returns at once
 *   (c>0, 0)     a round in progress, nobody waiting
 *   (c>0, w>0)   a round in progress, w threads queued in park under the address;
 *                whenever the bucket lock of the address is free, w is exactly the
 *                number of queued waiters of this wait group
 * Illegal: c < 0 (fatal misuse, never stored); (0, w>0), waiters queued for an event
 * that has already happened: a lost wakeup. The protocol below never creates it.
 *
 * Who changes what:
 *   COUNTER   add()/done() with a CAS. Any change that does not bring it to zero
 *             while waiters are queued is a plain CAS outside park. The change to
 *             zero with waiters queued is made only by release_cb, under the bucket
 *             lock, together with WAITERS = 0 and with the dequeueing of those
 *             waiters: one step, so (0, w>0) is never visible.
 *   WAITERS   only under the bucket lock of the address: +1 by wait_validate in the
 *             critical section that enqueues the waiter (and only while COUNTER is
 *             not zero), -1 by wait_timed_out in the critical section that removes a
 *             timed-out waiter, and -unparked by release_cb in the critical section
 *             that dequeued them. Outside the lock the add() CAS carries WAITERS
 *             along unchanged.
 *
 * Why the last done() goes through park. In Go, Add decrements the word atomically
 * and then, seeing counter 0 and w waiters, resets the word and releases w semaphore
 * tokens. In C that is too late twice over: once the counter is 0, a waiter that just
 * timed out (or a new waiter, which returns at once) may return and free the wait
 * group, so the reset would write freed memory (DESIGN.md §3 rule 1); and a waiter
 * whose deadline passes between the decrement and the wake would have to know
 * whether it was counted (rule 2). So add() never makes that transition with an
 * atomic of its own: seeing that its new counter would be 0 while w > 0, it calls
 * gs__unpark_all, which dequeues every queued waiter of the address and runs
 * release_cb under the bucket lock. release_cb re-reads the word (other add()s may
 * have run meanwhile) and applies the delta again:
 *   - new counter 0: the waiter count must equal the number just dequeued, because
 *     waiters change only under this lock and every one of them was queued (anything
 *     else is an internal error). It stores (0, 0) and hands them TOKEN_DONE.
 *   - new counter not 0 (a legal add, one that started while the counter was above
 *     zero, raised it meanwhile): it stores (counter, w - unparked) and hands them
 *     TOKEN_RETRY; those waiters park again, as if never woken.
 * A wait group in the idle state therefore never has waiters, and a waiter found
 * still queued (wait_timed_out) always finds a non-zero counter.
 *
 * wait: one acquire load; counter 0 returns at once, even past the deadline. Else
 * park with wait_validate, which sleeps only if the counter is still non-zero and
 * registers the waiter in the same critical section that enqueues it, so a last
 * done() either sees the waiter (and wakes it) or the waiter sees the zero (and does
 * not sleep): no lost wakeup. Outcomes: INVALID, the counter reached 0 before we
 * could queue: return 0. TIMEDOUT, our deadline passed while we were still queued:
 * wait_timed_out has already taken us out of WAITERS, return ETIMEDOUT. UNPARKED
 * with TOKEN_DONE: the counter reached 0 (even if our deadline passed meanwhile: the
 * dequeuer decided, rule 2); return 0. With TOKEN_RETRY: park again.
 *
 * Misuse, with Go's messages and Go's checks:
 *   - "negative WaitGroup counter": the counter would go below zero. Checked by every
 *     CAS that applies a delta, so it is deterministic.
 *   - "WaitGroup is reused before previous Wait has returned": a waiter released with
 *     TOKEN_DONE finds the word non-zero before it returns: a new round's add (or a
 *     new waiter of it) came before this wait returned. As in Go it is detected only
 *     if the woken waiter is slow enough to see it.
 *   - "WaitGroup misuse: Add called concurrently with Wait": Go's check — a positive
 *     delta takes the counter from 0 while waiters are registered — is kept in every
 *     CAS that applies a delta. In Go it catches an Add landing between the last
 *     Done's decrement and its reset of the waiter count. Here that window does not
 *     exist (counter 0 implies waiters 0, see the table), so through the public API
 *     the same misuse either linearizes harmlessly (the add came first: release_cb
 *     sees a non-zero counter) or is caught by the reuse check above. The check
 *     remains as a guard of the invariant.
 * The counter is a 32-bit signed number, as in Go: an add that would overflow it
 * wraps negative and is reported as a negative counter.
 *
 * Memory order. Every modification of the word is a read-modify-write, so each
 * done()'s release heads a release sequence that no later modification breaks.
 *   - add()'s fast CAS is release; it pairs with the acquire load in wait (fast path)
 *     or in wait_validate (a waiter that finds the counter 0 does not sleep).
 *   - release_cb's CAS is acq_rel: acquire picks up every earlier done() (their
 *     release sequences), release publishes it all to later acquire loads of the
 *     word; the woken waiters are ordered after release_cb by park itself
 *     (wake_waiter's release store of the waiter's wake word pairs with gs__park's
 *     acquire load of it).
 *   - wait_validate's loads are acquire (a counter of 0 read there lets the waiter
 *     return); its CAS (WAITERS + 1) publishes nothing, and wait_timed_out's
 *     decrement is relaxed: they count, under the bucket lock.
 *   - the reuse check after TOKEN_DONE is an acquire load; it reads (0, 0) stored by
 *     release_cb, or a later value (then it is fatal anyway).
 * So everything a thread did before its done() happens before the return of every
 * wait that returns 0 after the counter reached zero. ETIMEDOUT synchronizes with
 * nothing.
 *
 * No touch after release (rule 1). The operation that lets a waiter finish is the
 * one that makes the counter 0: add()'s fast CAS (possible only when nobody waits) or
 * release_cb's CAS, run under the bucket lock, after which park touches only its
 * bucket and the dequeued waiters' own stack records. Before that operation the
 * counter is non-zero, so nobody may legally free the wait group. The TSan release
 * below is done before the decrement for the same reason.
 *
 * ThreadSanitizer (rule 5). A wait group is not a mutex, so no __tsan_mutex_* events:
 * the annotated copies do a __tsan_release(wg) in add() with a negative delta before
 * the decrement, and a __tsan_acquire(wg) in wait after it returns 0 (Go's race
 * annotations do the same).
 */
#include <errno.h>

#include <gosync/waitgroup.h>

#include "fatal.h"
#include "park.h"
#include "tsan_sync.h"

#define COUNTER_SHIFT 32
#define WAITERS_MASK  0xffffffffull

enum {
	TOKEN_DONE = 1,  /* the counter reached zero: return */
	TOKEN_RETRY = 2, /* an add raised the counter again before the last done: re-park */
};

#define MSG_NEGATIVE "sync: negative WaitGroup counter"
#define MSG_ADD_WAIT "sync: WaitGroup misuse: Add called concurrently with Wait"
#define MSG_REUSED   "sync: WaitGroup is reused before previous Wait has returned"

static inline int32_t counter_of(uint64_t s) { return (int32_t)(uint32_t)(s >> COUNTER_SHIFT); }
static inline uint32_t waiters_of(uint64_t s) { return (uint32_t)(s & WAITERS_MASK); }

static inline uint64_t make_state(int32_t counter, uint32_t waiters)
{
	return (uint64_t)(uint32_t)counter << COUNTER_SHIFT | waiters;
}

static inline uint64_t load(const gs_waitgroup_t *wg, int order)
{
	return __atomic_load_n(&wg->state_, order);
}

static inline bool cas(gs_waitgroup_t *wg, uint64_t *old, uint64_t new, int order, int fail_order)
{
	return __atomic_compare_exchange_n(&wg->state_, old, new, false, order, fail_order);
}

/* The counter of s plus delta (32-bit wrap-around, as in Go), with Go's checks. */
static inline int32_t next_counter(uint64_t s, int delta)
{
	int32_t v = (int32_t)((uint32_t)counter_of(s) + (uint32_t)delta);

	if (v < 0)
		gs__fatal(MSG_NEGATIVE);
	if (waiters_of(s) != 0 && delta > 0 && v == delta)
		gs__fatal(MSG_ADD_WAIT);
	return v;
}

/* --- add / done ------------------------------------------------------------ */

struct release {
	gs_waitgroup_t *wg;
	int delta;
};

/* Under the bucket lock, having dequeued every queued waiter of wg (r.unparked). */
static uint64_t release_cb(void *arg, struct gs__unpark_result r)
{
	struct release *rel = arg;
	gs_waitgroup_t *wg = rel->wg;
	/* acquire: see the previous done()s' release sequences (passed on below) */
	uint64_t s = load(wg, __ATOMIC_ACQUIRE);

	for (;;) {
		int32_t v = next_counter(s, rel->delta);
		uint32_t w = waiters_of(s);

		if (w < r.unparked || r.have_more)
			gs__internal_error("waitgroup: waiter count below queued waiters");
		if (v == 0) {
			if (w != r.unparked)
				gs__internal_error("waitgroup: waiter count differs from the dequeued waiters at zero");
			/* acq_rel: the last access to wg (rule 1); release pairs with the
			 * acquire loads of later waits and of the woken waiters' reuse check,
			 * which park's wake (release/acquire) orders after this. */
			if (cas(wg, &s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				return TOKEN_DONE;
		} else {
			/* A legal add raised the counter meanwhile: this is a plain
			 * decrement; the dequeued waiters re-park and re-register. */
			if (cas(wg, &s, make_state(v, w - r.unparked), __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				return TOKEN_RETRY;
		}
	}
}

/* The counter would reach zero with waiters queued: do it under the bucket lock. */
static __attribute__((noinline)) void add_slow(gs_waitgroup_t *wg, int delta)
{
	struct release rel = { .wg = wg, .delta = delta };

	gs__unpark_all(wg, release_cb, &rel);
}

static inline void add(gs_waitgroup_t *wg, int delta)
{
	uint64_t s = load(wg, __ATOMIC_RELAXED);

	for (;;) {
		int32_t v = next_counter(s, delta);
		if (v == 0 && waiters_of(s) != 0) {
			add_slow(wg, delta);
			return;
		}
		/* release: pairs with the acquire load of wait / wait_validate that
		 * sees the counter at 0. When v == 0 this is the last access (rule 1). */
		if (cas(wg, &s, make_state(v, waiters_of(s)), __ATOMIC_RELEASE, __ATOMIC_RELAXED))
			return;
	}
}

/* --- wait ------------------------------------------------------------------ */

/* Under the bucket lock, before enqueueing: sleep only while the counter is not 0,
 * and count ourselves in the same critical section. */
static bool wait_validate(void *arg)
{
	gs_waitgroup_t *wg = arg;
	/* acquire: pairs with the release CAS that brought the counter to 0 */
	uint64_t s = load(wg, __ATOMIC_ACQUIRE);

	for (;;) {
		if (counter_of(s) == 0)
			return false;
		if (waiters_of(s) == WAITERS_MASK)
			gs__internal_error("waitgroup: too many waiters");
		/* acquire on failure too (and so, as C11 requires, on success): the
		 * value that makes us return false must have been read with acquire */
		if (cas(wg, &s, s + 1, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
			return true;
	}
}

/* Under the bucket lock, after a waiter whose deadline passed removed itself. */
static void wait_timed_out(void *arg, bool others_remain)
{
	gs_waitgroup_t *wg = arg;
	uint64_t s = __atomic_fetch_sub(&wg->state_, 1, __ATOMIC_RELAXED);

	/* We were queued, hence counted, hence the counter cannot be 0 (it reaches 0
	 * with waiters only in release_cb, which dequeues them all); and the count is
	 * exactly the queued waiters. */
	if (waiters_of(s) == 0 || counter_of(s) == 0 || others_remain != (waiters_of(s) > 1))
		gs__internal_error("waitgroup: timed-out waiter finds an inconsistent state");
}

static int wait_slow(gs_waitgroup_t *wg, int64_t deadline)
{
	struct gs__park_args a = {
		.key = wg, .validate = wait_validate, .timed_out = wait_timed_out, .arg = wg,
		.clock = CLOCK_MONOTONIC, .deadline = deadline,
	};

	for (;;) {
		uint64_t token = 0;
		switch (gs__park(&a, &token)) {
		case GS_PARK_INVALID: /* the counter reached 0 before we could queue */
			return 0;
		case GS_PARK_TIMEDOUT: /* wait_timed_out has uncounted us */
			return ETIMEDOUT;
		case GS_PARK_UNPARKED:
			break;
		}
		if (token == TOKEN_DONE) {
			/* Go's reuse check. acquire: reads release_cb's (0, 0) or later. */
			if (load(wg, __ATOMIC_ACQUIRE) != 0)
				gs__fatal(MSG_REUSED);
			return 0;
		}
		if (token != TOKEN_RETRY)
			gs__internal_error("waitgroup: unknown wake token");
	}
}

static inline int wait_until(gs_waitgroup_t *wg, int64_t deadline)
{
	/* acquire: pairs with the release CAS that brought the counter to 0 */
	if (counter_of(load(wg, __ATOMIC_ACQUIRE)) == 0)
		return 0;
	return wait_slow(wg, deadline);
}

/* --- public calls ----------------------------------------------------------- */

/* The public calls check once whether a TSan runtime is present and, if so, take an
 * annotated out-of-line copy. */

static __attribute__((noinline, cold)) void add_tsan(gs_waitgroup_t *wg, int delta)
{
	if (delta < 0)
		gs__tsan_release(wg); /* before the decrement: rule 1 */
	add(wg, delta);
}

static __attribute__((noinline, cold)) int wait_until_tsan(gs_waitgroup_t *wg, int64_t deadline)
{
	int r = wait_until(wg, deadline);

	if (r == 0)
		gs__tsan_acquire(wg);
	return r;
}

void gs_waitgroup_add(gs_waitgroup_t *wg, int delta)
{
	if (gs__tsan_on())
		add_tsan(wg, delta);
	else
		add(wg, delta);
}

void gs_waitgroup_done(gs_waitgroup_t *wg)
{
	if (gs__tsan_on())
		add_tsan(wg, -1);
	else
		add(wg, -1);
}

int gs_waitgroup_wait_until(gs_waitgroup_t *wg, int64_t deadline)
{
	if (gs__tsan_on())
		return wait_until_tsan(wg, deadline);
	return wait_until(wg, deadline);
}

void gs_waitgroup_wait(gs_waitgroup_t *wg)
{
	if (gs__tsan_on())
		(void)wait_until_tsan(wg, GS_NO_DEADLINE);
	else
		(void)wait_until(wg, GS_NO_DEADLINE);
}
