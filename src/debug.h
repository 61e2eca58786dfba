/* Debug builds: checks of API misuse that would cost time on a fast path (a value
 * load outside a read section) are compiled in only when GS_DEBUG is non-zero:
 * `make CFLAGS='-O2 -g -DGS_DEBUG=1'`. The unit tests build their own debug copy of
 * the code they check this way. Algorithm files test the constant in plain `if`s
 * (no #if): the compiler drops the dead branch in release builds. */
#ifndef GS_DEBUG_H
#define GS_DEBUG_H

#include <stdbool.h>

#ifndef GS_DEBUG
#define GS_DEBUG 0
#endif

static const bool gs__debug = GS_DEBUG != 0;

#endif
