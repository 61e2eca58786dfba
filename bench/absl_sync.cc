// absl_sync.cc — the C face of Abseil's synchronization for the benchmark sources
// (bench_mutex.c, bench_sync.c and bench_value.c built with -DIMPL_absl). A C program
// cannot name a C++ class, so each object lives in opaque storage in the C program
// (BENCH_ABSL_STORAGE bytes, 16-aligned), is constructed here in place, and is used
// through these out-of-line functions: one call per operation, as for every other
// library. Objects are never destroyed unless a function below says so (the
// processes exit).
//
// What each benchmark primitive is in Abseil:
//   mutex, rwmutex    absl::Mutex (Lock / ReaderLock)
//   cond              absl::CondVar with absl::Mutex
//   once              absl::call_once on an absl::once_flag
//   wait-group cycle  Abseil has no reusable wait group: its one-shot absl::Notification
//                     is the gate and absl::BlockingCounter the join, both constructed
//                     afresh for each cycle (destroyed once every waiter has returned,
//                     as their headers allow)
//   semaphore         Abseil has none: a count under an absl::Mutex, acquire =
//                     LockWhen(count > 0), the way Abseil's docs write conditions
// Deadlock detection is switched off before main (absl::OnDeadlockCycle::kIgnore), as
// in an NDEBUG build: Debian's library keeps it on, where every Lock updates a global
// lock graph (≈ 3x the uncontended cost).
#include <absl/base/call_once.h>
#include <absl/synchronization/blocking_counter.h>
#include <absl/synchronization/mutex.h>
#include <absl/synchronization/notification.h>

#include <new>

#define BENCH_ABSL_STORAGE 64 // keep in sync with the C sources

namespace {

struct Sem {
	absl::Mutex mu;
	int avail;
};

template <typename T> void fits()
{
	static_assert(sizeof(T) <= BENCH_ABSL_STORAGE, "an Abseil object outgrew the C storage");
	static_assert(alignof(T) <= 16, "an Abseil object needs more alignment than the C storage has");
}

const bool no_deadlock_detection = [] {
	fits<absl::Mutex>();
	fits<absl::CondVar>();
	fits<absl::once_flag>();
	fits<absl::Notification>();
	fits<absl::BlockingCounter>();
	fits<Sem>();
	absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
	return true;
}();

absl::Mutex *mu(void *p) { return static_cast<absl::Mutex *>(p); }

} // namespace

extern "C" {
void bench_absl_init(void *p) { new (p) absl::Mutex(); }
void bench_absl_lock(void *p) { mu(p)->Lock(); }
void bench_absl_unlock(void *p) { mu(p)->Unlock(); }
void bench_absl_rlock(void *p) { mu(p)->ReaderLock(); }
void bench_absl_runlock(void *p) { mu(p)->ReaderUnlock(); }

void bench_absl_cv_init(void *p) { new (p) absl::CondVar(); }
void bench_absl_cv_wait(void *cv, void *m) { static_cast<absl::CondVar *>(cv)->Wait(mu(m)); }
void bench_absl_cv_signal(void *cv) { static_cast<absl::CondVar *>(cv)->Signal(); }
void bench_absl_cv_broadcast(void *cv) { static_cast<absl::CondVar *>(cv)->SignalAll(); }

void bench_absl_once_init(void *p) { new (p) absl::once_flag(); }
void bench_absl_once(void *p, void (*fn)(void)) { absl::call_once(*static_cast<absl::once_flag *>(p), fn); }

// Notification: init constructs, reset destroys and constructs again (the caller
// guarantees that Notify and every wait on the old one have returned).
void bench_absl_note_init(void *p) { new (p) absl::Notification(); }
void bench_absl_note_notify(void *p) { static_cast<absl::Notification *>(p)->Notify(); }
void bench_absl_note_wait(void *p) { static_cast<absl::Notification *>(p)->WaitForNotification(); }
void bench_absl_note_reset(void *p)
{
	static_cast<absl::Notification *>(p)->~Notification();
	new (p) absl::Notification();
}

// BlockingCounter: same contract; reset follows the single Wait's return.
void bench_absl_bc_init(void *p, int n) { new (p) absl::BlockingCounter(n); }
void bench_absl_bc_decrement(void *p) { static_cast<absl::BlockingCounter *>(p)->DecrementCount(); }
void bench_absl_bc_wait(void *p) { static_cast<absl::BlockingCounter *>(p)->Wait(); }
void bench_absl_bc_reset(void *p, int n)
{
	static_cast<absl::BlockingCounter *>(p)->~BlockingCounter();
	new (p) absl::BlockingCounter(n);
}

void bench_absl_sem_init(void *p, int n) { new (p) Sem{ {}, n }; }
void bench_absl_sem_acquire(void *p)
{
	Sem *s = static_cast<Sem *>(p);
	s->mu.LockWhen(absl::Condition(+[](int *avail) { return *avail > 0; }, &s->avail));
	s->avail--;
	s->mu.Unlock();
}
void bench_absl_sem_release(void *p)
{
	Sem *s = static_cast<Sem *>(p);
	s->mu.Lock();
	s->avail++;
	s->mu.Unlock();
}
int bench_absl_sem_value(void *p)
{
	Sem *s = static_cast<Sem *>(p);
	absl::MutexLock l(&s->mu);
	return s->avail;
}
}
