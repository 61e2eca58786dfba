/* Every mutex kind, made by its static initializer and by pthread_mutex_init with a
 * type attribute, answers lock/trylock/unlock/destroy as glibc does: EBUSY, EDEADLK,
 * EPERM, the recursion depth, glibc's 0 for unlocking an unlocked normal mutex, and
 * EAGAIN when a recursive mutex's counter would overflow. */
#include "posix_test.h"

enum op { OP_TRYLOCK, OP_UNLOCK, OP_LOCK_UNLOCK };

struct other {
	pthread_mutex_t *m;
	enum op op;
	int rc;
};

static void *other_main(void *arg)
{
	struct other *o = arg;
	switch (o->op) {
	case OP_TRYLOCK:
		o->rc = pthread_mutex_trylock(o->m);
		if (o->rc == 0)
			pthread_mutex_unlock(o->m);
		break;
	case OP_UNLOCK:
		o->rc = pthread_mutex_unlock(o->m);
		break;
	case OP_LOCK_UNLOCK:
		o->rc = pthread_mutex_lock(o->m);
		if (o->rc == 0)
			o->rc = pthread_mutex_unlock(o->m);
		break;
	}
	return NULL;
}

/* `op` on m from a second thread; its return code. */
static int in_other_thread(pthread_mutex_t *m, enum op op)
{
	struct other o = {m, op, -1};
	pthread_t t;
	start_thread(&t, other_main, &o);
	join_thread(t);
	return o.rc;
}

static void label(char *buf, size_t n, const char *how, const char *what)
{
	snprintf(buf, n, "%s %s", how, what);
}

#define L(what) (label(lb, sizeof lb, how, what), lb)

static void exercise(pthread_mutex_t *m, int type, const char *how)
{
	char lb[128];
	bool normal = type == PTHREAD_MUTEX_NORMAL || type == PTHREAD_MUTEX_ADAPTIVE_NP;
	bool rec = type == PTHREAD_MUTEX_RECURSIVE;
	bool ec = type == PTHREAD_MUTEX_ERRORCHECK;
	struct timespec past = deadline_in(CLOCK_REALTIME, -1000);

	expect_rc(L("lock"), pthread_mutex_lock(m), 0);
	/* trylock by the owner: a recursive mutex counts it, the others are busy */
	int rc = pthread_mutex_trylock(m);
	expect_rc(L("trylock by owner"), rc, rec ? 0 : EBUSY);
	if (rc == 0)
		pthread_mutex_unlock(m);
	/* relock by the owner with an expired deadline: no wait in any kind */
	rc = pthread_mutex_timedlock(m, &past);
	expect_rc(L("timedlock by owner, expired"), rc, rec ? 0 : ec ? EDEADLK : ETIMEDOUT);
	if (rc == 0)
		pthread_mutex_unlock(m);
	if (ec)
		expect_rc(L("lock by owner"), pthread_mutex_lock(m), EDEADLK);
	expect_rc(L("trylock by other thread"), in_other_thread(m, OP_TRYLOCK), EBUSY);
	if (!normal) {
		expect_rc(L("unlock by other thread"), in_other_thread(m, OP_UNLOCK), EPERM);
		expect_rc(L("trylock by other thread after its unlock"),
			  in_other_thread(m, OP_TRYLOCK), EBUSY);
	}
	expect_rc(L("unlock"), pthread_mutex_unlock(m), 0);
	expect_rc(L("trylock by other thread, unlocked"), in_other_thread(m, OP_TRYLOCK), 0);
	expect_rc(L("unlock of unlocked"), pthread_mutex_unlock(m), normal ? 0 : EPERM);
	expect_rc(L("lock+unlock by other thread"), in_other_thread(m, OP_LOCK_UNLOCK), 0);

	if (normal) {
		/* glibc lets any thread unlock a normal mutex; it is then free */
		expect_rc(L("lock again"), pthread_mutex_lock(m), 0);
		expect_rc(L("unlock by other thread"), in_other_thread(m, OP_UNLOCK), 0);
		expect_rc(L("trylock after other thread's unlock"), pthread_mutex_trylock(m), 0);
		expect_rc(L("unlock"), pthread_mutex_unlock(m), 0);
	}

	if (rec) {
		for (int i = 0; i < 3; i++)
			expect_rc(L("recursive lock"), pthread_mutex_lock(m), 0);
		expect_rc(L("trylock by other thread at depth 3"), in_other_thread(m, OP_TRYLOCK),
			  EBUSY);
		for (int i = 0; i < 2; i++)
			expect_rc(L("recursive unlock"), pthread_mutex_unlock(m), 0);
		expect_rc(L("trylock by other thread at depth 1"), in_other_thread(m, OP_TRYLOCK),
			  EBUSY);
		expect_rc(L("last unlock"), pthread_mutex_unlock(m), 0);
		expect_rc(L("trylock by other thread at depth 0"), in_other_thread(m, OP_TRYLOCK),
			  0);
		expect_rc(L("one unlock too many"), pthread_mutex_unlock(m), EPERM);

		/* Counter overflow: both glibc and the shim keep the depth in __count and
		 * answer EAGAIN rather than wrap it; 2^32 real locks would take too long,
		 * so the depth is set just below the limit by hand. */
		expect_rc(L("lock before overflow"), pthread_mutex_lock(m), 0);
		m->__data.__count = 0xfffffffeu;
		expect_rc(L("lock to depth 2^32-1"), pthread_mutex_lock(m), 0);
		expect_rc(L("lock past 2^32-1"), pthread_mutex_lock(m), EAGAIN);
		expect_rc(L("trylock past 2^32-1"), pthread_mutex_trylock(m), EAGAIN);
		m->__data.__count = 1;
		expect_rc(L("unlock after overflow"), pthread_mutex_unlock(m), 0);
		expect_rc(L("trylock by other thread after overflow"),
			  in_other_thread(m, OP_TRYLOCK), 0);
	}

}

/* destroy of a fresh mutex (glibc's busy check counts lock/unlock calls, so the
 * unlocks of an unlocked normal mutex above would skew it): busy while locked, then
 * fine, and a destroyed mutex can be initialized again. */
static void destroy_check(pthread_mutex_t *m, const char *how)
{
	char lb[128];
	expect_rc(L("lock for destroy"), pthread_mutex_lock(m), 0);
	expect_rc(L("destroy locked"), pthread_mutex_destroy(m), EBUSY);
	expect_rc(L("trylock by other thread after failed destroy"),
		  in_other_thread(m, OP_TRYLOCK), EBUSY);
	expect_rc(L("unlock for destroy"), pthread_mutex_unlock(m), 0);
	expect_rc(L("destroy"), pthread_mutex_destroy(m), 0);
}

static const struct {
	const char *name;
	int type;
} kinds[] = {
	{"normal", PTHREAD_MUTEX_NORMAL},
	{"default", PTHREAD_MUTEX_DEFAULT},
	{"recursive", PTHREAD_MUTEX_RECURSIVE},
	{"errorcheck", PTHREAD_MUTEX_ERRORCHECK},
	{"adaptive", PTHREAD_MUTEX_ADAPTIVE_NP},
};

int main(void)
{
	/* static initializers */
	pthread_mutex_t s_normal = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_t s_rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	pthread_mutex_t s_ec = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	pthread_mutex_t s_adaptive = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
	exercise(&s_normal, PTHREAD_MUTEX_NORMAL, "static normal:");
	exercise(&s_rec, PTHREAD_MUTEX_RECURSIVE, "static recursive:");
	exercise(&s_ec, PTHREAD_MUTEX_ERRORCHECK, "static errorcheck:");
	exercise(&s_adaptive, PTHREAD_MUTEX_ADAPTIVE_NP, "static adaptive:");
	pthread_mutex_t f_normal = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_t f_rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	pthread_mutex_t f_ec = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	pthread_mutex_t f_adaptive = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
	destroy_check(&f_normal, "static normal:");
	destroy_check(&f_rec, "static recursive:");
	destroy_check(&f_ec, "static errorcheck:");
	destroy_check(&f_adaptive, "static adaptive:");

	/* a static mutex needs no init call: used from many places at once below */
	static pthread_mutex_t global = PTHREAD_MUTEX_INITIALIZER;
	expect_rc("global static: trylock", pthread_mutex_trylock(&global), 0);
	expect_rc("global static: unlock", pthread_mutex_unlock(&global), 0);

	/* attributes */
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		pthread_mutexattr_t a;
		pthread_mutex_t m;
		char how[64];
		must(pthread_mutexattr_init(&a));
		must(pthread_mutexattr_settype(&a, kinds[i].type));
		memset(&m, 0x5a, sizeof m); /* init must not depend on zeroed memory */
		snprintf(how, sizeof how, "attr %s:", kinds[i].name);
		expect_rc(how, pthread_mutex_init(&m, &a), 0);
		int type = kinds[i].type == PTHREAD_MUTEX_DEFAULT ? PTHREAD_MUTEX_NORMAL
								  : kinds[i].type;
		exercise(&m, type, how);
		expect_rc(how, pthread_mutex_init(&m, &a), 0);
		destroy_check(&m, how);
		/* reinitialized after destroy, the mutex works again */
		expect_rc(how, pthread_mutex_init(&m, &a), 0);
		expect_rc(how, pthread_mutex_lock(&m), 0);
		expect_rc(how, pthread_mutex_unlock(&m), 0);
		expect_rc(how, pthread_mutex_destroy(&m), 0);
		pthread_mutexattr_destroy(&a);
	}

	/* NULL attributes: the default kind */
	pthread_mutex_t d;
	expect_rc("null attr: init", pthread_mutex_init(&d, NULL), 0);
	exercise(&d, PTHREAD_MUTEX_NORMAL, "null attr:");
	expect_rc("null attr: init", pthread_mutex_init(&d, NULL), 0);
	destroy_check(&d, "null attr:");
	return posix_test_done();
}
