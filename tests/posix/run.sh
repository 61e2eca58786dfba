#!/bin/sh
# The twin-run test of the pthread shim: usage tests/posix/run.sh [BUILD_DIR] [NAME...]
#
# Every tests/posix/*.c (C11, -pthread) and *.cc (C++17, -pthread) is built once against
# plain glibc — no gosync header or library — and run
#   plain     as built (GS_POSIX_SHIM=0),
#   preload   with LD_PRELOAD=BUILD_DIR/libgosync-pthread.so (GS_POSIX_SHIM=1),
# and each C program is also linked a second time with -lgosync-pthread and run
#   linked    on the shim through the link line alone (GS_POSIX_SHIM=1).
# The stdouts must be identical and every exit status 0. A program prints only
# deterministic facts (return codes, counts, "SKIP reason" lines); programs that
# include posix_test.h also check GS_POSIX_SHIM against what is really loaded. Besides,
# a probe built here must find pthread_mutex_lock in the shim under preload and link,
# and in glibc plainly, so a preload that silently did nothing fails the run.
# Each run has a watchdog (timeout, SIGKILL after $POSIX_TIMEOUT s); the programs also
# arm alarm() themselves. NAME... restricts the run to those programs (file base names).
# Programs are built and run $POSIX_JOBS at a time (default: the number of CPUs); the
# three runs of one program are sequential.
#
# XFAIL lists programs that show a known shim bug: they still run, a failure prints
# XFAIL and does not count, and a pass fails the run (XPASS) so the list is kept honest.
set -u
XFAIL="
"
WARN="-Wall -Wextra -Werror"
CC=${CC:-cc}
CXX=${CXX:-c++}
POSIX_TIMEOUT=${POSIX_TIMEOUT:-60}
SRC=$(cd "$(dirname "$0")" && pwd)

# --- one program: sh run.sh --build|--run BUILD_DIR NAME (used through xargs) ---------
if [ "${1:-}" = --build ] || [ "${1:-}" = --run ]; then
	what=$1 B=$2 name=$3
	OUT=$B/posix
	SHIM=$B/libgosync-pthread.so
	exe=$OUT/$name
	log=$OUT/$name.result
fi

# Rebuild only what changed (the source, the shared header, the shim for -l).
stale() { # target sources...
	t=$1
	shift
	[ -e "$t" ] || return 0
	for s in "$@"; do [ "$s" -nt "$t" ] && return 0; done
	return 1
}

if [ "${1:-}" = --build ]; then
	if [ -e "$SRC/$name.cc" ]; then
		src=$SRC/$name.cc
		stale "$exe" "$src" "$SRC/posix_test.h" || exit 0
		$CXX -std=c++17 $WARN -O2 -g -pthread -o "$exe" "$src" -ldl >"$log" 2>&1 ||
			{ echo "FAIL $name: build"; cat "$log"; rm -f "$exe"; exit 1; }
		exit 0
	fi
	src=$SRC/$name.c
	if stale "$exe.o" "$src" "$SRC/posix_test.h"; then
		$CC -std=gnu11 $WARN -O2 -g -pthread -c -o "$exe.o" "$src" >"$log" 2>&1 ||
			{ echo "FAIL $name: build"; cat "$log"; rm -f "$exe.o" "$exe" "$exe.linked"; exit 1; }
	fi
	if stale "$exe" "$exe.o"; then
		$CC -pthread -o "$exe" "$exe.o" -ldl >"$log" 2>&1 ||
			{ echo "FAIL $name: link"; cat "$log"; exit 1; }
	fi
	if stale "$exe.linked" "$exe.o" "$SHIM"; then
		# the shim first on the link line, so that it defines the replaced names
		$CC -pthread -o "$exe.linked" "$exe.o" -L"$B" -Wl,--no-as-needed -lgosync-pthread \
			-Wl,-rpath,"$B" -ldl >"$log" 2>&1 ||
			{ echo "FAIL $name: link with -lgosync-pthread"; cat "$log"; exit 1; }
	fi
	exit 0
fi

if [ "${1:-}" = --run ]; then
	# run MODE: one run, leaving $OUT/NAME.MODE.{out,err}; its status.
	run() {
		case $1 in
		plain) set -- "$1" env GS_POSIX_SHIM=0 "$exe" ;;
		preload) set -- "$1" env GS_POSIX_SHIM=1 LD_PRELOAD="$SHIM" "$exe" ;;
		linked) set -- "$1" env GS_POSIX_SHIM=1 "$exe.linked" ;;
		esac
		mode=$1
		shift
		# the braces catch the shell's own "Killed"/"Alarm clock" line
		{ timeout -s KILL "$POSIX_TIMEOUT" "$@" >"$OUT/$name.$mode.out" \
			2>"$OUT/$name.$mode.err" </dev/null; } 2>/dev/null
	}
	show() { # MODE STATUS
		echo "  $1 exited with status $2; stdout tail:"
		tail -n 15 "$OUT/$name.$1.out" | sed 's/^/    /'
		if [ -s "$OUT/$name.$1.err" ]; then
			echo "  stderr:"
			tail -n 15 "$OUT/$name.$1.err" | sed 's/^/    /'
		fi
	}
	cd "$OUT" || exit 1
	modes="plain preload"
	[ -e "$exe.linked" ] && modes="$modes linked"
	xfail=0
	case " $(echo $XFAIL) " in *" $name "*) xfail=1 ;; esac
	ok=1
	{
		for mode in $modes; do
			run "$mode"
			st=$?
			if [ $st -ne 0 ]; then
				[ $xfail = 1 ] && [ $mode != plain ] && { ok=0; continue; }
				[ $ok = 1 ] && echo "FAIL $name: $mode run (status $st; 142 = alarm, 137 = timeout)"
				ok=0
				show "$mode" "$st"
			elif [ "$mode" != plain ] && ! cmp -s "$name.plain.out" "$name.$mode.out"; then
				[ $xfail = 1 ] && { ok=0; continue; }
				[ $ok = 1 ] && echo "FAIL $name: $mode output differs from plain"
				ok=0
				diff "$name.plain.out" "$name.$mode.out" | head -n 30 | sed 's/^/    /'
			fi
		done
		if [ $xfail = 1 ]; then
			if [ $ok = 1 ]; then
				echo "FAIL $name: XPASS (passes now: take it off the XFAIL list in tests/posix/run.sh)"
			else
				echo "XFAIL $name (a known shim bug; see the top of $name)"
			fi
		elif [ $ok = 1 ]; then
			skips=$(grep -c '^SKIP' "$name.plain.out")
			echo "ok   $name ($modes; $(wc -l <"$name.plain.out") lines$([ "$skips" -gt 0 ] && echo ", $skips SKIP"))"
		fi
	} >"$log"
	cat "$log"
	exit 0
fi

# --- the whole run -------------------------------------------------------------------
B=${1:-build}
[ $# -gt 0 ] && shift
B=$(cd "$B" && pwd) || exit 1
OUT=$B/posix
SHIM=$B/libgosync-pthread.so
JOBS=${POSIX_JOBS:-$(nproc)}
[ -e "$SHIM" ] || { echo "posix: $SHIM is missing (make lib)"; exit 1; }
mkdir -p "$OUT"
failed=0

# The probe: which library defines pthread_mutex_lock for this process.
cat >"$OUT/probe.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	Dl_info info;
	void *p = dlsym(RTLD_DEFAULT, "pthread_mutex_lock");
	if (!p || !dladdr(p, &info) || !info.dli_fname)
		return 1;
	puts(strstr(info.dli_fname, "libgosync-pthread") ? "shim" : "glibc");
	return 0;
}
EOF
$CC -std=gnu11 $WARN -o "$OUT/probe" "$OUT/probe.c" || exit 1
$CC -std=gnu11 $WARN -o "$OUT/probe_linked" "$OUT/probe.c" -L"$B" -Wl,--no-as-needed \
	-lgosync-pthread -Wl,-rpath,"$B" || exit 1
p_plain=$("$OUT/probe")
p_preload=$(LD_PRELOAD=$SHIM "$OUT/probe")
p_linked=$("$OUT/probe_linked")
if [ "$p_plain/$p_preload/$p_linked" = glibc/shim/shim ]; then
	echo "posix: probe: plain on glibc, preload and -lgosync-pthread on the shim"
else
	echo "FAIL probe: plain=$p_plain preload=$p_preload linked=$p_linked (want glibc/shim/shim)"
	failed=1
fi

progs=""
for src in "$SRC"/*.c "$SRC"/*.cc; do
	[ -e "$src" ] || continue
	name=$(basename "$src")
	name=${name%.*}
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	progs="$progs $name"
	rm -f "$OUT/$name.result"
done

printf '%s\n' $progs | xargs -P "$JOBS" -I{} sh "$0" --build "$B" {} || failed=1
printf '%s\n' $progs | xargs -P "$JOBS" -I{} sh "$0" --run "$B" {}

passed=0
xfailed=0
for name in $progs; do
	if [ ! -e "$OUT/$name.result" ]; then
		failed=$((failed + 1))
		continue
	fi
	case $(head -n 1 "$OUT/$name.result") in
	ok*) passed=$((passed + 1)) ;;
	XFAIL*) xfailed=$((xfailed + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done
echo "posix: $passed passed, $failed failed$([ $xfailed -gt 0 ] && echo ", $xfailed xfailed")"
[ $failed -eq 0 ]
