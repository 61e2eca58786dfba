// std::shared_mutex and std::shared_timed_mutex run on the pthread rwlock functions
// (glibc's default kind: readers preferred). Readers share the lock (all of them inside
// at once), writers exclude everybody (a reader never sees a half-made update), the
// try forms refuse across modes, a thread that holds a shared lock can take it again
// while a writer waits (programs rely on this with the default kind), and the timed
// forms time out no earlier than their deadlines. Counts and yes/no answers only.
#include "posix_test.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

template <class F> static bool elsewhere(F f)
{
	bool r = false;
	std::thread([&] { r = f(); }).join();
	return r;
}

int main()
{
	std::shared_mutex sm;

	// 4 readers inside together: each waits, holding the shared lock, for all four
	{
		std::atomic<int> inside{0};
		std::vector<std::thread> t;
		for (int i = 0; i < 4; i++)
			t.emplace_back([&] {
				std::shared_lock<std::shared_mutex> l(sm);
				inside.fetch_add(1);
				while (inside.load() < 4)
					std::this_thread::yield();
			});
		for (auto &th : t)
			th.join();
		expect_long("shared_mutex: readers inside at once", inside.load(), 4);
	}

	// writers and readers: a pair of fields that writers keep equal
	{
		long a = 0, b = 0, torn = 0, reads = 0;
		std::vector<std::thread> t;
		for (int i = 0; i < 2; i++)
			t.emplace_back([&] {
				for (int k = 0; k < 20000; k++) {
					std::unique_lock<std::shared_mutex> l(sm);
					a++;
					b++;
				}
			});
		for (int i = 0; i < 3; i++)
			t.emplace_back([&] {
				long bad = 0;
				for (int k = 0; k < 20000; k++) {
					std::shared_lock<std::shared_mutex> l(sm);
					if (__atomic_load_n(&a, __ATOMIC_RELAXED) !=
					    __atomic_load_n(&b, __ATOMIC_RELAXED))
						bad++;
				}
				std::unique_lock<std::shared_mutex> l(sm);
				torn += bad;
				reads += 20000;
			});
		for (auto &th : t)
			th.join();
		expect_long("shared_mutex: writes", a, 40000);
		expect_long("shared_mutex: reads", reads, 60000);
		expect_long("shared_mutex: torn reads", torn, 0);
	}

	// try forms across modes
	sm.lock();
	expect_true("exclusive held: try_lock_shared elsewhere fails",
		    !elsewhere([&] { return sm.try_lock_shared(); }));
	expect_true("exclusive held: try_lock elsewhere fails", !elsewhere([&] { return sm.try_lock(); }));
	sm.unlock();
	sm.lock_shared();
	expect_true("shared held: try_lock elsewhere fails", !elsewhere([&] { return sm.try_lock(); }));
	expect_true("shared held: try_lock_shared elsewhere", elsewhere([&] {
		bool r = sm.try_lock_shared();
		if (r)
			sm.unlock_shared();
		return r;
	}));

	// a second shared lock by a reader while a writer waits (reader preference)
	bool wrote = false;
	std::thread writer([&] {
		sm.lock();
		wrote = true;
		sm.unlock();
	});
	std::this_thread::sleep_for(20ms); // only makes a waiting writer likely
	sm.lock_shared();
	expect_true("shared held, writer waiting: the reader locks shared again", true);
	expect_true("shared held twice: try_lock_shared again",
		    sm.try_lock_shared() && (sm.unlock_shared(), true));
	sm.unlock_shared();
	sm.unlock_shared();
	writer.join();
	expect_true("the writer got in afterwards", wrote);

	// shared_timed_mutex
	std::shared_timed_mutex stm;
	stm.lock();
	bool got = true, after = false;
	std::thread([&] {
		auto d = std::chrono::steady_clock::now() + 20ms;
		got = stm.try_lock_shared_until(d);
		after = std::chrono::steady_clock::now() >= d;
	}).join();
	expect_true("timed, exclusive held: try_lock_shared_until(steady +20ms) fails", !got);
	expect_true("... and returns after its deadline", after);
	std::thread([&] {
		auto d = std::chrono::system_clock::now() + 20ms;
		got = stm.try_lock_until(d);
		after = std::chrono::system_clock::now() >= d;
	}).join();
	expect_true("timed, exclusive held: try_lock_until(system +20ms) fails", !got);
	expect_true("... and returns after its deadline", after);
	stm.unlock();
	stm.lock_shared();
	std::thread([&] { got = stm.try_lock_for(20ms); }).join();
	expect_true("timed, shared held: try_lock_for(20ms) fails", !got);
	std::thread([&] {
		got = stm.try_lock_shared_for(20ms);
		if (got)
			stm.unlock_shared();
	}).join();
	expect_true("timed, shared held: try_lock_shared_for(20ms) succeeds", got);
	std::thread w2([&] {
		got = stm.try_lock_for(30s);
		if (got)
			stm.unlock();
	});
	std::this_thread::sleep_for(5ms);
	stm.unlock_shared();
	w2.join();
	expect_true("timed: try_lock_for(30s) gets it when the reader leaves", got);
	return posix_test_done();
}
