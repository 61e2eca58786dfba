/* gs_value — an RCU-backed atomic pointer (Go's atomic.Value for copy-on-write data)
 * on liburcu's bulletproof flavor.
 *
 * Go's atomic.Value can hand out pointers freely because the garbage collector frees
 * a replaced version only when nobody holds it. In C, liburcu's read sections and
 * grace periods play that part: a reader brackets its use of a loaded pointer with
 * gs_rcu_read_lock/unlock; a writer publishes a new pointer and hands the old one to
 * call_rcu, whose worker thread waits for a grace period (every read section that
 * was open at the publication has ended) and then calls the value's destructor.
 *
 * Why the bp ("bulletproof") flavor. A library cannot make its users' threads
 * register with RCU, or report quiescent states. Measured here (liburcu 0.13.2,
 * 2 vCPU KVM, inlined read section + pointer load, best of 5 x 1e8):
 *   qsbr  0.35 ns  read_lock is empty, but every registered thread must call
 *                  rcu_quiescent_state() or go offline regularly: a registered
 *                  thread that read once and then did other work kept
 *                  synchronize_rcu blocked (still blocked 400 ms later, forever in
 *                  fact); an unregistered thread may not read at all. Unusable
 *                  behind a library API that any thread may call.
 *   memb  1.5-1.7 ns  no quiescent states, but readers must register: an
 *                  unregistered reader holding a 200 ms read section was silently
 *                  ignored — synchronize_rcu returned after 0.1 ms, so its pointer
 *                  would have been freed under it. A use-after-free in waiting.
 *   bp    2.3-2.7 ns  registers a thread at its first read section (lazily, through
 *                  a pointer in TLS), unregisters it at thread exit; the same
 *                  200 ms reader held synchronize_rcu for 202 ms, as it must.
 * So bp: about 1 ns more per read section buys "any thread may read". Its grace
 * period is as cheap as the others' (about 1 us with membarrier and no readers).
 *
 * Read side. liburcu-bp's read lock is a static inline in its LGPL header (under the
 * 10-line rule) on a TLS pointer `urcu_bp_reader` defined in liburcu-bp.so. Called
 * through liburcu's out-of-line wrappers (8-9 ns per section here), or inlined into
 * this -fPIC object with the default TLS model, every access to that pointer goes
 * through __tls_get_addr. We carry our own copy of those ten lines (read_lock /
 * read_unlock: the same words and fences, through __atomic, with the reader word
 * reached without a member access UBSan rejects) and redeclare the pointer
 * initial-exec, so it is one %fs-relative load. Measured through libgosync.so:
 * lock + load + unlock = 5.2 ns called through the PLT, 3.6 ns with -fno-plt (the
 * three out-of-line calls are most of it; an inlined raw section costs 1.1 ns). The cost:
 * libgosync.so uses static TLS (dlopen of it needs glibc's static TLS surplus; 8
 * bytes here) and is tied to liburcu-bp's reader layout, which is part of its
 * soname (liburcu8); rebuild gosync when that changes. Nesting and the "inside a
 * read section" test use liburcu's own counter (the reader's ctr & NEST_MASK): no
 * gosync state on the read path at all.
 *
 * The published pointer (ptr_) is a plain word accessed with __atomic builtins, not
 * with liburcu's rcu_dereference / rcu_xchg_pointer, which are volatile accesses and
 * inline asm that ThreadSanitizer does not see.
 *
 * Memory order:
 *   load       acquire load of ptr_; pairs with the release store of the writer that
 *              published it, so the reader sees the object as it was built.
 *   publish    release store of ptr_ (pairs with load). Writers hold the value's
 *              writer mutex, so they read ptr_ relaxed: the previous writer's store
 *              happens before through the mutex (its unlock is release, our lock
 *              acquire). No RMW is needed on the read-mostly line.
 *   retire     after the publication, the old pointer goes to call_rcu; liburcu's
 *              grace period (membarrier or full fences) orders every read section
 *              that could have loaded it before the destructor runs.
 *
 * Writers: store, swap, compare_and_swap, update and destroy take the value's own
 * gs_mutex, read the current pointer, publish, unlock, and only then retire the old
 * pointer (with the destructor they read under the lock). Retiring allocates a small
 * record for call_rcu; if that fails, the writer waits for a grace period itself and
 * calls the destructor (fatal inside a read section or a destructor, where waiting
 * would deadlock). Nothing touches the value after its unlock (DESIGN.md §3 rule 1):
 * a caller may free it once no reader can reach it. Publishing the pointer that is
 * already current retires nothing, so a live object is never destroyed.
 *
 * Destructors run on gosync's own call_rcu worker (urcu_bp_create_call_rcu_data),
 * created at the first retirement (gs_once) with every signal blocked: Debian's
 * 0.13.2 worker inherits its creator's mask, and must never run a program's signal
 * handler. Our retirements go to it alone (liburcu queues on the calling thread's
 * call_rcu data when set, so enqueue sets it for the one call), which makes the
 * worker's FIFO order ours: gs_rcu_barrier queues a record on the same worker and
 * waits (a gs_waitgroup) until the worker reaches it; every destructor queued before
 * has then run. (liburcu's own rcu_barrier hands a calloc'd record between threads
 * through atomics TSan cannot see, which TSan reports; ours is visible.) Inside a
 * destructor, a thread-local flag makes gs_rcu_synchronize and gs_rcu_barrier fatal
 * ("value: synchronize inside a read section": the worker would wait for itself).
 *
 * fork: liburcu-bp and call_rcu each need hooks around fork, or a child hangs (a
 * registry lock or the call_rcu mutex taken by a parent thread at the fork; a grace
 * period waiting for a reader that does not exist in the child). A constructor
 * registers them once: prepare pauses the call_rcu workers, then takes bp's locks;
 * in the child, liburcu frees every worker but a new default one, to which it moves
 * their pending callbacks: that one becomes ours (it is created in the handler, with
 * bp's full signal mask still in force); then bp prunes the parent's threads and
 * releases its locks. Registered after park's handler (a later
 * constructor), so the worker is paused before anything else prepares.
 *
 * ThreadSanitizer (DESIGN.md §3 rule 5). liburcu is not instrumented, so TSan sees
 * neither grace periods nor the call_rcu queue. The annotated copies add the edges:
 *   publication   release on &ptr_ before the store; acquire on &ptr_ after a load;
 *   read side     release on `readers` at every read unlock (before it);
 *   retire        release on the record before call_rcu; the reclaim callback
 *                 acquires the record and `readers` before calling the destructor,
 *                 and gs_rcu_synchronize acquires `readers` after the grace period;
 *   queue         enqueue releases each record; its callback acquires it first;
 *   barrier       gs_rcu_barrier's gs_waitgroup (annotated) orders the destructors
 *                 the worker ran before its record.
 * `readers` accumulates the unlocks of all threads: a reader's accesses inside its
 * section happen before any destructor that follows, while an access after the
 * unlock (a real use-after-unlock) has no edge to the destructor and is reported.
 *
 * Debug builds (GS_DEBUG, src/debug.h): gs_value_load checks that the thread is in a
 * read section and otherwise dies with "value: load outside a read section".
 */
#define _LGPL_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <urcu/urcu-bp.h>

#include <gosync/once.h>
#include <gosync/value.h>
#include <gosync/waitgroup.h>

#include "debug.h"
#include "fatal.h"
#include "tsan_sync.h"

/* One %fs-relative load instead of __tls_get_addr (see "Read side"). */
extern __thread struct urcu_bp_reader *urcu_bp_reader __attribute__((tls_model("initial-exec")));

/* A retired pointer on its way to its destructor, through call_rcu. */
struct retired {
	struct rcu_head head;
	void *p;
	void (*destroy)(void *);
};

/* The allocator of retirement records (a seam for the tests' allocation failure). */
static void *(*retire_alloc)(size_t) = malloc;

/* Nonzero while this thread runs a destructor. */
static __thread int in_destructor __attribute__((tls_model("initial-exec")));

/* TSan-only keys (see "ThreadSanitizer"); never read or written. */
static char readers;

/* gosync's own call_rcu worker (see "Destructors"), created at the first retirement. */
static struct call_rcu_data *worker;
static gs_once_t worker_once = GS_ONCE_INIT;

/* A gs_rcu_barrier waiting for the worker to reach its record. */
struct barrier {
	struct rcu_head head;
	gs_waitgroup_t wg;
};

/* This thread's liburcu-bp reader word (ctr), or NULL if the thread is not
 * registered. Reached through a plain pointer, not as r->ctr: liburcu 0.13 declares
 * the reader struct cache-line aligned but its registry does not place it so, and
 * UBSan reports every member access (liburcu's own inline read lock included). */
static inline unsigned long *reader_ctr(void)
{
	char *r = (char *)urcu_bp_reader;

	return r ? (unsigned long *)(r + offsetof(struct urcu_bp_reader, ctr)) : NULL;
}

/* This thread's read-section nesting is liburcu-bp's: ctr & NEST_MASK. */
static inline bool in_read_section(void)
{
	unsigned long *ctr = reader_ctr();

	return ctr != NULL && (__atomic_load_n(ctr, __ATOMIC_RELAXED) & URCU_BP_GP_CTR_NEST_MASK) != 0;
}

static void check_may_wait(void)
{
	if (in_read_section() || in_destructor)
		gs__fatal("value: synchronize inside a read section");
}

static void (*destructor_of(const gs_value_t *v))(void *)
{
	return (void (*)(void *))v->destroy_;
}

/* --- read side ----------------------------------------------------------------- */

/* The first read section of a thread registers it (may block briefly, allocates). */
static __attribute__((noinline, cold)) unsigned long *register_reader(void)
{
	urcu_bp_register();
	return reader_ctr();
}

/* liburcu-bp's read lock (_urcu_bp_read_lock), on reader_ctr. The outermost lock
 * copies the grace-period phase (with a count of 1) into the reader word, inner ones
 * add 1; the writer's synchronize_rcu reads the words. urcu_bp_smp_mb_slave is a
 * compiler barrier when the kernel has membarrier (the writer issues the fence for
 * every reader), else a full fence. The compiler barriers keep the section's
 * accesses inside. */
static inline void read_lock(void)
{
	unsigned long *ctr = reader_ctr();

	if (caa_unlikely(ctr == NULL))
		ctr = register_reader();
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	unsigned long tmp = __atomic_load_n(ctr, __ATOMIC_RELAXED);
	if (caa_likely(!(tmp & URCU_BP_GP_CTR_NEST_MASK))) {
		__atomic_store_n(ctr, __atomic_load_n(&urcu_bp_gp.ctr, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
		urcu_bp_smp_mb_slave();
	} else {
		__atomic_store_n(ctr, tmp + URCU_BP_GP_COUNT, __ATOMIC_RELAXED);
	}
}

/* liburcu-bp's read unlock (_urcu_bp_read_unlock). */
static inline void read_unlock(void)
{
	unsigned long *ctr = reader_ctr();
	unsigned long tmp = __atomic_load_n(ctr, __ATOMIC_RELAXED);

	urcu_bp_smp_mb_slave(); /* the section's accesses before the decrement */
	__atomic_store_n(ctr, tmp - URCU_BP_GP_COUNT, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void gs_rcu_read_lock(void) { read_lock(); }

static __attribute__((noinline, cold)) void read_unlock_tsan(void)
{
	gs__tsan_release(&readers); /* the section happens before later destructors */
	read_unlock();
}

void gs_rcu_read_unlock(void)
{
	if (gs__tsan_on())
		read_unlock_tsan();
	else
		read_unlock();
}

void gs_rcu_register_thread(void) { urcu_bp_register_thread(); }

static inline void *load(gs_value_t *v)
{
	if (gs__debug && !in_read_section())
		gs__fatal("value: load outside a read section");
	/* acquire: pairs with publish's release store */
	return (void *)__atomic_load_n(&v->ptr_, __ATOMIC_ACQUIRE);
}

static __attribute__((noinline, cold)) void *load_tsan(gs_value_t *v)
{
	void *p = load(v);

	gs__tsan_acquire(&v->ptr_);
	return p;
}

void *gs_value_load(gs_value_t *v) { return gs__tsan_on() ? load_tsan(v) : load(v); }

/* --- grace periods ------------------------------------------------------------- */

void gs_rcu_synchronize(void)
{
	check_may_wait();
	urcu_bp_synchronize_rcu();
	gs__tsan_acquire(&readers); /* every section that ended during the grace period */
}

/* --- retiring ------------------------------------------------------------------ */

static void run_destructor(void (*destroy)(void *), void *p)
{
	in_destructor++;
	destroy(p);
	in_destructor--;
}

/* The call_rcu callback, a grace period after retire. */
static void reclaim(struct rcu_head *head)
{
	gs__tsan_acquire(head);     /* the record as retire wrote it */
	gs__tsan_acquire(&readers); /* the read sections the grace period waited for */

	struct retired *r = caa_container_of(head, struct retired, head);
	void *p = r->p;
	void (*destroy)(void *) = r->destroy;

	free(r);
	run_destructor(destroy, p);
}

/* Creates gosync's call_rcu worker with every signal blocked: the worker inherits its
 * creator's mask, and must never run the program's signal handlers. */
static void start_worker(void *arg)
{
	sigset_t all, old;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	struct call_rcu_data *w = urcu_bp_create_call_rcu_data(0, -1);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* release: pairs with gs_rcu_barrier's acquire (once's own edge covers retire) */
	__atomic_store_n(&worker, w, __ATOMIC_RELEASE);
}

/* Queues head on worker w. liburcu has no call_rcu-on-this-worker call: it queues on
 * the calling thread's call_rcu data if set, so set it for the one call. */
static void enqueue(struct call_rcu_data *w, struct rcu_head *head,
		    void (*fn)(struct rcu_head *))
{
	struct call_rcu_data *prev = urcu_bp_get_thread_call_rcu_data();

	gs__tsan_release(head); /* the record as written here; the callback acquires */
	urcu_bp_set_thread_call_rcu_data(w);
	urcu_bp_call_rcu(head, fn);
	urcu_bp_set_thread_call_rcu_data(prev);
}

/* The worker reached a barrier's record: every callback queued before it has run.
 * The waitgroup's done() is the last access to the record (it lives on the waiting
 * thread's stack), and the worker never touches a callback's head after calling it. */
static void barrier_done(struct rcu_head *head)
{
	struct barrier *b = caa_container_of(head, struct barrier, head);

	gs__tsan_acquire(head);
	gs_waitgroup_done(&b->wg);
}

/* Hands p (no longer published) to its destructor after a grace period. */
static void retire(void *p, void (*destroy)(void *))
{
	if (p == NULL || destroy == NULL)
		return;
	struct retired *r = retire_alloc(sizeof *r);
	if (r == NULL) {
		/* No record: wait for the grace period here and destroy it ourselves. */
		gs_rcu_synchronize();
		run_destructor(destroy, p);
		return;
	}
	r->p = p;
	r->destroy = destroy;
	gs_once_do(&worker_once, start_worker, NULL);
	enqueue(__atomic_load_n(&worker, __ATOMIC_RELAXED), &r->head, reclaim);
}

void gs_rcu_barrier(void)
{
	check_may_wait();
	struct call_rcu_data *w = __atomic_load_n(&worker, __ATOMIC_ACQUIRE);
	if (w == NULL)
		return; /* nothing was ever retired */
	struct barrier b = { .wg = GS_WAITGROUP_INIT };
	gs_waitgroup_add(&b.wg, 1);
	enqueue(w, &b.head, barrier_done);
	gs_waitgroup_wait(&b.wg); /* pairs with barrier_done's done(): the destructors
				     that ran before it happen before our return */
}

/* --- writers ------------------------------------------------------------------- */

static inline void writer_lock(gs_value_t *v) { gs_mutex_lock(&v->writer_); }
static inline void writer_unlock(gs_value_t *v) { gs_mutex_unlock(&v->writer_); }

/* Under the writer mutex: the current pointer (a writer's relaxed read; the previous
 * writer's store happens before it through the mutex). */
static inline void *current(const gs_value_t *v)
{
	return (void *)__atomic_load_n(&v->ptr_, __ATOMIC_RELAXED);
}

/* Under the writer mutex: publishes p. release: pairs with load's acquire. */
static inline void publish(gs_value_t *v, void *p)
{
	gs__tsan_release(&v->ptr_);
	__atomic_store_n(&v->ptr_, (uintptr_t)p, __ATOMIC_RELEASE);
}

void gs_value_init(gs_value_t *v, void *initial, void (*destroy)(void *))
{
	*v = (gs_value_t)GS_VALUE_INIT(initial, destroy);
}

void gs_value_store(gs_value_t *v, void *p)
{
	writer_lock(v);
	void *old = current(v);
	void (*destroy)(void *) = destructor_of(v);
	if (p != old)
		publish(v, p);
	writer_unlock(v); /* the last access to v (rule 1) */
	if (p != old)
		retire(old, destroy);
}

void *gs_value_swap(gs_value_t *v, void *p)
{
	writer_lock(v);
	void *old = current(v);
	if (p != old)
		publish(v, p);
	writer_unlock(v);
	return old;
}

bool gs_value_compare_and_swap(gs_value_t *v, void *old, void *p)
{
	writer_lock(v);
	void (*destroy)(void *) = destructor_of(v);
	bool ok = current(v) == old;
	if (ok && p != old)
		publish(v, p);
	writer_unlock(v);
	if (ok && p != old)
		retire(old, destroy);
	return ok;
}

bool gs_value_update(gs_value_t *v, void *(*copy_and_modify)(const void *cur, void *arg),
		     void *arg)
{
	writer_lock(v);
	void *cur = current(v);
	void (*destroy)(void *) = destructor_of(v);
	void *p = copy_and_modify(cur, arg);
	bool changed = p != NULL && p != cur;
	if (changed)
		publish(v, p);
	writer_unlock(v);
	if (changed)
		retire(cur, destroy);
	return changed;
}

void gs_value_destroy(gs_value_t *v)
{
	writer_lock(v);
	void *old = current(v);
	void (*destroy)(void *) = destructor_of(v);
	if (old != NULL)
		publish(v, NULL);
	writer_unlock(v);
	retire(old, destroy);
}

/* --- fork ---------------------------------------------------------------------- */

static void fork_prepare(void)
{
	urcu_bp_call_rcu_before_fork(); /* first: a worker may be inside a grace period */
	urcu_bp_before_fork();          /* bp's locks; blocks every signal until after */
}

static void fork_parent(void)
{
	urcu_bp_after_fork_parent();
	urcu_bp_call_rcu_after_fork_parent();
}

static void fork_child(void)
{
	/* liburcu frees every call_rcu worker but a new default one, to which it moves
	 * their pending callbacks (ours too): that one is ours in the child. It is
	 * created here, under bp's full signal mask. */
	urcu_bp_call_rcu_after_fork_child();
	if (__atomic_load_n(&worker, __ATOMIC_RELAXED) != NULL)
		__atomic_store_n(&worker, urcu_bp_get_default_call_rcu_data(), __ATOMIC_RELAXED);
	urcu_bp_after_fork_child();
}

__attribute__((constructor(102))) static void value_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}
