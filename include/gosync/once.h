/* gosync — one-time initialization with Go's sync.Once semantics and POSIX
 * pthread_once's cancellation rule.
 *
 * A zeroed gs_once_t (or GS_ONCE_INIT) has not run. gs_once_do(o, fn, arg) calls
 * fn(arg) if and only if no earlier call on o has completed; every caller returns only
 * after that one call of fn has returned, and then sees everything fn wrote. Callers
 * that arrive while fn runs sleep (they do not spin). Once done, gs_once_do is one
 * acquire load.
 *
 * If fn does not return because its thread is cancelled (pthread_cancel at a
 * cancellation point, pthread_exit) or a C++ exception unwinds through it, the once
 * goes back to not-done and one of the waiting callers (or the next caller) runs fn
 * instead, as with pthread_once and std::call_once. Leaving fn with longjmp, or
 * asynchronous cancellation of a thread inside gs_once_do, is not supported.
 *
 * Calling gs_once_do on the same once from inside its fn would wait for itself
 * forever: it is detected and fatal ("sync: recursive call of Once.Do"). A deadlock
 * through another thread (fn waits for a thread that calls gs_once_do on the same
 * once) is not detected.
 *
 * The object is one 32-bit futex word (a pthread_once_t can hold it), process-private,
 * and must not be copied after first use. It may be freed as soon as gs_once_do has
 * returned in every thread that uses it — including by a caller while the thread that
 * ran fn is still returning. */
#ifndef GOSYNC_ONCE_H
#define GOSYNC_ONCE_H

#include <gosync/common.h>

GS_BEGIN_DECLS

typedef struct gs_once {
	uint32_t state_;  /* private: see src/once.c */
} gs_once_t;

#define GS_ONCE_INIT { 0 }

GS_STATIC_ASSERT(sizeof(gs_once_t) == 4, "gs_once_t is one 32-bit word");
GS_STATIC_ASSERT(GS_ALIGNOF(gs_once_t) == 4, "gs_once_t is 4-byte aligned");

/* Calls fn(arg) unless a call on o has already completed; returns when it has. */
GS_API void gs_once_do(gs_once_t *o, void (*fn)(void *arg), void *arg);

GS_END_DECLS

#endif
