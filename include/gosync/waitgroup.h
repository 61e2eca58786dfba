/* gosync — wait for a collection of threads to finish, with Go's sync.WaitGroup
 * semantics.
 *
 * A zeroed gs_waitgroup_t (or GS_WAITGROUP_INIT) has a counter of 0. add(n) raises
 * the counter by n (which may be negative), done() lowers it by one, and wait()
 * blocks until it is 0. When the counter reaches 0 every thread blocked in wait is
 * released. It must not be copied after first use and is process-private.
 *
 * Memory model: everything a thread did before its done() (or add with a negative
 * delta) is visible to every wait that returns 0 because of it. A wait_until that
 * returns ETIMEDOUT synchronizes with nothing.
 *
 * Rules, as in Go: an add with a positive delta that starts when the counter is 0 must
 * happen before the wait it is meant to hold back (typically: add before creating the
 * thread); to reuse a wait group for another round, the new add must happen after
 * every wait of the previous round has returned. The counter going negative is fatal,
 * and so, when detected, is a new round's add racing waits of the previous round.
 *
 * Lifetime: the thread whose done() brings the counter to 0 never touches the wait
 * group again, so a waiter may free it as soon as its wait returns (when it is the
 * only waiter, or once every waiter has returned). */
#ifndef GOSYNC_WAITGROUP_H
#define GOSYNC_WAITGROUP_H

#include <gosync/common.h>
#include <gosync/time.h>

GS_BEGIN_DECLS

typedef struct gs_waitgroup {
	uint64_t state_ __attribute__((aligned(8))); /* private: see src/waitgroup.c */
} gs_waitgroup_t;

#define GS_WAITGROUP_INIT { 0 }

GS_STATIC_ASSERT(sizeof(gs_waitgroup_t) == 8, "gs_waitgroup_t is one 64-bit word");
GS_STATIC_ASSERT(GS_ALIGNOF(gs_waitgroup_t) == 8, "gs_waitgroup_t is 8-byte aligned");

/* Adds delta (may be negative) to the counter; at 0 all waiters are released.
 * Fatal if the counter goes negative. */
GS_API void gs_waitgroup_add(gs_waitgroup_t *wg, int delta);
/* gs_waitgroup_add(wg, -1). */
GS_API void gs_waitgroup_done(gs_waitgroup_t *wg);
/* Blocks until the counter is 0. */
GS_API void gs_waitgroup_wait(gs_waitgroup_t *wg);
/* As gs_waitgroup_wait, but gives up at `deadline` (gs_now() time): 0 or ETIMEDOUT.
 * Returns 0 at once when the counter is 0, even if the deadline has passed. */
GS_API int gs_waitgroup_wait_until(gs_waitgroup_t *wg, int64_t deadline);

GS_END_DECLS

#endif
