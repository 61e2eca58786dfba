/* The operating-system boundary: futex wait/wake, yield, usable CPUs.
 * src/futex.c is the only file that makes system calls. */
#ifndef GS_FUTEX_H
#define GS_FUTEX_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define GS_HIDDEN __attribute__((visibility("hidden")))

/* Sleeps while *word == expected, until woken or the absolute `deadline` (ns of
 * `clock`: CLOCK_MONOTONIC or CLOCK_REALTIME; INT64_MAX = none) passes.
 * Returns 0 (woken, value changed, or a signal interrupted: callers re-check their
 * condition and loop) or ETIMEDOUT. */
GS_HIDDEN int gs__futex_wait(const uint32_t *word, uint32_t expected,
			     clockid_t clock, int64_t deadline);
/* As gs__futex_wait, but reports a signal's interruption as EINTR (sem_wait). */
GS_HIDDEN int gs__futex_wait_intr(const uint32_t *word, uint32_t expected,
				  clockid_t clock, int64_t deadline);
/* As gs__futex_wait, but a pthread cancellation point: asynchronous cancellation is
 * enabled for the system call only (glibc's own cancellation points do the same), so
 * a cancel acts while we sleep and unwinds from here into the caller's cleanup; the
 * caller's frame is then always at this call. */
GS_HIDDEN int gs__futex_wait_cancel(const uint32_t *word, uint32_t expected,
				    clockid_t clock, int64_t deadline);
/* Both: a cancellation point that also reports a signal's interruption as EINTR
 * (sem_wait: glibc's is both). */
GS_HIDDEN int gs__futex_wait_cancel_intr(const uint32_t *word, uint32_t expected,
					 clockid_t clock, int64_t deadline);
/* Wakes up to n threads sleeping on word. A stale wake is harmless: every sleeper
 * re-checks its condition. */
GS_HIDDEN void gs__futex_wake(const uint32_t *word, int n);

/* Now on `clock` (CLOCK_MONOTONIC or CLOCK_REALTIME), in ns; src/time.c. */
GS_HIDDEN int64_t gs__clock_now(clockid_t clock);

/* Gives the CPU away for a moment. */
GS_HIDDEN void gs__yield(void);

/* CPUs this process may run on (sched_getaffinity), read once. */
GS_HIDDEN int gs__usable_cpus(void);

#endif
