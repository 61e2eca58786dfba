/* generic: any GCC or Clang target. The spin-wait hint is a compiler barrier only, the
 * line size a conservative 128 bytes, and there is no cycle counter (spin budgets
 * count iterations instead). */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <stdint.h>

#define GS_CACHE_LINE 128
#define GS_HAVE_CYCLES 0

static inline void gs_cpu_relax(void) { __asm__ __volatile__("" ::: "memory"); }
static inline uint64_t gs_cycles(void) { return 0; }

#endif
