/* gosync — condition variable with Go's sync.Cond semantics, for gs_mutex_t.
 *
 * A zeroed gs_cond_t (or GS_COND_INIT) is ready. wait atomically releases the mutex
 * and sleeps; it re-acquires the mutex before returning, always — also on timeout.
 * signal wakes the longest-waiting waiter, broadcast every thread waiting at that
 * moment; a signal with nobody waiting is lost (a condition variable has no memory:
 * wait in a loop on your predicate). There are no spurious wakeups (but for the one a
 * cancelled POSIX-style waiter passes on, below), and a waiter that
 * gave up at its deadline never swallows a signal meant for another. All threads
 * waiting on a cond at the same time must use the same mutex. signal and broadcast
 * may be called with or without the mutex held; with it held, woken waiters are
 * moved onto the mutex's queue instead of being woken only to block on it. */
#ifndef GOSYNC_COND_H
#define GOSYNC_COND_H

#include <gosync/common.h>
#include <gosync/mutex.h>
#include <gosync/time.h>

GS_BEGIN_DECLS

typedef struct gs_cond {
	uint32_t waiters_;  /* private: see src/cond.c */
	uint32_t pad_;
	uint64_t mutex_;
} gs_cond_t;

#define GS_COND_INIT { 0, 0, 0 }

GS_STATIC_ASSERT(sizeof(gs_cond_t) <= 16, "gs_cond_t fits its pinned size");

GS_API void gs_cond_wait(gs_cond_t *c, gs_mutex_t *m);
/* 0 if woken by signal/broadcast (also when that happens at the deadline), else
 * ETIMEDOUT; m is held again on return either way, even with a past deadline. */
GS_API int gs_cond_wait_until(gs_cond_t *c, gs_mutex_t *m, int64_t deadline);

/* POSIX-style waits, for code in the pthread world (the pthread shim is built on
 * them). The deadline is in ns on `clock` (CLOCK_MONOTONIC or CLOCK_REALTIME; a step of
 * CLOCK_REALTIME moves it), and the wait is a pthread cancellation point: a cancelled
 * waiter re-acquires the mutex before the program's cleanup handlers run, and a
 * signal it had already taken goes on to another waiter. */
GS_API int gs_cond_wait_clock(gs_cond_t *c, gs_mutex_t *m, clockid_t clock, int64_t deadline);
/* The same for a mutex that is not a gs_mutex_t: unlock(arg) releases it once the
 * waiter is queued, lock(arg) re-takes it. A nonzero result of unlock (EPERM: not
 * the owner) abandons the wait, which returns it without touching the mutex; a
 * nonzero result of lock (EOWNERDEAD from a robust mutex) is returned by the wait. */
GS_API int gs_cond_wait_func(gs_cond_t *c, int (*unlock)(void *arg), int (*lock)(void *arg),
			     void *arg, clockid_t clock, int64_t deadline);
GS_API void gs_cond_signal(gs_cond_t *c);
GS_API void gs_cond_broadcast(gs_cond_t *c);

GS_END_DECLS

#endif
