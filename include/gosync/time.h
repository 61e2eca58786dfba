/* gosync — time. All gosync times are int64_t nanoseconds of CLOCK_MONOTONIC;
 * a deadline is an absolute time, GS_NO_DEADLINE never expires. */
#ifndef GOSYNC_TIME_H
#define GOSYNC_TIME_H

#include <gosync/common.h>

GS_BEGIN_DECLS

#define GS_NSEC  ((int64_t)1)
#define GS_USEC  ((int64_t)1000)
#define GS_MSEC  ((int64_t)1000000)
#define GS_SEC   ((int64_t)1000000000)
#define GS_NO_DEADLINE INT64_MAX

/* Now, in nanoseconds of CLOCK_MONOTONIC. */
GS_API int64_t gs_now(void);

GS_END_DECLS

#endif
