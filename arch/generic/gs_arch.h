/* generic: any GCC or Clang target. The spin-wait hint is a compiler barrier only (no
 * portable pause instruction exists), padding a conservative 128 bytes (the largest
 * common line, or pair of lines a prefetcher fetches together), and there is no cycle
 * counter: gs_cycles() returns 0 with GS_HAVE_CYCLES 0. The library's spin budgets are
 * timed with gs_now(), so nothing depends on it. futex(2) goes through glibc's
 * syscall(); a pthread cancel that lands in it unwinds only if the target's syscall()
 * has unwind information (glibc's assembly versions carry CFI). */
#ifndef GS_ARCH_H
#define GS_ARCH_H
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GS_CACHE_LINE 128
#define GS_HAVE_CYCLES 0

static inline void gs_cpu_relax(void) { __asm__ __volatile__("" ::: "memory"); }
static inline uint64_t gs_cycles(void) { return 0; }

/* futex(2) through glibc's syscall(), returning the kernel's convention: the result,
 * or -errno. */
static inline long gs_arch_futex(const uint32_t *uaddr, int op, uint32_t val,
				 const struct timespec *ts, const uint32_t *uaddr2, uint32_t val3)
{
	long r = syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
	return r == -1 ? -errno : r;
}

#endif
