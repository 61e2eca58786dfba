/* hang_guard — a stress program that stops making progress fails with a verdict
 * instead of hanging its caller (make, CI) until an outer timeout kills it silently.
 *
 * hang_guard_arm(name, seconds) sets an alarm for 30× the planned run plus two
 * minutes: sanitizers and qemu-user make a run several times slower, and a verdict
 * that arrives late is still a verdict. The primitives' own watchdogs (the lost-wakeup
 * hunters in stress_cond, stress_rwmutex, stress_sem) say which wait went missing;
 * this guard only turns any remaining hang, such as a join that never returns, into a
 * failure that names the program. The handler uses only async-signal-safe calls.
 */
#ifndef GOSYNC_STRESS_HANG_GUARD_H
#define GOSYNC_STRESS_HANG_GUARD_H

#include <signal.h>
#include <string.h>
#include <unistd.h>

static const char *hang_guard_name = "stress";

static void hang_guard_fire(int sig)
{
	static const char msg[] = ": FAILED: no verdict before the hang guard's alarm (a hang)\n";
	(void)sig;
	(void)!write(STDERR_FILENO, hang_guard_name, strlen(hang_guard_name));
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(1);
}

static inline void hang_guard_arm(const char *name, double seconds)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = hang_guard_fire;
	sigemptyset(&sa.sa_mask);
	hang_guard_name = name;
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)(seconds > 0 ? seconds * 30 : 30) + 120);
}

#endif
