/* What other primitives (gs_cond) need of gs_mutex beyond its public API. */
#ifndef GS_MUTEX_INTERNAL_H
#define GS_MUTEX_INTERNAL_H

#include <gosync/mutex.h>

#include "futex.h"

/* The unpark tokens gs_mutex's unlock hands to a waiter it dequeues. */
enum {
	GS_MUTEX_TOKEN_RETRY = 1,   /* normal mode: the lock was released, compete */
	GS_MUTEX_TOKEN_HANDOFF = 2, /* starvation mode: the lock is yours */
	GS_MUTEX_TOKEN_RETRY_UNOWNED = 3, /* compete, but another thread owns WOKEN */
};

/* Only under the bucket lock of m (inside a park callback or requeue validate):
 * if m is held, records that waiters are queued on it and returns true. A requeue
 * onto m's queue is legal only then: an unlock is coming that will wake them. */
GS_HIDDEN bool gs__mutex_mark_parked_if_locked(gs_mutex_t *m);

/* Finishes gs_mutex_lock for a thread that was requeued onto m's queue and then
 * unparked from it with `token` (TSan-annotated like gs_mutex_lock). */
GS_HIDDEN void gs__mutex_lock_requeued(gs_mutex_t *m, uint64_t token);

#endif
