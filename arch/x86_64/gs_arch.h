/* x86_64: PAUSE as the spin-wait hint, 64-byte lines, TSC as the cycle counter.
 * PAUSE tells the core a spin loop is running (saves power, avoids the memory-order
 * machine clear when the loop exits, and on SMT gives the sibling the pipeline).
 * Padding uses 128 bytes: Intel and AMD prefetch cache lines in adjacent pairs, so
 * two hot words 64 bytes apart still interfere. RDTSC is invariant on every CPU this
 * library targets and readable from user space. */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <stdint.h>

#define GS_CACHE_LINE 128
#define GS_HAVE_CYCLES 1

static inline void gs_cpu_relax(void) { __builtin_ia32_pause(); }
static inline uint64_t gs_cycles(void) { return __builtin_ia32_rdtsc(); }

#endif
