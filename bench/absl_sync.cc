// absl_mutex.cc — the C face of Abseil's absl::Mutex for bench/bench_mutex.c
// (-DIMPL_absl): a C binary cannot name a C++ class, so the benchmark keeps the
// mutex in opaque storage and calls these out-of-line functions, as it calls every
// other library. absl::Mutex has a constexpr constructor and a trivial state word;
// it is constructed in place once and never destroyed (the process exits).
#include <absl/synchronization/mutex.h>

#include <new>

#define BENCH_ABSL_STORAGE 64 // keep in sync with bench_mutex.c

static_assert(sizeof(absl::Mutex) <= BENCH_ABSL_STORAGE, "absl::Mutex outgrew the C storage");
static_assert(alignof(absl::Mutex) <= 16, "absl::Mutex needs more alignment than the C storage has");

extern "C" {
// Deadlock detection off, as in an NDEBUG build of Abseil (Debian's library may be
// built without NDEBUG, where every Lock would update a global lock graph).
void bench_absl_init(void *p)
{
	absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
	new (p) absl::Mutex();
}
void bench_absl_lock(void *p) { static_cast<absl::Mutex *>(p)->Lock(); }
void bench_absl_unlock(void *p) { static_cast<absl::Mutex *>(p)->Unlock(); }
}
