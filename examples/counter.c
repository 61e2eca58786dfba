/* counter — several threads increment a shared counter under a gs_mutex_t.
 *
 * A zeroed gs_mutex_t (or GS_MUTEX_INIT) is ready to use: no init, no destroy. */
#include <pthread.h>
#include <stdio.h>

#include <gosync.h>

enum { THREADS = 8, INCREMENTS = 100000 };

static struct {
	gs_mutex_t mu;  /* guards n */
	long n;
} counter = { GS_MUTEX_INIT, 0 };

static void *work(void *arg)
{
	(void)arg;
	for (int i = 0; i < INCREMENTS; i++) {
		gs_mutex_lock(&counter.mu);
		counter.n++;
		gs_mutex_unlock(&counter.mu);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, work, NULL) != 0)
			return 1;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	long want = (long)THREADS * INCREMENTS;
	printf("counter: %ld (want %ld)\n", counter.n, want);
	return counter.n == want ? 0 : 1;
}
