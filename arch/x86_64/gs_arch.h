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
 * timed with gs_now(), not with this counter.
 * futex(2) goes through glibc's syscall(), an assembly routine with CFI
 * (sysdeps/unix/sysv/linux/x86_64/syscall.S), so a pthread cancel that lands in it
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

static inline void gs_cpu_relax(void) { __builtin_ia32_pause(); }
static inline uint64_t gs_cycles(void) { return __builtin_ia32_rdtsc(); }

/* futex(2) through glibc's syscall(), returning the kernel's convention: the result,
 * or -errno. */
static inline long gs_arch_futex(const uint32_t *uaddr, int op, uint32_t val,
				 const struct timespec *ts, const uint32_t *uaddr2, uint32_t val3)
{
	long r = syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
	return r == -1 ? -errno : r;
}

#endif
