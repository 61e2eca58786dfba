/* gs_mutex — Go's sync.Mutex (Go 1.9+: normal and starvation modes) on park.
 *
 * Two modes, as in Go. In normal mode waiters queue in FIFO order, but a woken
 * waiter does not own the lock: it competes with threads that are arriving right
 * now, which are already on a CPU and often win. Letting them barge keeps the lock
 * busy and is why a mutex beats a ticket lock on throughput. A woken waiter that
 * loses is requeued at the head of the queue, not the tail. A waiter that has waited
 * more than 1 ms switches the mutex to starvation mode: unlock then hands the lock
 * directly to the head waiter, and newcomers neither spin nor try to take it: they
 * queue at the tail. The mutex returns to normal mode when a waiter it was handed to
 * is the last one, or waited less than 1 ms. Normal mode gives throughput;
 * starvation mode bounds how long a waiter can be passed over.
 *
 * State word (32 bits; the whole gs_mutex_t):
 *
 *   LOCKED    held (in starvation mode also: being handed to the head waiter)
 *   WOKEN     a thread is awake and racing for the lock — a woken waiter, or a
 *             spinner that saw waiters — so unlock need not wake another
 *   STARVING  starvation mode: unlock hands off, newcomers queue
 *   PARKED    waiters are queued in park under this mutex's address
 *   WOKEN_EPOCH  two bits beside WOKEN: the fork epoch it was set in. A forked child
 *             inherits words whose WOKEN belongs to a parent thread that does not
 *             exist there; with an old epoch it counts as clear (has_woken), so the
 *             child's unlocks still wake its waiters. Below, "W" means has_woken.
 *
 * Legal states (L W S P):
 *   0                free, nobody waiting
 *   L                held, nobody waiting
 *   L|P, L|W|P       held, waiters queued (W: one of them or a spinner is awake)
 *   L|W              held; a spinner or a woken waiter is awake, none queued
 *   W, W|P           free; the awake thread is about to take it or requeue
 *   L|S|P, L|W|S|P   starvation mode (S implies L and P: a starving mutex always has a
 *                    waiter to hand to, and is never free while starving)
 * Illegal: P alone (free with sleepers and nobody awake: a lost wakeup), S without L
 * or P. Whoever clears LOCKED with PARKED set either sets WOKEN (the unlock that woke
 * a waiter) or knows WOKEN is already set by a thread that will take the lock or
 * requeue (requeueing needs LOCKED set by someone, whose unlock will wake).
 *
 * Who changes what:
 *   LOCKED    set by a locker's CAS; cleared by unlock — except on handoff, where it
 *             stays set and ownership travels with park's wake
 *   WOKEN     set by unlock_cb when it wakes a waiter, or by a spinner; cleared by
 *             the thread that owns it, in its next CAS (lock taken, requeue, or —
 *             past its deadline, only while LOCKED is set — giving up). If a
 *             spinner set it after unlock_slow looked, unlock_cb wakes the waiter
 *             with TOKEN_RETRY_UNOWNED: it competes but does not own WOKEN.
 *   PARKED    set by lock_validate, cleared by unlock_cb / lock_timed_out when no
 *             waiter remains — all under the bucket lock, so PARKED == "queue
 *             non-empty" whenever the bucket lock is free
 *   STARVING  set by lock_validate for a waiter that waited > 1 ms; cleared under
 *             the bucket lock when the last waiter is handed the lock or times out,
 *             and by a handed-off waiter that waited < 1 ms (it holds the lock)
 *
 * Memory order. Every CAS that sets LOCKED is acquire and pairs with the release of
 * whichever operation cleared LOCKED before it: unlock's fast CAS, unlock_slow's CAS,
 * or unlock_cb's CAS. On handoff LOCKED never clears; the new owner synchronizes with
 * the old one through park: unlock_cb runs before wake_waiter's release store, which
 * pairs with the handed-off waiter's acquire load of its wake word. All other
 * accesses are relaxed: they decide who does what, and the bucket lock (acquire/
 * release) orders everything done inside park callbacks. A failed trylock reads
 * relaxed and synchronizes with nothing.
 *
 * No touch after release (DESIGN.md §3 rule 1). The operation that makes the mutex
 * available is the last access to it: unlock's fast CAS; in unlock_slow the CAS that
 * clears LOCKED when no one needs waking; otherwise unlock_cb's CAS, run under the
 * bucket lock, after which park only touches the bucket and the woken waiter's own
 * stack record. So a mutex may be freed by whoever takes it next, at once.
 *
 * Spinning (DESIGN.md §3 rule 3). Only in normal mode while the mutex is held, only
 * when more than one CPU is usable (sched_getaffinity), only while fewer than
 * usable-1 threads of the process are spinning (on any gosync lock: src/spin.c),
 * and for at most GS_SPIN_NS per wait (reset when a waiter is woken). Go spins 4 × 30
 * PAUSEs; a PAUSE costs ~130 ns on the KVM guests we measure on (pause-loop exiting)
 * against ~10 ns on bare metal, which turned Go's budget into 16 µs of burnt CPU,
 * longer than a park/unpark round trip — so the budget is time, read from the vDSO
 * clock between relaxes. A spinner that sees waiters queued sets WOKEN, so the
 * unlock it hopes to catch does not also wake a sleeper. Past the budget the owner
 * is evidently not about to release (a long critical section, or preempted), and
 * we park.
 *
 * Timeouts (rule 2). A waiter whose deadline passes while queued removes itself in
 * lock_timed_out, under the bucket lock, clearing PARKED and STARVING if it was the
 * last. One that an unlocker dequeued first takes what it was handed: the lock itself
 * on handoff (returns 0 even past the deadline), or in normal mode one more try. A
 * caller already past its deadline tries the lock and returns, without spinning or
 * queueing (a queued waiter at the head could take the one wake an unlock sends).
 *
 * Misuse detection is best effort, as in Go: an unlock of a free mutex is fatal, but
 * a second unlock after a handoff (or after another thread locked it) looks like a
 * legal cross-thread unlock and cannot be told apart.
 */
#include <errno.h>

#include <gosync/mutex.h>

#include "gs_arch.h"
#include "fatal.h"
#include "mutex_internal.h"
#include "park.h"
#include "spin.h"
#include "tsan.h"

enum {
	LOCKED      = 1u << 0,
	WOKEN       = 1u << 1,
	STARVING    = 1u << 2,
	PARKED      = 1u << 3,
	WOKEN_EPOCH = 3u << 4, /* the fork epoch WOKEN was set in (low two bits) */
};
#define WOKEN_EPOCH_SHIFT 4

enum {
	TOKEN_RETRY = GS_MUTEX_TOKEN_RETRY,       /* released; compete, WOKEN is yours */
	TOKEN_HANDOFF = GS_MUTEX_TOKEN_HANDOFF,   /* starvation mode: the lock is yours */
	TOKEN_RETRY_UNOWNED = GS_MUTEX_TOKEN_RETRY_UNOWNED, /* released; compete, but
						     a spinner already owns WOKEN */
};

#define STARVATION_NS (1 * GS_MSEC)

static inline bool cas(gs_mutex_t *m, uint32_t *old, uint32_t new, int order)
{
	return __atomic_compare_exchange_n(&m->state_, old, new, false, order, __ATOMIC_RELAXED);
}

static inline uint32_t load(const gs_mutex_t *m)
{
	return __atomic_load_n(&m->state_, __ATOMIC_RELAXED);
}

/* WOKEN as set by a thread of this process. A WOKEN left in the word by a thread of
 * the parent at fork has an old epoch and counts as clear: its owner does not exist
 * here to take the lock or requeue, so the unlock it would suppress must happen. */
static inline uint32_t woken_mark(void)
{
	return WOKEN | ((gs__fork_epoch() << WOKEN_EPOCH_SHIFT) & WOKEN_EPOCH);
}

static inline bool has_woken(uint32_t s) { return (s & (WOKEN | WOKEN_EPOCH)) == woken_mark(); }

static inline uint32_t without_woken(uint32_t s) { return s & ~(uint32_t)(WOKEN | WOKEN_EPOCH); }

/* The 1-CAS fast paths. acquire: pairs with the release that cleared LOCKED. */
static inline bool lock_fast(gs_mutex_t *m)
{
	uint32_t s = 0;
	return cas(m, &s, LOCKED, __ATOMIC_ACQUIRE);
}

/* release: pairs with the acquire CAS of the next locker. */
static inline bool unlock_fast(gs_mutex_t *m, uint32_t *seen)
{
	*seen = LOCKED;
	return cas(m, seen, 0, __ATOMIC_RELEASE);
}

/* A thread in lock_slow, as park's callbacks see it. */
struct locker {
	gs_mutex_t *m;
	bool awoke;    /* this thread owns WOKEN */
	bool starving; /* this thread has waited more than STARVATION_NS */
};

/* Under the bucket lock: sleep only if the mutex is still held; record that a waiter
 * is queued (and that it starves), and give up WOKEN. */
static bool lock_validate(void *arg)
{
	struct locker *l = arg;
	uint32_t s = load(l->m);

	for (;;) {
		if (!(s & LOCKED))
			return false;
		uint32_t n = s | PARKED;
		if (l->awoke)
			n = without_woken(n);
		if (l->starving)
			n |= STARVING;
		if (cas(l->m, &s, n, __ATOMIC_RELAXED)) {
			l->awoke = false;
			return true;
		}
	}
}

/* Under the bucket lock, after a queued waiter's deadline passed and it left. */
static void lock_timed_out(void *arg, bool others_remain)
{
	struct locker *l = arg;

	if (!others_remain)
		__atomic_fetch_and(&l->m->state_, ~(PARKED | STARVING), __ATOMIC_RELAXED);
}

/* Spins while the mutex is held in normal mode, until the spin budget of this wait
 * (*spin_end, set at its first spin; shared by every spin before the next park)
 * runs out. The budget is time, not a count of pauses: what a pause costs varies
 * by two orders of magnitude between cores and hypervisors. Returns the last state
 * seen. */
static uint32_t spin(struct locker *l, uint32_t s, int64_t *spin_end)
{
	int64_t now = gs_now();

	if (*spin_end == 0)
		*spin_end = now + GS_SPIN_NS;
	if (now >= *spin_end || !gs__spin_begin()) {
		*spin_end = now; /* spent: park */
		return s;
	}
	while ((s & (LOCKED | STARVING)) == LOCKED && now < *spin_end) {
		if (!l->awoke && (s & PARKED) && !has_woken(s) &&
		    cas(l->m, &s, without_woken(s) | woken_mark(), __ATOMIC_RELAXED))
			l->awoke = true;
		gs_cpu_relax();
		s = load(l->m);
		now = gs_now();
	}
	gs__spin_end();
	return s;
}

/* The lock loop. `woken_token`: 0, or the token with which the caller was just
 * unparked from m's queue (a requeued cond waiter): it requeues at the head, and owns
 * WOKEN if the token says so. */
static int lock_loop(gs_mutex_t *m, clockid_t clock, int64_t deadline, uint64_t woken_token)
{
	struct locker l = { .m = m, .awoke = woken_token == TOKEN_RETRY };
	struct gs__park_args a = {
		.key = m, .validate = lock_validate, .timed_out = lock_timed_out, .arg = &l,
		.at_head = woken_token != 0, .clock = clock, .deadline = deadline,
	};
	int64_t wait_start = woken_token ? gs_now() : 0;
	int64_t spin_end = 0;
	uint32_t s = load(m);

	for (;;) {
		if (!(s & LOCKED)) {
			/* Free, hence normal mode (STARVING implies LOCKED): take it. */
			uint32_t n = l.awoke ? without_woken(s | LOCKED) : s | LOCKED;
			if (cas(m, &s, n, __ATOMIC_ACQUIRE))
				return 0; /* acquire: pairs with the release that freed it */
			continue;
		}
		if (deadline != GS_NO_DEADLINE && gs__clock_now(clock) >= deadline) {
			/* Held, and out of time: no spin, no queueing (which could take a
			 * wake meant for a real waiter). Give WOKEN back while LOCKED is
			 * set — its holder's unlock will wake a waiter — or, if the lock
			 * was freed meanwhile, loop and take it. */
			if (!l.awoke || cas(m, &s, without_woken(s), __ATOMIC_RELAXED))
				return ETIMEDOUT;
			continue;
		}
		if (!(s & STARVING) && (spin_end == 0 || spin_end > gs_now())) {
			s = spin(&l, s, &spin_end);
			continue;
		}
		if (wait_start == 0)
			wait_start = gs_now();

		uint64_t token = 0;
		gs__tsan_park_begin(m);
		enum gs__park_status how = gs__park(&a, &token);
		gs__tsan_park_end(m);
		switch (how) {
		case GS_PARK_INVALID: /* freed before we could queue: try again */
			s = load(m);
			continue;
		case GS_PARK_TIMEDOUT:
			return ETIMEDOUT;
		case GS_PARK_UNPARKED:
			break;
		}
		l.starving = l.starving || gs_now() - wait_start > STARVATION_NS;
		if (token == TOKEN_HANDOFF) {
			/* We own the lock. Go back to normal mode unless we starved
			 * (unlock_cb already did if we were the last waiter). */
			if (!l.starving)
				__atomic_fetch_and(&m->state_, ~(uint32_t)STARVING, __ATOMIC_RELAXED);
			return 0;
		}
		l.awoke = token == TOKEN_RETRY; /* unlock_cb set WOKEN for us */
		a.at_head = true;     /* if we lose, requeue first in line */
		spin_end = 0;
		s = load(m);
	}
}

static int lock_slow(gs_mutex_t *m, clockid_t clock, int64_t deadline)
{
	return lock_loop(m, clock, deadline, 0);
}

bool gs__mutex_mark_parked_if_locked(gs_mutex_t *m)
{
	uint32_t s = load(m);

	while (s & LOCKED)
		if (cas(m, &s, s | PARKED, __ATOMIC_RELAXED))
			return true;
	return false;
}

void gs__mutex_lock_requeued(gs_mutex_t *m, uint64_t token)
{
	gs__tsan_pre_lock(m, 0);
	if (token != TOKEN_HANDOFF)
		(void)lock_loop(m, CLOCK_MONOTONIC, GS_NO_DEADLINE, token);
	/* on handoff we own it; we waited on m only since the requeue, so we do not
	 * count as starving: leave starvation mode as a short waiter would */
	else
		__atomic_fetch_and(&m->state_, ~(uint32_t)STARVING, __ATOMIC_RELAXED);
	gs__tsan_post_lock(m, 0, true);
}

/* Under the bucket lock, having dequeued at most the head waiter. */
static uint64_t unlock_cb(void *arg, struct gs__unpark_result r)
{
	gs_mutex_t *m = arg;
	uint32_t s = load(m);

	if (r.unparked && (s & STARVING)) {
		/* Hand off: LOCKED stays set and passes to the waiter with its wake. */
		if (!r.have_more)
			__atomic_fetch_and(&m->state_, ~(PARKED | STARVING), __ATOMIC_RELAXED);
		return TOKEN_HANDOFF;
	}
	for (;;) {
		uint32_t n = s & ~(uint32_t)LOCKED;
		/* a spinner may have set WOKEN since unlock_slow looked: then it owns it */
		uint64_t token = has_woken(s) ? TOKEN_RETRY_UNOWNED : TOKEN_RETRY;
		if (r.unparked)
			n = without_woken(n) | woken_mark();
		if (!r.have_more)
			n &= ~(PARKED | STARVING);
		/* release: pairs with the acquire CAS of the next locker. This is the
		 * last access to the mutex (rule 1). */
		if (cas(m, &s, n, __ATOMIC_RELEASE))
			return token;
	}
}

static void unlock_slow(gs_mutex_t *m, uint32_t s)
{
	for (;;) {
		if (!(s & LOCKED))
			gs__fatal("sync: unlock of unlocked mutex");
		if ((s & STARVING) || ((s & PARKED) && !has_woken(s)))
			break; /* someone must be handed the lock or woken */
		/* Nobody queued, or someone already awake: just release (the last
		 * access, rule 1). Pairs with the acquire CAS of the next locker. */
		if (cas(m, &s, s & ~(uint32_t)LOCKED, __ATOMIC_RELEASE))
			return;
	}
	gs__tsan_park_begin(m);
	gs__unpark_one(m, unlock_cb, m);
	gs__tsan_park_end(m);
}

/* The public calls check once whether a TSan runtime is present and, if so, take an
 * annotated out-of-line copy; the plain path stays a CAS and a return. */

static __attribute__((noinline, cold)) int lock_until_tsan(gs_mutex_t *m, clockid_t clock,
							    int64_t deadline)
{
	unsigned flags = deadline == GS_NO_DEADLINE ? 0 : GS_TSAN_TRY_LOCK;
	int r = 0;

	gs__tsan_pre_lock(m, flags);
	if (!lock_fast(m))
		r = lock_slow(m, clock, deadline);
	gs__tsan_post_lock(m, flags, r == 0);
	return r;
}

static inline int lock_until(gs_mutex_t *m, clockid_t clock, int64_t deadline)
{
	if (gs__tsan_on())
		return lock_until_tsan(m, clock, deadline);
	return lock_fast(m) ? 0 : lock_slow(m, clock, deadline);
}

int gs_mutex_lock_clock(gs_mutex_t *m, clockid_t clock, int64_t deadline)
{
	return lock_until(m, clock, deadline);
}

int gs_mutex_lock_until(gs_mutex_t *m, int64_t deadline)
{
	return lock_until(m, CLOCK_MONOTONIC, deadline);
}

void gs_mutex_lock(gs_mutex_t *m) { (void)lock_until(m, CLOCK_MONOTONIC, GS_NO_DEADLINE); }

bool gs_mutex_is_locked(const gs_mutex_t *m)
{
	return (load(m) & LOCKED) != 0; /* a snapshot: orders nothing, pairs with nothing */
}

static inline bool trylock(gs_mutex_t *m)
{
	uint32_t s = load(m);

	while (!(s & LOCKED))
		if (cas(m, &s, s | LOCKED, __ATOMIC_ACQUIRE))
			return true; /* acquire: pairs with the release that freed it */
	return false;
}

static __attribute__((noinline, cold)) bool trylock_tsan(gs_mutex_t *m)
{
	gs__tsan_pre_lock(m, GS_TSAN_TRY_LOCK);
	bool ok = trylock(m);
	gs__tsan_post_lock(m, GS_TSAN_TRY_LOCK, ok);
	return ok;
}

bool gs_mutex_trylock(gs_mutex_t *m)
{
	return gs__tsan_on() ? trylock_tsan(m) : trylock(m);
}

static inline void unlock(gs_mutex_t *m)
{
	uint32_t s;

	if (!unlock_fast(m, &s))
		unlock_slow(m, s);
}

static __attribute__((noinline, cold)) void unlock_tsan(gs_mutex_t *m)
{
	gs__tsan_pre_unlock(m, 0);
	unlock(m);
	gs__tsan_post_unlock(m, 0);
}

void gs_mutex_unlock(gs_mutex_t *m)
{
	if (gs__tsan_on())
		unlock_tsan(m);
	else
		unlock(m);
}
