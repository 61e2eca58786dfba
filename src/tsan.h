/* ThreadSanitizer annotations, for gosync's own TSan builds and for users' TSan
 * builds linked against the normal library (DESIGN.md §3 rule 5).
 *
 * The __tsan_* hooks are declared weak: in a process without the TSan runtime they
 * resolve to NULL and each annotation costs one predictable branch; in a TSan
 * process (the runtime exports them) gosync locks become mutexes to TSan, so races
 * through them and lock-order inversions are reported as with pthread mutexes.
 *
 * Besides the mutex events, a successful lock also does __tsan_acquire and an unlock
 * __tsan_release on the same address. TSan's mutex model drops the happens-before
 * edge once it has seen an unlock by a thread that does not own the mutex (legal in
 * gosync, as in Go); the explicit acquire/release keep the edge, so a program that
 * unlocks across threads gets no false race reports (it needs
 * TSAN_OPTIONS=report_mutex_bugs=0 to silence TSan's "unlock of a mutex locked by
 * another thread" itself). The release must precede pre_unlock and the acquire follow
 * post_lock: between those, TSan ignores synchronization.
 *
 * Except in the park table: TSan also ignores the memory accesses inside a window, but
 * other threads use the same queues outside any window (a cond's broadcast moves
 * waiters in behind a parked locker, a cond waiter times out and reads or unlinks its
 * neighbours), and their accesses to a parked locker's record are recorded; the
 * locker's own uses of that stack before and after its window would then look
 * unordered with them. So a lock's park and an unlock's unpark run "diverted" (TSan's
 * word): recorded like any code, ordered through the table's bucket locks and wake
 * words. (The price: two threads that meet in a bucket are ordered for TSan, as they
 * are in fact; a race between them that only the bucket lock hides goes unreported.) */
#ifndef GS_TSAN_H
#define GS_TSAN_H

#include <stdbool.h>
#include <stddef.h>

extern void __tsan_mutex_pre_lock(void *addr, unsigned flags) __attribute__((weak));
extern void __tsan_mutex_post_lock(void *addr, unsigned flags, int recursion) __attribute__((weak));
extern int __tsan_mutex_pre_unlock(void *addr, unsigned flags) __attribute__((weak));
extern void __tsan_mutex_post_unlock(void *addr, unsigned flags) __attribute__((weak));
extern void __tsan_mutex_pre_divert(void *addr, unsigned flags) __attribute__((weak));
extern void __tsan_mutex_post_divert(void *addr, unsigned flags) __attribute__((weak));
extern void __tsan_acquire(void *addr) __attribute__((weak));
extern void __tsan_release(void *addr) __attribute__((weak));

/* Flag values of <sanitizer/tsan_interface.h>. */
#define GS_TSAN_READ_LOCK       (1u << 3)
#define GS_TSAN_TRY_LOCK        (1u << 4)
#define GS_TSAN_TRY_LOCK_FAILED (1u << 5)

static inline bool gs__tsan_on(void) { return __tsan_mutex_pre_lock != NULL; }

static inline void gs__tsan_pre_lock(const void *m, unsigned flags)
{
	if (gs__tsan_on())
		__tsan_mutex_pre_lock((void *)m, flags);
}

static inline void gs__tsan_post_lock(const void *m, unsigned flags, bool locked)
{
	if (gs__tsan_on()) {
		__tsan_mutex_post_lock((void *)m, locked ? flags : flags | GS_TSAN_TRY_LOCK_FAILED, 0);
		if (locked)
			__tsan_acquire((void *)m);
	}
}

static inline void gs__tsan_pre_unlock(const void *m, unsigned flags)
{
	if (gs__tsan_on()) {
		__tsan_release((void *)m);
		__tsan_mutex_pre_unlock((void *)m, flags);
	}
}

/* Around a park or unpark inside a lock's or unlock's window (with TSan on, the slow
 * paths are only reached from inside their window: the window must be open). */
static inline void gs__tsan_park_begin(const void *m)
{
	if (gs__tsan_on())
		__tsan_mutex_pre_divert((void *)m, 0);
}

static inline void gs__tsan_park_end(const void *m)
{
	if (gs__tsan_on())
		__tsan_mutex_post_divert((void *)m, 0);
}

static inline void gs__tsan_post_unlock(const void *m, unsigned flags)
{
	if (gs__tsan_on())
		__tsan_mutex_post_unlock((void *)m, flags);
}

#endif
