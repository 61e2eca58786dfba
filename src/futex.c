/* The only file that makes system calls; futex(2) itself through gs_arch_futex()
 * (arch/<arch>/gs_arch.h), which returns the result or -errno as the kernel does.
 *
 * Waits use FUTEX_WAIT_BITSET because it takes an absolute deadline (a relative
 * FUTEX_WAIT timeout would have to be recomputed after every interruption and drifts)
 * and because FUTEX_CLOCK_REALTIME selects the clock the deadline is measured on: on
 * CLOCK_REALTIME a clock step moves the deadline, as glibc's timed waits do. All
 * futexes are FUTEX_PRIVATE_FLAG: gosync objects are process-private.
 *
 * EAGAIN (the word no longer held `expected`) and EINTR (a signal handler ran) both
 * mean "re-check and go round again" to a caller, so they become 0 here; only the
 * _intr forms report EINTR, for sem_wait's POSIX contract.
 *
 * Cancellation. pthread_cancel of a thread with deferred cancellation only sets a flag;
 * it interrupts a sleeping thread only if that thread enabled asynchronous cancellation,
 * which is how glibc makes its blocking calls cancellation points. The _cancel form
 * does the same around the system call alone. This file is built with asynchronous
 * unwind tables, so the unwinder can leave it from any instruction; the callers' cleanups
 * (compiled with -fexceptions) see their frame at the call to it. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "fatal.h"
#include "futex.h"
#include "gs_arch.h"

static int wait_bitset(const uint32_t *word, uint32_t expected, clockid_t clock,
		       int64_t deadline)
{
	struct timespec ts, *tsp = NULL;
	int op = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG;
	long r;

	if (clock == CLOCK_REALTIME)
		op |= FUTEX_CLOCK_REALTIME;
	if (deadline != INT64_MAX) {
		if (deadline < 0)
			deadline = 0;
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	r = gs_arch_futex(word, op, expected, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
	if (r == 0)
		return 0;
	switch (-r) {
	case EAGAIN:
		return 0;
	case EINTR:
	case ETIMEDOUT:
		return (int)-r;
	default:
		gs__internal_error("futex wait failed");
	}
}

int gs__futex_wait(const uint32_t *word, uint32_t expected, clockid_t clock,
		   int64_t deadline)
{
	int r = wait_bitset(word, expected, clock, deadline);
	return r == EINTR ? 0 : r;
}

int gs__futex_wait_intr(const uint32_t *word, uint32_t expected, clockid_t clock,
			int64_t deadline)
{
	return wait_bitset(word, expected, clock, deadline);
}

int gs__futex_wait_cancel(const uint32_t *word, uint32_t expected, clockid_t clock,
			  int64_t deadline)
{
	int type, r;

	/* A cancel already pending acts inside this call. */
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &type);
	r = wait_bitset(word, expected, clock, deadline);
	pthread_setcanceltype(type, &type);
	return r == EINTR ? 0 : r;
}

int gs__futex_wait_cancel_intr(const uint32_t *word, uint32_t expected, clockid_t clock,
			       int64_t deadline)
{
	int type, r;

	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &type);
	r = wait_bitset(word, expected, clock, deadline);
	pthread_setcanceltype(type, &type);
	return r;
}

void gs__futex_wake(const uint32_t *word, int n)
{
	/* EFAULT cannot happen for a word we were handed; any error is ignorable
	 * because a lost wake of a stale address has no sleeper to lose. */
	(void)gs_arch_futex(word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, (uint32_t)n, NULL, NULL, 0);
}

void gs__yield(void) { sched_yield(); }

int gs__usable_cpus(void)
{
	static int cached; /* 0: not read yet; the value is idempotent, relaxed is enough */
	int n = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (n == 0) {
		cpu_set_t set;
		n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
		if (n < 1)
			n = 1;
		__atomic_store_n(&cached, n, __ATOMIC_RELAXED);
	}
	return n;
}
