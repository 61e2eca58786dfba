/* gosync — shared declarations of the public headers. */
#ifndef GOSYNC_COMMON_H
#define GOSYNC_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <errno.h>

#if defined(__cplusplus)
#define GS_BEGIN_DECLS extern "C" {
#define GS_END_DECLS }
#define GS_STATIC_ASSERT(c, msg) static_assert(c, msg)
#define GS_ALIGNOF(t) alignof(t)
#else
#define GS_BEGIN_DECLS
#define GS_END_DECLS
#define GS_STATIC_ASSERT(c, msg) _Static_assert(c, msg)
#define GS_ALIGNOF(t) _Alignof(t)
#endif

#define GS_API __attribute__((visibility("default")))

#endif
