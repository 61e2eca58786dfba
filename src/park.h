/* park — wait queues keyed by address (see src/park.c for the algorithm).
 *
 * The contract, after parking_lot_core: a primitive keeps its own state word; park
 * keeps the queues. Every callback below runs while the bucket lock of its key is
 * held, so the primitive's state word and the queue can never disagree: a parker's
 * validate decides to sleep in the same critical section that enqueues it, an
 * unparker's callback learns whether waiters remain in the same critical section
 * that dequeued, and a timed-out waiter's callback runs in the critical section that
 * removes it. Callbacks must be short and must not block, park, unpark or make
 * system calls. */
#ifndef GS_PARK_H
#define GS_PARK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "futex.h"

/* What gs__park returns. */
enum gs__park_status {
	GS_PARK_UNPARKED, /* an unparker dequeued us; *unpark_token holds its token */
	GS_PARK_INVALID,  /* validate returned false; we never slept */
	GS_PARK_TIMEDOUT, /* the deadline passed while we were still queued */
};

struct gs__park_args {
	const void *key;          /* the address waited on (only hashed, never read) */
	/* Under the bucket lock, before enqueueing: return false not to sleep. */
	bool (*validate)(void *arg);
	/* After enqueueing, bucket lock released, before sleeping (cond: unlock m).
	 * Returning false abandons the park: settled as a cancel is (below, without
	 * calling cancelled), park returns GS_PARK_TIMEDOUT or GS_PARK_UNPARKED. */
	bool (*before_sleep)(void *arg);
	/* Under the bucket lock, after removing a timed-out waiter; others_remain tells
	 * whether waiters for the same key are still queued. */
	void (*timed_out)(void *arg, bool others_remain);
	/* Non-NULL makes the sleep a pthread cancellation point. If a cancel unwinds the
	 * parker, park first settles the record as a timeout would (still queued: leave
	 * the queue and run timed_out; already dequeued or requeued: wait for the
	 * unparker's wake, without deadline), then calls cancelled() with what that
	 * gave (GS_PARK_TIMEDOUT, or GS_PARK_UNPARKED and its token), outside the bucket
	 * lock, and lets the unwinding go on. */
	void (*cancelled)(void *arg, enum gs__park_status how, uint64_t unpark_token);
	void *arg;
	uint64_t park_token;      /* shown to unpark filters (weight, kind, ...) */
	bool at_head;             /* enqueue at the head (a woken waiter that lost) */
	clockid_t clock;          /* CLOCK_MONOTONIC or CLOCK_REALTIME */
	int64_t deadline;         /* absolute ns on `clock`; INT64_MAX = none */
};

GS_HIDDEN enum gs__park_status gs__park(const struct gs__park_args *a,
					uint64_t *unpark_token);

/* What an unparker's callback learns. */
struct gs__unpark_result {
	unsigned unparked; /* waiters dequeued and woken by this call */
	unsigned requeued; /* waiters moved to another key (gs__unpark_requeue) */
	bool have_more;    /* waiters for the key remain queued */
};

/* Decides, under the bucket lock, for each waiter of the key in queue order. */
enum gs__filter_op {
	GS_FILTER_UNPARK, /* dequeue and wake this one, continue */
	GS_FILTER_SKIP,   /* leave it queued, continue */
	GS_FILTER_STOP,   /* leave it and all later ones */
};

/* Under the bucket lock after dequeueing; the returned token is handed to every
 * waiter this call unparked. May be NULL (token 0). */
typedef uint64_t (*gs__unpark_cb)(void *arg, struct gs__unpark_result r);

/* Wakes the first waiter of key (if any). Returns the number woken (0 or 1). */
GS_HIDDEN unsigned gs__unpark_one(const void *key, gs__unpark_cb cb, void *arg);
/* Wakes every waiter queued on key at this moment. Returns the number woken. */
GS_HIDDEN unsigned gs__unpark_all(const void *key, gs__unpark_cb cb, void *arg);
/* Wakes the waiters `filter` selects (it sees each waiter's park_token in order). */
GS_HIDDEN unsigned gs__unpark_filter(const void *key,
				     enum gs__filter_op (*filter)(void *arg, uint64_t park_token),
				     gs__unpark_cb cb, void *arg);

/* What a requeue does, decided by its validate under both buckets' locks. */
enum gs__requeue_op {
	GS_REQUEUE_ABORT,      /* nothing */
	GS_REQUEUE_UNPARK_ONE, /* wake the first waiter of `from` */
	GS_REQUEUE_UNPARK_ALL, /* wake every waiter of `from` */
	GS_REQUEUE_ONE,        /* move the first waiter of `from` to the tail of `to` */
	GS_REQUEUE_ALL,        /* move every waiter of `from` to the tail of `to` */
};

/* Wakes or moves waiters of `from` (cond -> its mutex: nsync's and parking_lot's
 * cure for the thundering herd). validate runs first and cb last, both with the
 * locks of both keys' buckets held; cb's token goes to the woken waiters only — a
 * moved waiter gets its token from whoever later unparks it from `to`. A moved waiter
 * no longer times out: the event it waited for has happened. `from` != `to`.
 * Returns the number woken or moved. */
GS_HIDDEN unsigned gs__unpark_requeue(const void *from, const void *to,
				      enum gs__requeue_op (*validate)(void *arg),
				      gs__unpark_cb cb, void *arg);

/* Whether a waiter of key with this park_token is queued. Only inside a callback of
 * key (the bucket lock is held). */
GS_HIDDEN bool gs__park_has_waiter(const void *key, uint64_t park_token);

/* Tokens kept in the bucket of key, for sema. Only inside a callback of key (the
 * bucket lock is held). put returns false when the bucket has no free slot. */
GS_HIDDEN bool gs__park_token_take(const void *key);
GS_HIDDEN bool gs__park_token_put(const void *key);

/* Advanced in every forked child: a primitive can tell marks made by threads of the
 * parent (which do not exist in the child) from its own. */
GS_HIDDEN uint32_t gs__fork_epoch(void);

/* For tests: the bucket index of key and the number of token slots per bucket. */
GS_HIDDEN unsigned gs__park_bucket_of(const void *key);
#define GS_PARK_TOKEN_SLOTS 4

#endif
