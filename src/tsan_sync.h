/* ThreadSanitizer happens-before annotations for primitives that are not mutexes
 * (WaitGroup, Once, ...): a plain release on an address by one thread, an acquire on
 * the same address by another. They use the weak hooks of tsan.h, so they cost one
 * predictable branch without the TSan runtime; callers normally test gs__tsan_on()
 * once and call these only from their cold annotated copy.
 *
 * TSan only uses the address as a key (it never reads the memory), but a release
 * recorded on memory that another thread has already freed would be attached to a
 * dead (or reused) object: annotate before the operation that lets another thread
 * finish, never after it (DESIGN.md §3 rule 1). */
#ifndef GS_TSAN_SYNC_H
#define GS_TSAN_SYNC_H

#include "tsan.h"

/* Everything this thread did so far happens before a later gs__tsan_acquire(addr). */
static inline void gs__tsan_release(const void *addr)
{
	if (gs__tsan_on())
		__tsan_release((void *)addr);
}

/* Everything released on addr so far happens before what this thread does next. */
static inline void gs__tsan_acquire(const void *addr)
{
	if (gs__tsan_on())
		__tsan_acquire((void *)addr);
}

#endif
