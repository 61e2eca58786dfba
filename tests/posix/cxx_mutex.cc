// C++ mutexes run on the pthread mutex functions: std::mutex, std::recursive_mutex,
// std::timed_mutex and std::recursive_timed_mutex (try_lock_for/try_lock_until on the
// steady and the system clock: pthread_mutex_clocklock and pthread_mutex_timedlock),
// std::lock / std::scoped_lock on two mutexes taken in opposite orders, unique_lock's
// defer and try modes. Counts and yes/no answers only.
#include "posix_test.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

template <class M> static long count_with_threads(M &m, int threads, int iters)
{
	long n = 0;
	std::vector<std::thread> t;
	for (int i = 0; i < threads; i++)
		t.emplace_back([&] {
			for (int k = 0; k < iters; k++) {
				std::lock_guard<M> g(m);
				n++;
			}
		});
	for (auto &th : t)
		th.join();
	return n;
}

template <class M> static bool try_lock_elsewhere(M &m)
{
	bool got = false;
	std::thread([&] {
		got = m.try_lock();
		if (got)
			m.unlock();
	}).join();
	return got;
}

template <class M> static void timed(M &m, const char *name)
{
	char lb[128];
#define LB(what) (snprintf(lb, sizeof lb, "%s: %s", name, what), lb)
	m.lock();
	bool got = true, after = false;
	std::thread([&] {
		auto d = std::chrono::steady_clock::now() + 20ms;
		got = m.try_lock_until(d);
		after = std::chrono::steady_clock::now() >= d;
	}).join();
	expect_true(LB("try_lock_until(steady +20ms) while held fails"), !got);
	expect_true(LB("... and returns after its deadline"), after);
	std::thread([&] {
		auto d = std::chrono::system_clock::now() + 20ms;
		got = m.try_lock_until(d);
		after = std::chrono::system_clock::now() >= d;
	}).join();
	expect_true(LB("try_lock_until(system +20ms) while held fails"), !got);
	expect_true(LB("... and returns after its deadline"), after);
	std::thread([&] { got = m.try_lock_for(20ms); }).join();
	expect_true(LB("try_lock_for(20ms) while held fails"), !got);
	std::thread([&] { got = m.try_lock_for(-5ms); }).join();
	expect_true(LB("try_lock_for(-5ms) while held fails"), !got);
	std::thread waiter([&] {
		got = m.try_lock_for(30s);
		if (got)
			m.unlock();
	});
	std::this_thread::sleep_for(5ms); // only makes a sleeping waiter likely
	m.unlock();
	waiter.join();
	expect_true(LB("try_lock_for(30s) gets it when released"), got);
	std::thread([&] {
		got = m.try_lock_for(-5ms);
		if (got)
			m.unlock();
	}).join();
	expect_true(LB("try_lock_for(-5ms) gets a free mutex"), got);
	expect_long(LB("counter, 4 threads"), count_with_threads(m, 4, 20000), 80000);
#undef LB
}

int main()
{
	std::mutex m;
	expect_long("mutex: counter, 8 threads", count_with_threads(m, 8, 20000), 160000);
	m.lock();
	expect_true("mutex: try_lock elsewhere while held fails", !try_lock_elsewhere(m));
	expect_true("mutex: try_lock by the owner fails", !m.try_lock());
	m.unlock();
	expect_true("mutex: try_lock elsewhere when free", try_lock_elsewhere(m));

	std::recursive_mutex rm;
	rm.lock();
	rm.lock();
	expect_true("recursive_mutex: try_lock by the owner", rm.try_lock());
	expect_true("recursive_mutex: try_lock elsewhere at depth 3 fails", !try_lock_elsewhere(rm));
	rm.unlock();
	rm.unlock();
	expect_true("recursive_mutex: try_lock elsewhere at depth 1 fails", !try_lock_elsewhere(rm));
	rm.unlock();
	expect_true("recursive_mutex: try_lock elsewhere when free", try_lock_elsewhere(rm));
	expect_long("recursive_mutex: counter, 8 threads", count_with_threads(rm, 8, 20000), 160000);

	std::timed_mutex tm;
	timed(tm, "timed_mutex");
	std::recursive_timed_mutex rtm;
	timed(rtm, "recursive_timed_mutex");
	rtm.lock();
	expect_true("recursive_timed_mutex: try_lock_for by the owner", rtm.try_lock_for(1ms));
	rtm.unlock();
	rtm.unlock();

	// two mutexes taken in opposite orders: std::lock avoids the deadlock
	std::mutex a, b;
	long moved = 0;
	std::thread t1([&] {
		for (int i = 0; i < 20000; i++) {
			std::lock(a, b);
			moved++;
			a.unlock();
			b.unlock();
		}
	});
	std::thread t2([&] {
		for (int i = 0; i < 20000; i++) {
			std::scoped_lock g(b, a);
			moved++;
		}
	});
	t1.join();
	t2.join();
	expect_long("std::lock and scoped_lock in opposite orders: count", moved, 40000);

	std::unique_lock<std::mutex> u(m, std::defer_lock);
	expect_true("unique_lock: deferred, not owned", !u.owns_lock());
	u.lock();
	std::thread([&] {
		std::unique_lock<std::mutex> u2(m, std::try_to_lock);
		expect_true("unique_lock: try_to_lock elsewhere fails", !u2.owns_lock());
	}).join();
	u.unlock();
	std::unique_lock<std::mutex> u3(m, std::try_to_lock);
	expect_true("unique_lock: try_to_lock when free", u3.owns_lock());
	return posix_test_done();
}
