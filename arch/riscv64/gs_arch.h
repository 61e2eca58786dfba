/* riscv64: PAUSE from Zihintpause as the spin-wait hint, 64-byte lines, no cycle
 * counter. PAUSE is encoded as a FENCE with pred=W, succ=0, which cores without
 * Zihintpause execute as a harmless no-op fence; emitting the raw encoding keeps
 * toolchains without the extension happy. The rdcycle/rdtime CSRs may be disabled
 * for user space (Linux 6.6+ traps rdcycle), so spin budgets count iterations. */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <stdint.h>

#define GS_CACHE_LINE 64
#define GS_HAVE_CYCLES 0

static inline void gs_cpu_relax(void) { __asm__ __volatile__(".4byte 0x0100000f" ::: "memory"); }
static inline uint64_t gs_cycles(void) { return 0; }

#endif
