// One-time initialization in C++: std::call_once (pthread_once underneath in
// libstdc++) with 8 threads racing on each of 200 flags runs each function exactly
// once and every caller sees its effect; a call that throws leaves the flag unset and
// the next call runs; function-local statics constructed concurrently (the ABI's guard
// functions) are constructed once; a static std::mutex and std::condition_variable
// work without any constructor having run first. Counts and yes/no answers only.
#include "posix_test.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

static std::once_flag flags[200];
static std::atomic<int> runs[200];
static int value[200];

struct Slow {
	static std::atomic<int> constructed;
	int v;
	Slow() : v(42)
	{
		constructed++;
		std::this_thread::yield();
	}
};
std::atomic<int> Slow::constructed{0};

template <int N> static int local_static()
{
	static Slow s;
	return s.v + N;
}

template <int... N> static long all_local_statics(std::integer_sequence<int, N...>)
{
	return (0L + ... + local_static<N>());
}

// constant-initialized: usable before any constructor of this program ran
static std::mutex early_m;
static std::condition_variable early_cv;
static int early_n;

struct Early {
	Early()
	{
		std::lock_guard<std::mutex> g(early_m);
		early_n++;
	}
} early;

int main()
{
	std::vector<std::thread> t;
	long wrong = 0;
	std::mutex wm;
	for (int i = 0; i < 8; i++)
		t.emplace_back([&] {
			long bad = 0;
			for (int f = 0; f < 200; f++) {
				std::call_once(flags[f], [f] {
					runs[f]++;
					value[f] = f + 1;
				});
				if (value[f] != f + 1)
					bad++;
			}
			std::lock_guard<std::mutex> g(wm);
			wrong += bad;
		});
	for (auto &th : t)
		th.join();
	long total = 0;
	int more = 0;
	for (int f = 0; f < 200; f++) {
		total += runs[f];
		more += runs[f] != 1;
	}
	expect_long("call_once: runs over 200 flags", total, 200);
	expect_long("call_once: flags run other than once", more, 0);
	expect_long("call_once: callers that missed the effect", wrong, 0);

	// an exceptional call leaves the flag to the next caller
	std::once_flag ef;
	int attempts = 0;
	bool threw = false;
	try {
		std::call_once(ef, [&] {
			attempts++;
			throw std::runtime_error("first");
		});
	} catch (const std::runtime_error &) {
		threw = true;
	}
	expect_true("call_once: the exception reached the caller", threw);
	std::thread([&] { std::call_once(ef, [&] { attempts++; }); }).join();
	std::call_once(ef, [&] { attempts++; });
	expect_long("call_once: attempts after a throw", attempts, 2);

	// function-local statics constructed from 8 threads at once
	t.clear();
	std::atomic<long> sum{0};
	for (int i = 0; i < 8; i++)
		t.emplace_back([&] { sum += all_local_statics(std::make_integer_sequence<int, 32>()); });
	for (auto &th : t)
		th.join();
	expect_long("local statics: constructions", Slow::constructed.load(), 32);
	expect_long("local statics: sum seen", sum.load(), 8L * (32 * 42 + 31 * 32 / 2));

	// the statics locked during static initialization still work
	bool ready = false;
	std::thread w([&] {
		std::lock_guard<std::mutex> g(early_m);
		ready = true;
		early_cv.notify_one();
	});
	{
		std::unique_lock<std::mutex> l(early_m);
		early_cv.wait(l, [&] { return ready; });
		early_n++;
	}
	w.join();
	expect_long("static mutex: used before and after main started", early_n, 2);
	return posix_test_done();
}
