/* pthread_barrier: init's EINVAL cases; exactly one PTHREAD_BARRIER_SERIAL_THREAD per
 * cycle over many cycles, the barrier reused at once and everyone's writes before it
 * visible after it; more threads than the count; signal handlers and cancellation
 * requests do not interrupt a wait (it is not a cancellation point); destroy by the
 * serial thread while the others return; process-shared barriers (glibc's, under the
 * shim too) across fork. */
#include "posix_test.h"

#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static const char *bname(int r)
{
	return r == PTHREAD_BARRIER_SERIAL_THREAD ? "SERIAL" : errname(r);
}

static void wait_in_futex(pid_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	for (int i = 0; i < 100000; i++) {
		FILE *f = fopen(path, "r");
		if (!f)
			break;
		bool ok = fgets(line, sizeof line, f) != NULL;
		fclose(f);
		long nr;
		if (ok && sscanf(line, "%ld", &nr) == 1 && nr == SYS_futex)
			return;
		usleep(100);
	}
	printf("FATAL: thread %d never slept\n", (int)tid);
	exit(2);
}

static void test_init(void)
{
	pthread_barrier_t b;
	pthread_barrierattr_t a;

	expect_rc("init count 0", pthread_barrier_init(&b, NULL, 0), EINVAL);
	expect_rc("init count UINT_MAX", pthread_barrier_init(&b, NULL, UINT_MAX), EINVAL);
	expect_rc("init count UINT_MAX/2", pthread_barrier_init(&b, NULL, UINT_MAX / 2), EINVAL);
	expect_rc("init count UINT_MAX/2-1", pthread_barrier_init(&b, NULL, UINT_MAX / 2 - 1), 0);
	expect_rc("destroy", pthread_barrier_destroy(&b), 0);
	must(pthread_barrierattr_init(&a));
	must(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
	expect_rc("pshared init count 0", pthread_barrier_init(&b, &a, 0), EINVAL);
	must(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_PRIVATE));
	expect_rc("private attr init count 3", pthread_barrier_init(&b, &a, 3), 0);
	expect_rc("destroy", pthread_barrier_destroy(&b), 0);
	must(pthread_barrierattr_destroy(&a));

	expect_rc("init count 1", pthread_barrier_init(&b, NULL, 1), 0);
	for (int i = 0; i < 3; i++) {
		int r = pthread_barrier_wait(&b);
		printf("count 1: wait %d: %s\n", i, bname(r));
		expect_true("  is the serial thread", r == PTHREAD_BARRIER_SERIAL_THREAD);
	}
	expect_rc("destroy", pthread_barrier_destroy(&b), 0);
	expect_rc("init again", pthread_barrier_init(&b, NULL, 1), 0);
	expect_rc("destroy", pthread_barrier_destroy(&b), 0);
}

/* --- N threads, many cycles ------------------------------------------------- */

enum { THREADS = 6, CYCLES = 3000 };

static pthread_barrier_t bar;
static int slot[THREADS];          /* thread i's cycle number, written before the wait */
static int serials[CYCLES];        /* serial threads per cycle (atomic) */
static int stale_reads;            /* a slot behind the cycle after the wait (atomic) */
static int bad_rcs;                /* atomic */

static void *cycler(void *arg)
{
	int me = (int)(long)arg;
	for (int c = 0; c < CYCLES; c++) {
		__atomic_store_n(&slot[me], c, __ATOMIC_RELAXED);
		int r = pthread_barrier_wait(&bar);
		if (r == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_fetch_add(&serials[c], 1, __ATOMIC_RELAXED);
		else if (r != 0)
			__atomic_fetch_add(&bad_rcs, 1, __ATOMIC_RELAXED);
		/* everyone has written c (or, already through, c+1) */
		for (int j = 0; j < THREADS; j++)
			if (__atomic_load_n(&slot[j], __ATOMIC_RELAXED) < c)
				__atomic_fetch_add(&stale_reads, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_cycles(void)
{
	pthread_t t[THREADS];
	int wrong = 0;

	must(pthread_barrier_init(&bar, NULL, THREADS));
	for (int i = 0; i < THREADS; i++)
		start_thread(&t[i], cycler, (void *)(long)i);
	for (int i = 0; i < THREADS; i++)
		join_thread(t[i]);
	for (int c = 0; c < CYCLES; c++)
		wrong += serials[c] != 1;
	expect_long("cycles without exactly one serial thread", wrong, 0);
	expect_long("slots seen behind the cycle after a wait", stale_reads, 0);
	expect_long("return codes other than 0 and SERIAL", bad_rcs, 0);
	expect_rc("destroy", pthread_barrier_destroy(&bar), 0);
}

/* More threads than the count: every `count` arrivals make a cycle (each thread waits
 * once per round: with several waits each, the last thread could be left alone). */
enum { EXTRA_THREADS = 6, EXTRA_COUNT = 2, EXTRA_ROUNDS = 200 };

static int extra_serials; /* atomic */

static void *extra_main(void *arg)
{
	(void)arg;
	if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD)
		__atomic_fetch_add(&extra_serials, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void test_more_threads_than_count(void)
{
	must(pthread_barrier_init(&bar, NULL, EXTRA_COUNT));
	for (int round = 0; round < EXTRA_ROUNDS; round++) {
		pthread_t t[EXTRA_THREADS];
		for (int i = 0; i < EXTRA_THREADS; i++)
			start_thread(&t[i], extra_main, NULL);
		for (int i = 0; i < EXTRA_THREADS; i++)
			join_thread(t[i]);
	}
	expect_long("6 threads at a time on a count-2 barrier: serial returns", extra_serials,
		    EXTRA_ROUNDS * EXTRA_THREADS / EXTRA_COUNT);
	expect_rc("destroy", pthread_barrier_destroy(&bar), 0);
}

/* --- signals and cancellation do not interrupt a wait ------------------------ */

static int handled; /* atomic */
static void on_signal(int sig)
{
	(void)sig;
	__atomic_fetch_add(&handled, 1, __ATOMIC_RELEASE);
}

struct sleeper {
	pid_t tid;
	int ready;
	int rc;
	bool pending_cancel; /* request a cancel on itself first */
	int after;           /* reached the code after the wait */
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	s->tid = gettid();
	if (s->pending_cancel) {
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_cancel(pthread_self());
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	}
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	s->rc = pthread_barrier_wait(&bar);
	s->after = 1;
	pthread_testcancel();
	return NULL;
}

static pthread_t start_sleeper(struct sleeper *s, bool pending_cancel)
{
	pthread_t t;
	*s = (struct sleeper){ .rc = -1, .pending_cancel = pending_cancel };
	start_thread(&t, sleeper_main, s);
	while (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
		usleep(100);
	wait_in_futex(s->tid);
	return t;
}

static void test_not_interrupted(void)
{
	struct sigaction sa;
	struct sleeper s;
	pthread_t t;
	void *ret;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	must(sigaction(SIGUSR1, &sa, NULL));
	must(pthread_barrier_init(&bar, NULL, 2));

	t = start_sleeper(&s, false);
	must(pthread_kill(t, SIGUSR1));
	while (!__atomic_load_n(&handled, __ATOMIC_ACQUIRE))
		usleep(100);
	wait_in_futex(s.tid); /* back asleep: not interrupted */
	expect_true("signalled waiter still waiting", !s.after);
	int r = pthread_barrier_wait(&bar);
	join_thread(t);
	printf("signalled waiter: %s, last arrival: %s\n", bname(s.rc), bname(r));
	expect_true("  waiter 0, last arrival SERIAL",
		    s.rc == 0 && r == PTHREAD_BARRIER_SERIAL_THREAD);

	t = start_sleeper(&s, false);
	must(pthread_cancel(t));
	usleep(20000);
	expect_true("cancelled waiter still waiting", !s.after);
	r = pthread_barrier_wait(&bar);
	ret = join_thread(t);
	expect_true("  it returned from the wait, then was cancelled at pthread_testcancel",
		    s.after && ret == PTHREAD_CANCELED && s.rc == 0);

	t = start_sleeper(&s, true);
	r = pthread_barrier_wait(&bar);
	ret = join_thread(t);
	expect_true("wait with a cancel already pending returns, then the cancel acts",
		    s.after && ret == PTHREAD_CANCELED && s.rc == 0);
	expect_rc("destroy", pthread_barrier_destroy(&bar), 0);
}

/* --- the serial thread destroys and frees the barrier ------------------------ */

enum { FREE_THREADS = 4, FREE_ROUNDS = 300 };

static pthread_barrier_t *heap_bar;
static int destroy_rcs; /* nonzero destroy results (atomic) */

static void *free_main(void *arg)
{
	pthread_barrier_t *b = arg;
	if (pthread_barrier_wait(b) == PTHREAD_BARRIER_SERIAL_THREAD) {
		if (pthread_barrier_destroy(b) != 0)
			__atomic_fetch_add(&destroy_rcs, 1, __ATOMIC_RELAXED);
		memset(b, 0x5a, sizeof *b);
		free(b);
	}
	return NULL;
}

static void test_destroy_by_serial(void)
{
	for (int round = 0; round < FREE_ROUNDS; round++) {
		pthread_t t[FREE_THREADS];
		heap_bar = malloc(sizeof *heap_bar);
		must(pthread_barrier_init(heap_bar, NULL, FREE_THREADS));
		for (int i = 0; i < FREE_THREADS; i++)
			start_thread(&t[i], free_main, heap_bar);
		for (int i = 0; i < FREE_THREADS; i++)
			join_thread(t[i]);
	}
	expect_long("serial thread destroys and frees: nonzero destroys", destroy_rcs, 0);
}

/* --- process-shared ---------------------------------------------------------- */

enum { SHARED_CYCLES = 200 };

struct shared {
	pthread_barrier_t b;
	int serials; /* atomic */
};

static void test_pshared(void)
{
	pthread_barrierattr_t a;
	int ps = -1;
	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		printf("FATAL mmap\n");
		exit(2);
	}
	must(pthread_barrierattr_init(&a));
	must(pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
	must(pthread_barrierattr_getpshared(&a, &ps));
	expect_true("attr is process-shared", ps == PTHREAD_PROCESS_SHARED);
	expect_rc("pshared init", pthread_barrier_init(&sh->b, &a, 2), 0);
	must(pthread_barrierattr_destroy(&a));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(POSIX_TEST_ALARM);
		for (int i = 0; i < SHARED_CYCLES; i++)
			if (pthread_barrier_wait(&sh->b) == PTHREAD_BARRIER_SERIAL_THREAD)
				__atomic_fetch_add(&sh->serials, 1, __ATOMIC_RELAXED);
		_exit(0);
	}
	for (int i = 0; i < SHARED_CYCLES; i++)
		if (pthread_barrier_wait(&sh->b) == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_fetch_add(&sh->serials, 1, __ATOMIC_RELAXED);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	expect_true("pshared: child exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	expect_long("pshared: serial returns across both processes", sh->serials, SHARED_CYCLES);
	expect_rc("pshared destroy", pthread_barrier_destroy(&sh->b), 0);
	munmap(sh, sizeof *sh);
}

int main(void)
{
	test_init();
	test_cycles();
	test_more_threads_than_count();
	test_not_interrupted();
	test_destroy_by_serial();
	test_pshared();
	return posix_test_done();
}
