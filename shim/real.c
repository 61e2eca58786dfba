/* glibc's own functions, for the objects the shim leaves to glibc, and the per-thread
 * tid cache. */
#include "shim.h" /* first: it selects _GNU_SOURCE */

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

void *gs__real_lookup(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		/* No allocation, no stdio locks: this may run inside a failing lock call. */
		static const char msg[] = "gosync-pthread: glibc function not found: ";
		(void)!write(2, msg, sizeof msg - 1);
		(void)!write(2, name, __builtin_strlen(name));
		(void)!write(2, "\n", 1);
		abort();
	}
	return p;
}

static __thread pid_t cached_tid __attribute__((tls_model("initial-exec")));

pid_t gs__shim_tid(void)
{
	pid_t t = cached_tid;

	if (__builtin_expect(t == 0, 0))
		cached_tid = t = gettid();
	return t;
}

/* The forked child's only thread has a new tid; its cache still holds the parent's. */
static void forget_tid(void) { cached_tid = 0; }

__attribute__((constructor)) static void shim_init(void)
{
	pthread_atfork(NULL, NULL, forget_tid);
}
