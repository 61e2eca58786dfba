/* Unnamed process-private semaphores: every return code and errno of sem_init,
 * sem_getvalue, sem_trywait, sem_post, sem_wait, sem_timedwait, sem_clockwait and
 * sem_destroy that glibc gives, including its edge cases (EINVAL for a bad tv_nsec
 * even when a token is available, a past deadline that still takes a token, the clock
 * check first), and tokens passed between threads. */
#include "posix_test.h"

#include <limits.h>
#include <semaphore.h>

/* A sem_* call's result as an error name: 0, or errno after -1. */
static int rc(int r)
{
	return r == 0 ? 0 : r == -1 ? errno : -1000 - r;
}

static int value_of(sem_t *s)
{
	int v = -12345;
	must(sem_getvalue(s, &v));
	return v;
}

static void test_init_and_values(void)
{
	sem_t s;

	expect_rc("init value 0", rc(sem_init(&s, 0, 0)), 0);
	expect_long("value after init 0", value_of(&s), 0);
	expect_rc("trywait at 0", rc(sem_trywait(&s)), EAGAIN);
	expect_rc("post", rc(sem_post(&s)), 0);
	expect_rc("post", rc(sem_post(&s)), 0);
	expect_long("value after 2 posts", value_of(&s), 2);
	expect_rc("trywait", rc(sem_trywait(&s)), 0);
	expect_rc("wait", rc(sem_wait(&s)), 0);
	expect_long("value after trywait+wait", value_of(&s), 0);
	expect_rc("destroy", rc(sem_destroy(&s)), 0);

	expect_rc("init value 5", rc(sem_init(&s, 0, 5)), 0);
	expect_long("value after init 5", value_of(&s), 5);
	expect_rc("destroy", rc(sem_destroy(&s)), 0);

	expect_rc("init SEM_VALUE_MAX", rc(sem_init(&s, 0, SEM_VALUE_MAX)), 0);
	expect_long("value is SEM_VALUE_MAX", value_of(&s), SEM_VALUE_MAX);
	expect_rc("post at SEM_VALUE_MAX", rc(sem_post(&s)), EOVERFLOW);
	expect_long("value unchanged by EOVERFLOW", value_of(&s), SEM_VALUE_MAX);
	expect_rc("trywait below max", rc(sem_trywait(&s)), 0);
	expect_rc("post back to max", rc(sem_post(&s)), 0);
	expect_rc("post at max again", rc(sem_post(&s)), EOVERFLOW);
	expect_rc("destroy", rc(sem_destroy(&s)), 0);

	errno = 0;
	expect_rc("init SEM_VALUE_MAX+1", rc(sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1)), EINVAL);
	expect_rc("init UINT_MAX", rc(sem_init(&s, 0, UINT_MAX)), EINVAL);
}

static void test_timed(void)
{
	sem_t s;
	struct timespec t;

	must(sem_init(&s, 0, 1));

	/* bad tv_nsec: EINVAL even though a token is available, and it stays */
	t = deadline_in(CLOCK_REALTIME, 1000);
	t.tv_nsec = 1000000000;
	expect_rc("timedwait nsec=1e9, token available", rc(sem_timedwait(&s, &t)), EINVAL);
	t.tv_nsec = -1;
	expect_rc("timedwait nsec=-1, token available", rc(sem_timedwait(&s, &t)), EINVAL);
	t = deadline_in(CLOCK_MONOTONIC, 1000);
	t.tv_nsec = 1000000000;
	expect_rc("clockwait MONOTONIC nsec=1e9, token available",
		  rc(sem_clockwait(&s, CLOCK_MONOTONIC, &t)), EINVAL);
	expect_long("value still 1", value_of(&s), 1);

	/* a clock other than REALTIME/MONOTONIC: EINVAL first, token or not */
	t = deadline_in(CLOCK_MONOTONIC, 1000);
	expect_rc("clockwait PROCESS_CPUTIME, token available",
		  rc(sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &t)), EINVAL);
	expect_rc("clockwait BOOTTIME, token available",
		  rc(sem_clockwait(&s, CLOCK_BOOTTIME, &t)), EINVAL);
	t.tv_nsec = -5;
	expect_rc("clockwait bad clock and bad nsec", rc(sem_clockwait(&s, 42, &t)), EINVAL);
	expect_long("value still 1", value_of(&s), 1);

	/* a past deadline still takes an available token */
	t = deadline_in(CLOCK_REALTIME, -1000);
	expect_rc("timedwait past deadline, token available", rc(sem_timedwait(&s, &t)), 0);
	expect_rc("timedwait past deadline, no token", rc(sem_timedwait(&s, &t)), ETIMEDOUT);
	t.tv_sec = -1;
	t.tv_nsec = 0;
	expect_rc("timedwait negative tv_sec, no token", rc(sem_timedwait(&s, &t)), ETIMEDOUT);
	must(sem_post(&s));
	expect_rc("timedwait negative tv_sec, token available", rc(sem_timedwait(&s, &t)), 0);
	t = deadline_in(CLOCK_MONOTONIC, -5);
	expect_rc("clockwait MONOTONIC past, no token", rc(sem_clockwait(&s, CLOCK_MONOTONIC, &t)),
		  ETIMEDOUT);
	t = deadline_in(CLOCK_REALTIME, -5);
	expect_rc("clockwait REALTIME past, no token", rc(sem_clockwait(&s, CLOCK_REALTIME, &t)),
		  ETIMEDOUT);

	/* a future deadline that passes: ETIMEDOUT, not early */
	t = deadline_in(CLOCK_REALTIME, 30);
	expect_rc("timedwait 30 ms, no token", rc(sem_timedwait(&s, &t)), ETIMEDOUT);
	expect_true("timedwait returned at or after its deadline", reached(CLOCK_REALTIME, &t));
	t = deadline_in(CLOCK_MONOTONIC, 30);
	expect_rc("clockwait MONOTONIC 30 ms, no token",
		  rc(sem_clockwait(&s, CLOCK_MONOTONIC, &t)), ETIMEDOUT);
	expect_true("clockwait MONOTONIC returned at or after its deadline",
		    reached(CLOCK_MONOTONIC, &t));
	t = deadline_in(CLOCK_REALTIME, 30);
	expect_rc("clockwait REALTIME 30 ms, no token",
		  rc(sem_clockwait(&s, CLOCK_REALTIME, &t)), ETIMEDOUT);
	expect_true("clockwait REALTIME returned at or after its deadline",
		    reached(CLOCK_REALTIME, &t));
	expect_long("value 0 after the timeouts", value_of(&s), 0);

	/* a future deadline with a token: 0 at once */
	must(sem_post(&s));
	must(sem_post(&s));
	t = deadline_in(CLOCK_MONOTONIC, 10000);
	expect_rc("clockwait MONOTONIC, token available",
		  rc(sem_clockwait(&s, CLOCK_MONOTONIC, &t)), 0);
	t = deadline_in(CLOCK_REALTIME, 10000);
	expect_rc("timedwait, token available", rc(sem_timedwait(&s, &t)), 0);
	expect_long("value 0", value_of(&s), 0);
	expect_rc("destroy", rc(sem_destroy(&s)), 0);
}

/* --- tokens between threads ------------------------------------------------- */

enum { PINGS = 2000 };

struct pingpong {
	sem_t ping, pong;
	int counter; /* plain: each side writes it only while holding the token */
	int bad;
};

static void *pong_main(void *arg)
{
	struct pingpong *p = arg;
	for (int i = 0; i < PINGS; i++) {
		int r;
		switch (i % 3) {
		case 0: r = sem_wait(&p->ping); break;
		case 1: {
			struct timespec t = deadline_in(CLOCK_REALTIME, 20000);
			r = sem_timedwait(&p->ping, &t);
			break;
		}
		default: {
			struct timespec t = deadline_in(CLOCK_MONOTONIC, 20000);
			r = sem_clockwait(&p->ping, CLOCK_MONOTONIC, &t);
			break;
		}
		}
		if (r != 0 || p->counter != 2 * i + 1)
			p->bad++;
		p->counter++;
		sem_post(&p->pong);
	}
	return NULL;
}

static void test_ping_pong(void)
{
	static struct pingpong p;
	pthread_t t;

	must(sem_init(&p.ping, 0, 0));
	must(sem_init(&p.pong, 0, 0));
	start_thread(&t, pong_main, &p);
	for (int i = 0; i < PINGS; i++) {
		if (p.counter != 2 * i)
			p.bad++;
		p.counter++;
		sem_post(&p.ping);
		if (sem_wait(&p.pong) != 0)
			p.bad++;
	}
	join_thread(t);
	expect_long("ping-pong counter", p.counter, 2 * PINGS);
	expect_long("ping-pong mismatches", p.bad, 0);
	expect_long("ping value", value_of(&p.ping), 0);
	expect_long("pong value", value_of(&p.pong), 0);
	must(sem_destroy(&p.ping));
	must(sem_destroy(&p.pong));
}

/* Many waiters, tokens posted one at a time: each waiter gets exactly one. */
enum { WAITERS = 8 };

static sem_t gate;
static int got[WAITERS];

static void *gate_waiter(void *arg)
{
	int i = (int)(long)arg;
	got[i] = sem_wait(&gate) == 0;
	return NULL;
}

static void test_many_waiters(void)
{
	pthread_t t[WAITERS];
	int total = 0;

	must(sem_init(&gate, 0, 0));
	for (int i = 0; i < WAITERS; i++)
		start_thread(&t[i], gate_waiter, (void *)(long)i);
	for (int i = 0; i < WAITERS; i++)
		must(sem_post(&gate));
	for (int i = 0; i < WAITERS; i++) {
		join_thread(t[i]);
		total += got[i];
	}
	expect_long("waiters that got a token", total, WAITERS);
	expect_long("value after", value_of(&gate), 0);
	must(sem_destroy(&gate));
}

/* POSIX: a semaphore may be destroyed (here: its memory reused) as soon as the last
 * waiter has returned, while the poster may still be inside sem_post. */
struct handoff {
	sem_t s;
	long pad[8];
};

static void *handoff_poster(void *arg)
{
	sem_post(&((struct handoff *)arg)->s);
	return NULL;
}

static void test_destroy_after_wait(void)
{
	int ok = 0;
	for (int i = 0; i < 200; i++) {
		struct handoff *h = malloc(sizeof *h);
		pthread_t t;
		must(sem_init(&h->s, 0, 0));
		start_thread(&t, handoff_poster, h);
		if (sem_wait(&h->s) == 0)
			ok++;
		sem_destroy(&h->s);
		memset(h, 0xa5, sizeof *h);
		free(h);
		join_thread(t);
	}
	expect_long("wait then destroy and free while the poster returns", ok, 200);
}

int main(void)
{
	test_init_and_values();
	test_timed();
	test_ping_pong();
	test_many_waiters();
	test_destroy_after_wait();
	return posix_test_done();
}
