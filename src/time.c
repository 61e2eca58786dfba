/* gs_now: CLOCK_MONOTONIC in nanoseconds (served by the vDSO, no system call). */
#include <time.h>

#include <gosync/time.h>

int64_t gs_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * GS_SEC + ts.tv_nsec;
}
