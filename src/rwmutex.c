/* gs_rwmutex — Go's sync.RWMutex semantics on one state word and park.
 *
 * Why not Go's algorithm. Go's RWMutex is a writer mutex, a reader count that a
 * writer drives negative to announce itself, a count of readers still departing, and
 * two semaphores. Every count is changed by arithmetic outside any lock, and the
 * semaphores store wakeups. With deadlines that breaks: a writer that gives up after
 * announcing itself must undo readerCount while departing readers are decrementing
 * readerWait and may be about to post the writer semaphore for a writer that is gone;
 * a reader that gives up has already been counted as blocked by the writer's
 * announcement. Each repair needs another protocol. Instead gosync keeps one state
 * word and does all waiting in park, where the parker/unparker contract makes every
 * decision about who sleeps and who is woken under the bucket lock, together with
 * the state change it implies. Timeouts then reconcile like any other waiter.
 *
 * State word (32 bits):
 *
 *   WRITER          a writer holds the lock
 *   WRITER_PARKED   writers are queued (exact: see below) — new readers must queue,
 *                   which is what makes the lock writer-preferring
 *   READERS_PARKED  readers are queued (exact)
 *   readers         the number of readers holding it, in units of ONE_READER
 *
 * Legal states: readers == 0 whenever WRITER is set; any combination of the two
 * PARKED bits with a held lock; PARKED bits with a free lock only transiently (a
 * woken or timed-out thread is about to act). The PARKED bits are exact whenever the
 * bucket lock is free: they are set by a parker's validate, and cleared only under
 * the bucket lock by whoever proves there is no such waiter left (an unpark callback
 * that saw the whole queue, or a timed-out waiter's callback via park_has_waiter).
 *
 * Operations.
 *   rlock:   fast CAS readers+1 unless WRITER or WRITER_PARKED. Else park as a READER
 *            with validate "still blocked? then set READERS_PARKED". Woken GRANTED:
 *            the unlocker already counted us in.
 *   runlock: CAS readers-1 — unless we are the last reader and a writer is queued:
 *            then the decrement happens in an unpark callback that hands the lock to
 *            the first queued writer (WRITER set in the same CAS that drops the last
 *            reader), so no newcomer can slip in between. (If the writer has left
 *            meanwhile, the queued readers are admitted instead.)
 *   lock:    fast CAS 0 -> WRITER. Else park as a WRITER with validate "still held?
 *            then set WRITER_PARKED". Woken GRANTED: the lock was handed to us.
 *   unlock:  CAS WRITER off if nobody is queued. Else, under the bucket lock: if
 *            readers are queued, all of them are granted at once (counted in, WRITER
 *            cleared in one CAS), before any queued writer — readers held back by a
 *            writer never starve; otherwise the first queued writer is handed the
 *            lock (WRITER stays set).
 * A thread woken with RETRY (its grant could not be honoured because the state moved,
 * e.g. a reader joined through the fast path meanwhile) requeues at the head.
 *
 * Reader-preferring read locks (rlock_recursive, tryrlock_recursive) differ from
 * rlock in one thing only: what blocks them. A plain reader is blocked by WRITER or
 * WRITER_PARKED, a recursive one by WRITER alone, so it joins the readers while a
 * writer waits — which is what makes a recursive read lock safe (the writer waits for
 * the outer one; nothing waits for the writer). Each waiter carries its blocking mask
 * (a writer's is WRITER plus every reader bit); everything after blocking is shared:
 * both reader forms park as READERs and are granted together, and a last reader that
 * leaves with a writer queued hands the lock over as before. A recursive reader that
 * joins while that handoff is in flight makes the grant find readers(n) != 0: the
 * writer is told RETRY and requeues at the head, WRITER_PARKED kept.
 *
 * Barging releases (unlock_barging, runlock_barging), for reader-preferring use: a
 * grant hands the lock to threads that are asleep, and when more threads than CPUs
 * contend every other thread then waits for them to be scheduled (the collapse of the
 * writer-preferring rwmutex at 8 threads on 2 CPUs, in the README). A barging release
 * runs the same pass but hands nothing over: in the CAS that drops the caller's hold
 * it clears the PARKED bits of the waiters it dequeues and wakes them with RETRY, so
 * they compete with running threads like newcomers (glibc's rwlock does the same; the
 * order guarantees above are given up). Waiters woken this way: on unlock, every
 * queued reader and the first queued writer; on the last runlock, the first writer.
 * Waking that writer on unlock too is what keeps plain readers (blocked by
 * WRITER_PARKED) from being stranded on a free lock behind a writer nobody wakes; a
 * woken writer that finds the lock held requeues, and the holder's release wakes it.
 *
 * Reader limit: at most GS_RWMUTEX_MAX_READERS read locks (glibc's rwlock limit, so
 * the pthread shim answers EAGAIN where glibc does; the word has room for 2^29 - 1).
 * A reader that would exceed it never waits: the _clock forms return EAGAIN, try forms
 * false, the pinned rlock forms treat it as misuse. A grant that would exceed it (the
 * queued readers on top of those holding) is turned into RETRY, and the woken readers
 * meet the limit themselves.
 *
 * Timeouts (DESIGN.md §3 rule 2). A waiter still queued at its deadline removes
 * itself and, in its timed_out callback, clears its kind's PARKED bit if it was the
 * last of its kind. A writer that leaves may have been the only thing blocking queued
 * readers: after park returns it runs a grant pass (the readers' unpark callback,
 * which admits them only if no writer holds or waits), so it never strands them. A
 * waiter that an unlocker dequeued first was granted the lock and returns 0 (one
 * woken by a barging release tries once more, and times out only if it finds the lock
 * taken). The timeout pass always grants: it is rare, and nobody else would.
 *
 * Memory order. Every CAS that takes the lock (readers+1, WRITER set) is acquire and
 * pairs with the release CAS that last gave it up (runlock's, unlock's, or a
 * callback's). Lock transfers made in callbacks (grant to readers, handoff to a
 * writer) reach the woken thread through park: callback, then wake_waiter's release
 * store, then the waiter's acquire load of its wake word. Everything else is relaxed
 * and ordered by the bucket lock.
 *
 * No touch after release (rule 1): the release CAS of runlock/unlock, or the callback's
 * CAS run under the bucket lock, is the last access to the object.
 */
#include <errno.h>

#include <gosync/rwmutex.h>

#include "fatal.h"
#include "gs_arch.h"
#include "park.h"
#include "spin.h"
#include "tsan.h"

enum {
	WRITER         = 1u << 0,
	WRITER_PARKED  = 1u << 1,
	READERS_PARKED = 1u << 2,
	ONE_READER     = 1u << 3,
};

/* park_tokens: what kind of waiter a record is. */
enum { KIND_READER = 1, KIND_WRITER = 2 };

/* unpark_tokens */
enum { GRANTED = 1, RETRY = 2 };

static inline uint32_t readers(uint32_t s) { return s / ONE_READER; }

static inline uint32_t load(const gs_rwmutex_t *rw)
{
	return __atomic_load_n(&rw->state_, __ATOMIC_RELAXED);
}

static inline bool cas(gs_rwmutex_t *rw, uint32_t *old, uint32_t new, int order)
{
	return __atomic_compare_exchange_n(&rw->state_, old, new, false, order, __ATOMIC_RELAXED);
}

/* --- waiting ----------------------------------------------------------------- */

/* What blocks a waiter (state & mask != 0): a reader waits while a writer holds the
 * lock or is queued for it (writer preference), a recursive reader only while a
 * writer holds it (reader preference), a writer while anyone holds it. */
enum {
	BLOCK_READER    = WRITER | WRITER_PARKED,
	BLOCK_RECURSIVE = WRITER,
	BLOCK_WRITER    = WRITER | ~(ONE_READER - 1u),
};

_Static_assert(GS_RWMUTEX_MAX_READERS <= ~0u / ONE_READER, "the reader count fits the word");

struct waiter {
	gs_rwmutex_t *rw;
	uint32_t blocked_by; /* the bits that make this waiter wait */
	uint32_t parked_bit; /* its kind's PARKED bit */
	uint64_t kind;
};

/* Under the bucket lock: sleep only while still blocked; say so in the state word. */
static bool wait_validate(void *arg)
{
	struct waiter *w = arg;
	uint32_t s = load(w->rw);

	for (;;) {
		if (!(s & w->blocked_by))
			return false;
		if (cas(w->rw, &s, s | w->parked_bit, __ATOMIC_RELAXED))
			return true;
	}
}

static void wait_timed_out(void *arg, bool others_remain)
{
	struct waiter *w = arg;

	if (!others_remain || !gs__park_has_waiter(w->rw, w->kind))
		__atomic_fetch_and(&w->rw->state_, ~w->parked_bit, __ATOMIC_RELAXED);
}

/* --- granting ---------------------------------------------------------------- */

/* Who runs an unpark pass, which decides what it may grant. */
enum pass {
	PASS_UNLOCK,  /* writer unlock: queued readers first, else the first writer */
	PASS_RUNLOCK, /* last reader leaving with writers queued: the first writer */
	PASS_TIMEOUT, /* a writer gave up: queued readers, if no writer holds or waits */
};

struct grant {
	gs_rwmutex_t *rw;
	enum pass pass;
	uint32_t drop;        /* the caller's hold, dropped in the same CAS: WRITER,
				 ONE_READER or 0 */
	bool decided;
	bool writers_queued;  /* at decision time */
	bool readers_phase;   /* grant readers (else one writer) */
	bool more_writers;    /* another writer stays queued (writer phase, or a
				 barging readers phase) */
	bool barge;           /* wake with RETRY, hand nothing over (not PASS_TIMEOUT) */
	bool woke_writer;     /* barging readers phase: the first writer was woken too */
	uint32_t granted;
};

/* Under the bucket lock, once per queued waiter of rw in FIFO order. The phase is
 * decided at the first waiter, from PARKED bits that are exact under this lock. */
static enum gs__filter_op grant_filter(void *arg, uint64_t kind)
{
	struct grant *g = arg;

	if (!g->decided) {
		uint32_t s = load(g->rw);
		g->decided = true;
		g->writers_queued = gs__park_has_waiter(g->rw, KIND_WRITER);
		/* readers first on unlock; otherwise only when no writer waits */
		g->readers_phase = (s & READERS_PARKED) &&
				   (g->pass == PASS_UNLOCK || !g->writers_queued);
		if (g->pass == PASS_TIMEOUT && ((s & WRITER) || g->writers_queued)) {
			g->readers_phase = false; /* a writer came: readers keep waiting */
			return GS_FILTER_STOP;
		}
	}
	if (g->readers_phase) {
		if (kind == KIND_WRITER && g->barge && !g->woke_writer) {
			g->woke_writer = true;
			return GS_FILTER_UNPARK;
		}
		if (kind == KIND_WRITER) {
			g->more_writers = true;
			return GS_FILTER_SKIP;
		}
		g->granted++;
		return GS_FILTER_UNPARK;
	}
	if (g->pass == PASS_TIMEOUT)
		return GS_FILTER_STOP;
	if (kind == KIND_READER)
		return GS_FILTER_SKIP; /* readers stay queued behind the writers */
	if (g->granted) {
		g->more_writers = true;
		return GS_FILTER_STOP;
	}
	g->granted = 1;
	return GS_FILTER_UNPARK;
}

/* Under the bucket lock, after the filter dequeued g->granted waiters of one kind:
 * drop the caller's hold and move the lock to them in one CAS. RETRY when the state
 * no longer allows the grant (a fast-path taker came first); they requeue. A barging
 * pass only drops the hold and the dequeued waiters' PARKED bits: all RETRY. */
static uint64_t grant_cb(void *arg, struct gs__unpark_result r)
{
	struct grant *g = arg;
	uint32_t s = load(g->rw);

	(void)r;
	for (;;) {
		uint32_t n = s - g->drop;
		uint64_t token = GRANTED;

		if (g->barge) {
			token = RETRY;
			if (g->readers_phase)
				n &= ~(uint32_t)READERS_PARKED; /* every queued reader was woken */
			n = (n & ~(uint32_t)WRITER_PARKED) | (g->more_writers ? WRITER_PARKED : 0);
		} else if (g->readers_phase) {
			n &= ~(uint32_t)READERS_PARKED; /* every queued reader was taken */
			if (!g->writers_queued)
				n &= ~(uint32_t)WRITER_PARKED; /* a stale mark (fork) */
			if ((n & WRITER) || readers(n) + g->granted > GS_RWMUTEX_MAX_READERS)
				token = RETRY; /* at the limit: they come back for EAGAIN */
			else
				n += g->granted * ONE_READER;
		} else if (g->pass != PASS_TIMEOUT) {
			n = (n & ~(uint32_t)WRITER_PARKED) | (g->more_writers ? WRITER_PARKED : 0);
			if (g->granted && ((n & WRITER) || readers(n))) {
				token = RETRY;
				n |= WRITER_PARKED;
			} else if (g->granted) {
				n |= WRITER; /* hand off: nobody can slip in between */
			}
		}
		/* release: pairs with the acquire CAS of the next taker (or, for a grant,
		 * with the woken thread's acquire of its park wake word). With a hold
		 * dropped, this is the last access to the object (rule 1). */
		if (cas(g->rw, &s, n, __ATOMIC_RELEASE))
			return token;
	}
}

static void grant_pass(gs_rwmutex_t *rw, enum pass pass, uint32_t drop, bool barge)
{
	struct grant g = { .rw = rw, .pass = pass, .drop = drop, .barge = barge };
	gs__tsan_park_begin(rw);
	gs__unpark_filter(rw, grant_filter, grant_cb, &g);
	gs__tsan_park_end(rw);
}

/* Whether a `kind` waiter may spin on state s: a reader blocked only by a writer
 * that holds the lock (a queued writer means a park/wake cycle before readers can
 * enter: too long to spin for), a writer blocked by any holder. */
static inline bool worth_spinning(uint64_t kind, uint32_t s)
{
	return kind == KIND_WRITER || !(s & WRITER_PARKED);
}

/* Spins while blocked (s & blocked_by), until the spin budget of this wait
 * (*spin_end, set at its first spin, reset when the waiter is woken) is spent.
 * Returns the last state seen. */
static uint32_t spin(gs_rwmutex_t *rw, uint64_t kind, uint32_t blocked_by, uint32_t s,
		     int64_t *spin_end)
{
	int64_t now = gs_now();

	if (*spin_end == 0)
		*spin_end = now + GS_SPIN_NS;
	if (now >= *spin_end || !worth_spinning(kind, s) || !gs__spin_begin()) {
		*spin_end = now; /* spent: park */
		return s;
	}
	while ((s & blocked_by) && worth_spinning(kind, s) && now < *spin_end) {
		gs_cpu_relax();
		s = load(rw);
		now = gs_now();
	}
	gs__spin_end();
	return s;
}

static int wait_slow(gs_rwmutex_t *rw, uint64_t kind, uint32_t blocked_by, clockid_t clock,
		     int64_t deadline)
{
	struct waiter w = {
		.rw = rw, .kind = kind, .blocked_by = blocked_by,
		.parked_bit = kind == KIND_READER ? READERS_PARKED : WRITER_PARKED,
	};
	struct gs__park_args a = {
		.key = rw, .validate = wait_validate, .timed_out = wait_timed_out, .arg = &w,
		.park_token = kind, .clock = clock, .deadline = deadline,
	};
	int64_t spin_end =
		deadline == GS_NO_DEADLINE || gs__clock_now(clock) < deadline ? 0 : INT64_MIN;
	uint32_t s = load(rw);

	for (;;) {
		if (!(s & blocked_by)) {
			if (kind == KIND_READER && readers(s) == GS_RWMUTEX_MAX_READERS)
				return EAGAIN; /* never waits for the count to drop */
			uint32_t n = kind == KIND_READER ? s + ONE_READER : s | WRITER;
			if (cas(rw, &s, n, __ATOMIC_ACQUIRE))
				return 0; /* acquire: pairs with the last release */
			continue;
		}
		if (spin_end == 0 || gs_now() < spin_end) {
			s = spin(rw, kind, blocked_by, s, &spin_end);
			continue;
		}

		uint64_t token = 0;
		gs__tsan_park_begin(rw);
		enum gs__park_status how = gs__park(&a, &token);
		gs__tsan_park_end(rw);
		switch (how) {
		case GS_PARK_INVALID:
			break;
		case GS_PARK_TIMEDOUT:
			/* a writer may have been all that kept queued readers out */
			if (kind == KIND_WRITER && (load(rw) & READERS_PARKED))
				grant_pass(rw, PASS_TIMEOUT, 0, false);
			return ETIMEDOUT;
		case GS_PARK_UNPARKED:
			if (token == GRANTED)
				return 0; /* counted in by the granter */
			a.at_head = true;
			spin_end = 0;
			break;
		}
		s = load(rw);
	}
}

/* --- entry points --------------------------------------------------------------- */

static inline bool tryrlock(gs_rwmutex_t *rw, uint32_t blocked_by)
{
	uint32_t s = load(rw);

	while (!(s & blocked_by) && readers(s) < GS_RWMUTEX_MAX_READERS)
		if (cas(rw, &s, s + ONE_READER, __ATOMIC_ACQUIRE))
			return true; /* acquire: pairs with the last release */
	return false;
}

static inline bool trylock(gs_rwmutex_t *rw)
{
	uint32_t s = load(rw);

	while (!(s & WRITER) && readers(s) == 0)
		if (cas(rw, &s, s | WRITER, __ATOMIC_ACQUIRE))
			return true; /* acquire: pairs with the last release */
	return false;
}

static inline int rlock_until(gs_rwmutex_t *rw, uint32_t blocked_by, clockid_t clock,
			      int64_t deadline)
{
	return tryrlock(rw, blocked_by) ? 0 : wait_slow(rw, KIND_READER, blocked_by, clock, deadline);
}

static inline int lock_until(gs_rwmutex_t *rw, clockid_t clock, int64_t deadline)
{
	uint32_t s = 0;
	/* acquire: pairs with the last release */
	if (cas(rw, &s, WRITER, __ATOMIC_ACQUIRE))
		return 0;
	return wait_slow(rw, KIND_WRITER, BLOCK_WRITER, clock, deadline);
}

static void runlock_slow(gs_rwmutex_t *rw, bool barge)
{
	grant_pass(rw, PASS_RUNLOCK, ONE_READER, barge);
}

static inline void runlock(gs_rwmutex_t *rw, bool barge)
{
	uint32_t s = load(rw);

	for (;;) {
		if (readers(s) == 0)
			gs__fatal("sync: RUnlock of unlocked RWMutex");
		if (readers(s) == 1 && (s & WRITER_PARKED)) {
			runlock_slow(rw, barge); /* hand the lock to (or wake) the first queued writer */
			return;
		}
		/* release: pairs with the acquire of the next writer (last access) */
		if (cas(rw, &s, s - ONE_READER, __ATOMIC_RELEASE))
			return;
	}
}

static void unlock_slow(gs_rwmutex_t *rw, bool barge)
{
	grant_pass(rw, PASS_UNLOCK, WRITER, barge);
}

static inline void unlock(gs_rwmutex_t *rw, bool barge)
{
	uint32_t s = load(rw);

	for (;;) {
		if (!(s & WRITER))
			gs__fatal("sync: Unlock of unlocked RWMutex");
		if (s & (READERS_PARKED | WRITER_PARKED)) {
			unlock_slow(rw, barge);
			return;
		}
		/* release: pairs with the acquire of the next taker (last access) */
		if (cas(rw, &s, s & ~(uint32_t)WRITER, __ATOMIC_RELEASE))
			return;
	}
}

/* TSan: the public calls take an annotated cold copy when the runtime is present. */

static __attribute__((noinline, cold)) int rlock_until_tsan(gs_rwmutex_t *rw, uint32_t blocked_by,
							     clockid_t clock, int64_t deadline)
{
	unsigned f = GS_TSAN_READ_LOCK | (deadline == GS_NO_DEADLINE ? 0 : GS_TSAN_TRY_LOCK);
	gs__tsan_pre_lock(rw, f);
	int r = rlock_until(rw, blocked_by, clock, deadline);
	gs__tsan_post_lock(rw, f, r == 0);
	return r;
}

static __attribute__((noinline, cold)) int lock_until_tsan(gs_rwmutex_t *rw, clockid_t clock,
							    int64_t deadline)
{
	unsigned f = deadline == GS_NO_DEADLINE ? 0 : GS_TSAN_TRY_LOCK;
	gs__tsan_pre_lock(rw, f);
	int r = lock_until(rw, clock, deadline);
	gs__tsan_post_lock(rw, f, r == 0);
	return r;
}

/* blocked_by: the reader's mask, or 0 for the write lock. */
static __attribute__((noinline, cold)) bool try_tsan(gs_rwmutex_t *rw, uint32_t blocked_by)
{
	bool read = blocked_by != 0;
	unsigned f = GS_TSAN_TRY_LOCK | (read ? GS_TSAN_READ_LOCK : 0);
	gs__tsan_pre_lock(rw, f);
	bool ok = read ? tryrlock(rw, blocked_by) : trylock(rw);
	gs__tsan_post_lock(rw, f, ok);
	return ok;
}

static __attribute__((noinline, cold)) void unlock_tsan(gs_rwmutex_t *rw, bool read, bool barge)
{
	unsigned f = read ? GS_TSAN_READ_LOCK : 0;
	gs__tsan_pre_unlock(rw, f);
	if (read)
		runlock(rw, barge);
	else
		unlock(rw, barge);
	gs__tsan_post_unlock(rw, f);
}

int gs_rwmutex_rlock_clock(gs_rwmutex_t *rw, clockid_t clock, int64_t deadline)
{
	if (gs__tsan_on())
		return rlock_until_tsan(rw, BLOCK_READER, clock, deadline);
	return rlock_until(rw, BLOCK_READER, clock, deadline);
}

int gs_rwmutex_rlock_recursive_clock(gs_rwmutex_t *rw, clockid_t clock, int64_t deadline)
{
	if (gs__tsan_on())
		return rlock_until_tsan(rw, BLOCK_RECURSIVE, clock, deadline);
	return rlock_until(rw, BLOCK_RECURSIVE, clock, deadline);
}

int gs_rwmutex_lock_clock(gs_rwmutex_t *rw, clockid_t clock, int64_t deadline)
{
	if (gs__tsan_on())
		return lock_until_tsan(rw, clock, deadline);
	return lock_until(rw, clock, deadline);
}

int gs_rwmutex_rlock_until(gs_rwmutex_t *rw, int64_t deadline)
{
	int r = gs_rwmutex_rlock_clock(rw, CLOCK_MONOTONIC, deadline);

	if (r == EAGAIN)
		gs__fatal("sync: RWMutex reader count overflow");
	return r;
}

int gs_rwmutex_lock_until(gs_rwmutex_t *rw, int64_t deadline)
{
	return gs_rwmutex_lock_clock(rw, CLOCK_MONOTONIC, deadline);
}

void gs_rwmutex_rlock(gs_rwmutex_t *rw) { (void)gs_rwmutex_rlock_until(rw, GS_NO_DEADLINE); }
void gs_rwmutex_lock(gs_rwmutex_t *rw) { (void)gs_rwmutex_lock_until(rw, GS_NO_DEADLINE); }

bool gs_rwmutex_tryrlock(gs_rwmutex_t *rw)
{
	return gs__tsan_on() ? try_tsan(rw, BLOCK_READER) : tryrlock(rw, BLOCK_READER);
}

bool gs_rwmutex_tryrlock_recursive(gs_rwmutex_t *rw)
{
	return gs__tsan_on() ? try_tsan(rw, BLOCK_RECURSIVE) : tryrlock(rw, BLOCK_RECURSIVE);
}

bool gs_rwmutex_trylock(gs_rwmutex_t *rw)
{
	return gs__tsan_on() ? try_tsan(rw, 0) : trylock(rw);
}

uint32_t gs_rwmutex_readers(const gs_rwmutex_t *rw) { return readers(load(rw)); }

void gs_rwmutex_runlock(gs_rwmutex_t *rw)
{
	if (gs__tsan_on())
		unlock_tsan(rw, true, false);
	else
		runlock(rw, false);
}

void gs_rwmutex_unlock(gs_rwmutex_t *rw)
{
	if (gs__tsan_on())
		unlock_tsan(rw, false, false);
	else
		unlock(rw, false);
}

void gs_rwmutex_runlock_barging(gs_rwmutex_t *rw)
{
	if (gs__tsan_on())
		unlock_tsan(rw, true, true);
	else
		runlock(rw, true);
}

void gs_rwmutex_unlock_barging(gs_rwmutex_t *rw)
{
	if (gs__tsan_on())
		unlock_tsan(rw, false, true);
	else
		unlock(rw, true);
}
