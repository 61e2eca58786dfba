/* sema — Go's runtime semaphore semantics on park.
 *
 * Go keeps the count in the user's word and the waiters in a table; a release then
 * touches the user's object after the operation that may let its owner free it. Here
 * the count lives in the token slots of park's bucket for the key, and every change
 * of it happens under that bucket lock, inside park's callbacks:
 *
 *   acquire: park with validate = "take a pooled token if there is one" (then park
 *            returns INVALID and we own the token) else enqueue and sleep.
 *   release: unpark_one with a callback that, if it dequeued a waiter, either hands
 *            it the token directly (TOKEN_HANDOFF: the token never exists in the pool,
 *            so no newcomer can take it) or pools the token and tells the waiter to
 *            compete (TOKEN_RETRY; a waiter that loses requeues at the head, Go's
 *            LIFO requeue). With no waiter the token is pooled.
 *
 * A waiter whose deadline passes while queued leaves without taking or leaving a
 * token (park's timed-out path). One that was dequeued first got a handoff (returns 0)
 * or a retry (tries the pool once more, then times out): nothing is left behind
 * that was not there before.
 *
 * Pool slots are few per bucket (GS_PARK_TOKEN_SLOTS keys at a time). When they are
 * full a release cannot store its token; if a waiter is queued it gets the token by
 * handoff, otherwise the releaser yields and retries until an acquirer arrives or a
 * slot frees. By the contract above an acquirer is on its way, so this ends. */
#include <errno.h>

#include "park.h"
#include "sema.h"

enum {
	TOKEN_HANDOFF = 1, /* the token is yours */
	TOKEN_RETRY = 2,   /* a token was pooled for you to compete for */
};

struct acquire_ctx {
	const void *key;
	bool took;
};

static bool acquire_validate(void *arg)
{
	struct acquire_ctx *c = arg;
	c->took = gs__park_token_take(c->key);
	return !c->took;
}

int gs__sema_acquire(const void *key, bool lifo, clockid_t clock, int64_t deadline)
{
	struct acquire_ctx c = { .key = key };
	struct gs__park_args a = {
		.key = key, .validate = acquire_validate, .arg = &c,
		.at_head = lifo, .clock = clock, .deadline = deadline,
	};

	for (;;) {
		uint64_t token = 0;
		switch (gs__park(&a, &token)) {
		case GS_PARK_INVALID:
			return 0; /* validate took a pooled token */
		case GS_PARK_TIMEDOUT:
			return ETIMEDOUT;
		case GS_PARK_UNPARKED:
			if (token == TOKEN_HANDOFF)
				return 0;
			a.at_head = true; /* retry: compete, requeue at the head on loss */
			break;
		}
	}
}

struct release_ctx {
	const void *key;
	bool handoff;
	bool stored; /* the token found a home (a waiter or a pool slot) */
};

static uint64_t release_cb(void *arg, struct gs__unpark_result r)
{
	struct release_ctx *c = arg;

	if (r.unparked == 0) {
		c->stored = gs__park_token_put(c->key);
		return 0;
	}
	c->stored = true;
	if (!c->handoff && gs__park_token_put(c->key))
		return TOKEN_RETRY;
	return TOKEN_HANDOFF; /* asked for, or the pool is full: give it directly */
}

void gs__sema_release(const void *key, bool handoff)
{
	struct release_ctx c = { .key = key, .handoff = handoff };

	while (gs__unpark_one(key, release_cb, &c), !c.stored)
		gs__yield();
}
