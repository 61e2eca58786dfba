/* config_reload — the seeds' hot-reloaded configuration, with gs_value.
 *
 * Workers serve "requests" with the latest configuration and take no lock to read
 * it: a read section, one load, and the config stays valid until the section ends.
 * A reloader builds a new configuration every few milliseconds and publishes it; the
 * old one is freed once no worker can still be using it. A worker sees either the old
 * or the new version, never a mix (v1/v2): each config's fields agree with its
 * version. Returns 0 on success. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gosync/time.h>
#include <gosync/value.h>

struct config {
	long version;
	int timeout_ms; /* both derived from version: a mixed read would disagree */
	int max_conns;
};

static gs_value_t current = GS_VALUE_INIT(NULL, free);
static int stop;

static struct config *config_new(long version)
{
	struct config *c = malloc(sizeof *c);
	if (!c)
		abort();
	*c = (struct config){ version, (int)(100 + version % 50), (int)(10 * (version % 7 + 1)) };
	return c;
}

static void *worker(void *arg)
{
	long *served = arg, bad = 0, last = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		gs_rcu_read_lock();
		const struct config *c = gs_value_load(&current);
		if (c->timeout_ms != 100 + c->version % 50 || c->max_conns != 10 * (c->version % 7 + 1) ||
		    c->version < last)
			bad++;
		last = c->version;
		gs_rcu_read_unlock();
		(*served)++;
	}
	return (void *)bad;
}

int main(void)
{
	enum { WORKERS = 4 };
	pthread_t t[WORKERS];
	long served[WORKERS] = { 0 }, bad = 0, reloads = 0;

	gs_value_store(&current, config_new(1));
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, &served[i]);

	for (int64_t end = gs_now() + 300 * GS_MSEC; gs_now() < end;) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		gs_value_store(&current, config_new(++reloads + 1)); /* old one freed later */
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < WORKERS; i++) {
		void *b;
		pthread_join(t[i], &b);
		bad += (long)b;
	}
	gs_value_destroy(&current);
	gs_rcu_barrier(); /* every retired config freed */

	long total = 0;
	for (int i = 0; i < WORKERS; i++)
		total += served[i];
	printf("config_reload: %ld reloads, %ld requests served, %ld inconsistent\n", reloads, total, bad);
	return bad == 0 && reloads > 0 ? 0 : 1;
}
