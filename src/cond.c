/* gs_cond — Go's sync.Cond (its notifyList idea) on park, made timeout-safe and
 * without the thundering herd.
 *
 * Go's Cond hands each waiter a ticket and signal wakes the holder of the oldest
 * unwoken ticket; tickets let it wake waiters that have not gone to sleep yet. park
 * gives the same FIFO order without tickets, because a waiter is enqueued under the
 * bucket lock *before* it releases the mutex (park's before_sleep): any signal that
 * comes after the waiter let go of the mutex finds it queued. So:
 *
 *   wait:      park(cond) with validate = count us and note our mutex, before_sleep =
 *              unlock the mutex; then re-acquire the mutex, however we were woken.
 *   signal:    wake the first queued waiter (FIFO: the oldest).
 *   broadcast: wake every waiter queued now; later waiters are not affected.
 *   timeout:   a waiter still queued at its deadline removes itself under the bucket
 *              lock (so no signal can pick it any more: it never swallows a signal
 *              meant for another), returns ETIMEDOUT after re-acquiring the mutex.
 *              One that a signal dequeued first returns 0, even past the deadline.
 *
 * No herd. A thread woken while the signaller still holds the mutex would only run
 * to block on that mutex. So when the mutex is held, signal and broadcast do not wake
 * anyone: gs__unpark_requeue moves the waiters from the cond's queue to the tail of
 * the mutex's queue (and marks the mutex PARKED, under both buckets' locks), and the
 * mutex's unlocks wake them one at a time, each already owning the mutex's WOKEN
 * flag or handed the lock. A broadcast to N waiters under the mutex costs no wakeup
 * at all until the unlock, and then one per unlock. When the mutex is free they are
 * woken (a moved waiter needs a later unlock to wake it).
 *
 * State: `waiters_` counts queued waiters; it changes only under the cond's bucket
 * lock (validate +1, timed_out -1, signal/broadcast callback -woken-moved), so it is
 * exact there; outside, signal and broadcast read it (relaxed) only to skip the
 * bucket when nobody waits. That read is enough: a waiter counts itself before it
 * releases the mutex, so a signaller that acquired the mutex after (acquire pairs
 * with the waiter's unlock release) sees the count. `mutex_` is the mutex the
 * current waiters use; it is written by each waiter under the bucket lock and
 * re-checked there by signal and broadcast.
 *
 * Foreign mutexes (gs_cond_wait_func: a mutex gosync does not own, e.g. one the pthread
 * shim leaves to glibc) are released and re-taken through the caller's functions; such
 * waiters record no mutex (mutex_ = 0) and are always woken, never moved. If the
 * release fails (EPERM: the caller does not hold it), the waiter leaves the queue at
 * once, passing on any signal that reached it meanwhile, and the wait returns the error.
 *
 * Cancellation (the _clock and _func forms are pthread cancellation points, park's
 * `cancelled`): a cancelled waiter still queued leaves like a timed-out one; one that a
 * notify had already dequeued or moved re-acquires the mutex as usual and then passes
 * the signal on (one spurious wakeup for another waiter rather than a lost signal, as
 * POSIX asks of pthread_cond_wait). Either way the mutex is held again before the
 * unwinding reaches the program's cleanup handlers.
 *
 * Memory order: the mutex does it. A waiter returns holding the mutex, so it sees
 * everything its signaller did before unlocking. waiters_ and mutex_ are relaxed,
 * ordered by the bucket lock.
 */
#include <errno.h>
#include <stdint.h>

#include <gosync/cond.h>

#include "fatal.h"
#include "mutex_internal.h"
#include "park.h"
#include "tsan_sync.h"

/* Tokens for a waiter woken straight from the cond's queue (the mutex's own tokens,
 * GS_MUTEX_TOKEN_*, reach waiters that were moved onto the mutex). */
enum { TOKEN_SIGNALED = 0x100, TOKEN_BROADCAST = 0x101 };

static inline gs_mutex_t *cond_mutex(const gs_cond_t *c)
{
	return (gs_mutex_t *)(uintptr_t)__atomic_load_n(&c->mutex_, __ATOMIC_RELAXED);
}

struct cond_waiter {
	gs_cond_t *c;
	gs_mutex_t *m;               /* NULL: a foreign mutex, released and re-taken by: */
	int (*unlock)(void *arg);    /* nonzero (EPERM): the wait is abandoned */
	int (*lock)(void *arg);      /* its nonzero result is the wait's (EOWNERDEAD) */
	void *lock_arg;
	int unlocked;                /* what releasing the mutex returned */
	int relocked;                /* what re-taking the mutex returned */
};

/* Under the cond's bucket lock: count ourselves in before releasing the mutex. */
static bool wait_validate(void *arg)
{
	struct cond_waiter *w = arg;

	__atomic_store_n(&w->c->mutex_, (uint64_t)(uintptr_t)w->m, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->c->waiters_, 1, __ATOMIC_RELAXED);
	return true;
}

static bool wait_before_sleep(void *arg)
{
	struct cond_waiter *w = arg;

	if (w->m) {
		gs_mutex_unlock(w->m);
		return true;
	}
	w->unlocked = w->unlock(w->lock_arg);
	return w->unlocked == 0;
}

/* Takes the mutex again after park returned `how` with `token`. */
static void relock(struct cond_waiter *w, enum gs__park_status how, uint64_t token)
{
	if (how == GS_PARK_UNPARKED)
		gs__tsan_acquire(w->c); /* pairs with notify_cb's release */
	if (!w->m)
		w->relocked = w->lock(w->lock_arg);
	else if (how == GS_PARK_UNPARKED && token != TOKEN_SIGNALED && token != TOKEN_BROADCAST)
		gs__mutex_lock_requeued(w->m, token); /* moved onto m, woken by its unlock */
	else
		gs_mutex_lock(w->m);
}

static void notify(gs_cond_t *c, bool all);

/* A cancel unwound the waiter out of its sleep (park settled the record). */
static void wait_cancelled(void *arg, enum gs__park_status how, uint64_t token)
{
	struct cond_waiter *w = arg;

	relock(w, how, token);
	if (how == GS_PARK_UNPARKED && token != TOKEN_BROADCAST)
		notify(w->c, false); /* the signal we took, for another waiter */
}

static void wait_timed_out(void *arg, bool others_remain)
{
	struct cond_waiter *w = arg;

	(void)others_remain;
	__atomic_fetch_sub(&w->c->waiters_, 1, __ATOMIC_RELAXED);
}

/* The one wait: every public form is this with its mutex, clock and cancellability. */
static int wait(struct cond_waiter *w, clockid_t clock, int64_t deadline, bool cancel_point)
{
	struct gs__park_args a = {
		.key = w->c, .validate = wait_validate, .before_sleep = wait_before_sleep,
		.timed_out = wait_timed_out, .cancelled = cancel_point ? wait_cancelled : NULL,
		.arg = w, .clock = clock, .deadline = deadline,
	};
	uint64_t token = 0;
	enum gs__park_status how = gs__park(&a, &token);

	if (how == GS_PARK_INVALID)
		gs__internal_error("cond: waiter refused to park");
	if (w->unlocked) {
		/* The mutex was never ours to release: leave it alone, and pass on a signal
		 * that found us queued in the meantime. */
		if (how == GS_PARK_UNPARKED && token != TOKEN_BROADCAST)
			notify(w->c, false);
		return w->unlocked;
	}
	relock(w, how, token);
	if (w->relocked)
		return w->relocked;
	return how == GS_PARK_TIMEDOUT ? ETIMEDOUT : 0;
}

int gs_cond_wait_until(gs_cond_t *c, gs_mutex_t *m, int64_t deadline)
{
	struct cond_waiter w = { .c = c, .m = m };
	return wait(&w, CLOCK_MONOTONIC, deadline, false);
}

void gs_cond_wait(gs_cond_t *c, gs_mutex_t *m) { (void)gs_cond_wait_until(c, m, GS_NO_DEADLINE); }

int gs_cond_wait_clock(gs_cond_t *c, gs_mutex_t *m, clockid_t clock, int64_t deadline)
{
	struct cond_waiter w = { .c = c, .m = m };
	return wait(&w, clock, deadline, true);
}

int gs_cond_wait_func(gs_cond_t *c, int (*unlock)(void *arg), int (*lock)(void *arg),
		      void *arg, clockid_t clock, int64_t deadline)
{
	struct cond_waiter w = { .c = c, .unlock = unlock, .lock = lock, .lock_arg = arg };
	return wait(&w, clock, deadline, true);
}

struct notify {
	gs_cond_t *c;
	gs_mutex_t *m;      /* the mutex read before locking; re-checked under the lock */
	bool all;
	bool stale_mutex;
};

/* Under both buckets' locks: whom to wake or move. */
static enum gs__requeue_op notify_validate(void *arg)
{
	struct notify *n = arg;

	if (__atomic_load_n(&n->c->waiters_, __ATOMIC_RELAXED) == 0)
		return GS_REQUEUE_ABORT;
	if (cond_mutex(n->c) != n->m) {
		n->stale_mutex = true; /* the waiters changed mutex: lock the right bucket */
		return GS_REQUEUE_ABORT;
	}
	if (n->m && gs__mutex_mark_parked_if_locked(n->m))
		return n->all ? GS_REQUEUE_ALL : GS_REQUEUE_ONE;
	return n->all ? GS_REQUEUE_UNPARK_ALL : GS_REQUEUE_UNPARK_ONE;
}

static uint64_t notify_cb(void *arg, struct gs__unpark_result r)
{
	struct notify *n = arg;

	__atomic_fetch_sub(&n->c->waiters_, r.unparked + r.requeued, __ATOMIC_RELAXED);
	/* TSan: a moved waiter is woken later from inside a mutex unlock, where TSan
	 * ignores synchronization; hand our accesses to the cond over explicitly. */
	gs__tsan_release(n->c);
	return n->all ? TOKEN_BROADCAST : TOKEN_SIGNALED;
}

static void notify(gs_cond_t *c, bool all)
{
	struct notify n = { .c = c, .all = all };

	do {
		if (__atomic_load_n(&c->waiters_, __ATOMIC_RELAXED) == 0)
			return;
		n.m = cond_mutex(c);
		n.stale_mutex = false;
		gs__unpark_requeue(c, n.m, notify_validate, notify_cb, &n);
	} while (n.stale_mutex);
}

void gs_cond_signal(gs_cond_t *c) { notify(c, false); }
void gs_cond_broadcast(gs_cond_t *c) { notify(c, true); }
