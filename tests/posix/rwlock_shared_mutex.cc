// C++ std::shared_mutex and std::shared_timed_mutex, which libstdc++ builds on
// pthread_rwlock_t (PTHREAD_RWLOCK_INITIALIZER: glibc's reader-preferring default) and
// its rdlock / wrlock / try / timed / clock (CLOCK_MONOTONIC for steady_clock) calls:
//  - shared locks nest, also while a writer waits in lock(); the writer gets in once
//    every shared lock is gone;
//  - lock() and lock_shared() by the exclusive owner throw resource_deadlock_would_occur
//    (EDEADLK); the try forms answer false;
//  - try_lock_for / try_lock_until / try_lock_shared_for / _until time out against a
//    holder (steady_clock and system_clock) and succeed when it lets go in time;
//  - threads mixing unique_lock and shared_lock keep the reader/writer invariant.
#include "posix_test.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <sys/syscall.h>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

static bool sleeping_in_futex(pid_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool ok = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	long nr;
	return ok && sscanf(line, "%ld", &nr) == 1 && nr == SYS_futex;
}

// Waits until thread tid sleeps in futex, seen 5 times in a row 1 ms apart.
static void wait_blocked(pid_t tid)
{
	int seen = 0;
	for (int i = 0; i < 20000 && seen < 5; i++) {
		seen = sleeping_in_futex(tid) ? seen + 1 : 0;
		usleep(1000);
	}
	if (seen < 5) {
		printf("FATAL: thread %d never blocked\n", (int)tid);
		exit(2);
	}
}

template <class F> static const char *throws_what(F f)
{
	try {
		f();
	} catch (const std::system_error &e) {
		if (e.code() == std::errc::resource_deadlock_would_occur)
			return "resource_deadlock_would_occur";
		return "another system_error";
	} catch (...) {
		return "something else";
	}
	return "nothing";
}

static void expect_str(const char *label, const char *got, const char *want)
{
	printf("%s: %s\n", label, got);
	if (strcmp(got, want) != 0) {
		printf("  UNEXPECTED (want %s)\n", want);
		posix_test_failures++;
	}
	fflush(stdout);
}

template <class M> static void nesting_and_deadlock(const char *name, M &m)
{
	char label[160];
	std::atomic<pid_t> wtid{0};
	std::atomic<bool> wgot{false};

	m.lock_shared();
	std::thread w([&] {
		wtid = (pid_t)syscall(SYS_gettid);
		m.lock();
		wgot = true;
		m.unlock();
	});
	while (!wtid)
		usleep(100);
	wait_blocked(wtid);
	m.lock_shared(); // must not deadlock behind the waiting writer
	snprintf(label, sizeof label, "%s: try_lock_shared while a writer waits", name);
	expect_true(label, m.try_lock_shared());
	snprintf(label, sizeof label, "%s: try_lock while a writer waits", name);
	expect_true(label, !m.try_lock());
	snprintf(label, sizeof label, "%s: writer still waiting", name);
	expect_true(label, !wgot);
	m.unlock_shared();
	m.unlock_shared();
	m.unlock_shared();
	w.join();
	snprintf(label, sizeof label, "%s: writer got in after the last unlock_shared", name);
	expect_true(label, wgot);

	m.lock();
	snprintf(label, sizeof label, "%s: lock() by the owner", name);
	expect_str(label, throws_what([&] { m.lock(); }), "resource_deadlock_would_occur");
	snprintf(label, sizeof label, "%s: lock_shared() by the owner", name);
	expect_str(label, throws_what([&] { m.lock_shared(); }), "resource_deadlock_would_occur");
	snprintf(label, sizeof label, "%s: try_lock() by the owner", name);
	expect_true(label, !m.try_lock());
	snprintf(label, sizeof label, "%s: try_lock_shared() by the owner", name);
	expect_true(label, !m.try_lock_shared());
	m.unlock();
}

static void timed(std::shared_timed_mutex &m)
{
	char label[160];
	std::atomic<int> phase{0};

	std::thread holder([&] {
		m.lock();
		phase = 1;
		while (phase != 2)
			usleep(200);
		usleep(20000);
		m.unlock();
	});
	while (phase != 1)
		usleep(100);
	auto t0 = std::chrono::steady_clock::now();
	expect_true("timed: try_lock_for 20ms against a holder fails", !m.try_lock_for(20ms));
	expect_true("timed: ... not before 20ms", std::chrono::steady_clock::now() - t0 >= 20ms);
	auto s0 = std::chrono::system_clock::now();
	expect_true("timed: try_lock_until(system_clock) fails",
		    !m.try_lock_until(s0 + 20ms));
	expect_true("timed: ... not before the deadline", std::chrono::system_clock::now() >= s0 + 20ms);
	expect_true("timed: try_lock_shared_for 20ms fails", !m.try_lock_shared_for(20ms));
	auto d = std::chrono::steady_clock::now() + 20ms;
	expect_true("timed: try_lock_shared_until(steady_clock) fails", !m.try_lock_shared_until(d));
	expect_true("timed: ... not before the deadline", std::chrono::steady_clock::now() >= d);
	expect_true("timed: try_lock_shared_for(-1s) fails", !m.try_lock_shared_for(-1s));
	phase = 2; // the holder lets go in 20 ms
	snprintf(label, sizeof label, "timed: try_lock_shared_for 20s succeeds when the holder lets go");
	expect_true(label, m.try_lock_shared_for(20s));
	expect_true("timed: try_lock_shared_until(past) nests", m.try_lock_shared_until(
		std::chrono::steady_clock::now() - 1s));
	m.unlock_shared();
	m.unlock_shared();
	holder.join();
	expect_true("timed: try_lock_until(past) on a free mutex",
		    m.try_lock_until(std::chrono::system_clock::now() - 1s));
	m.unlock();
	expect_true("timed: try_lock_for(20s) on a free mutex", m.try_lock_for(20s));
	m.unlock();
}

template <class M> static void hammer(const char *name, M &m)
{
	enum { THREADS = 8, ITERS = 20000 };
	std::atomic<int> activity{0}, bad{0};
	long a = 0, b = 0;
	std::vector<std::thread> t;
	for (int i = 0; i < THREADS; i++)
		t.emplace_back([&, i] {
			for (int k = 0; k < ITERS; k++) {
				if ((k + i) % 5 == 0) {
					std::unique_lock<M> l(m);
					if ((activity += 10000) != 10000 || a != b)
						bad++;
					a++;
					b++;
					activity -= 10000;
				} else {
					std::shared_lock<M> l(m);
					int n = ++activity;
					if (n < 1 || n >= 10000)
						bad++;
					if ((k & 7) == 0) { // nested shared lock on the same mutex
						std::shared_lock<M> l2(m);
					}
					activity--;
				}
			}
		});
	for (auto &th : t)
		th.join();
	char label[160];
	snprintf(label, sizeof label, "%s: hammer violations", name);
	expect_long(label, bad, 0);
	snprintf(label, sizeof label, "%s: hammer writes", name);
	expect_long(label, a, (long)THREADS * ITERS / 5);
}

int main()
{
	static std::shared_mutex sm;
	static std::shared_timed_mutex stm;

	nesting_and_deadlock("shared_mutex", sm);
	nesting_and_deadlock("shared_timed_mutex", stm);
	timed(stm);
	hammer("shared_mutex", sm);
	hammer("shared_timed_mutex", stm);
	return posix_test_done();
}
