/* gosync — an RCU-backed atomic pointer for read-mostly, copy-on-write data (Go's
 * atomic.Value, with liburcu's grace periods in place of Go's garbage collector).
 *
 * Readers:
 *
 *     gs_rcu_read_lock();
 *     const struct config *c = gs_value_load(&cfg);
 *     ... use *c: it stays valid until the matching unlock ...
 *     gs_rcu_read_unlock();
 *
 * A read section costs a few nanoseconds, never waits for writers and nests. Any
 * thread may read without registering: its first read section registers it (it may
 * block briefly and allocate; gs_rcu_register_thread pays that early), every later
 * one is wait-free. gs_value_load is valid only inside a read section (debug builds,
 * -DGS_DEBUG=1, make it fatal: "value: load outside a read section"). A reader sees
 * the old version or the new one, never a mix — if writers only publish objects
 * they no longer modify.
 *
 * Writers (store, swap, compare_and_swap, update, destroy) serialize on the value's
 * own mutex and publish with release semantics: a reader that loads the new pointer
 * sees everything the writer did before publishing it. The replaced pointer is
 * retired: the value's destructor runs on it, in liburcu's call_rcu thread, once
 * every read section that could have loaded it has ended. Every retired pointer is
 * destroyed exactly once; NULL is never passed to the destructor; with a NULL
 * destructor retired pointers are left alone (the program owns them). A destructor
 * must not block on readers: gs_rcu_synchronize and gs_rcu_barrier are fatal inside
 * a destructor, as inside a read section ("value: synchronize inside a read
 * section"). Writers may run inside a read section.
 *
 * Storing the pointer that is already published changes nothing and retires
 * nothing. compare_and_swap compares pointer identity; the ABA rule: `old` must
 * come from a gs_value_load inside a read section that is still open. Then `old`
 * cannot have been destroyed and reused for a new object, so equality means "nothing
 * was published since". (An `old` kept past its read section may be a freed and
 * recycled address that happens to be current again.) update's fn gets the current
 * version (valid: writers are excluded), returns a new object, or NULL (or the
 * current pointer itself) for "no change"; it runs exactly once per call, under the
 * writer mutex, so it must not call a writer of the same value.
 *
 * A zeroed gs_value_t (or GS_VALUE_INIT(NULL, NULL)) holds NULL and has no
 * destructor. It must not be copied after first use and is process-private. Free the
 * gs_value_t itself only when no thread can load from it any more. A forked child
 * keeps using values and read sections (gosync registers liburcu's fork handlers;
 * a program that also calls liburcu-bp's fork hooks itself must not). */
#ifndef GOSYNC_VALUE_H
#define GOSYNC_VALUE_H

#include <gosync/common.h>
#include <gosync/mutex.h>

GS_BEGIN_DECLS

typedef struct gs_value {
	uintptr_t ptr_;      /* private: the published pointer (see src/value.c) */
	uintptr_t destroy_;  /* private: the destructor, a void (*)(void *) */
	gs_mutex_t writer_;  /* private: serializes the writers */
	uint32_t reserved_;
} gs_value_t;

/* A value holding `initial`, whose retired pointers go to `destroy` (may be NULL). */
#define GS_VALUE_INIT(initial, destroy) \
	{ (uintptr_t)(initial), (uintptr_t)(destroy), GS_MUTEX_INIT, 0 }

GS_STATIC_ASSERT(sizeof(gs_value_t) <= 64, "gs_value_t is at most 64 bytes");
GS_STATIC_ASSERT(sizeof(gs_value_t) == 24, "gs_value_t is 24 bytes");
GS_STATIC_ASSERT(GS_ALIGNOF(gs_value_t) == GS_ALIGNOF(uintptr_t), "gs_value_t is pointer-aligned");

/* As GS_VALUE_INIT, at run time. */
GS_API void gs_value_init(gs_value_t *v, void *initial, void (*destroy)(void *));
/* Retires the current pointer and leaves the value holding NULL. */
GS_API void gs_value_destroy(gs_value_t *v);

/* Read sections: nestable; any thread, no registration needed. */
GS_API void gs_rcu_read_lock(void);
GS_API void gs_rcu_read_unlock(void);
/* Optional: registers the calling thread with RCU now rather than at its first read
 * section. */
GS_API void gs_rcu_register_thread(void);

/* The current pointer; only inside a read section, and valid until its end. Never
 * waits for writers. */
GS_API void *gs_value_load(gs_value_t *v);
/* Publishes p; the old pointer is destroyed after a grace period. If the retirement
 * record cannot be allocated, waits for a grace period and destroys it itself (then
 * it must not be called inside a read section or a destructor). */
GS_API void gs_value_store(gs_value_t *v, void *p);
/* Publishes p and returns the old pointer, which the caller now owns: it may free it
 * only after gs_rcu_synchronize(). */
GS_API void *gs_value_swap(gs_value_t *v, void *p);
/* If the current pointer is `old`, publishes p, retires old and returns true. */
GS_API bool gs_value_compare_and_swap(gs_value_t *v, void *old, void *p);
/* Publishes fn(current, arg) and retires the current pointer, unless fn returns NULL
 * or the current pointer (then returns false). */
GS_API bool gs_value_update(gs_value_t *v, void *(*copy_and_modify)(const void *cur, void *arg),
			    void *arg);

/* Waits until every read section that began before the call has ended. */
GS_API void gs_rcu_synchronize(void);
/* Waits until every pointer retired before the call has been destroyed. */
GS_API void gs_rcu_barrier(void);

GS_END_DECLS

#endif
