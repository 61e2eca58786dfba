/* Shared helpers of the cmocka tests.
 *
 * Scenarios that must die, race, or fork run as fresh processes: the test binary
 * re-executes itself (/proc/self/exe) with `--scenario NAME`, and the parent checks
 * the child's exit status and what it wrote to stderr. A fresh process is needed
 * because abort() cannot be caught by cmocka, a TSan report with halt_on_error ends
 * the whole process, and gcc's TSan kills a forked child that starts threads.
 *
 * Only the main thread may call cmocka's assert_* (a failing assert in a worker kills
 * the binary without a summary): workers record what they saw and main asserts. */
#ifndef GS_TEST_HARNESS_H
#define GS_TEST_HARNESS_H

#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <sys/syscall.h>

#include <gosync/time.h>

struct scenario {
	const char *name;
	void (*run)(void); /* runs in the child; its exit status is what the parent sees */
};

/* Call first in main(): if argv asks for a scenario, runs it and exits. */
static inline void scenario_dispatch(int argc, char **argv, const struct scenario *table)
{
	if (argc < 3 || strcmp(argv[1], "--scenario") != 0)
		return;
	for (const struct scenario *s = table; s->name; s++) {
		if (strcmp(s->name, argv[2]) == 0) {
			s->run();
			exit(0);
		}
	}
	fprintf(stderr, "unknown scenario %s\n", argv[2]);
	exit(127);
}

struct scenario_result {
	int status;        /* as from waitpid */
	char err[16384];   /* the child's stderr, NUL-terminated (truncated) */
};

/* Under user-mode emulation (make check-cross runs the tests with qemu-user and names
 * it in GS_TEST_EMULATOR) the kernel cannot execute this foreign binary by itself, so
 * a fresh process must start through the emulator again; and /proc shows the
 * emulator's own system calls, with the host's numbers. */
static inline const char *test_emulator(void)
{
	const char *e = getenv("GS_TEST_EMULATOR");
	return e && *e ? e : NULL;
}

extern char **environ;

/* Runs `name` in a fresh process of this binary; `env` (may be NULL) is a
 * NULL-terminated list of "KEY=VALUE" set in the child. The child is started with
 * posix_spawn, not fork: fork runs the pthread_atfork handlers, and liburcu's (for
 * gs_value) starts a thread in the child, which qemu-user 7.2 cannot do in the forked
 * child of a threaded process (it aborts). */
static inline void scenario_run(const char *name, const char *const *env,
				struct scenario_result *r)
{
	const char *emu = test_emulator();
	char self[4096] = "/proc/self/exe";
	if (emu) {
		ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
		if (len <= 0)
			abort();
		self[len] = '\0';
	}
	char *argv[] = { (char *)"self", (char *)"--scenario", (char *)name, NULL };
	char *emu_argv[] = { (char *)emu, self, (char *)"--scenario", (char *)name, NULL };

	/* this environment, with env's variables replaced or added */
	size_t n_environ = 0, n_env = 0, m = 0;
	while (environ[n_environ])
		n_environ++;
	while (env && env[n_env])
		n_env++;
	char **envp = calloc(n_environ + n_env + 1, sizeof *envp);
	if (!envp)
		abort();
	for (size_t i = 0; i < n_environ; i++) {
		bool replaced = false;
		for (size_t j = 0; j < n_env && !replaced; j++) {
			size_t key = strcspn(env[j], "=") + 1;
			replaced = strncmp(environ[i], env[j], key) == 0;
		}
		if (!replaced)
			envp[m++] = environ[i];
	}
	for (size_t j = 0; j < n_env; j++)
		envp[m++] = (char *)env[j];

	int fd[2];
	if (pipe(fd) != 0)
		abort();
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, fd[1], STDERR_FILENO) != 0 ||
	    posix_spawn_file_actions_addclose(&fa, fd[0]) != 0 ||
	    posix_spawn_file_actions_addclose(&fa, fd[1]) != 0)
		abort();
	pid_t pid;
	int err = emu ? posix_spawnp(&pid, emu, &fa, NULL, emu_argv, envp)
		      : posix_spawn(&pid, self, &fa, NULL, argv, envp);
	if (err != 0) {
		fprintf(stderr, "scenario %s: cannot start %s: %s\n", name, emu ? emu : self,
			strerror(err));
		abort();
	}
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(fd[1]);
	size_t n = 0;
	ssize_t k;
	char sink[4096];
	while ((k = read(fd[0], n < sizeof r->err - 1 ? r->err + n : sink,
			 n < sizeof r->err - 1 ? sizeof r->err - 1 - n : sizeof sink)) > 0)
		if (n < sizeof r->err - 1)
			n += (size_t)k;
	r->err[n] = '\0';
	close(fd[0]);
	/* qemu-user reports a guest killed by a signal on stderr itself: not the child's */
	char *note = emu ? strstr(r->err, "qemu: uncaught target signal") : NULL;
	if (note && (note == r->err || note[-1] == '\n')) {
		char *rest = strchr(note, '\n');
		rest = rest ? rest + 1 : note + strlen(note);
		memmove(note, rest, strlen(rest) + 1);
	}
	while (waitpid(pid, &r->status, 0) < 0)
		;
}

/* The child died of SIGABRT (a gosync fatal) and its stderr has `line`. */
static inline void assert_died_with(const struct scenario_result *r, const char *line)
{
	if (!WIFSIGNALED(r->status) || WTERMSIG(r->status) != SIGABRT || !strstr(r->err, line))
		fprintf(stderr, "child status 0x%x, stderr:\n%s\n", r->status, r->err);
	assert_true(WIFSIGNALED(r->status));
	assert_int_equal(WTERMSIG(r->status), SIGABRT);
	assert_non_null(strstr(r->err, line));
}

/* The child exited normally with `code`; otherwise its stderr is shown. */
static inline void assert_exited_with(const struct scenario_result *r, int code)
{
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != code)
		fprintf(stderr, "child status 0x%x (wanted exit %d), stderr:\n%s\n", r->status, code, r->err);
	assert_true(WIFEXITED(r->status));
	assert_int_equal(WEXITSTATUS(r->status), code);
}

/* True when this binary runs under ThreadSanitizer. */
extern void __tsan_acquire(void *addr) __attribute__((weak));
static inline int under_tsan(void) { return __tsan_acquire != NULL; }

static inline void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Sanitized builds and emulated runs do fewer rounds: TSan slows everything by 5-20x,
 * qemu-user (make check-cross) by as much and more where threads start often, ASan by
 * ~2x. */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif
#ifndef ASAN_BUILD
#define ASAN_BUILD 0
#endif

static inline int scaled(int normal, int tsan)
{
	if (under_tsan() || test_emulator())
		return tsan;
	return ASAN_BUILD ? (normal + tsan) / 2 : normal;
}

static inline int load_int(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store_int(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static inline pthread_t spawn(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, arg) != 0)
		abort();
	return t;
}

/* Joins t and returns what its thread returned. */
static inline void *join(pthread_t t)
{
	void *ret;
	if (pthread_join(t, &ret) != 0)
		abort();
	return ret;
}

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Waits (at most 10 s) until thread `tid` sleeps in FUTEX_WAIT_BITSET (private) on a
 * word it expects to hold `expected`, as the kernel shows its current system call.
 * Returns false on timeout. Without /proc, falls back to a sleep. Under emulation the
 * emulator makes the same futex call for the thread, under the host's system call
 * number, so only the operation and the value are compared there. */
static inline bool wait_futex_sleeper(pid_t tid, unsigned long expected)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	int64_t give_up = gs_now() + 10 * GS_SEC;
	bool any_nr = test_emulator() != NULL;

	while (gs_now() < give_up) {
		FILE *f = fopen(path, "r");
		if (!f) {
			sleep_ns(50 * GS_MSEC);
			return true;
		}
		bool ok = fgets(line, sizeof line, f) != NULL;
		fclose(f);
		long nr;
		unsigned long addr, op, val;
		if (ok && sscanf(line, "%ld %lx %lx %lx", &nr, &addr, &op, &val) == 4 &&
		    (nr == SYS_futex || any_nr) && op == (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG) &&
		    val == expected)
			return true;
		sleep_ns(200 * GS_USEC);
	}
	return false;
}

/* Thread `tid` sleeps in park: on a waiter record's wake word, which it expects 0
 * (a sleeper on a contended bucket lock expects 2: wait_futex_sleeper(tid, 2)). */
static inline bool wait_parked(pid_t tid) { return wait_futex_sleeper(tid, 0); }

#endif
