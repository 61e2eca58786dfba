/* A cond works with every kind of mutex, the shim's and glibc's:
 *  - error-checking and recursive mutexes: EPERM for a wait by a thread that does not
 *    own the mutex (unlocked, or held by another thread), and after a wakeup the owner
 *    and depth are back (a relock says EDEADLK; a recursive mutex unlocks exactly once)
 *    (cond_eperm_glibc.c: the same for the mutexes glibc runs);
 *  - robust mutexes (glibc's): waits work, and when the thread that signalled dies
 *    holding the mutex the waiter's wait answers EOWNERDEAD;
 *  - priority-inheritance mutexes (glibc's) and process-shared conds and mutexes in
 *    memory shared with a forked child;
 *  - one cond used in turn with mutexes of different kinds. */
#include "posix_test.h"

#include <sys/mman.h>
#include <sys/wait.h>

static void init_mutex(pthread_mutex_t *m, int type, bool robust, bool pi, bool pshared)
{
	pthread_mutexattr_t a;
	must(pthread_mutexattr_init(&a));
	must(pthread_mutexattr_settype(&a, type));
	if (robust)
		must(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
	if (pi)
		must(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT));
	if (pshared)
		must(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
	must(pthread_mutex_init(m, &a));
	pthread_mutexattr_destroy(&a);
}

/* --- a ping-pong through one cond and one mutex ------------------------------------ */
struct pingpong {
	pthread_mutex_t *m;
	pthread_cond_t *c;
	int turn; /* whose turn: 0 or 1 */
	long moves;
	int depth; /* how deep each side locks the (recursive) mutex */
	int errors;
};

#define MOVES 2000

static void *player(void *arg)
{
	struct pingpong *p = ((void **)arg)[0];
	int me = (int)(long)((void **)arg)[1];
	for (int i = 0; i < MOVES; i++) {
		for (int d = 0; d < p->depth; d++)
			must(pthread_mutex_lock(p->m));
		while (p->turn != me)
			must(pthread_cond_wait(p->c, p->m));
		p->turn = !me;
		p->moves++;
		must(pthread_cond_signal(p->c));
		for (int d = 0; d < p->depth; d++)
			must(pthread_mutex_unlock(p->m));
	}
	return NULL;
}

static long pingpong(pthread_mutex_t *m, pthread_cond_t *c)
{
	struct pingpong p = {m, c, 0, 0, 1, 0};
	void *args[2][2] = {{&p, (void *)0L}, {&p, (void *)1L}};
	pthread_t t[2];
	start_thread(&t[0], player, args[0]);
	start_thread(&t[1], player, args[1]);
	join_thread(t[0]);
	join_thread(t[1]);
	return p.moves;
}

/* --- EPERM ------------------------------------------------------------------------ */
struct held_by_other {
	pthread_mutex_t *m;
	int pipe_go[2], pipe_done[2];
};

static void *hold(void *arg)
{
	struct held_by_other *h = arg;
	char ch;
	must(pthread_mutex_lock(h->m));
	if (write(h->pipe_go[1], "x", 1) != 1 || read(h->pipe_done[0], &ch, 1) != 1)
		exit(2);
	must(pthread_mutex_unlock(h->m));
	return NULL;
}

static void owner_checks(pthread_mutex_t *m, const char *kind, bool recursive)
{
	char lb[128];
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec t = deadline_in(CLOCK_REALTIME, 1000);
#define LB(what) (snprintf(lb, sizeof lb, "%s: %s", kind, what), lb)
	expect_rc(LB("wait, mutex unlocked"), pthread_cond_wait(&c, m), EPERM);
	expect_rc(LB("timedwait, mutex unlocked"), pthread_cond_timedwait(&c, m, &t), EPERM);
	expect_rc(LB("clockwait, mutex unlocked"),
		  pthread_cond_clockwait(&c, m, CLOCK_MONOTONIC, &t), EPERM);
	struct held_by_other h = {.m = m};
	pthread_t th;
	char ch;
	if (pipe(h.pipe_go) || pipe(h.pipe_done))
		exit(2);
	start_thread(&th, hold, &h);
	if (read(h.pipe_go[0], &ch, 1) != 1)
		exit(2);
	expect_rc(LB("wait, mutex held by another thread"), pthread_cond_wait(&c, m), EPERM);
	expect_rc(LB("timedwait, mutex held by another thread"),
		  pthread_cond_timedwait(&c, m, &t), EPERM);
	if (write(h.pipe_done[1], "x", 1) != 1)
		exit(2);
	join_thread(th);
	close(h.pipe_go[0]), close(h.pipe_go[1]), close(h.pipe_done[0]), close(h.pipe_done[1]);
	expect_rc(LB("free after the refused waits"), pthread_mutex_trylock(m), 0);
	/* after a timeout the owner is back */
	struct timespec soon = deadline_in(CLOCK_REALTIME, 10);
	expect_rc(LB("timedwait +10ms, owned"), pthread_cond_timedwait(&c, m, &soon), ETIMEDOUT);
	int rc = pthread_mutex_lock(m);
	if (recursive) {
		expect_rc(LB("relock after the timeout"), rc, 0);
		expect_rc(LB("unlock"), pthread_mutex_unlock(m), 0);
	} else {
		expect_rc(LB("relock after the timeout"), rc, EDEADLK);
	}
	expect_rc(LB("unlock"), pthread_mutex_unlock(m), 0);
	expect_rc(LB("unlock of unlocked"), pthread_mutex_unlock(m), EPERM);
	expect_rc(LB("cond destroy"), pthread_cond_destroy(&c), 0);
#undef LB
}

/* --- robust: the signaller dies holding the mutex ----------------------------------- */
static pthread_mutex_t rb;
static pthread_cond_t rb_c = PTHREAD_COND_INITIALIZER;
static int rb_waiting;
static bool rb_flag;

static void *rb_waiter(void *arg __attribute__((unused)))
{
	int rc = pthread_mutex_lock(&rb);
	if (rc != 0)
		return (void *)(long)(1000 + rc);
	rb_waiting = 1;
	rc = 0;
	while (!rb_flag && rc == 0)
		rc = pthread_cond_wait(&rb_c, &rb);
	if (rc == EOWNERDEAD)
		pthread_mutex_consistent(&rb);
	pthread_mutex_unlock(&rb);
	return (void *)(long)rc;
}

static void *rb_signal_and_die(void *arg)
{
	for (;;) {
		must(pthread_mutex_lock(&rb));
		if (rb_waiting)
			break;
		must(pthread_mutex_unlock(&rb));
		sched_yield();
	}
	rb_flag = true;
	must(pthread_cond_signal(&rb_c));
	return arg; /* dies holding rb */
}

int main(void)
{
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	static const struct {
		const char *name;
		int type;
		bool robust, pi;
	} kinds[] = {
		{"normal", PTHREAD_MUTEX_NORMAL, false, false},
		{"recursive", PTHREAD_MUTEX_RECURSIVE, false, false},
		{"errorcheck", PTHREAD_MUTEX_ERRORCHECK, false, false},
		{"adaptive", PTHREAD_MUTEX_ADAPTIVE_NP, false, false},
		{"robust", PTHREAD_MUTEX_NORMAL, true, false},
		{"robust errorcheck", PTHREAD_MUTEX_ERRORCHECK, true, false},
		{"PI", PTHREAD_MUTEX_NORMAL, false, true},
		{"PI recursive", PTHREAD_MUTEX_RECURSIVE, false, true},
		{"robust PI", PTHREAD_MUTEX_NORMAL, true, true},
	};
	/* one cond, used in turn with each kind of mutex */
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		pthread_mutex_t m;
		char lb[128];
		init_mutex(&m, kinds[i].type, kinds[i].robust, kinds[i].pi, false);
		snprintf(lb, sizeof lb, "%s: ping-pong moves", kinds[i].name);
		expect_long(lb, pingpong(&m, &c), 2L * MOVES);
		snprintf(lb, sizeof lb, "%s: destroy", kinds[i].name);
		expect_rc(lb, pthread_mutex_destroy(&m), 0);
	}

	pthread_mutex_t ec = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	owner_checks(&ec, "errorcheck", false);
	owner_checks(&rec, "recursive", true);

	/* robust: a signaller that dies holding the mutex */
	init_mutex(&rb, PTHREAD_MUTEX_NORMAL, true, false, false);
	pthread_t w, d;
	start_thread(&w, rb_waiter, NULL);
	start_thread(&d, rb_signal_and_die, NULL);
	join_thread(d);
	expect_rc("robust: wait after the signaller died holding the mutex",
		  (int)(long)join_thread(w), EOWNERDEAD);
	expect_rc("robust: lock after consistent", pthread_mutex_lock(&rb), 0);
	expect_rc("robust: unlock", pthread_mutex_unlock(&rb), 0);

	/* process-shared cond and mutex: the child signals the parent and back */
	struct shared {
		pthread_mutex_t m;
		pthread_cond_t c;
		int turn;
		long moves;
	} *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	pthread_condattr_t ca;
	must(pthread_condattr_init(&ca));
	must(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED));
	must(pthread_cond_init(&sh->c, &ca));
	pthread_condattr_destroy(&ca);
	init_mutex(&sh->m, PTHREAD_MUTEX_NORMAL, false, false, true);
	pid_t pid = fork();
	int me = pid == 0;
	for (int i = 0; i < MOVES; i++) {
		must(pthread_mutex_lock(&sh->m));
		while (sh->turn != me)
			must(pthread_cond_wait(&sh->c, &sh->m));
		sh->turn = !me;
		sh->moves++;
		must(pthread_cond_signal(&sh->c));
		must(pthread_mutex_unlock(&sh->m));
	}
	if (pid == 0)
		_exit(0);
	int st;
	waitpid(pid, &st, 0);
	expect_true("pshared: child exited normally", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	expect_long("pshared: ping-pong moves between processes", sh->moves, 2L * MOVES);
	expect_rc("pshared: cond destroy", pthread_cond_destroy(&sh->c), 0);
	expect_rc("pshared: mutex destroy", pthread_mutex_destroy(&sh->m), 0);
	expect_rc("cond destroy", pthread_cond_destroy(&c), 0);
	return posix_test_done();
}
