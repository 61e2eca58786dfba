/* pthread_once on gs_once_do.
 *
 * Layout: pthread_once_t is one int and PTHREAD_ONCE_INIT is 0; the whole of it is
 * the gs_once_t word (zero = not run), so every statically initialized once works.
 * glibc's own pthread_once never sees an object the shim has touched: a once is only
 * ever passed to pthread_once.
 *
 * Behaviour, as glibc's: the init routine runs exactly once; callers that arrive while
 * it runs sleep until it returns and then see its writes; if it is cancelled (or
 * pthread_exit or a C++ exception leaves it) the once goes back to not-run and a
 * waiting or later caller runs it; waiting is not a cancellation point; a fork while
 * some thread is inside the routine lets the child run it (gs_once tags its RUNNING
 * state with the fork epoch, as glibc's does with its fork generation). Differences:
 * a routine that calls pthread_once on its own once deadlocks under glibc; here it is
 * the fatal "sync: recursive call of Once.Do". pthread_once always returns 0.
 */
#include "shim.h"

_Static_assert(sizeof(pthread_once_t) == sizeof(gs_once_t), "gs_once_t fills pthread_once_t");
_Static_assert(_Alignof(pthread_once_t) >= _Alignof(gs_once_t), "alignment");

/* arg: the address of pthread_once's own init_routine parameter (a function pointer
 * does not convert to void *). */
static void call_routine(void *arg)
{
	(*(void (**)(void))arg)();
}

GS_SHIM_API int pthread_once(pthread_once_t *once, void (*init_routine)(void))
{
	gs_once_do((gs_once_t *)once, call_routine, &init_routine);
	return 0;
}
