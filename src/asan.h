/* AddressSanitizer and forced unwinding.
 *
 * A pthread cancel unwinds out of a signal handler with _Unwind_ForcedUnwind, which
 * ASan does not intercept (it handles throw and longjmp): the shadow of the frames
 * unwound past keeps their redzones poisoned, and the first cleanup that calls a
 * function reusing that stack trips a false stack-buffer-underflow. A cleanup that
 * runs after such an unwind calls gs__asan_unwound() first; like a longjmp landing,
 * it unpoisons the stack below the caller. Without the ASan runtime the weak hook is
 * NULL and this is one branch. */
#ifndef GS_ASAN_H
#define GS_ASAN_H

extern void __asan_handle_no_return(void) __attribute__((weak));

static inline void gs__asan_unwound(void)
{
	if (__asan_handle_no_return)
		__asan_handle_no_return();
}

#endif
