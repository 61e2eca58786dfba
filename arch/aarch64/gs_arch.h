/* aarch64: ISB as the spin-wait hint, 64-byte lines, CNTVCT_EL0 as the cycle counter.
 * YIELD is a no-op on most cores without SMT, so a spin loop of YIELDs hammers the
 * line; ISB stalls the pipeline for tens of cycles, which is the back-off a spin loop
 * wants (the choice Rust's std::hint::spin_loop and the Linux arm64 people made).
 * Padding is 128 bytes: Apple and Neoverse N1 prefetch pairs / have 128-byte lines.
 * CNTVCT_EL0 is readable from EL0 on Linux (the kernel enables it for the vDSO); it
 * ticks at a fixed frequency, slower than the core clock, which is fine for budgets. */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <stdint.h>

#define GS_CACHE_LINE 128
#define GS_HAVE_CYCLES 1

static inline void gs_cpu_relax(void) { __asm__ __volatile__("isb" ::: "memory"); }
static inline uint64_t gs_cycles(void)
{
	uint64_t t;
	__asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(t));
	return t;
}

#endif
