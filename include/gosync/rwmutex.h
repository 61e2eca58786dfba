/* gosync — reader/writer mutual exclusion with Go's sync.RWMutex semantics.
 *
 * A zeroed gs_rwmutex_t (or GS_RWMUTEX_INIT) is unlocked. Any number of readers or
 * one writer hold it. Writer-preferring, as in Go: once a writer waits, new readers
 * block, so writers never starve; when a writer unlocks, the readers it held back go
 * in before the next writer, so readers never starve either. Hence a thread must not
 * take a read lock it already holds (recursive read locking): if a writer arrives in
 * between, the inner rlock waits for the writer, which waits for the outer read lock
 * — a deadlock. A write-lock holder that calls rlock blocks likewise. Code that needs
 * recursive read locks uses the reader-preferring forms below instead.
 * Unlocking from a thread other than the locker is allowed, as in Go. Misuse
 * (runlock of a mutex not read-locked, unlock of one not write-locked) is fatal.
 * The object may be freed as soon as its last unlock/runlock returns. */
#ifndef GOSYNC_RWMUTEX_H
#define GOSYNC_RWMUTEX_H

#include <gosync/common.h>
#include <gosync/time.h>
#include <time.h>

GS_BEGIN_DECLS

typedef struct gs_rwmutex {
	uint32_t state_;  /* private: see src/rwmutex.c */
} gs_rwmutex_t;

#define GS_RWMUTEX_INIT { 0 }

/* The most read locks one rwmutex holds at once (glibc's rwlock limit, 2^28 - 1). */
#define GS_RWMUTEX_MAX_READERS 0x0FFFFFFFu

GS_STATIC_ASSERT(sizeof(gs_rwmutex_t) <= 24, "gs_rwmutex_t fits its pinned size");
GS_STATIC_ASSERT(GS_ALIGNOF(gs_rwmutex_t) == 4, "gs_rwmutex_t is 4-byte aligned");

GS_API void gs_rwmutex_rlock(gs_rwmutex_t *rw);
GS_API void gs_rwmutex_runlock(gs_rwmutex_t *rw);   /* fatal if not read-locked */
GS_API void gs_rwmutex_lock(gs_rwmutex_t *rw);
GS_API void gs_rwmutex_unlock(gs_rwmutex_t *rw);    /* fatal if not write-locked */
GS_API bool gs_rwmutex_tryrlock(gs_rwmutex_t *rw);
GS_API bool gs_rwmutex_trylock(gs_rwmutex_t *rw);
/* 0 or ETIMEDOUT at `deadline`; an available lock is taken even past the deadline. */
GS_API int gs_rwmutex_rlock_until(gs_rwmutex_t *rw, int64_t deadline);
GS_API int gs_rwmutex_lock_until(gs_rwmutex_t *rw, int64_t deadline);
/* As the _until forms, with the deadline in ns on `clock`: CLOCK_MONOTONIC or
 * CLOCK_REALTIME (a step of the clock moves the deadline, as for the pthread timed
 * locks). rlock_clock also returns EAGAIN, at once, when the rwmutex already holds
 * GS_RWMUTEX_MAX_READERS read locks; the other read-lock calls treat that as misuse
 * (tryrlock: false; rlock, rlock_until: fatal). */
GS_API int gs_rwmutex_rlock_clock(gs_rwmutex_t *rw, clockid_t clock, int64_t deadline);
GS_API int gs_rwmutex_lock_clock(gs_rwmutex_t *rw, clockid_t clock, int64_t deadline);

/* Reader-preferring read locks, for code that takes read locks recursively (what
 * pthread_rwlock_rdlock allows by default): granted whenever no writer holds the lock,
 * even while writers wait — so a thread holding a read lock may take another one —
 * and released with gs_rwmutex_runlock. The price is glibc's: a writer waits until no
 * read lock is held, and can starve while these read locks keep overlapping. Plain
 * rlock callers on the same rwmutex still defer to queued writers. rlock_recursive_clock
 * returns 0, ETIMEDOUT (deadline on `clock`, as rlock_clock), or EAGAIN at once when
 * the rwmutex already holds GS_RWMUTEX_MAX_READERS read locks. */
GS_API int gs_rwmutex_rlock_recursive_clock(gs_rwmutex_t *rw, clockid_t clock, int64_t deadline);
GS_API bool gs_rwmutex_tryrlock_recursive(gs_rwmutex_t *rw);

/* Barging releases, for reader-preferring use under contention: as runlock and
 * unlock, but the lock is never handed to a sleeping waiter. Waiters are woken to
 * compete with running threads (on unlock every queued reader and the first queued
 * writer; on the last runlock the first writer), so no thread waits for another to be
 * scheduled — with more threads than CPUs, the hand-offs of runlock and unlock cost
 * about ten times the throughput (README). What is given up is the order: readers held
 * back by a writer no longer go in before the next writer, and a writer woken by the
 * last reader may find a newcomer ahead of it. Same misuse checks as runlock / unlock. */
GS_API void gs_rwmutex_runlock_barging(gs_rwmutex_t *rw);
GS_API void gs_rwmutex_unlock_barging(gs_rwmutex_t *rw);

/* How many read locks rw holds right now: a snapshot, for assertions and for callers
 * (the pthread shim) that must answer an unlock of an unlocked rwlock instead of
 * failing, or tell EAGAIN from EBUSY after a failed tryrlock. */
GS_API uint32_t gs_rwmutex_readers(const gs_rwmutex_t *rw);

GS_END_DECLS

#endif
