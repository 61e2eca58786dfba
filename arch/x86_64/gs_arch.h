/* x86_64: PAUSE as the spin-wait hint, 128-byte padding, TSC as the cycle counter.
 * PAUSE tells the core a spin loop is running: it waits tens to ~140 cycles (Skylake
 * and later), saves power, avoids the memory-order machine clear when the loop exits,
 * and on SMT gives the sibling the pipeline (Intel SDM vol. 2, PAUSE).
 * Lines are 64 bytes, but the L2 spatial prefetcher fetches them in adjacent pairs, so
 * two hot words 64 bytes apart still interfere: padding is 128 (Intel optimization
 * manual; Folly's hardware_destructive_interference_size and crossbeam's CachePadded
 * use 128 for the same reason).
 * RDTSC is readable from user space unless the process opted out with
 * prctl(PR_SET_TSC, PR_TSC_SIGSEGV) (then it faults); the library's spin budgets are
 * timed with gs_now(), not with this counter. */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <stdint.h>

#define GS_CACHE_LINE 128
#define GS_HAVE_CYCLES 1

static inline void gs_cpu_relax(void) { __builtin_ia32_pause(); }
static inline uint64_t gs_cycles(void) { return __builtin_ia32_rdtsc(); }

#endif
