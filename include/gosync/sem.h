/* gosync — weighted, FIFO-fair counting semaphore with the semantics of Go's
 * golang.org/x/sync/semaphore (semaphore.Weighted).
 *
 * A semaphore has a fixed capacity of units; acquire(n) takes n units, waiting until
 * they are free, release(n) gives them back. Waiters are served strictly in arrival
 * order: a large request at the head of the queue is not overtaken by smaller ones
 * behind it, and while anyone is queued a newcomer queues too (even for 0 units, as
 * in Go). GS_SEM_INIT(c) / gs_sem_init(s, c) start with all c units available; a
 * zeroed gs_sem_t has capacity 0. A semaphore must not be copied after first use and
 * is process-private. The semaphore may be freed as soon as the release that returns
 * the last units has returned, even while the thread it woke is still returning.
 * Misuse is fatal: a negative count, acquire (without a deadline) of more than the
 * capacity, or releasing more units than are held.
 *
 * Memory model: a successful acquire synchronizes with the releases that came before
 * it on the same semaphore; a failed try_acquire or a timed-out acquire synchronizes
 * with nothing. Release may be called by any thread, not only the acquirer. */
#ifndef GOSYNC_SEM_H
#define GOSYNC_SEM_H

#include <gosync/common.h>
#include <gosync/time.h>

GS_BEGIN_DECLS

typedef struct gs_sem {
	int64_t capacity_;  /* private: fixed at initialisation */
	uint64_t state_;    /* private: units held and a waiters bit, see src/sem.c */
} gs_sem_t;

/* All `capacity` units available. */
#define GS_SEM_INIT(capacity) { (capacity), 0 }

GS_STATIC_ASSERT(sizeof(gs_sem_t) == 16, "gs_sem_t is two 64-bit words");
GS_STATIC_ASSERT(GS_ALIGNOF(gs_sem_t) == 8, "gs_sem_t is 8-byte aligned");

/* A semaphore of `capacity` units, all available. Fatal if capacity < 0. */
GS_API void gs_sem_init(gs_sem_t *s, int64_t capacity);
/* A semaphore of `capacity` units of which `available` are free (the others count as
 * held and are given back with gs_sem_release). Fatal unless
 * 0 <= available <= capacity. */
GS_API void gs_sem_init_available(gs_sem_t *s, int64_t capacity, int64_t available);
/* Takes n units, waiting in FIFO order until they are free. Fatal if n < 0 or
 * n > capacity (it could never succeed). n == 0 returns at once unless others are
 * queued; then it waits its turn. */
GS_API void gs_sem_acquire(gs_sem_t *s, int64_t n);
/* As gs_sem_acquire, but gives up at `deadline` (gs_now() time): 0 or ETIMEDOUT.
 * Units that are free now, with nobody queued, are taken even when the deadline has
 * passed. n > capacity is not fatal here: the call waits (without queueing, so it
 * holds nobody up) until the deadline and returns ETIMEDOUT. */
GS_API int gs_sem_acquire_until(gs_sem_t *s, int64_t n, int64_t deadline);
/* Takes n units if they are free now and nobody is queued. Fatal if n < 0. */
GS_API bool gs_sem_try_acquire(gs_sem_t *s, int64_t n);
/* Gives back n units and wakes the waiters that now fit, in order. Fatal if n < 0 or
 * more units than are held. */
GS_API void gs_sem_release(gs_sem_t *s, int64_t n);

GS_END_DECLS

#endif
