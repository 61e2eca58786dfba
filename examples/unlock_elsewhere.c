/* unlock_elsewhere — Go's "mutex as a signal" idiom:
 *
 *	var mu sync.Mutex
 *	mu.Lock()
 *	go func() { fmt.Println("hello"); mu.Unlock() }()
 *	mu.Lock()
 *
 * main locks the mutex, a thread prints "hello" and unlocks it, and main's second
 * lock waits for that unlock. Unlocking from a thread other than the locker is legal
 * with gs_mutex_t, as in Go (with a pthread mutex it is undefined behaviour). The
 * unlock happens before the second lock returns, so main also sees what the thread
 * wrote before unlocking. */
#include <pthread.h>
#include <stdio.h>

#include <gosync.h>

static gs_mutex_t mu = GS_MUTEX_INIT;
static const char *said; /* written by the thread, read by main after its lock */

static void *greeter(void *arg)
{
	(void)arg;
	said = "hello";
	printf("%s\n", said);
	fflush(stdout);
	gs_mutex_unlock(&mu); /* locked by main: legal in gosync */
	return NULL;
}

int main(void)
{
	pthread_t t;

	gs_mutex_lock(&mu);
	if (pthread_create(&t, NULL, greeter, NULL) != 0)
		return 1;
	gs_mutex_lock(&mu); /* blocks until greeter has printed and unlocked */
	int ok = said != NULL;
	gs_mutex_unlock(&mu);
	pthread_join(t, NULL);
	return ok ? 0 : 1;
}
