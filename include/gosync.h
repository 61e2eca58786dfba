/* gosync — Go's synchronization toolkit for C and C++, on futexes.
 * The umbrella header: every primitive's header. */
#ifndef GOSYNC_H
#define GOSYNC_H

#include <gosync/time.h>
#include <gosync/mutex.h>
#include <gosync/rwmutex.h>
#include <gosync/cond.h>
#include <gosync/waitgroup.h>
#include <gosync/once.h>
#include <gosync/sem.h>
#include <gosync/value.h>

#endif
