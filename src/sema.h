/* sema — Go's runtime semaphore (runtime/sema.go) on park: a count of tokens per
 * address, kept in park's bucket, never in the user's object. */
#ifndef GS_SEMA_H
#define GS_SEMA_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "futex.h"

/* Takes one token of key, sleeping until one is released to us or the deadline
 * passes: 0 or ETIMEDOUT. lifo queues at the head (a waiter that has waited before). */
GS_HIDDEN int gs__sema_acquire(const void *key, bool lifo, clockid_t clock, int64_t deadline);
/* Adds one token to key. With a waiter queued: handoff gives the token to the head
 * waiter directly (no newcomer can take it); without handoff the token goes to the
 * pool and the head waiter is woken to compete for it, requeueing at the head if it
 * loses. Contract (Go's, for its internal users): release only when an acquirer is
 * committed to come; if the bucket's token slots are all in use by other keys the
 * release waits for that acquirer rather than drop the token. */
GS_HIDDEN void gs__sema_release(const void *key, bool handoff);

#endif
