/* pthread_mutex_* on gs_mutex.
 *
 * Layout inside glibc's pthread_mutex_t (its __data fields, any architecture):
 *   __lock   the gs_mutex_t word (zero in every static initializer = unlocked)
 *   __owner  the owner's tid, for error-checking and recursive mutexes only
 *   __count  the recursion depth of a recursive mutex
 *   __kind   glibc's: written by the static initializers and by pthread_mutex_init
 *            (which the shim leaves to glibc, so attributes are read by glibc), and
 *            read here to dispatch. The shim never writes it.
 * Kinds: the type bits (glibc's PTHREAD_MUTEX_KIND_MASK_NP) select normal/default/adaptive
 * (plain gs_mutex), error-checking (owner check: EDEADLK on relock, EPERM on a
 * stranger's unlock) or recursive (owner and depth). Any of glibc's robust, priority-
 * inheritance, priority-protect or process-shared bits — or the -1 glibc leaves in a
 * destroyed mutex — send the call to glibc, which also answers EINVAL for kinds it
 * does not know.
 *
 * glibc's answers kept: unlocking an unlocked normal mutex returns 0 (no abort);
 * trylock of an error-checking mutex the caller holds is EBUSY; the timed locks take
 * an available lock before looking at the deadline, so an expired or invalid one
 * does not stop them, and only then answer EINVAL (bad tv_nsec) or ETIMEDOUT;
 * destroying a locked mutex is EBUSY.
 *
 * __owner and __count are written only by the thread holding the mutex; another
 * thread reads __owner only to compare it with its own tid, which the holder never
 * stores. Relaxed atomics, because the reads race by design and order nothing (the
 * gs_mutex itself orders the protected data).
 */
#include "shim.h"

/* glibc's kind bits that the shim leaves to glibc. */
enum {
	KIND_TYPE_MASK = 3, /* glibc's PTHREAD_MUTEX_KIND_MASK_NP */
	KIND_ROBUST = 16,
	KIND_PRIO_INHERIT = 32,
	KIND_PRIO_PROTECT = 64,
	KIND_PSHARED = 128,
	KIND_GLIBC = KIND_ROBUST | KIND_PRIO_INHERIT | KIND_PRIO_PROTECT | KIND_PSHARED,
};

_Static_assert(sizeof(((pthread_mutex_t *)0)->__data.__lock) == sizeof(gs_mutex_t),
	       "gs_mutex_t fills pthread_mutex_t's __lock");
_Static_assert(_Alignof(pthread_mutex_t) >= _Alignof(gs_mutex_t), "alignment");

static inline int kind_of(pthread_mutex_t *m)
{
	return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED);
}

gs_mutex_t *gs__shim_gs_mutex(pthread_mutex_t *m) { return (gs_mutex_t *)&m->__data.__lock; }

static inline gs_mutex_t *gsm(pthread_mutex_t *m) { return (gs_mutex_t *)&m->__data.__lock; }

static inline int owner(pthread_mutex_t *m)
{
	return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);
}

static inline void set_owner(pthread_mutex_t *m, int tid)
{
	__atomic_store_n(&m->__data.__owner, tid, __ATOMIC_RELAXED);
}

bool gs__shim_mutex_is_glibc(pthread_mutex_t *m) { return (kind_of(m) & KIND_GLIBC) != 0; }

/* Before and after a cond wait on a gosync-handled mutex: the owner is forgotten
 * while the mutex is released and restored, with the recursion depth, once it is
 * held again. Returns EPERM, without touching anything, if the caller does not own
 * an error-checking or recursive mutex. */
int gs__shim_mutex_release_owner(pthread_mutex_t *m, struct gs__shim_owner *saved)
{
	int type = kind_of(m) & KIND_TYPE_MASK;

	saved->type = type;
	saved->count = 0;
	if (type != PTHREAD_MUTEX_ERRORCHECK && type != PTHREAD_MUTEX_RECURSIVE) {
		/* A wait with an unlocked normal mutex: glibc's release is a no-op then
		 * and the wait returns holding it. Take it, so that gs_cond's release
		 * is legal and the outcome the same. */
		if (!gs_mutex_is_locked(gsm(m)))
			gs_mutex_lock(gsm(m));
		return 0;
	}
	if (owner(m) != gs__shim_tid())
		return EPERM;
	saved->count = m->__data.__count;
	m->__data.__count = 0;
	set_owner(m, 0);
	return 0;
}

void gs__shim_mutex_restore_owner(pthread_mutex_t *m, const struct gs__shim_owner *saved)
{
	if (saved->type != PTHREAD_MUTEX_ERRORCHECK && saved->type != PTHREAD_MUTEX_RECURSIVE)
		return;
	set_owner(m, gs__shim_tid());
	m->__data.__count = saved->count;
}

/* Error-checking and recursive locks: the owner check, then the gs_mutex. */
static int lock_owned(pthread_mutex_t *m, int type, clockid_t clock,
		      const struct timespec *abstime, bool try)
{
	pid_t tid = gs__shim_tid();
	int64_t deadline = GS_NO_DEADLINE;
	int r;

	if (owner(m) == tid) {
		if (type == PTHREAD_MUTEX_ERRORCHECK)
			return try ? EBUSY : EDEADLK;
		if (m->__data.__count == UINT32_MAX)
			return EAGAIN;
		m->__data.__count++;
		return 0;
	}
	if (!gs_mutex_trylock(gsm(m))) {
		if (try)
			return EBUSY;
		if (abstime && (r = gs__shim_deadline(abstime, &deadline)) != 0)
			return r;
		if ((r = gs_mutex_lock_clock(gsm(m), clock, deadline)) != 0)
			return r;
	}
	set_owner(m, tid);
	m->__data.__count = 1;
	return 0;
}

/* The one lock: plain, try, or with a deadline on `clock` (abstime NULL: none). */
static int lock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime, bool try)
{
	int kind = kind_of(m);
	int64_t deadline;
	int r;

	switch (kind & (KIND_GLIBC | KIND_TYPE_MASK)) {
	case PTHREAD_MUTEX_NORMAL:
	case PTHREAD_MUTEX_ADAPTIVE_NP:
		if (gs_mutex_trylock(gsm(m)))
			return 0;
		if (try)
			return EBUSY;
		if (!abstime) {
			gs_mutex_lock(gsm(m));
			return 0;
		}
		if ((r = gs__shim_deadline(abstime, &deadline)) != 0)
			return r;
		return gs_mutex_lock_clock(gsm(m), clock, deadline);
	case PTHREAD_MUTEX_ERRORCHECK:
	case PTHREAD_MUTEX_RECURSIVE:
		return lock_owned(m, kind & KIND_TYPE_MASK, clock, abstime, try);
	}
	if (try)
		return GS_REAL(pthread_mutex_trylock)(m);
	if (!abstime)
		return GS_REAL(pthread_mutex_lock)(m);
	return GS_REAL(pthread_mutex_clocklock)(m, clock, abstime);
}

GS_SHIM_API int pthread_mutex_lock(pthread_mutex_t *m)
{
	/* The common case first: a normal mutex that is free. */
	if ((kind_of(m) & (KIND_GLIBC | KIND_TYPE_MASK)) == PTHREAD_MUTEX_NORMAL) {
		gs_mutex_lock(gsm(m));
		return 0;
	}
	return lock(m, CLOCK_REALTIME, NULL, false);
}

GS_SHIM_API int pthread_mutex_trylock(pthread_mutex_t *m)
{
	return lock(m, CLOCK_REALTIME, NULL, true);
}

GS_SHIM_API int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
	return lock(m, CLOCK_REALTIME, abstime, false);
}

GS_SHIM_API int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock,
					const struct timespec *abstime)
{
	if (!gs__shim_clock_ok(clock))
		return EINVAL;
	return lock(m, clock, abstime, false);
}

static int unlock_slow(pthread_mutex_t *m, int kind)
{
	switch (kind & (KIND_GLIBC | KIND_TYPE_MASK)) {
	case PTHREAD_MUTEX_NORMAL:
	case PTHREAD_MUTEX_ADAPTIVE_NP:
		if (gs_mutex_is_locked(gsm(m))) /* glibc: unlocking it unlocked is 0 */
			gs_mutex_unlock(gsm(m));
		return 0;
	case PTHREAD_MUTEX_ERRORCHECK:
	case PTHREAD_MUTEX_RECURSIVE:
		if (owner(m) != gs__shim_tid())
			return EPERM;
		if (--m->__data.__count != 0)
			return 0;
		set_owner(m, 0);
		gs_mutex_unlock(gsm(m));
		return 0;
	}
	return GS_REAL(pthread_mutex_unlock)(m);
}

GS_SHIM_API int pthread_mutex_unlock(pthread_mutex_t *m)
{
	int kind = kind_of(m);

	/* The common case first: a normal mutex that is locked. */
	if (__builtin_expect((kind & (KIND_GLIBC | KIND_TYPE_MASK)) == PTHREAD_MUTEX_NORMAL, 1) &&
	    __builtin_expect(gs_mutex_is_locked(gsm(m)), 1)) {
		gs_mutex_unlock(gsm(m));
		return 0;
	}
	return unlock_slow(m, kind);
}

GS_SHIM_API int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	/* glibc reads the attributes and writes __kind (and zeroes the rest); the shim's
	 * fields are all zero in a fresh glibc mutex. */
	return GS_REAL(pthread_mutex_init)(m, attr);
}

GS_SHIM_API int pthread_mutex_destroy(pthread_mutex_t *m)
{
	int kind = kind_of(m);

	if (kind & KIND_GLIBC)
		return GS_REAL(pthread_mutex_destroy)(m);
	if (gs_mutex_is_locked(gsm(m)))
		return EBUSY;
	__atomic_store_n(&m->__data.__kind, -1, __ATOMIC_RELAXED); /* as glibc marks it */
	return 0;
}
