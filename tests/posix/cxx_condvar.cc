// std::condition_variable runs on the pthread cond functions (wait, and wait_for /
// wait_until through pthread_cond_clockwait on the steady clock or timedwait on the
// system clock): a queue between producers and consumers loses no item, a gate opened
// with notify_all releases every waiter, timeouts report timeout no earlier than the
// deadline, notify_all_at_thread_exit fires, and condition_variable_any waits with a
// std::recursive_mutex and a std::shared_mutex. Counts and yes/no answers only.
#include "posix_test.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

template <class Clock> static bool past(typename Clock::time_point d) { return Clock::now() >= d; }

int main()
{
	// producers and consumers over a bounded queue
	{
		std::mutex m;
		std::condition_variable not_empty, not_full;
		std::deque<long> q;
		int producing = 3;
		long sum = 0, n = 0;
		std::vector<std::thread> t;
		for (int p = 0; p < 3; p++)
			t.emplace_back([&] {
				for (long i = 1; i <= 5000; i++) {
					std::unique_lock<std::mutex> l(m);
					not_full.wait(l, [&] { return q.size() < 8; });
					q.push_back(i);
					not_empty.notify_one();
				}
				std::lock_guard<std::mutex> l(m);
				if (--producing == 0)
					not_empty.notify_all();
			});
		for (int c = 0; c < 3; c++)
			t.emplace_back([&] {
				for (;;) {
					std::unique_lock<std::mutex> l(m);
					not_empty.wait(l, [&] { return !q.empty() || producing == 0; });
					if (q.empty())
						return;
					sum += q.front();
					n++;
					q.pop_front();
					l.unlock();
					not_full.notify_one();
				}
			});
		for (auto &th : t)
			th.join();
		expect_long("queue: items", n, 15000);
		expect_long("queue: sum", sum, 3L * 5000 * 5001 / 2);
	}

	// a gate: every waiter released by one notify_all, 200 rounds
	{
		std::mutex m;
		std::condition_variable cv;
		long released = 0;
		for (int r = 0; r < 200; r++) {
			bool open = false;
			int waiting = 0;
			std::vector<std::thread> t;
			for (int i = 0; i < 4; i++)
				t.emplace_back([&] {
					std::unique_lock<std::mutex> l(m);
					waiting++;
					cv.wait(l, [&] { return open; });
					released++;
				});
			if (r % 2) // half the rounds: all asleep first (the answer is the same)
				for (;;) {
					std::lock_guard<std::mutex> l(m);
					if (waiting == 4)
						break;
				}
			{
				std::lock_guard<std::mutex> l(m);
				open = true;
			}
			cv.notify_all();
			for (auto &th : t)
				th.join();
		}
		expect_long("gate: waiters released", released, 800);
	}

	// timeouts
	{
		std::mutex m;
		std::condition_variable cv;
		std::unique_lock<std::mutex> l(m);
		auto sd = std::chrono::steady_clock::now() + 20ms;
		expect_true("wait_until(steady +20ms): timeout",
			    cv.wait_until(l, sd) == std::cv_status::timeout);
		expect_true("... returned after its deadline", past<std::chrono::steady_clock>(sd));
		auto yd = std::chrono::system_clock::now() + 20ms;
		expect_true("wait_until(system +20ms): timeout",
			    cv.wait_until(l, yd) == std::cv_status::timeout);
		expect_true("... returned after its deadline", past<std::chrono::system_clock>(yd));
		expect_true("wait_for(20ms): timeout", cv.wait_for(l, 20ms) == std::cv_status::timeout);
		expect_true("wait_for(20ms, never): false", !cv.wait_for(l, 20ms, [] { return false; }));
		expect_true("wait_for(-1ms): timeout", cv.wait_for(l, -1ms) == std::cv_status::timeout);
		expect_true("lock owned after the timeouts", l.owns_lock());
		l.unlock();

		// notified in time
		bool flag = false, got = false;
		std::thread w([&] {
			std::unique_lock<std::mutex> l2(m);
			got = cv.wait_for(l2, 30s, [&] { return flag; });
		});
		std::this_thread::sleep_for(5ms);
		{
			std::lock_guard<std::mutex> g(m);
			flag = true;
		}
		cv.notify_one();
		w.join();
		expect_true("wait_for(30s, pred): notified in time", got);
	}

	// notify_all_at_thread_exit
	{
		std::mutex m;
		std::condition_variable cv;
		bool done = false;
		std::thread t([&] {
			std::unique_lock<std::mutex> l(m);
			done = true;
			std::notify_all_at_thread_exit(cv, std::move(l));
		});
		t.detach();
		std::unique_lock<std::mutex> l(m);
		cv.wait(l, [&] { return done; });
		expect_true("notify_all_at_thread_exit: woken", done);
	}

	// condition_variable_any with other lockables
	{
		std::recursive_mutex rm;
		std::condition_variable_any cv;
		bool ready = false;
		std::thread t([&] {
			std::lock_guard<std::recursive_mutex> g(rm);
			ready = true;
			cv.notify_all();
		});
		{
			std::unique_lock<std::recursive_mutex> l(rm);
			cv.wait(l, [&] { return ready; });
		}
		t.join();
		expect_true("condition_variable_any + recursive_mutex: woken", ready);

		std::shared_mutex sm;
		int readers_done = 0;
		bool go = false;
		std::vector<std::thread> r;
		for (int i = 0; i < 3; i++)
			r.emplace_back([&] {
				std::shared_lock<std::shared_mutex> l(sm);
				cv.wait(l, [&] { return __atomic_load_n(&go, __ATOMIC_ACQUIRE); });
				__atomic_fetch_add(&readers_done, 1, __ATOMIC_RELAXED);
			});
		{
			std::unique_lock<std::shared_mutex> l(sm);
			__atomic_store_n(&go, true, __ATOMIC_RELEASE);
		}
		cv.notify_all();
		for (auto &th : r)
			th.join();
		expect_long("condition_variable_any + shared_lock: readers woken", readers_done, 3);
		std::unique_lock<std::shared_mutex> l(sm);
		expect_true("condition_variable_any + unique_lock: wait_for timeout",
			    cv.wait_for(l, 10ms) == std::cv_status::timeout);
	}
	return posix_test_done();
}
