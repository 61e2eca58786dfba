/* pthread_cond_* on gs_cond.
 *
 * Layout inside glibc's pthread_cond_t (48 bytes, 8-aligned, any architecture):
 *   bytes 0..15  the gs_cond_t (glibc's __wseq and __g1_start; zero in
 *                PTHREAD_COND_INITIALIZER and after glibc's pthread_cond_init)
 *   __wrefs      glibc's: pthread_cond_init (left to glibc, so it reads the condattr)
 *                stores the clock (bit value 2: CLOCK_MONOTONIC) and process-shared
 *                (bit value 1) there; the shim reads them and never writes the field.
 * A process-shared cond goes to glibc in every call (it is then glibc's object).
 *
 * Mutexes: a gosync-handled pthread mutex (normal, adaptive, error-checking, recursive)
 * waits through gs_cond_wait_clock on its gs_mutex, so signal and broadcast under the
 * mutex move waiters onto it instead of waking them. An error-checking or recursive
 * mutex must be owned by the caller (else EPERM, as glibc); its owner and depth are
 * put aside for the wait and restored when it is held again, also when a cancel
 * unwinds the waiter (a cleanup on this frame, after gs_cond has re-taken the mutex).
 * A mutex glibc handles (robust, PI, PP, process-shared) is released and re-taken
 * through glibc's own unlock and lock (gs_cond_wait_func); its EOWNERDEAD comes back
 * from the wait as it does from glibc's.
 *
 * Waits are cancellation points; a cancelled waiter holds the mutex again when the
 * program's cleanup handlers run and passes on a signal it had consumed. Timed waits
 * check tv_nsec first (EINVAL) and measure the deadline on the cond's clock
 * (timedwait) or the given one (clockwait: CLOCK_REALTIME or CLOCK_MONOTONIC, else
 * EINVAL). destroy has nothing to wait for: a woken waiter does not touch the cond
 * again, so the cond may be destroyed (and freed) once nobody is blocked on it.
 */
#include "shim.h"

enum {
	WREFS_PSHARED = 1,   /* glibc's __PTHREAD_COND_SHARED_MASK */
	WREFS_MONOTONIC = 2, /* glibc's __PTHREAD_COND_CLOCK_MONOTONIC_MASK */
};

_Static_assert(sizeof(gs_cond_t) <= offsetof(pthread_cond_t, __data.__g_refs),
	       "gs_cond_t fits in __wseq and __g1_start");
_Static_assert(_Alignof(pthread_cond_t) >= _Alignof(gs_cond_t), "alignment");

static inline gs_cond_t *gsc(pthread_cond_t *c) { return (gs_cond_t *)c; }

static inline unsigned wrefs(pthread_cond_t *c)
{
	return __atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED);
}

static inline bool shared(pthread_cond_t *c) { return wrefs(c) & WREFS_PSHARED; }

static int unlock_glibc(void *m) { return GS_REAL(pthread_mutex_unlock)(m); }
static int lock_glibc(void *m) { return GS_REAL(pthread_mutex_lock)(m); }

/* Restores an error-checking or recursive mutex's owner if a cancel unwinds the
 * wait (gs_cond has re-taken the mutex by then). */
struct owner_guard {
	pthread_mutex_t *m;
	struct gs__shim_owner saved;
	bool waiting;
};

static void owner_unwound(struct owner_guard *g)
{
	if (g->waiting)
		gs__shim_mutex_restore_owner(g->m, &g->saved);
}

/* The one wait, for a private cond; deadline in ns on `clock`. */
static int wait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock, int64_t deadline)
{
	struct owner_guard g __attribute__((cleanup(owner_unwound))) = { .m = m };
	int r;

	if (gs__shim_mutex_is_glibc(m))
		return gs_cond_wait_func(gsc(c), unlock_glibc, lock_glibc, m, clock, deadline);
	if ((r = gs__shim_mutex_release_owner(m, &g.saved)) != 0)
		return r;
	g.waiting = true;
	r = gs_cond_wait_clock(gsc(c), gs__shim_gs_mutex(m), clock, deadline);
	g.waiting = false;
	gs__shim_mutex_restore_owner(m, &g.saved);
	return r;
}

static int timed(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
		 const struct timespec *abstime)
{
	int64_t deadline;
	int r = gs__shim_deadline(abstime, &deadline);

	return r ? r : wait(c, m, clock, deadline);
}

GS_SHIM_API int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	if (shared(c))
		return GS_REAL(pthread_cond_wait)(c, m);
	return wait(c, m, CLOCK_REALTIME, GS_NO_DEADLINE);
}

GS_SHIM_API int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				       const struct timespec *abstime)
{
	if (shared(c))
		return GS_REAL(pthread_cond_timedwait)(c, m, abstime);
	return timed(c, m, wrefs(c) & WREFS_MONOTONIC ? CLOCK_MONOTONIC : CLOCK_REALTIME, abstime);
}

GS_SHIM_API int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
				       const struct timespec *abstime)
{
	if (shared(c))
		return GS_REAL(pthread_cond_clockwait)(c, m, clock, abstime);
	if (!gs__shim_clock_ok(clock))
		return EINVAL;
	return timed(c, m, clock, abstime);
}

GS_SHIM_API int pthread_cond_signal(pthread_cond_t *c)
{
	if (shared(c))
		return GS_REAL(pthread_cond_signal)(c);
	gs_cond_signal(gsc(c));
	return 0;
}

GS_SHIM_API int pthread_cond_broadcast(pthread_cond_t *c)
{
	if (shared(c))
		return GS_REAL(pthread_cond_broadcast)(c);
	gs_cond_broadcast(gsc(c));
	return 0;
}

GS_SHIM_API int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
	/* glibc zeroes the object and records the attributes in __wrefs. */
	return GS_REAL(pthread_cond_init)(c, attr);
}

GS_SHIM_API int pthread_cond_destroy(pthread_cond_t *c)
{
	if (shared(c))
		return GS_REAL(pthread_cond_destroy)(c);
	return 0;
}
