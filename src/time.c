/* gs_now: CLOCK_MONOTONIC in nanoseconds (served by the vDSO, no system call).
 * gs__clock_now: the same for the clock a POSIX-style deadline is measured on. */
#include <time.h>

#include <gosync/time.h>

#include "futex.h"

int64_t gs__clock_now(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * GS_SEC + ts.tv_nsec;
}

int64_t gs_now(void) { return gs__clock_now(CLOCK_MONOTONIC); }
