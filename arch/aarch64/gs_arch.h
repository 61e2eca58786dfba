/* aarch64: ISB as the spin-wait hint, 128-byte padding, CNTVCT_EL0 as the counter.
 * YIELD only hints an SMT core to run its other thread; almost no Arm core has SMT
 * (Neoverse E1 and Cortex-A65 do), and elsewhere it is a no-op, so a spin loop of
 * YIELDs hammers the lock's line at full speed. ISB stops the front end until the
 * pipeline drains, tens of cycles: the back-off x86's PAUSE gives. Rust's spin_loop()
 * switched to ISB for this (rust-lang/rust#84725, measured on Graviton2); Linux's
 * arm64 cpu_relax() still uses YIELD.
 * Most Arm cores have 64-byte lines, but Apple's M-series and Cavium ThunderX have
 * 128-byte ones (hence arm64 Linux's 128-byte ARCH_DMA_MINALIGN): padding is 128.
 * CNTVCT_EL0 is the generic timer's virtual count, readable from EL0 because Linux
 * sets CNTKCTL_EL1.EL0VCTEN for its vDSO; on cores with timer errata the kernel traps
 * the read and emulates it (slower, still correct). It ticks at CNTFRQ_EL0 (1-100 MHz
 * before Armv8.6, 1 GHz after), not at the core clock. The library's spin budgets are
 * timed with gs_now(), not with this counter.
 * futex(2) goes through glibc's syscall(), an assembly routine with CFI
 * (sysdeps/unix/sysv/linux/aarch64/syscall.S), so a pthread cancel that lands in it
 * unwinds out of it. */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GS_CACHE_LINE 128
#define GS_HAVE_CYCLES 1

static inline void gs_cpu_relax(void) { __asm__ __volatile__("isb" ::: "memory"); }
static inline uint64_t gs_cycles(void)
{
	uint64_t t;
	__asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(t));
	return t;
}

/* futex(2) through glibc's syscall(), returning the kernel's convention: the result,
 * or -errno. */
static inline long gs_arch_futex(const uint32_t *uaddr, int op, uint32_t val,
				 const struct timespec *ts, const uint32_t *uaddr2, uint32_t val3)
{
	long r = syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
	return r == -1 ? -errno : r;
}

#endif
