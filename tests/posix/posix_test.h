/* What the POSIX-level test programs share (tests/posix/, run by run.sh there).
 *
 * Each program is built against plain glibc — no gosync header, no gosync library — and
 * run twice, plainly and with the pthread shim preloaded (or linked); the two stdouts must
 * be identical. So a program prints only deterministic facts: return codes by name,
 * counts, yes/no answers, never a time or an interleaving. Every printed fact is also
 * checked against what POSIX and glibc promise (expect_rc, expect_true), so a plain run
 * validates the program itself; a failed check prints "UNEXPECTED" and makes the exit
 * status 1.
 *
 * Included here, run before main:
 *  - a watchdog: alarm(POSIX_TEST_ALARM), so a hang (a lost wakeup, a deadlock) kills the
 *    program with SIGALRM instead of blocking the run;
 *  - the shim check: when the runner sets GS_POSIX_SHIM=1 the program insists that
 *    libgosync is loaded (dlsym of gs_mutex_lock), and when it sets GS_POSIX_SHIM=0 that
 *    it is not — a preload that silently failed would otherwise compare glibc with glibc.
 */
#ifndef POSIX_TEST_H
#define POSIX_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef POSIX_TEST_ALARM
#define POSIX_TEST_ALARM 30
#endif

static int posix_test_failures;

static inline const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EBUSY: return "EBUSY";
	case EDEADLK: return "EDEADLK";
	case EPERM: return "EPERM";
	case EAGAIN: return "EAGAIN";
	case EINVAL: return "EINVAL";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EOWNERDEAD: return "EOWNERDEAD";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	case EINTR: return "EINTR";
	case EOVERFLOW: return "EOVERFLOW";
	case ENOSYS: return "ENOSYS";
	case ENOTSUP: return "ENOTSUP";
	case ESRCH: return "ESRCH";
	}
	static __thread char buf[32];
	snprintf(buf, sizeof buf, "errno %d", e);
	return buf;
}

/* Print "label: NAME" and check that the call returned `want`. */
#define expect_rc(label, got, want) expect_rc_at(__FILE__, __LINE__, (label), (got), (want))
static inline void expect_rc_at(const char *file, int line, const char *label, int got, int want)
{
	printf("%s: %s\n", label, errname(got));
	if (got != want) {
		printf("  UNEXPECTED at %s:%d (want %s)\n", file, line, errname(want));
		posix_test_failures++;
	}
	fflush(stdout);
}

/* Print "label: yes/no" and check that it is yes. */
#define expect_true(label, cond) expect_true_at(__FILE__, __LINE__, (label), (cond))
static inline void expect_true_at(const char *file, int line, const char *label, bool ok)
{
	printf("%s: %s\n", label, ok ? "yes" : "no");
	if (!ok) {
		printf("  UNEXPECTED at %s:%d (want yes)\n", file, line);
		posix_test_failures++;
	}
	fflush(stdout);
}

/* Print a long and check it. */
#define expect_long(label, got, want) expect_long_at(__FILE__, __LINE__, (label), (got), (want))
static inline void expect_long_at(const char *file, int line, const char *label, long got, long want)
{
	printf("%s: %ld\n", label, got);
	if (got != want) {
		printf("  UNEXPECTED at %s:%d (want %ld)\n", file, line, want);
		posix_test_failures++;
	}
	fflush(stdout);
}

/* A setup call that must succeed; the program cannot go on otherwise. */
#define must(call)                                                                  \
	do {                                                                        \
		int must_rc_ = (call);                                              \
		if (must_rc_ != 0) {                                                \
			printf("FATAL %s:%d %s: %s\n", __FILE__, __LINE__, #call,   \
			       errname(must_rc_));                                  \
			fflush(stdout);                                             \
			exit(2);                                                    \
		}                                                                   \
	} while (0)

/* The exit status main returns: 1 if any check failed. */
static inline int posix_test_done(void)
{
	fflush(stdout);
	return posix_test_failures ? 1 : 0;
}

/* Absolute time `ms` from now on `clock` (ms may be negative). */
static inline struct timespec deadline_in(clockid_t clock, long ms)
{
	struct timespec t;
	clock_gettime(clock, &t);
	long long ns = (long long)t.tv_nsec + (long long)ms * 1000000;
	t.tv_sec += ns / 1000000000;
	ns %= 1000000000;
	if (ns < 0) {
		ns += 1000000000;
		t.tv_sec--;
	}
	t.tv_nsec = ns;
	return t;
}

/* Whether `clock` has reached `t` (a timed wait that reported ETIMEDOUT must not
 * return before its deadline: the one timing fact that is deterministic). */
static inline bool reached(clockid_t clock, const struct timespec *t)
{
	struct timespec now;
	clock_gettime(clock, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static inline void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	must(pthread_create(t, NULL, fn, arg));
}

static inline void *join_thread(pthread_t t)
{
	void *ret;
	must(pthread_join(t, &ret));
	return ret;
}

__attribute__((constructor)) static void posix_test_init(void)
{
	alarm(POSIX_TEST_ALARM);
	const char *want = getenv("GS_POSIX_SHIM");
	if (!want)
		return;
	bool loaded = dlsym(RTLD_DEFAULT, "gs_mutex_lock") != NULL;
	if (loaded != (want[0] == '1')) {
		fprintf(stderr, "posix test: gosync shim %s but GS_POSIX_SHIM=%s\n",
			loaded ? "loaded" : "not loaded", want);
		_exit(99);
	}
}

#endif
