#!/bin/sh
# Fails unless every symbol the pthread shim defines for the dynamic linker is one of the
# POSIX names it replaces (issue 7's list): nothing of gosync's own, no helper, no
# attribute function, no other pthread name; and that it links libgosync.so instead of
# carrying a copy of it. Prints how many of the names it defines.
set -eu
lib=$1
replaced="
pthread_mutex_init pthread_mutex_destroy pthread_mutex_lock pthread_mutex_trylock
pthread_mutex_timedlock pthread_mutex_clocklock pthread_mutex_unlock
pthread_cond_init pthread_cond_destroy pthread_cond_wait pthread_cond_timedwait
pthread_cond_clockwait pthread_cond_signal pthread_cond_broadcast
pthread_rwlock_init pthread_rwlock_destroy pthread_rwlock_rdlock pthread_rwlock_tryrdlock
pthread_rwlock_timedrdlock pthread_rwlock_clockrdlock pthread_rwlock_wrlock
pthread_rwlock_trywrlock pthread_rwlock_timedwrlock pthread_rwlock_clockwrlock
pthread_rwlock_unlock
sem_init sem_destroy sem_wait sem_trywait sem_timedwait sem_clockwait sem_post sem_getvalue
pthread_once
pthread_barrier_init pthread_barrier_destroy pthread_barrier_wait
"
syms=$(nm -D --defined-only "$lib" | awk '{print $3}')
[ -n "$syms" ] || { echo "shim exports: $lib exports nothing"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -vxF "$(printf '%s\n' $replaced)" || true)
if [ -n "$bad" ]; then
	echo "shim exports: $lib defines names that are not replaced POSIX functions:"
	printf '  %s\n' $bad
	exit 1
fi
# Versioned copies (name@VERSION) would bind differently from glibc's: none wanted.
if nm -D --defined-only --with-symbol-versions "$lib" 2>/dev/null | grep -q '@'; then
	echo "shim exports: $lib carries symbol versions:"
	nm -D --defined-only --with-symbol-versions "$lib" | grep '@'
	exit 1
fi
# One gosync per process: the shim uses libgosync.so's park table, not a copy of it.
if ! readelf -d "$lib" | grep -q 'NEEDED.*\[libgosync\.so'; then
	echo "shim exports: $lib does not link against libgosync.so"
	exit 1
fi
if nm "$lib" 2>/dev/null | grep -Eq ' [tTdDbB] gs__(park|bucket)|[tT] gs_[a-z]'; then
	echo "shim exports: $lib carries its own copy of gosync:"
	nm "$lib" | grep -E ' [tTdDbB] gs__(park|bucket)|[tT] gs_[a-z]'
	exit 1
fi
missing=""
for n in $replaced; do
	printf '%s\n' "$syms" | grep -qxF "$n" || missing="$missing $n"
done
echo "shim exports: $(printf '%s\n' "$syms" | wc -l) of $(echo $replaced | wc -w) replaced POSIX names, nothing else${missing:+ (not yet:$missing)}"
