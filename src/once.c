/* gs_once — Go's sync.Once on park, with pthread_once's cancellation rule.
 *
 * Go's Once is a done flag and a mutex: the fast path loads the flag; the slow path
 * takes the mutex, re-checks, runs fn and sets the flag before unlocking, so latecomers
 * block on the mutex until fn has returned. Here the "mutex" is folded into the flag's
 * word: one 32-bit futex word, so that the pthread shim can place it inside a
 * pthread_once_t. The thread that moves the word from 0 to RUNNING runs fn; the others
 * sleep in park under the once's address until the runner publishes DONE.
 *
 * State word (the whole gs_once_t):
 *
 *   DONE      fn has returned; final (nothing changes the word again)
 *   RUNNING   a thread is inside fn
 *   WAITERS   threads sleep in park under this once's address
 *   EPOCH     the bits above WAITERS, beside RUNNING only: the fork epoch
 *             (gs__fork_epoch) of the process whose thread set RUNNING. "R" below is
 *             RUNNING with this process's epoch, the runner's own mark.
 *
 * Legal states:
 *   0                  not run yet (or the last runner was cancelled), nobody waiting
 *   R                  fn running, nobody queued
 *   R|WAITERS          fn running, waiters queued
 *   DONE               done; the fast path
 *   RUNNING|old epoch (|WAITERS)  inherited: fn was running in a thread of an ancestor
 *                      process when it forked; that thread does not exist here (or is
 *                      the forking thread, still inside fn), and neither do the
 *                      waiters. Counts as 0: a caller takes it over and runs fn, as
 *                      glibc's pthread_once does with its fork generation.
 * Illegal: WAITERS without RUNNING (a sleeper that nobody will wake), DONE with any
 * other bit. WAITERS is set and cleared only under the bucket lock of the once's
 * address, so WAITERS == "the queue is non-empty" whenever that lock is free: waiters
 * never time out, and only the runner's unpark dequeues them.
 *
 * Who changes what:
 *   0 or inherited -> R         a caller's CAS; the winner runs fn
 *   R -> R|WAITERS              wait_validate, under the bucket lock, as a caller
 *                               decides to sleep
 *   R -> DONE                   the runner's CAS when fn returns and nobody waits
 *   R|WAITERS -> DONE           done_cb, under the bucket lock, in the same critical
 *                               section that dequeues every waiter
 *   R(|WAITERS) -> 0            the same two steps (reset_cb) when fn was unwound
 *                               by cancellation or an exception: the woken waiters
 *                               race for RUNNING again and one of them runs fn
 *
 * gs_once_do:
 *   fast: if load_acquire(state) == DONE, return.
 *   slow: loop { s = load_acquire(state);
 *           DONE: return;
 *           0 or inherited: CAS(s -> R, acquire); on success run fn under a cleanup
 *              handler, then finish(DONE); on failure loop;
 *           R...: fatal if this thread itself is running this once (recursion:
 *              it would wait for itself); else park on the once's address with
 *              wait_validate and no deadline; woken or INVALID, loop }
 *   finish(to): CAS(mark -> to, release), mark being the RUNNING word this runner
 *     installed; if that fails WAITERS is set, and gs__unpark_all(o, cb) stores `to`
 *     (release) under the bucket lock as it dequeues all the waiters.
 *
 * fork. The child's park table is empty and its epoch is one more than the parent's,
 * so a RUNNING word copied from the parent is recognisably inherited: its runner and
 * its waiters are gone, and the child's callers run fn (validate never sleeps on such
 * a word). If the forking thread itself was inside fn, its copy in the child goes on
 * with fn and finishes with the parent's mark: that works while the word still holds
 * it (with WAITERS, the unpark finds nobody queued and its callback publishes). If a
 * child thread has taken the once over meanwhile, the inherited runner's finish finds
 * another word and leaves it alone: the child's own runner publishes (glibc instead
 * stores DONE unconditionally, even over a run in progress). The epoch has 29 bits
 * here; it wraps only after 2^29 generations of forks.
 *
 * Why publish inside the unpark callback rather than exchange-then-unpark_all: once the
 * word says DONE, a caller may return and free the once, and the address may be reused
 * by another gosync object at once. An unpark_all issued after the publication could
 * then dequeue that object's waiters (a stale wake it would have to tolerate). With the
 * store inside done_cb, waiters keep the once alive until the store (they are inside
 * gs_once_do on it), and after the store park touches only its bucket and the records
 * it dequeued, never the key's queue again. No wake is ever issued on a freed address.
 *
 * No lost wakeup: a caller's validate runs under the bucket lock and sleeps only if it
 * sees RUNNING, after setting WAITERS. If finish's CAS comes first, validate sees DONE
 * or 0 and returns INVALID (the caller loops). If validate comes first, the CAS fails
 * on WAITERS and unpark_all, which takes the same bucket lock afterwards, finds the
 * caller queued.
 *
 * Memory order. The acquire loads that see DONE (the fast path and the slow loop)
 * pair with the release that published DONE: finish's CAS or done_cb's store. So
 * everything fn wrote is visible to every caller after gs_once_do returns. The CAS
 * 0 -> RUNNING is acquire and pairs with the release of a reset (finish(0)), so a
 * runner after a cancelled one sees what the cancelled fn wrote, as with a mutex.
 * wait_validate's CAS is relaxed: it only decides who sleeps, and the bucket lock
 * (acquire/release) orders it against finish's unpark.
 *
 * No touch after release (DESIGN.md §3 rule 1). The publication of DONE is the last
 * access to the once: finish's CAS, or done_cb's store after which park only uses the
 * address as a key it has already hashed. The runner then returns without reading it.
 *
 * Cancellation (POSIX pthread_once, C++ call_once). fn runs between
 * pthread_cleanup_push and pthread_cleanup_pop(0). This file is built with -fexceptions,
 * so glibc's macros become a cleanup attribute that runs on any unwind through this
 * frame: the forced unwind of pthread_cancel or pthread_exit, and a C++ exception.
 * The handler unlinks the recursion record and does finish(0): the once is not done,
 * the waiters wake, and one of them takes RUNNING and runs fn. A waiter cannot be
 * cancelled while it sleeps: park's futex wait is not a cancellation point (as
 * glibc's pthread_once).
 *
 * Recursion. fn calling gs_once_do on its own once would park forever. Each runner
 * pushes a record {once, mark, next} on a thread-local chain while fn runs; a caller
 * about to park walks its own chain (short: the nesting depth of onces this thread is
 * running) and dies with "sync: recursive call of Once.Do" if it finds the once with
 * the RUNNING word it sees (after a fork, another thread's run is not recursion). The
 * walk is on the slow path only; the fast path never sees it.
 *
 * TSan (DESIGN.md §3 rule 5). For a TSan program linked against the plain library,
 * the annotated path releases the once's address before publishing DONE (or the
 * reset) and acquires it after seeing DONE (or winning RUNNING), the edges the
 * atomics above carry.
 */
#include <pthread.h>
#include <stddef.h>

#include <gosync/once.h>
#include <gosync/time.h>

#include "fatal.h"
#include "park.h"
#include "tsan_sync.h"

enum {
	DONE    = 1u << 0,
	RUNNING = 1u << 1,
	WAITERS = 1u << 2,
};
#define EPOCH_SHIFT 3

/* RUNNING as set by a thread of this process: tagged with its fork epoch. */
static inline uint32_t running_mark(void) { return RUNNING | (gs__fork_epoch() << EPOCH_SHIFT); }

/* A RUNNING word of an ancestor process (see fork above): its runner is not here. */
static inline bool inherited(uint32_t s)
{
	return (s & RUNNING) && (s & ~(uint32_t)WAITERS) != running_mark();
}

/* A once this thread is running fn for: a link of the thread's recursion chain. */
struct runner {
	gs_once_t *o;
	struct runner *next;
	uint32_t mark; /* the RUNNING word this runner installed */
	bool tsan;     /* the annotated path runs it */
};

static __thread struct runner *running;

static inline uint32_t load_acquire(const gs_once_t *o)
{
	return __atomic_load_n(&o->state_, __ATOMIC_ACQUIRE);
}

static inline bool cas(gs_once_t *o, uint32_t *old, uint32_t new, int order)
{
	return __atomic_compare_exchange_n(&o->state_, old, new, false, order, __ATOMIC_RELAXED);
}

/* Under the bucket lock: sleep only while fn still runs in this process, and say that
 * we do. */
static bool wait_validate(void *arg)
{
	gs_once_t *o = arg;
	uint32_t mark = running_mark();
	uint32_t s = __atomic_load_n(&o->state_, __ATOMIC_RELAXED);

	while ((s & ~(uint32_t)WAITERS) == mark) {
		if ((s & WAITERS) || cas(o, &s, mark | WAITERS, __ATOMIC_RELAXED))
			return true;
	}
	return false; /* DONE, 0 after a reset, or inherited: loop instead of sleeping */
}

/* Under the bucket lock, every waiter dequeued: publish DONE. release: pairs with the
 * acquire loads that see DONE. The last access to the once (rule 1). */
static uint64_t done_cb(void *arg, struct gs__unpark_result r)
{
	(void)r;
	__atomic_store_n(&((gs_once_t *)arg)->state_, DONE, __ATOMIC_RELEASE);
	return 0;
}

/* Under the bucket lock, every waiter dequeued: fn was unwound, back to not-done.
 * release: pairs with the acquire CAS of the next runner. */
static uint64_t reset_cb(void *arg, struct gs__unpark_result r)
{
	(void)r;
	__atomic_store_n(&((gs_once_t *)arg)->state_, 0, __ATOMIC_RELEASE);
	return 0;
}

/* The runner leaves its RUNNING `mark` for `to` (DONE or 0), waking the waiters if
 * any. */
static void finish(gs_once_t *o, uint32_t mark, uint32_t to)
{
	uint32_t s = mark;

	/* release: pairs with the acquire loads that see DONE, or with the next
	 * runner's acquire CAS after a reset. */
	if (cas(o, &s, to, __ATOMIC_RELEASE))
		return;
	if (s != (mark | WAITERS)) {
		if (mark == running_mark())
			gs__internal_error("once: state changed under its runner");
		return; /* inherited across fork and taken over here: not ours any more */
	}
	/* WAITERS is set: nothing but our callback changes the word from here on (in a
	 * forked child, the parent's waiters are not queued here: the callback runs
	 * with nobody dequeued). */
	gs__unpark_all(o, to == DONE ? done_cb : reset_cb, o);
}

/* Cleanup handler: fn did not return (cancellation, pthread_exit, an exception). */
static void run_unwound(void *arg)
{
	struct runner *r = arg;

	running = r->next;
	if (r->tsan)
		gs__tsan_release(r->o);
	finish(r->o, r->mark, 0);
}

static void run(gs_once_t *o, uint32_t mark, void (*fn)(void *), void *arg, bool tsan)
{
	struct runner r = { .o = o, .next = running, .mark = mark, .tsan = tsan };

	if (tsan)
		gs__tsan_acquire(o); /* after a reset: the cancelled runner's writes */
	running = &r;
	pthread_cleanup_push(run_unwound, &r);
	fn(arg);
	pthread_cleanup_pop(0);
	running = r.next;
	if (tsan)
		gs__tsan_release(o);
	finish(o, mark, DONE);
}

/* s: the RUNNING word seen. A runner of this once inherited across fork whose once a
 * child thread has taken over waits for that thread like anyone else. */
static void check_recursion(const gs_once_t *o, uint32_t s)
{
	for (const struct runner *r = running; r; r = r->next)
		if (r->o == o && r->mark == (s & ~(uint32_t)WAITERS))
			gs__fatal("sync: recursive call of Once.Do");
}

static __attribute__((noinline)) void once_slow(gs_once_t *o, void (*fn)(void *), void *arg,
						bool tsan)
{
	struct gs__park_args a = {
		.key = o, .validate = wait_validate, .arg = o,
		.clock = CLOCK_MONOTONIC, .deadline = GS_NO_DEADLINE,
	};

	for (;;) {
		/* acquire: pairs with the release that published DONE */
		uint32_t s = load_acquire(o);
		if (s == DONE)
			break;
		if (s == 0 || inherited(s)) {
			uint32_t mark = running_mark();
			/* acquire: pairs with the release of a reset */
			if (cas(o, &s, mark, __ATOMIC_ACQUIRE)) {
				run(o, mark, fn, arg, tsan);
				return;
			}
			continue;
		}
		check_recursion(o, s);
		uint64_t token;
		(void)gs__park(&a, &token); /* UNPARKED or INVALID: look again */
	}
	if (tsan)
		gs__tsan_acquire(o);
}

/* The public call checks once whether a TSan runtime is present and, if so, takes an
 * annotated out-of-line copy; the plain path stays one acquire load and a return. */

static __attribute__((noinline, cold)) void once_do_tsan(gs_once_t *o, void (*fn)(void *),
							 void *arg)
{
	if (load_acquire(o) == DONE)
		gs__tsan_acquire(o);
	else
		once_slow(o, fn, arg, true);
}

void gs_once_do(gs_once_t *o, void (*fn)(void *arg), void *arg)
{
	if (gs__tsan_on()) {
		once_do_tsan(o, fn, arg);
		return;
	}
	/* acquire: pairs with the release that published DONE */
	if (__builtin_expect(load_acquire(o) == DONE, 1))
		return;
	once_slow(o, fn, arg, false);
}
