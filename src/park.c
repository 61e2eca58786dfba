/* park — wait queues keyed by address: the one place where gosync threads sleep.
 *
 * Every gosync primitive is a state word in the user's object plus, for the threads
 * that must wait, a queue here. The queues live in a fixed table of buckets hashed by
 * the object's address (Go's semaphore table, parking_lot_core's hash table), so an
 * object needs no room for a queue and may be freed the moment its last operation has
 * made it available: park only ever uses the address as a key, never dereferences it.
 *
 * Buckets. GS_PARK_BUCKETS buckets, each on its own cache-line pair, each holding a
 * small lock, a doubly linked FIFO of waiter records and a few token slots (for sema).
 * Different keys may share a bucket; every walk filters by key. The bucket lock is a
 * three-state futex lock (0 free, 1 held, 2 held with sleepers: Drepper's "mutex3")
 * with a short spin before sleeping, and no spin at all when only one CPU is usable:
 * a pure spinlock collapses when 64 threads share 2 CPUs, because the holder is
 * preempted and every spinner burns its whole quantum.
 *
 * Waiter records live on the waiting thread's stack. A record holds its own futex
 * word `wake` (0 = still parked, 1 = unparked), the key, the parker's park_token, the
 * unparker's unpark_token and `queued`. Wakes are per-waiter: an unparker wakes
 * exactly the threads it dequeued, never a herd sharing one futex word.
 *
 * Protocol (parking_lot_core's, which is what keeps state words and queues in step):
 *   park:    lock bucket; validate() — the primitive re-checks its state word and
 *            records that it has a waiter; if false, unlock and return INVALID;
 *            enqueue (tail, or head for a woken waiter that lost its race); unlock;
 *            before_sleep(); sleep until wake == 1. If before_sleep refuses (a cond
 *            whose foreign mutex would not unlock), settle at once as a timeout does.
 *   unpark:  lock bucket; dequeue the chosen waiters (queued = 0); callback(count,
 *            have_more) — the primitive updates its state word knowing exactly who is
 *            left; write each dequeued record's unpark_token; unlock; then for each
 *            record: read what is needed, store wake = 1 (release), FUTEX_WAKE.
 *   timeout: the sleeper's deadline passes; lock bucket; if still queued, remove
 *            itself and run timed_out(others_remain) — the primitive fixes its counts
 *            — and return TIMEDOUT. If an unparker already dequeued it, that
 *            unparker owns the outcome: unlock and wait (without deadline) for its
 *            wake = 1, then return UNPARKED with the token it was handed.
 *   requeue: lock the buckets of two keys (in table order); validate decides; move
 *            waiters from one key's queue to the tail of the other's (the record's
 *            key changes under both locks, `requeued` is set) or wake them. A
 *            requeued waiter whose deadline passes keeps waiting: what it waited
 *            for has happened, and it now waits for the new key's unparker. Its
 *            timeout path finds its current bucket by reading the key, locking
 *            that bucket and re-checking the key (a requeue needs the old lock).
 *
 * Invariants:
 *   - queued, the links and unpark_token are read and written only under the bucket
 *     lock; wake is written once, by the unparker, after the bucket lock is released.
 *   - No system call is made while a bucket lock is held (the only sleeps are on the
 *     bucket lock itself and on a record's wake word, both outside it).
 *   - After its release store to wake, an unparker never reads the record again; it
 *     only passes the address to FUTEX_WAKE. The waiter returns only after seeing
 *     wake == 1, so the record outlives every read of it. The FUTEX_WAKE may land on
 *     a stack slot that some later record reuses: a stale wake, which every sleeper
 *     tolerates because it loops on its own word.
 *   - A wake that finds no waiter is not stored (the callback sees unparked == 0);
 *     validate-under-the-lock is what makes that safe.
 *
 * Memory order: bucket lock acquire (CAS/xchg) pairs with bucket unlock release
 * (xchg); wake's release store in wake_waiter pairs with the acquire load in gs__park.
 *
 * Cancellation: a parker that asks for it sleeps in a pthread cancellation point. The
 * cancel unwinds out of the futex call into a cleanup on gs__park's frame, where the
 * record still lives, and the cleanup settles it exactly like the timeout path (leave
 * the queue if still queued; else wait, uncancellably, for the wake the unparker owes
 * us) before the primitive's cancelled() callback restores its own invariants — a
 * cond waiter re-acquires its mutex and passes on a signal it consumed. The record
 * is thus never left in a queue after its frame is gone.
 *
 * fork: the child re-initialises the whole table from a pthread_atfork child handler
 * (the threads whose records were queued do not exist there) and advances
 * gs__fork_epoch, which primitives use to recognise marks left in their state words
 * by threads of the parent (gs_mutex's WOKEN). There is deliberately no prepare
 * handler that takes every bucket lock: the child discards the table anyway, and a
 * program's own prepare handler that runs after it and locks a contended gosync
 * lock would deadlock on a bucket lock its own thread holds. The child handler is
 * registered by a high-priority constructor, ahead of the program's handlers, so a
 * program's child handler may already use gosync locks.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "asan.h"
#include "gs_arch.h"
#include "futex.h"
#include "park.h"
#include "tsan_sync.h"

#define GS_PARK_BUCKETS_LOG2 9
#define GS_PARK_BUCKETS (1u << GS_PARK_BUCKETS_LOG2)
#define BUCKET_SPIN 64 /* relax rounds before sleeping on a bucket lock */

/* Bucket lock states. */
enum {
	BUCKET_FREE = 0,
	BUCKET_HELD = 1,
	BUCKET_HELD_SLEEPERS = 2,
};

struct gs__waiter {
	struct gs__waiter *next, *prev; /* bucket queue links (bucket lock) */
	struct gs__waiter *wake_next;   /* chain of records an unparker dequeued */
	const void *key;                /* changed only by a requeue, which holds both
					   buckets' locks; the waiter reads it atomically */
	uint64_t park_token;
	uint64_t unpark_token;          /* written under the bucket lock by the unparker */
	uint32_t wake;                  /* futex word: 0 parked, 1 unparked */
	bool queued;                    /* bucket lock */
	bool requeued;                  /* bucket lock: moved to another key, no deadline */
};

struct token_slot {
	const void *key; /* NULL: free */
	uint64_t count;
};

struct bucket {
	uint32_t lock;
	struct gs__waiter *head, *tail;
	struct token_slot tokens[GS_PARK_TOKEN_SLOTS];
} __attribute__((aligned(GS_CACHE_LINE)));

static struct bucket table[GS_PARK_BUCKETS];

unsigned gs__park_bucket_of(const void *key)
{
	/* Fibonacci hashing: multiply by 2^64/phi, keep the top bits. Objects are at
	 * least 4-byte aligned and often laid out with a fixed stride; the multiply
	 * spreads both. */
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
	return (unsigned)(h >> (64 - GS_PARK_BUCKETS_LOG2));
}

static struct bucket *bucket_for(const void *key) { return &table[gs__park_bucket_of(key)]; }

static void bucket_lock_slow(struct bucket *b)
{
	if (gs__usable_cpus() > 1) {
		for (int i = 0; i < BUCKET_SPIN; i++) {
			gs_cpu_relax();
			uint32_t c = BUCKET_FREE;
			/* relaxed peek first: don't steal the line with failing CASes */
			if (__atomic_load_n(&b->lock, __ATOMIC_RELAXED) == BUCKET_FREE &&
			    __atomic_compare_exchange_n(&b->lock, &c, BUCKET_HELD, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return; /* acquire: pairs with bucket_unlock's release */
		}
	}
	/* Once anyone sleeps, the lock is taken in state 2 so that its unlock wakes the
	 * next sleeper; the acquire pairs with bucket_unlock's release exchange. */
	while (__atomic_exchange_n(&b->lock, BUCKET_HELD_SLEEPERS, __ATOMIC_ACQUIRE) != BUCKET_FREE)
		gs__futex_wait(&b->lock, BUCKET_HELD_SLEEPERS, CLOCK_MONOTONIC, INT64_MAX);
}

static inline void bucket_lock(struct bucket *b)
{
	uint32_t c = BUCKET_FREE;
	/* acquire: pairs with bucket_unlock's release */
	if (!__atomic_compare_exchange_n(&b->lock, &c, BUCKET_HELD, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		bucket_lock_slow(b);
}

static inline void bucket_unlock(struct bucket *b)
{
	/* release: pairs with the acquire of the next bucket_lock */
	if (__atomic_exchange_n(&b->lock, BUCKET_FREE, __ATOMIC_RELEASE) == BUCKET_HELD_SLEEPERS)
		gs__futex_wake(&b->lock, 1);
}

/* TSan: a record written by another thread than its owner is released on its
 * address, and its owner acquires it before it returns and reuses the stack. The
 * bucket lock orders these accesses already, but TSan cannot always see that chain:
 * gosync's mutex annotations make TSan ignore synchronization inside lock and
 * unlock, and the unparker of a record requeued onto a mutex runs inside unlock. */
static inline void handed_over(struct gs__waiter *w)
{
	if (w)
		gs__tsan_release(w);
}

static void enqueue(struct bucket *b, struct gs__waiter *w, bool at_head)
{
	if (at_head) {
		w->prev = NULL;
		w->next = b->head;
		if (b->head)
			b->head->prev = w;
		else
			b->tail = w;
		b->head = w;
		handed_over(w->next);
	} else {
		w->next = NULL;
		w->prev = b->tail;
		if (b->tail)
			b->tail->next = w;
		else
			b->head = w;
		b->tail = w;
		handed_over(w->prev);
	}
	w->queued = true;
}

static void dequeue(struct bucket *b, struct gs__waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	w->queued = false;
	handed_over(w->prev);
	handed_over(w->next);
	handed_over(w);
}

static bool has_waiter(const struct bucket *b, const void *key)
{
	for (const struct gs__waiter *w = b->head; w; w = w->next)
		if (w->key == key)
			return true;
	return false;
}

/* Called after the bucket lock is released; the record may vanish right after the
 * store, so the address is taken first and nothing is read afterwards. */
static void wake_waiter(struct gs__waiter *w)
{
	uint32_t *word = &w->wake;
	/* release: pairs with the acquire load of wake in gs__park, publishing
	 * unpark_token and everything the unparker did before */
	__atomic_store_n(word, 1, __ATOMIC_RELEASE);
	gs__futex_wake(word, 1);
}

/* Locks the bucket the waiter is queued in now: a requeue may move it, but only while
 * holding the old bucket's lock, so a key read and confirmed under that lock holds. */
static struct bucket *lock_bucket_of(struct gs__waiter *w)
{
	for (;;) {
		const void *key = __atomic_load_n(&w->key, __ATOMIC_RELAXED);
		struct bucket *b = bucket_for(key);
		bucket_lock(b);
		if (__atomic_load_n(&w->key, __ATOMIC_RELAXED) == key)
			return b;
		bucket_unlock(b);
	}
}

/* The cleanup of a cancellable sleep: runs on every exit from the scope, acts only
 * when a cancel unwinds us out of the futex wait. */
struct sleeper {
	struct gs__waiter *w;
	const struct gs__park_args *a;
	bool asleep;
};

static void wait_for_wake(struct gs__waiter *w)
{
	/* acquire: pairs with wake_waiter's release store */
	while (__atomic_load_n(&w->wake, __ATOMIC_ACQUIRE) == 0)
		gs__futex_wait(&w->wake, 0, CLOCK_MONOTONIC, INT64_MAX);
}

/* A parker that stops waiting before its wake (cancelled, or before_sleep refused):
 * still queued, it leaves like a timed-out waiter; already dequeued or requeued, the
 * unparker has decided its fate, so it waits for the wake, without deadline. */
static enum gs__park_status settle(struct gs__waiter *w, const struct gs__park_args *a)
{
	struct bucket *b = lock_bucket_of(w);

	if (w->queued && !w->requeued) {
		dequeue(b, w);
		if (a->timed_out)
			a->timed_out(a->arg, has_waiter(b, a->key));
		bucket_unlock(b);
		return GS_PARK_TIMEDOUT;
	}
	bucket_unlock(b);
	wait_for_wake(w);
	return GS_PARK_UNPARKED;
}

static void sleep_unwound(struct sleeper *sl)
{
	struct gs__waiter *w = sl->w;
	const struct gs__park_args *a = sl->a;
	enum gs__park_status how = GS_PARK_UNPARKED;

	if (!sl->asleep)
		return;
	gs__asan_unwound();
	if (__atomic_load_n(&w->wake, __ATOMIC_ACQUIRE) == 0)
		how = settle(w, a);
	gs__tsan_acquire(w);
	a->cancelled(a->arg, how, how == GS_PARK_UNPARKED ? w->unpark_token : 0);
}

enum gs__park_status gs__park(const struct gs__park_args *a, uint64_t *unpark_token)
{
	struct bucket *b = bucket_for(a->key);
	struct gs__waiter w = { .key = a->key, .park_token = a->park_token };
	struct sleeper sl __attribute__((cleanup(sleep_unwound))) = { .w = &w, .a = a };
	int64_t deadline = a->deadline;

	bucket_lock(b);
	if (a->validate && !a->validate(a->arg)) {
		bucket_unlock(b);
		return GS_PARK_INVALID;
	}
	enqueue(b, &w, a->at_head);
	bucket_unlock(b);

	if (a->before_sleep && !a->before_sleep(a->arg)) {
		enum gs__park_status how = settle(&w, a);
		gs__tsan_acquire(&w);
		*unpark_token = w.unpark_token;
		return how;
	}

	/* acquire: pairs with wake_waiter's release store */
	while (__atomic_load_n(&w.wake, __ATOMIC_ACQUIRE) == 0) {
		int r;
		if (a->cancelled) {
			sl.asleep = true;
			r = gs__futex_wait_cancel(&w.wake, 0, a->clock, deadline);
			sl.asleep = false;
		} else {
			r = gs__futex_wait(&w.wake, 0, a->clock, deadline);
		}
		if (r != ETIMEDOUT)
			continue;
		b = lock_bucket_of(&w);
		if (w.queued && !w.requeued) {
			dequeue(b, &w);
			if (a->timed_out)
				a->timed_out(a->arg, has_waiter(b, a->key));
			bucket_unlock(b);
			gs__tsan_acquire(&w);
			return GS_PARK_TIMEDOUT;
		}
		bucket_unlock(b);
		/* Dequeued before our deadline check: the unparker decided our fate and
		 * is about to store wake; wait for it, however late. Requeued: the event
		 * we waited for happened, we now wait for another queue's wake. */
		deadline = INT64_MAX;
	}
	gs__tsan_acquire(&w);
	*unpark_token = w.unpark_token;
	return GS_PARK_UNPARKED;
}

static void wake_all(struct gs__waiter *woken)
{
	while (woken) {
		struct gs__waiter *w = woken;
		woken = w->wake_next; /* read before the wake: w may vanish after it */
		wake_waiter(w);
	}
}

/* The one unpark loop: walk key's waiters in queue order, dequeue at most `max` that
 * `filter` (NULL: all) selects, run the callback, then wake them outside the lock. */
static unsigned unpark(const void *key, unsigned max,
		       enum gs__filter_op (*filter)(void *, uint64_t),
		       gs__unpark_cb cb, void *arg)
{
	struct bucket *b = bucket_for(key);
	struct gs__waiter *woken = NULL, **tail = &woken;
	struct gs__unpark_result r = { .unparked = 0 };

	bucket_lock(b);
	for (struct gs__waiter *w = b->head, *next; w; w = next) {
		next = w->next;
		if (w->key != key)
			continue;
		enum gs__filter_op op = r.unparked == max ? GS_FILTER_STOP
				      : filter ? filter(arg, w->park_token) : GS_FILTER_UNPARK;
		if (op != GS_FILTER_UNPARK) {
			r.have_more = true;
			if (op == GS_FILTER_STOP)
				break;
			continue;
		}
		dequeue(b, w);
		w->wake_next = NULL;
		*tail = w;
		tail = &w->wake_next;
		r.unparked++;
	}
	uint64_t token = cb ? cb(arg, r) : 0;
	for (struct gs__waiter *w = woken; w; w = w->wake_next) {
		w->unpark_token = token;
		handed_over(w);
	}
	bucket_unlock(b);
	wake_all(woken);
	return r.unparked;
}

unsigned gs__unpark_one(const void *key, gs__unpark_cb cb, void *arg)
{
	return unpark(key, 1, NULL, cb, arg);
}

unsigned gs__unpark_all(const void *key, gs__unpark_cb cb, void *arg)
{
	return unpark(key, ~0u, NULL, cb, arg);
}

unsigned gs__unpark_filter(const void *key,
			   enum gs__filter_op (*filter)(void *arg, uint64_t park_token),
			   gs__unpark_cb cb, void *arg)
{
	return unpark(key, ~0u, filter, cb, arg);
}

/* Two buckets locked in table order (one, if both keys hash to the same bucket). */
static void lock_pair(struct bucket *a, struct bucket *b)
{
	if (a == b) {
		bucket_lock(a);
	} else if (a < b) {
		bucket_lock(a);
		bucket_lock(b);
	} else {
		bucket_lock(b);
		bucket_lock(a);
	}
}

static void unlock_pair(struct bucket *a, struct bucket *b)
{
	bucket_unlock(a);
	if (a != b)
		bucket_unlock(b);
}

unsigned gs__unpark_requeue(const void *from, const void *to,
			    enum gs__requeue_op (*validate)(void *arg),
			    gs__unpark_cb cb, void *arg)
{
	struct bucket *bf = bucket_for(from), *bt = bucket_for(to);
	struct gs__waiter *woken = NULL, **tail = &woken;
	struct gs__unpark_result r = { .unparked = 0 };

	lock_pair(bf, bt);
	enum gs__requeue_op op = validate(arg);
	if (op == GS_REQUEUE_ABORT) {
		unlock_pair(bf, bt);
		return 0;
	}
	bool wake = op == GS_REQUEUE_UNPARK_ONE || op == GS_REQUEUE_UNPARK_ALL;
	unsigned max = op == GS_REQUEUE_UNPARK_ONE || op == GS_REQUEUE_ONE ? 1 : ~0u;

	for (struct gs__waiter *w = bf->head, *next; w; w = next) {
		next = w->next;
		if (w->key != from)
			continue; /* includes the ones just moved here, when bf == bt */
		if (r.unparked + r.requeued == max) {
			r.have_more = true;
			break;
		}
		dequeue(bf, w);
		if (wake) {
			w->wake_next = NULL;
			*tail = w;
			tail = &w->wake_next;
			r.unparked++;
		} else {
			__atomic_store_n(&w->key, to, __ATOMIC_RELAXED);
			w->requeued = true;
			enqueue(bt, w, false);
			handed_over(w);
			r.requeued++;
		}
	}
	uint64_t token = cb ? cb(arg, r) : 0;
	for (struct gs__waiter *w = woken; w; w = w->wake_next) {
		w->unpark_token = token;
		handed_over(w);
	}
	unlock_pair(bf, bt);
	wake_all(woken);
	return r.unparked + r.requeued;
}

bool gs__park_has_waiter(const void *key, uint64_t park_token)
{
	for (const struct gs__waiter *w = bucket_for(key)->head; w; w = w->next)
		if (w->key == key && w->park_token == park_token)
			return true;
	return false;
}

bool gs__park_token_take(const void *key)
{
	struct token_slot *t = bucket_for(key)->tokens;

	for (int i = 0; i < GS_PARK_TOKEN_SLOTS; i++) {
		if (t[i].key != key)
			continue;
		if (--t[i].count == 0)
			t[i].key = NULL;
		return true;
	}
	return false;
}

bool gs__park_token_put(const void *key)
{
	struct token_slot *t = bucket_for(key)->tokens, *free_slot = NULL;

	for (int i = 0; i < GS_PARK_TOKEN_SLOTS; i++) {
		if (t[i].key == key) {
			t[i].count++;
			return true;
		}
		if (!t[i].key && !free_slot)
			free_slot = &t[i];
	}
	if (!free_slot)
		return false;
	free_slot->key = key;
	free_slot->count = 1;
	return true;
}

static uint32_t fork_epoch;

uint32_t gs__fork_epoch(void)
{
	/* written only in a single-threaded child; relaxed is enough */
	return __atomic_load_n(&fork_epoch, __ATOMIC_RELAXED);
}

static void fork_child(void)
{
	/* Only the forking thread exists here, and it was not parked. */
	memset(table, 0, sizeof table);
	__atomic_store_n(&fork_epoch, fork_epoch + 1, __ATOMIC_RELAXED);
}

__attribute__((constructor(101))) static void park_init(void)
{
	pthread_atfork(NULL, NULL, fork_child);
}
