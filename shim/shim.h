/* What every file of the pthread shim (libgosync-pthread.so) shares.
 *
 * The shim defines the POSIX names of glibc's mutex, cond, rwlock, semaphore, once
 * and barrier functions on top of libgosync.so. Its objects live inside glibc's own
 * types: each file states, with static assertions, which bytes of the glibc type it
 * uses, and leaves the fields glibc's static initializers and attribute-driven init
 * write (the mutex __kind, the rwlock __flags, ...) where glibc put them, because the
 * shim dispatches on them. Objects the shim does not handle — robust, priority-
 * inheritance, priority-protect and process-shared ones, named semaphores — go to
 * glibc's own functions, found with dlsym(RTLD_NEXT) the first time they are needed.
 *
 * Only the replaced POSIX names leave the library (GS_SHIM_API); everything else is
 * hidden. Deadlines: POSIX absolute timespecs become ns on the given clock, and the
 * waits pass that clock down (FUTEX_CLOCK_REALTIME for CLOCK_REALTIME), so a step of
 * the realtime clock moves the deadline as it does under glibc. */
#ifndef GS_SHIM_H
#define GS_SHIM_H

#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <gosync.h>

#define GS_SHIM_API __attribute__((visibility("default")))
#ifndef GS_HIDDEN
#define GS_HIDDEN __attribute__((visibility("hidden")))
#endif

/* glibc's implementation of `name` (dlsym RTLD_NEXT); fatal if it has none. */
GS_HIDDEN void *gs__real_lookup(const char *name);

/* GS_REAL(pthread_mutex_lock)(m): call glibc's own function. The pointer is looked up
 * once per call site; a race only repeats an idempotent lookup (relaxed is enough: the
 * code it points to was loaded before either thread ran). */
#define GS_REAL(fn)                                                                 \
	({                                                                          \
		static void *real_;                                                 \
		void *p_ = __atomic_load_n(&real_, __ATOMIC_RELAXED);               \
		if (!p_) {                                                          \
			p_ = gs__real_lookup(#fn);                                  \
			__atomic_store_n(&real_, p_, __ATOMIC_RELAXED);             \
		}                                                                   \
		(__typeof__(&fn))p_;                                                \
	})

/* The calling thread's kernel thread id (what glibc stores as a mutex's __owner),
 * cached per thread and corrected in a forked child. */
GS_HIDDEN pid_t gs__shim_tid(void);

/* POSIX absolute time -> ns for a wait: EINVAL for a tv_nsec outside [0, 1e9); a time
 * before the epoch is simply in the past. */
static inline int gs__shim_deadline(const struct timespec *t, int64_t *ns)
{
	if (t->tv_nsec < 0 || t->tv_nsec >= 1000000000)
		return EINVAL;
	if (t->tv_sec < 0)
		*ns = 0;
	else if (t->tv_sec >= INT64_MAX / 1000000000 - 1)
		*ns = GS_NO_DEADLINE;
	else
		*ns = (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
	return 0;
}

/* The clocks a *clock* variant accepts (glibc: EINVAL for any other). */
static inline bool gs__shim_clock_ok(clockid_t clock)
{
	return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC;
}

/* shim/mutex.c, for the cond: */
/* Whether glibc handles this mutex (robust, PI, PP, process-shared, destroyed). */
GS_HIDDEN bool gs__shim_mutex_is_glibc(pthread_mutex_t *m);
/* The gs_mutex inside a gosync-handled pthread mutex. */
GS_HIDDEN gs_mutex_t *gs__shim_gs_mutex(pthread_mutex_t *m);
/* Around a cond wait: forget the owner (EPERM if the caller does not own an
 * error-checking or recursive mutex), then restore it and the recursion depth. */
struct gs__shim_owner {
	int type;
	unsigned count;
};
GS_HIDDEN int gs__shim_mutex_release_owner(pthread_mutex_t *m, struct gs__shim_owner *saved);
GS_HIDDEN void gs__shim_mutex_restore_owner(pthread_mutex_t *m, const struct gs__shim_owner *saved);

#endif
