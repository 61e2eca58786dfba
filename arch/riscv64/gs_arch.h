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
 * spin budgets are timed with gs_now(), not with this counter.
 * futex(2) is made with ecall inline (number in a7, arguments in a0-a5, result or
 * -errno in a0: syscall(2), "Architecture calling conventions"), not through glibc's
 * syscall(): glibc's riscv64 syscall() (sysdeps/unix/sysv/linux/riscv/syscall.c) is
 * built without unwind information (no FDE in Debian 12's glibc 2.36), so a pthread cancel that lands in it cannot unwind
 * out. Inline, the system call sits in src/futex.c's own frame, which has unwind
 * tables. */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#define GS_CACHE_LINE 64
#define GS_HAVE_CYCLES 1

static inline void gs_cpu_relax(void) { __asm__ __volatile__(".4byte 0x0100000f" ::: "memory"); }
static inline uint64_t gs_cycles(void)
{
	uint64_t t;
	__asm__ __volatile__("rdtime %0" : "=r"(t));
	return t;
}

/* futex(2) by ecall, returning the kernel's convention: the result, or -errno. See the
 * top for why not syscall(). */
static inline long gs_arch_futex(const uint32_t *uaddr, int op, uint32_t val,
				 const struct timespec *ts, const uint32_t *uaddr2, uint32_t val3)
{
	register long a0 __asm__("a0") = (long)uaddr;
	register long a1 __asm__("a1") = op;
	register long a2 __asm__("a2") = val;
	register long a3 __asm__("a3") = (long)ts;
	register long a4 __asm__("a4") = (long)uaddr2;
	register long a5 __asm__("a5") = val3;
	register long a7 __asm__("a7") = SYS_futex;

	__asm__ __volatile__("ecall"
			     : "+r"(a0)
			     : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a7)
			     : "memory");
	return a0;
}

#endif
