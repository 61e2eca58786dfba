/* pthread_barrier_* for process-private barriers, on a futex generation word.
 *
 * Layout inside glibc's pthread_barrier_t (32 bytes; glibc's struct pthread_barrier is
 * {in, current_round, count, shared, out}, which the static assertions pin):
 *   word     bytes 0-7: arrivals in the current round in the low 32 bits, the round
 *            number in the high 32 bits (the futex word: its half of `word`)
 *   count    bytes 8-11: the barrier's count, where glibc keeps it
 *   mark     bytes 12-15: glibc's `shared`, which it sets to 0 (private) or 128
 *            (process-shared); the shim writes MARK, a value glibc never writes. wait
 *            and destroy dispatch on it: a barrier initialized with the process-shared
 *            attribute is glibc's, start to end.
 *   inside   bytes 16-19: threads that have entered pthread_barrier_wait and not yet
 *            made their last access, plus DESTROYING (bit 31) while destroy waits.
 *
 * wait: inside+1 (relaxed); then a CAS on `word`: arrivals+1, or — for the count-th
 * arrival — (round+1, 0 arrivals). The CAS is acq_rel: each arrival releases what its
 * thread did before the barrier, the last one acquires all of it (the CASes form one
 * release sequence) and releases it again with the new round, which the others load
 * with acquire before they return. The last arrival wakes every sleeper (FUTEX_WAKE
 * of the round half) and returns PTHREAD_BARRIER_SERIAL_THREAD; the others sleep
 * (FUTEX_WAIT, expecting their round) until the round changes and return 0. Exactly
 * one serial thread per round, and the barrier is reusable at once: the CAS that
 * completes a round also opens the next, so a thread arriving early for the next
 * round (or one of more than `count` threads) is simply counted in it. Finally each
 * thread leaves: inside-1 (release) — its last access — and, if that made it 0 while
 * destroy waits, a FUTEX_WAKE of `inside` (an address only, as sem_post's wake).
 * The serial thread's wake of the sleepers comes before it leaves, so it never wakes
 * a destroyed barrier.
 *
 * Not a cancellation point (glibc's is not): the sleep is a plain futex wait, and a
 * signal handler's interruption just goes round the loop again.
 *
 * destroy: EBUSY if a round is unfinished (threads are blocked in it; glibc would
 * wait forever); otherwise it waits, on `inside`, until every thread released by the
 * last round has left, as glibc's does, so the usual "the serial thread destroys and
 * frees the barrier" is safe while the others are still returning. Then 0. init:
 * EINVAL for count 0 and for counts from UINT_MAX/2 up (glibc's limit); a process-
 * shared attribute goes to glibc's init.
 *
 * fork: a child inherits the arrivals and `inside` of parent threads it does not
 * have, as under glibc: such a barrier cannot complete its round in the child.
 */
#include "shim.h"

#include <limits.h>
#include <stddef.h>

#include "futex.h"

struct shim_barrier {
	uint64_t word;   /* arrivals | round << 32 */
	uint32_t count;
	int32_t mark;    /* glibc: 0 or 128; the shim: MARK */
	uint32_t inside; /* threads inside wait, | DESTROYING */
};

#define MARK 0x47534252 /* "GSBR": neither 0 nor 128 */
#define DESTROYING (1u << 31)
#define COUNT_LIMIT (UINT_MAX / 2) /* glibc's BARRIER_IN_THRESHOLD */

_Static_assert(sizeof(struct shim_barrier) <= sizeof(pthread_barrier_t), "fits");
_Static_assert(_Alignof(pthread_barrier_t) >= _Alignof(uint64_t), "aligned 64-bit word");
_Static_assert(offsetof(struct shim_barrier, count) == 8, "glibc's count field");
_Static_assert(offsetof(struct shim_barrier, mark) == 12, "glibc's shared field");

static inline uint32_t arrivals(uint64_t w) { return (uint32_t)w; }
static inline uint32_t round_of(uint64_t w) { return (uint32_t)(w >> 32); }

/* The round half of `word`: the futex word. */
static inline uint32_t *round_word(struct shim_barrier *b)
{
	return (uint32_t *)&b->word + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
}

static inline struct shim_barrier *own(pthread_barrier_t *barrier)
{
	struct shim_barrier *b = (struct shim_barrier *)barrier;
	/* written by init before the barrier is shared: relaxed */
	return __atomic_load_n(&b->mark, __ATOMIC_RELAXED) == MARK ? b : NULL;
}

GS_SHIM_API int pthread_barrier_init(pthread_barrier_t *restrict barrier,
				     const pthread_barrierattr_t *restrict attr, unsigned count)
{
	int pshared = PTHREAD_PROCESS_PRIVATE;

	if (count == 0 || count >= COUNT_LIMIT)
		return EINVAL;
	if (attr && pthread_barrierattr_getpshared(attr, &pshared) != 0)
		return EINVAL;
	if (pshared != PTHREAD_PROCESS_PRIVATE)
		return GS_REAL(pthread_barrier_init)(barrier, attr, count);
	struct shim_barrier *b = (struct shim_barrier *)barrier;
	__atomic_store_n(&b->word, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&b->count, count, __ATOMIC_RELAXED);
	__atomic_store_n(&b->inside, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&b->mark, MARK, __ATOMIC_RELAXED);
	return 0;
}

/* A thread's last access: it no longer reads the barrier. release: pairs with
 * destroy's acquire, which then sees every access before it. */
static void leave(struct shim_barrier *b)
{
	if (__atomic_fetch_sub(&b->inside, 1, __ATOMIC_RELEASE) == (DESTROYING | 1))
		gs__futex_wake(&b->inside, 1); /* an address only: see the top */
}

GS_SHIM_API int pthread_barrier_wait(pthread_barrier_t *barrier)
{
	struct shim_barrier *b = own(barrier);

	if (!b)
		return GS_REAL(pthread_barrier_wait)(barrier);
	uint32_t count = __atomic_load_n(&b->count, __ATOMIC_RELAXED);
	uint64_t w, next;

	__atomic_fetch_add(&b->inside, 1, __ATOMIC_RELAXED); /* before the arrival */
	w = __atomic_load_n(&b->word, __ATOMIC_RELAXED);
	do {
		if (arrivals(w) + 1 == count)
			next = (uint64_t)(round_of(w) + 1) << 32; /* next round, 0 arrivals */
		else
			next = w + 1;
		/* acq_rel: see the top */
	} while (!__atomic_compare_exchange_n(&b->word, &w, next, true, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	if (arrivals(next) == 0) {
		gs__futex_wake(round_word(b), INT_MAX);
		leave(b);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	uint32_t mine = round_of(w);
	/* acquire: pairs with the last arrival's release of the new round */
	while (round_of(__atomic_load_n(&b->word, __ATOMIC_ACQUIRE)) == mine)
		(void)gs__futex_wait(round_word(b), mine, CLOCK_MONOTONIC, GS_NO_DEADLINE);
	leave(b);
	return 0;
}

GS_SHIM_API int pthread_barrier_destroy(pthread_barrier_t *barrier)
{
	struct shim_barrier *b = own(barrier);

	if (!b)
		return GS_REAL(pthread_barrier_destroy)(barrier);
	if (arrivals(__atomic_load_n(&b->word, __ATOMIC_RELAXED)) != 0)
		return EBUSY;
	/* acquire: pairs with leave's release */
	uint32_t in = __atomic_or_fetch(&b->inside, DESTROYING, __ATOMIC_ACQUIRE);
	while (in != DESTROYING) {
		(void)gs__futex_wait(&b->inside, in, CLOCK_MONOTONIC, GS_NO_DEADLINE);
		in = __atomic_load_n(&b->inside, __ATOMIC_ACQUIRE);
	}
	__atomic_store_n(&b->inside, 0, __ATOMIC_RELAXED);
	return 0;
}
