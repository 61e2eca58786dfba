/* spin — the process-wide budget for spinning waiters (DESIGN.md §3 rule 3).
 *
 * A thread that spins for a lock holds a CPU the lock's owner may need. So gosync
 * lets at most usable-CPUs − 1 threads of the process spin at once, on any lock,
 * and none when only one CPU is usable (sched_getaffinity, read once). Each spin is
 * also bounded in time by its caller (GS_SPIN_NS), not by a count of pauses: a
 * PAUSE costs ~10 ns on bare metal and ~130 ns on the KVM guests we measure on. */
#ifndef GS_SPIN_H
#define GS_SPIN_H

#include <stdbool.h>

#include <gosync/time.h>

#include "futex.h"

/* How long one wait may spin before it parks. */
#define GS_SPIN_NS (1 * GS_USEC)

/* Takes a spinner slot: false if the budget is used up (or one CPU): park instead. */
GS_HIDDEN bool gs__spin_begin(void);
/* Gives the slot back. */
GS_HIDDEN void gs__spin_end(void);

#endif
