/* The process-wide spinner budget (see spin.h). One counter on its own cache line;
 * only waiters that are about to spin touch it. */
#include <pthread.h>

#include "gs_arch.h"
#include "spin.h"

static struct {
	int n;
} __attribute__((aligned(GS_CACHE_LINE))) spinners;

bool gs__spin_begin(void)
{
	int cap = gs__usable_cpus() - 1;
	int n = __atomic_load_n(&spinners.n, __ATOMIC_RELAXED);

	/* relaxed: a count, not a publication; nothing is ordered by it */
	while (n < cap)
		if (__atomic_compare_exchange_n(&spinners.n, &n, n + 1, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return true;
	return false;
}

void gs__spin_end(void) { __atomic_fetch_sub(&spinners.n, 1, __ATOMIC_RELAXED); }

/* A forked child starts with no spinners (the parent's do not exist there). */
static void reset_spinners(void) { spinners.n = 0; }

__attribute__((constructor(101))) static void spin_init(void)
{
	pthread_atfork(NULL, NULL, reset_spinners);
}
