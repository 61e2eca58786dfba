/* sem_* for unnamed process-private semaphores, on a futex word of their own.
 *
 * POSIX requires sem_post to be async-signal-safe, so a semaphore cannot sleep in
 * park (whose bucket locks a signal handler could find held by the thread it
 * interrupted): it is one lock-free 64-bit word and the futex system calls, the
 * algorithm of glibc's 64-bit semaphores.
 *
 * Layout inside glibc's sem_t (32 bytes; glibc's struct new_sem on 64-bit-atomic
 * targets, which the static assertions pin):
 *   data     bytes 0-7: value in the low 32 bits (the futex word: its half of `data`),
 *            the number of registered waiters in the high 32 bits
 *   private  bytes 8-11: glibc writes 0 (its LLL_PRIVATE: sem_init with pshared 0) or
 *            128 (FUTEX_PRIVATE_FLAG, its LLL_SHARED: pshared 1, sem_open); the shim
 *            writes MARK, a value glibc never writes. Every call dispatches on it: a
 *            semaphore without MARK — named, process-shared, or never initialized —
 *            goes to glibc's own function.
 *   pad      bytes 12-15: zeroed, unused; the rest of sem_t is not touched.
 *
 * The word: value V (0..SEM_VALUE_MAX) and waiters W.
 *   post:    CAS (V, W) -> (V+1, W), release; EOVERFLOW if V == SEM_VALUE_MAX. Then,
 *            if W > 0, FUTEX_WAKE one sleeper.
 *   trywait: CAS (V, W) -> (V-1, W), acquire, while V > 0; else EAGAIN.
 *   wait:    the trywait; if V == 0, register: W+1 (relaxed RMW). Then loop: with
 *            V > 0, CAS (V, W) -> (V-1, W-1), acquire — token taken and unregistered
 *            in one step; with V == 0, FUTEX_WAIT on the value half expecting 0, and
 *            on ETIMEDOUT or EINTR unregister (W-1) and fail with that errno.
 * No lost wakeup: a waiter registers before it looks at V, and the kernel sleeps only
 * while the value half is still 0. A post whose CAS comes after the registration sees
 * W > 0 and wakes; one that comes before it made V > 0, which the waiter sees.
 *
 * Memory order: post's release CAS pairs with the acquire CAS that takes its token
 * (or a later one: the RMWs on `data` form a release sequence), so what the poster
 * did before sem_post happens before what the waiter does after sem_wait. Failed
 * waits and the waiter count order nothing (relaxed, as glibc).
 *
 * No touch after release (DESIGN.md §3 rule 1): post's CAS is its last access to the
 * semaphore; the FUTEX_WAKE that may follow only hands the kernel an address (no
 * memory access; the kernel keys private futexes by address). If the woken waiter
 * has already returned and the memory been reused, that is a spurious wakeup of
 * whatever sleeps there, which every futex user tolerates; glibc's sem_post does the
 * same. W is read by the same CAS that makes the token available, so "the waiter took
 * the token and destroyed the semaphore" cannot come between the post and its view
 * of W.
 *
 * Interruption and cancellation, as glibc: sem_wait, sem_timedwait and sem_clockwait
 * are cancellation points. sem_wait and sem_timedwait (after its tv_nsec check) act on
 * a pending cancel even when they need not block; sem_clockwait only when it sleeps
 * (glibc 2.36 tests in the first two only). The sleep is the futex system call with
 * asynchronous cancellation enabled around it, and a cancelled waiter unregisters in
 * a cleanup handler. A signal handler that runs during the sleep makes the wait fail
 * with EINTR; sem_wait without a deadline is restarted instead when the handler has
 * SA_RESTART (the kernel restarts a futex wait without a timeout, not one with an
 * absolute timeout — the same system calls as glibc's, so the same answers; a
 * deadline too far away to represent becomes "none", and then restarts too). A
 * cancel that acts right after the kernel woke us would swallow
 * that wake: the cleanup then passes it on (if tokens and other waiters remain, it
 * wakes one), which glibc does not.
 *
 * glibc's answers kept: sem_init EINVAL above SEM_VALUE_MAX; sem_post EOVERFLOW at
 * SEM_VALUE_MAX; sem_timedwait and sem_clockwait EINVAL for a tv_nsec outside
 * [0, 1e9) even when a token is available, sem_clockwait EINVAL for a clock other
 * than CLOCK_REALTIME and CLOCK_MONOTONIC (checked first); ETIMEDOUT (a deadline in
 * the past still takes an available token); sem_getvalue never negative; sem_destroy
 * 0. After fork, the child keeps waiters counted for parent threads it does not have:
 * its posts then make a needless FUTEX_WAKE call, nothing worse.
 */
#include "shim.h"

#include <limits.h> /* SEM_VALUE_MAX */
#include <stddef.h>

#include "futex.h"

/* glibc's struct new_sem (64-bit atomics variant). */
struct shim_sem {
	uint64_t data;    /* value | waiters << 32 */
	int32_t private_; /* glibc: 0 or 128; the shim: MARK */
	int32_t pad;
};

#define MARK 0x4753454d /* "GSEM": neither 0 nor 128 */
#define ONE_WAITER ((uint64_t)1 << 32)

_Static_assert(sizeof(struct shim_sem) <= sizeof(sem_t), "fits in sem_t");
_Static_assert(_Alignof(sem_t) >= _Alignof(uint64_t), "sem_t holds an aligned 64-bit word");
_Static_assert(offsetof(struct shim_sem, private_) == 8, "glibc's private field");
_Static_assert(__GCC_ATOMIC_LLONG_LOCK_FREE == 2, "sem_post must be lock-free");
_Static_assert(SEM_VALUE_MAX <= UINT32_MAX, "value fits the low half");

static inline uint32_t value(uint64_t d) { return (uint32_t)d; }
static inline uint32_t waiters(uint64_t d) { return (uint32_t)(d >> 32); }

/* The value half of `data`: the futex word. */
static inline uint32_t *value_word(struct shim_sem *s)
{
	return (uint32_t *)&s->data + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
}

/* The shim's semaphore inside sem, or NULL if glibc's. MARK is written by sem_init
 * before the semaphore is shared (relaxed: a plain read, atomic only in form). */
static inline struct shim_sem *own(sem_t *sem)
{
	struct shim_sem *s = (struct shim_sem *)sem;
	return __atomic_load_n(&s->private_, __ATOMIC_RELAXED) == MARK ? s : NULL;
}

static inline int fail(int err)
{
	errno = err;
	return -1;
}

/* Takes a token if one is available. acquire: pairs with the posts' release. */
static inline bool take(struct shim_sem *s)
{
	uint64_t d = __atomic_load_n(&s->data, __ATOMIC_RELAXED);

	while (value(d) > 0)
		if (__atomic_compare_exchange_n(&s->data, &d, d - 1, true, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return true;
	return false;
}

/* A cancelled waiter unregisters; a wake it may have swallowed goes to another. */
static void unregister_cancelled(void *arg)
{
	struct shim_sem *s = arg;
	uint64_t d = __atomic_sub_fetch(&s->data, ONE_WAITER, __ATOMIC_RELAXED);

	if (value(d) > 0 && waiters(d) > 0)
		gs__futex_wake(value_word(s), 1);
}

static int wait_slow(struct shim_sem *s, clockid_t clock, int64_t deadline)
{
	int err = 0;
	/* register; relaxed: the CAS that takes the token orders what matters */
	uint64_t d = __atomic_add_fetch(&s->data, ONE_WAITER, __ATOMIC_RELAXED);

	pthread_cleanup_push(unregister_cancelled, s);
	for (;;) {
		if (value(d) == 0) {
			err = gs__futex_wait_cancel_intr(value_word(s), 0, clock, deadline);
			if (err != 0) { /* ETIMEDOUT or EINTR */
				__atomic_fetch_sub(&s->data, ONE_WAITER, __ATOMIC_RELAXED);
				break;
			}
			d = __atomic_load_n(&s->data, __ATOMIC_RELAXED);
		} else if (__atomic_compare_exchange_n(&s->data, &d, d - 1 - ONE_WAITER, true,
						       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			break; /* token taken, unregistered */
		}
	}
	pthread_cleanup_pop(0);
	return err ? fail(err) : 0;
}

/* The timed waits: abstime on `clock`, EINVAL checked before the token (and before a
 * pending cancel, if `testcancel`). */
static int timed_wait(struct shim_sem *s, clockid_t clock, const struct timespec *abstime,
		      bool testcancel)
{
	int64_t deadline;
	int err = gs__shim_deadline(abstime, &deadline);

	if (err)
		return fail(err);
	if (testcancel)
		pthread_testcancel();
	if (take(s))
		return 0;
	return wait_slow(s, clock, deadline);
}

GS_SHIM_API int sem_init(sem_t *sem, int pshared, unsigned int val)
{
	if (pshared)
		return GS_REAL(sem_init)(sem, pshared, val);
	if (val > SEM_VALUE_MAX)
		return fail(EINVAL);
	struct shim_sem *s = (struct shim_sem *)sem;
	__atomic_store_n(&s->data, (uint64_t)val, __ATOMIC_RELAXED);
	__atomic_store_n(&s->private_, MARK, __ATOMIC_RELAXED);
	s->pad = 0;
	return 0;
}

GS_SHIM_API int sem_destroy(sem_t *sem)
{
	if (!own(sem))
		return GS_REAL(sem_destroy)(sem);
	return 0; /* nothing to release; as glibc, the object is left as it is */
}

/* glibc's sem_post, looked up before any signal handler can need it: dlsym is not
 * async-signal-safe. */
static int (*glibc_sem_post)(sem_t *);

__attribute__((constructor)) static void sem_shim_init(void)
{
	__atomic_store_n(&glibc_sem_post, (int (*)(sem_t *))gs__real_lookup("sem_post"),
			 __ATOMIC_RELAXED);
}

GS_SHIM_API int sem_post(sem_t *sem)
{
	struct shim_sem *s = own(sem);

	if (!s) {
		int (*real)(sem_t *) = __atomic_load_n(&glibc_sem_post, __ATOMIC_RELAXED);
		if (!real) /* called by an initializer that ran before ours */
			real = (int (*)(sem_t *))gs__real_lookup("sem_post");
		return real(sem);
	}
	uint64_t d = __atomic_load_n(&s->data, __ATOMIC_RELAXED);
	do {
		if (value(d) == SEM_VALUE_MAX)
			return fail(EOVERFLOW);
		/* release: pairs with the acquire CAS that takes this token */
	} while (!__atomic_compare_exchange_n(&s->data, &d, d + 1, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
	if (waiters(d) > 0)
		gs__futex_wake(value_word(s), 1); /* an address only: see the top */
	return 0;
}

GS_SHIM_API int sem_trywait(sem_t *sem)
{
	struct shim_sem *s = own(sem);

	if (!s)
		return GS_REAL(sem_trywait)(sem);
	return take(s) ? 0 : fail(EAGAIN);
}

GS_SHIM_API int sem_wait(sem_t *sem)
{
	struct shim_sem *s = own(sem);

	if (!s)
		return GS_REAL(sem_wait)(sem);
	pthread_testcancel(); /* glibc's sem_wait is a cancellation point even when it
			       * need not block */
	if (take(s))
		return 0;
	return wait_slow(s, CLOCK_REALTIME, GS_NO_DEADLINE);
}

GS_SHIM_API int sem_timedwait(sem_t *sem, const struct timespec *abstime)
{
	struct shim_sem *s = own(sem);

	if (!s)
		return GS_REAL(sem_timedwait)(sem, abstime);
	return timed_wait(s, CLOCK_REALTIME, abstime, true); /* glibc tests, as sem_wait */
}

GS_SHIM_API int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime)
{
	struct shim_sem *s = own(sem);

	if (!s)
		return GS_REAL(sem_clockwait)(sem, clock, abstime);
	if (!gs__shim_clock_ok(clock))
		return fail(EINVAL);
	return timed_wait(s, clock, abstime, false); /* glibc does not test */
}

GS_SHIM_API int sem_getvalue(sem_t *restrict sem, int *restrict sval)
{
	struct shim_sem *s = own(sem);

	if (!s)
		return GS_REAL(sem_getvalue)(sem, sval);
	*sval = (int)value(__atomic_load_n(&s->data, __ATOMIC_RELAXED));
	return 0;
}
