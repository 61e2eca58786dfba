/* generic: any GCC or Clang target. The spin-wait hint is a compiler barrier only (no
 * portable pause instruction exists), padding a conservative 128 bytes (the largest
 * common line, or pair of lines a prefetcher fetches together), and there is no cycle
 * counter: gs_cycles() returns 0 with GS_HAVE_CYCLES 0. The library's spin budgets are
 * timed with gs_now(), so nothing depends on it. */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <stdint.h>

#define GS_CACHE_LINE 128
#define GS_HAVE_CYCLES 0

static inline void gs_cpu_relax(void) { __asm__ __volatile__("" ::: "memory"); }
static inline uint64_t gs_cycles(void) { return 0; }

#endif
