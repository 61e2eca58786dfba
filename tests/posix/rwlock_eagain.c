/* EAGAIN when the reader count would overflow: one thread takes read locks until
 * rdlock refuses, on a default (reader-preferring) and a writer-nonrecursive rwlock at
 * once (a thread each: 2^28 read locks take seconds). At the limit every read form
 * answers EAGAIN — rdlock, tryrdlock, timedrdlock and clockrdlock, with a past or a
 * future deadline — while the write forms answer EBUSY / ETIMEDOUT; one unlock makes
 * room for exactly one more. The limit itself is printed: glibc's is 2^28 - 1, and the
 * shim keeps it. About 5 s a run on an idle 2-core machine, hence the longer alarm. */
#define POSIX_TEST_ALARM 120
#include "posix_test.h"

#define POSIX_TEST_LIMIT ((1L << 28) - 1)

struct run {
	pthread_rwlock_t *rw;
	long taken;
	int first_refusal;
	int rc[12];
};

static void *fill(void *arg)
{
	struct run *r = arg;
	int rc;
	while ((rc = pthread_rwlock_rdlock(r->rw)) == 0)
		r->taken++;
	r->first_refusal = rc;
	struct timespec past = deadline_in(CLOCK_REALTIME, -1000);
	struct timespec later = deadline_in(CLOCK_REALTIME, 20);
	struct timespec mono = deadline_in(CLOCK_MONOTONIC, 20);
	r->rc[0] = pthread_rwlock_rdlock(r->rw);
	r->rc[1] = pthread_rwlock_tryrdlock(r->rw);
	r->rc[2] = pthread_rwlock_timedrdlock(r->rw, &past);
	r->rc[3] = pthread_rwlock_timedrdlock(r->rw, &later);
	r->rc[4] = pthread_rwlock_clockrdlock(r->rw, CLOCK_MONOTONIC, &mono);
	r->rc[5] = pthread_rwlock_trywrlock(r->rw);
	r->rc[6] = pthread_rwlock_timedwrlock(r->rw, &past);
	r->rc[7] = pthread_rwlock_unlock(r->rw);
	r->rc[8] = pthread_rwlock_tryrdlock(r->rw);  /* the room one unlock made */
	r->rc[9] = pthread_rwlock_tryrdlock(r->rw);
	r->rc[10] = pthread_rwlock_unlock(r->rw);
	r->rc[11] = pthread_rwlock_rdlock(r->rw);
	return NULL;
}

static const char *const what[12] = {
	"rdlock again", "tryrdlock", "timedrdlock, past deadline", "timedrdlock, future deadline",
	"clockrdlock monotonic, future deadline", "trywrlock", "timedwrlock, past deadline",
	"unlock one", "tryrdlock after it", "tryrdlock again", "unlock one", "rdlock after it",
};
static const int want[12] = { EAGAIN, EAGAIN, EAGAIN, EAGAIN, EAGAIN, EBUSY, ETIMEDOUT, 0, 0, EAGAIN, 0, 0 };

static pthread_rwlock_t def = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t nonrec = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

int main(void)
{
	struct run runs[2] = { { .rw = &def }, { .rw = &nonrec } };
	const char *names[2] = { "default", "writer nonrecursive" };
	pthread_t t[2];
	char label[160];

	for (int i = 0; i < 2; i++)
		start_thread(&t[i], fill, &runs[i]);
	for (int i = 0; i < 2; i++)
		join_thread(t[i]);
	for (int i = 0; i < 2; i++) {
		snprintf(label, sizeof label, "%s: read locks taken before the first refusal", names[i]);
		expect_long(label, runs[i].taken, POSIX_TEST_LIMIT);
		snprintf(label, sizeof label, "%s: the refusal", names[i]);
		expect_rc(label, runs[i].first_refusal, EAGAIN);
		for (int k = 0; k < 12; k++) {
			snprintf(label, sizeof label, "%s: at the limit: %s", names[i], what[k]);
			expect_rc(label, runs[i].rc[k], want[k]);
		}
	}
	return posix_test_done();
}
