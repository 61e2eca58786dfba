/* Fatal errors. The line is assembled first and written with one write(2) so that
 * concurrent fatals do not interleave, and nothing here allocates or takes a lock:
 * a fatal may come from any state. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fatal.h"

static __attribute__((noreturn)) void die(const char *kind, const char *what)
{
	char line[256];
	size_t n = 0;
	const char *parts[] = { "gosync: ", kind, ": ", what, "\n" };

	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		size_t len = strlen(parts[i]);
		if (len > sizeof line - n)
			len = sizeof line - n;
		memcpy(line + n, parts[i], len);
		n += len;
	}
	(void)!write(STDERR_FILENO, line, n);
	abort();
}

void gs__fatal(const char *what) { die("fatal error", what); }
void gs__internal_error(const char *what) { die("internal error", what); }
