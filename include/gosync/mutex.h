/* gosync — mutual exclusion lock with Go's sync.Mutex semantics.
 *
 * A zeroed gs_mutex_t (or GS_MUTEX_INIT) is an unlocked mutex. It must not be copied
 * after first use and is process-private. Newcomers may barge ahead of woken waiters
 * (throughput), but a waiter that has waited more than 1 ms switches the mutex into
 * starvation mode, where unlock hands the lock directly to the oldest waiter
 * (bounded wait). Unlocking from a thread other than the locker is allowed, as in Go.
 * Misuse (unlocking an unlocked mutex) is fatal. The mutex may be freed as soon as
 * gs_mutex_unlock returns, even while the thread it woke is still returning. */
#ifndef GOSYNC_MUTEX_H
#define GOSYNC_MUTEX_H

#include <gosync/common.h>
#include <gosync/time.h>
#include <time.h>

GS_BEGIN_DECLS

typedef struct gs_mutex {
	uint32_t state_;  /* private: see src/mutex.c */
} gs_mutex_t;

#define GS_MUTEX_INIT { 0 }

GS_STATIC_ASSERT(sizeof(gs_mutex_t) == 4, "gs_mutex_t is one 32-bit word");
GS_STATIC_ASSERT(GS_ALIGNOF(gs_mutex_t) == 4, "gs_mutex_t is 4-byte aligned");

/* Blocks until the mutex is held by the caller. */
GS_API void gs_mutex_lock(gs_mutex_t *m);
/* Releases the mutex. Fatal if it is not locked. */
GS_API void gs_mutex_unlock(gs_mutex_t *m);
/* Takes the mutex if it is free now (and not reserved for a starving waiter). */
GS_API bool gs_mutex_trylock(gs_mutex_t *m);
/* As gs_mutex_lock, but gives up at `deadline` (gs_now() time): 0 or ETIMEDOUT.
 * A free mutex is taken even when the deadline has passed. */
GS_API int gs_mutex_lock_until(gs_mutex_t *m, int64_t deadline);

/* As gs_mutex_lock_until, with the deadline in ns on `clock`: CLOCK_MONOTONIC (what
 * gs_now reads) or CLOCK_REALTIME, where a step of the clock moves the deadline as it
 * does for pthread_mutex_timedlock. */
GS_API int gs_mutex_lock_clock(gs_mutex_t *m, clockid_t clock, int64_t deadline);
/* Whether some thread holds m right now: a snapshot, for assertions and for callers
 * (the pthread shim) that must answer an unlock of an unlocked mutex instead of
 * failing. */
GS_API bool gs_mutex_is_locked(const gs_mutex_t *m);

GS_END_DECLS

#endif
