/* Two kinds of death, as in Go: gs__fatal for the user's misuse ("fatal error"),
 * gs__internal_error for a broken invariant inside gosync (Go's throw). Both print
 * one line to stderr and abort(). */
#ifndef GS_FATAL_H
#define GS_FATAL_H

__attribute__((visibility("hidden"), noreturn, cold))
void gs__fatal(const char *what);

__attribute__((visibility("hidden"), noreturn, cold))
void gs__internal_error(const char *what);

#endif
