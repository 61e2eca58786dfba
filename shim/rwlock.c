/* pthread_rwlock_* on gs_rwmutex.
 *
 * Layout inside glibc's pthread_rwlock_t (its __data fields, any architecture):
 *   bytes 0..23   (__readers .. __pad4) hold the gs_rwmutex_t; every static
 *                 initializer and glibc's init leave them zero = unlocked.
 *   __cur_writer  the tid of the write-lock holder, 0 otherwise, where glibc keeps it.
 *   __flags, __shared  glibc's: written by the static initializers and by
 *                 pthread_rwlock_init (left to glibc, so glibc reads the attributes),
 *                 read here to dispatch. The shim never writes them.
 *
 * Kinds. glibc's default rwlock — PTHREAD_RWLOCK_INITIALIZER, PREFER_READER_NP, and
 * PREFER_WRITER_NP, which glibc treats alike for readers; also std::shared_mutex —
 * prefers readers: a read lock is granted while a writer waits, and programs rely on
 * taking read locks recursively. Those kinds use gs_rwmutex's reader-preferring read
 * locks (gs_rwmutex_rlock_recursive_clock: blocked only by a writer that holds the
 * lock), its ordinary write locks, and its barging releases (gs_rwmutex_unlock_barging,
 * runlock_barging: waiters are woken to compete, never handed the lock while asleep —
 * glibc's behaviour, and the difference between keeping up with glibc and a tenth of
 * its throughput with more threads than CPUs). Only PREFER_WRITER_NONRECURSIVE_NP
 * (__flags 2, from its static initializer or init) uses the writer-preferring
 * gs_rwmutex as it is (Go's RWMutex, with its hand-offs): glibc's own lock also holds
 * new readers back while a writer waits there. Process-shared rwlocks (__shared != 0),
 * and kinds glibc never writes, go to glibc.
 *
 * Why a gosync mode rather than forwarding the reader-preferring kinds to glibc: they
 * are nearly every rwlock a program has, so forwarding would leave the shim doing
 * nothing for rwlocks. The mode costs gs_rwmutex a mask (what blocks a reader) and a
 * flag (whether a release hands over or wakes); queueing, spinning, timeouts and the
 * state word are shared with the tested writer-preferring rwmutex. Differences that
 * only scheduling shows: waiters queue in FIFO order and spin briefly before sleeping;
 * glibc's PREFER_WRITER_NP hands a writer's unlock to a waiting writer first, the shim
 * wakes the queued readers and the first writer alike.
 *
 * Results kept from glibc 2.36: the timed and clock forms answer EINVAL for a tv_nsec
 * outside [0, 1e9) or a clock other than CLOCK_REALTIME / CLOCK_MONOTONIC before
 * anything else, even when the lock is free; an available lock is then taken whatever
 * the deadline, else ETIMEDOUT when it passes (CLOCK_REALTIME deadlines follow clock
 * steps). rdlock and wrlock by the write-lock holder: EDEADLK (tryrdlock/trywrlock:
 * EBUSY). EAGAIN when the rwlock already holds GS_RWMUTEX_MAX_READERS (glibc's 2^28 - 1)
 * read locks, from every read form. unlock releases the write lock if the caller
 * holds it, else a read lock; with no read lock held it returns 0 and changes nothing
 * (glibc returns 0 too, and decrements its reader count below zero). destroy returns 0
 * whatever the state, as glibc's does nothing.
 *
 * __cur_writer is written only by the write-lock holder: set after acquiring, cleared
 * before releasing (the release orders the clear before the next writer's store).
 * Other threads read it only to compare it with their own tid, which it cannot hold
 * unless they hold the lock. Relaxed atomics: the reads race by design, order nothing.
 */
#include "shim.h" /* first: it selects _GNU_SOURCE */

#include <stddef.h>

/* The bytes of pthread_rwlock_t that gs_rwmutex_t may grow into (its pinned maximum). */
enum { GS_BYTES = 24 };

_Static_assert(offsetof(pthread_rwlock_t, __data.__readers) == 0, "gs_rwmutex_t at the start");
_Static_assert(sizeof(gs_rwmutex_t) <= GS_BYTES, "gs_rwmutex_t fits its place");
_Static_assert(offsetof(pthread_rwlock_t, __data.__cur_writer) >= GS_BYTES,
	       "gs_rwmutex_t does not overlap __cur_writer");
_Static_assert(offsetof(pthread_rwlock_t, __data.__shared) >= GS_BYTES,
	       "gs_rwmutex_t does not overlap __shared");
_Static_assert(offsetof(pthread_rwlock_t, __data.__flags) >= GS_BYTES,
	       "gs_rwmutex_t does not overlap __flags");
_Static_assert(_Alignof(pthread_rwlock_t) >= _Alignof(gs_rwmutex_t), "alignment");

enum mode { READER_PREF, WRITER_PREF, GLIBC };

static inline enum mode mode_of(pthread_rwlock_t *rw)
{
	unsigned flags = __atomic_load_n(&rw->__data.__flags, __ATOMIC_RELAXED);

	if (__atomic_load_n(&rw->__data.__shared, __ATOMIC_RELAXED) != 0)
		return GLIBC;
	if (flags == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP)
		return WRITER_PREF;
	if (flags == PTHREAD_RWLOCK_PREFER_READER_NP || flags == PTHREAD_RWLOCK_PREFER_WRITER_NP)
		return READER_PREF;
	return GLIBC;
}

static inline gs_rwmutex_t *gsrw(pthread_rwlock_t *rw) { return (gs_rwmutex_t *)rw; }

static inline int cur_writer(pthread_rwlock_t *rw)
{
	return __atomic_load_n(&rw->__data.__cur_writer, __ATOMIC_RELAXED);
}

static inline void set_cur_writer(pthread_rwlock_t *rw, int tid)
{
	__atomic_store_n(&rw->__data.__cur_writer, tid, __ATOMIC_RELAXED);
}

/* Whether the caller holds the write lock (no tid lookup while nobody does). */
static inline bool is_writer(pthread_rwlock_t *rw)
{
	int w = cur_writer(rw);
	return w != 0 && w == gs__shim_tid();
}

/* Read lock, plain (abstime NULL) or with a deadline on `clock`. */
static int rdlock(pthread_rwlock_t *rw, enum mode mode, clockid_t clock,
		  const struct timespec *abstime)
{
	int64_t deadline = GS_NO_DEADLINE;
	int r;

	if (abstime && (r = gs__shim_deadline(abstime, &deadline)) != 0)
		return r;
	if (is_writer(rw))
		return EDEADLK;
	if (mode == READER_PREF)
		return gs_rwmutex_rlock_recursive_clock(gsrw(rw), clock, deadline);
	return gs_rwmutex_rlock_clock(gsrw(rw), clock, deadline);
}

static int wrlock(pthread_rwlock_t *rw, clockid_t clock, const struct timespec *abstime)
{
	int64_t deadline = GS_NO_DEADLINE;
	pid_t tid = gs__shim_tid();
	int r;

	if (abstime && (r = gs__shim_deadline(abstime, &deadline)) != 0)
		return r;
	if (cur_writer(rw) == tid)
		return EDEADLK;
	if ((r = gs_rwmutex_lock_clock(gsrw(rw), clock, deadline)) != 0)
		return r;
	set_cur_writer(rw, tid);
	return 0;
}

GS_SHIM_API int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
	enum mode mode = mode_of(rw);

	if (mode == GLIBC)
		return GS_REAL(pthread_rwlock_rdlock)(rw);
	return rdlock(rw, mode, CLOCK_REALTIME, NULL);
}

GS_SHIM_API int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
	enum mode mode = mode_of(rw);

	if (mode == GLIBC)
		return GS_REAL(pthread_rwlock_tryrdlock)(rw);
	if (mode == READER_PREF ? gs_rwmutex_tryrlock_recursive(gsrw(rw))
				: gs_rwmutex_tryrlock(gsrw(rw)))
		return 0;
	/* A failed try at the reader limit is glibc's EAGAIN (no writer holds it then). */
	return gs_rwmutex_readers(gsrw(rw)) >= GS_RWMUTEX_MAX_READERS ? EAGAIN : EBUSY;
}

GS_SHIM_API int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	enum mode mode = mode_of(rw);

	if (mode == GLIBC)
		return GS_REAL(pthread_rwlock_timedrdlock)(rw, abstime);
	return rdlock(rw, mode, CLOCK_REALTIME, abstime);
}

GS_SHIM_API int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clock,
					   const struct timespec *abstime)
{
	enum mode mode = mode_of(rw);

	if (mode == GLIBC)
		return GS_REAL(pthread_rwlock_clockrdlock)(rw, clock, abstime);
	if (!gs__shim_clock_ok(clock))
		return EINVAL;
	return rdlock(rw, mode, clock, abstime);
}

GS_SHIM_API int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
	if (mode_of(rw) == GLIBC)
		return GS_REAL(pthread_rwlock_wrlock)(rw);
	return wrlock(rw, CLOCK_REALTIME, NULL);
}

GS_SHIM_API int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
	if (mode_of(rw) == GLIBC)
		return GS_REAL(pthread_rwlock_trywrlock)(rw);
	if (!gs_rwmutex_trylock(gsrw(rw)))
		return EBUSY; /* also for the holder itself, as glibc */
	set_cur_writer(rw, gs__shim_tid());
	return 0;
}

GS_SHIM_API int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	if (mode_of(rw) == GLIBC)
		return GS_REAL(pthread_rwlock_timedwrlock)(rw, abstime);
	return wrlock(rw, CLOCK_REALTIME, abstime);
}

GS_SHIM_API int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clock,
					   const struct timespec *abstime)
{
	if (mode_of(rw) == GLIBC)
		return GS_REAL(pthread_rwlock_clockwrlock)(rw, clock, abstime);
	if (!gs__shim_clock_ok(clock))
		return EINVAL;
	return wrlock(rw, clock, abstime);
}

GS_SHIM_API int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
	enum mode mode = mode_of(rw);

	if (mode == GLIBC)
		return GS_REAL(pthread_rwlock_unlock)(rw);
	if (is_writer(rw)) {
		set_cur_writer(rw, 0); /* before the release: the rwlock may be freed after it */
		if (mode == READER_PREF)
			gs_rwmutex_unlock_barging(gsrw(rw));
		else
			gs_rwmutex_unlock(gsrw(rw));
		return 0;
	}
	/* glibc: unlocking an unlocked rwlock returns 0. (Two threads racing to release
	 * one read lock is still fatal.) */
	if (gs_rwmutex_readers(gsrw(rw)) == 0)
		return 0;
	if (mode == READER_PREF)
		gs_rwmutex_runlock_barging(gsrw(rw));
	else
		gs_rwmutex_runlock(gsrw(rw));
	return 0;
}

GS_SHIM_API int pthread_rwlock_init(pthread_rwlock_t *rw, const pthread_rwlockattr_t *attr)
{
	/* glibc reads the attributes, zeroes the object (an unlocked gs_rwmutex) and
	 * writes __flags and __shared. */
	return GS_REAL(pthread_rwlock_init)(rw, attr);
}

GS_SHIM_API int pthread_rwlock_destroy(pthread_rwlock_t *rw)
{
	if (mode_of(rw) == GLIBC)
		return GS_REAL(pthread_rwlock_destroy)(rw);
	return 0;
}
