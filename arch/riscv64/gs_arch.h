/* riscv64: PAUSE (Zihintpause) as the spin-wait hint, 64-byte lines, the time CSR
 * as the counter.
 * PAUSE is encoded as FENCE with pred=W, succ=0 (0x0100000f): a core without
 * Zihintpause executes it as a fence that orders nothing, i.e. a no-op. It is emitted
 * as raw bytes so that assemblers without the extension accept it, as Linux's riscv
 * cpu_relax() does.
 * The common cores (SiFive U74, T-Head C910, SpacemiT X60) have 64-byte lines, the
 * size riscv Linux assumes (L1_CACHE_SHIFT 6).
 * rdcycle traps since Linux 6.6 (user access to the cycle CSR is off by default), so
 * the counter is rdtime: the timebase (a few MHz to tens of MHz, not the core clock)
 * that the vDSO's clock_gettime() reads, so user access to it stays enabled; where the
 * hardware lacks it, firmware emulates it in a trap, slow but correct. The library's
 * spin budgets are timed with gs_now(), not with this counter. */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <stdint.h>

#define GS_CACHE_LINE 64
#define GS_HAVE_CYCLES 1

static inline void gs_cpu_relax(void) { __asm__ __volatile__(".4byte 0x0100000f" ::: "memory"); }
static inline uint64_t gs_cycles(void)
{
	uint64_t t;
	__asm__ __volatile__("rdtime %0" : "=r"(t));
	return t;
}

#endif
