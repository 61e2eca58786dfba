/* Many threads on one semaphore: producers post, consumers take with every kind of
 * wait (sem_wait, trywait, timed and clock waits with short deadlines), and a
 * signaller interrupts them all with a handler that posts too (sem_post is
 * async-signal-safe, even when the interrupted thread is inside a sem_* call on the
 * same semaphore). At the end every token is accounted for exactly once: taken as a
 * real token, taken as a poison pill, or still in the value; and no waiter is left
 * registered (the high half of the first 64-bit word: glibc's nwaiters, where the shim
 * keeps its own).
 *
 * The count of handler posts is final only once the consumers have exited: a signal
 * that pthread_kill queued may run its handler after the signaller has been joined,
 * so a token can arrive after the stop, and a consumer then takes it as its pill. */
#include "posix_test.h"

#include <semaphore.h>
#include <signal.h>
#include <stdint.h>

enum { PRODUCERS = 3, CONSUMERS = 4, POSTS = 20000, SIGNALS = 3000 };

static sem_t sem;
static int consumed;      /* real tokens taken (atomic) */
static int handler_posts; /* tokens posted by the handler (atomic) */
static int stop;          /* every real token is taken: the next token is a poison pill */
static int eintr_seen;    /* atomic */
static pthread_t threads[PRODUCERS + CONSUMERS];
static int running;       /* producers and consumers still running (atomic) */

static void on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	if (sem_post(&sem) == 0)
		__atomic_fetch_add(&handler_posts, 1, __ATOMIC_RELAXED);
	errno = saved;
}

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < POSTS; i++) {
		sem_post(&sem);
		if (i % 64 == 0)
			sched_yield();
	}
	__atomic_fetch_sub(&running, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int take(unsigned *seed)
{
	struct timespec t;
	switch (rand_r(seed) % 5) {
	case 0:
		return sem_wait(&sem);
	case 1:
		return sem_trywait(&sem);
	case 2:
		t = deadline_in(CLOCK_REALTIME, rand_r(seed) % 3);
		return sem_timedwait(&sem, &t);
	case 3:
		t = deadline_in(CLOCK_MONOTONIC, rand_r(seed) % 3);
		return sem_clockwait(&sem, CLOCK_MONOTONIC, &t);
	default:
		t = deadline_in(CLOCK_REALTIME, rand_r(seed) % 3);
		return sem_clockwait(&sem, CLOCK_REALTIME, &t);
	}
}

static void *consumer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (;;) {
		if (take(&seed) != 0) {
			if (errno == EINTR)
				__atomic_fetch_add(&eintr_seen, 1, __ATOMIC_RELAXED);
			else if (errno != EAGAIN && errno != ETIMEDOUT)
				printf("consumer: unexpected %s\n", errname(errno));
			continue;
		}
		if (__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
			break; /* a poison pill */
		__atomic_fetch_add(&consumed, 1, __ATOMIC_RELAXED);
	}
	__atomic_fetch_sub(&running, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *signaller(void *arg)
{
	unsigned seed = 12345;
	(void)arg;
	for (int i = 0; i < SIGNALS && __atomic_load_n(&running, __ATOMIC_ACQUIRE) > CONSUMERS;
	     i++) {
		pthread_kill(threads[rand_r(&seed) % (PRODUCERS + CONSUMERS)], SIGUSR1);
		if (i % 8 == 0)
			usleep(50);
	}
	return NULL;
}

int main(void)
{
	struct sigaction sa;
	pthread_t sig;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	must(sigaction(SIGUSR1, &sa, NULL)); /* no SA_RESTART: waits see EINTR */
	must(sem_init(&sem, 0, 0));
	running = PRODUCERS + CONSUMERS;
	for (int i = 0; i < CONSUMERS; i++)
		start_thread(&threads[PRODUCERS + i], consumer, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < PRODUCERS; i++)
		start_thread(&threads[i], producer, NULL);
	start_thread(&sig, signaller, NULL);
	join_thread(sig); /* no signal after this: every handler post has happened */
	for (int i = 0; i < PRODUCERS; i++)
		join_thread(threads[i]);

	int total = PRODUCERS * POSTS + __atomic_load_n(&handler_posts, __ATOMIC_RELAXED);
	while (__atomic_load_n(&consumed, __ATOMIC_RELAXED) < total)
		usleep(1000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < CONSUMERS; i++)
		must(sem_post(&sem));
	for (int i = 0; i < CONSUMERS; i++)
		join_thread(threads[PRODUCERS + i]);

	int v = -1;
	must(sem_getvalue(&sem, &v));
	int posted = PRODUCERS * POSTS + __atomic_load_n(&handler_posts, __ATOMIC_RELAXED) + CONSUMERS;
	expect_true("every token taken once or still counted",
		    v >= 0 && consumed + CONSUMERS + v == posted);
	expect_true("handler posts happened", handler_posts > 0);
	expect_long("waiters registered at the end",
		    (long)(__atomic_load_n((uint64_t *)&sem, __ATOMIC_RELAXED) >> 32), 0);
	must(sem_destroy(&sem));
	return posix_test_done();
}
