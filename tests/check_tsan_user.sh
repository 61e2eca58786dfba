#!/bin/sh
# DESIGN.md §3 rule 5: a user program built with -fsanitize=thread and linked against
# the normal (uninstrumented) libgosync.so sees gosync's synchronization.
#
#   sh tests/check_tsan_user.sh BUILD_DIR      (BUILD_DIR holds libgosync.so)
#
# Builds tests/tsan_user.c with gcc's TSan (clang's if gcc's cannot run here), runs
# each scenario as its own process and checks TSan's verdict.
set -u
B=${1:-build}
LIB=$(cd "$B" && pwd)
OUT=$LIB/tsan_user
SRC=tests/tsan_user.c
fail=0

# Nothing of the library may be instrumented: this is the point of the check.
if nm "$LIB/libgosync.so" | grep -q '__tsan_func_entry'; then
	echo "tsan-user: $LIB/libgosync.so is a TSan build; want the normal one"; exit 1
fi

build() { # compiler
	"$1" -std=gnu11 -Wall -Wextra -Werror -g -O1 -fsanitize=thread -Iinclude "$SRC" \
		-o "$OUT" "$LIB/libgosync.so" -Wl,-rpath,"$LIB" -pthread 2>/dev/null
}

# A TSan binary that cannot map its shadow here fails at start; try the next way.
RUN=""
works() { TSAN_OPTIONS="halt_on_error=1 atexit_sleep_ms=0" $RUN "$OUT" locked >/dev/null 2>&1; }
found=""
for cc in gcc clang; do
	command -v $cc >/dev/null 2>&1 || continue
	build $cc || continue
	for run in "" "setarch $(uname -m) -R"; do
		RUN=$run
		if works; then found="$cc${run:+ under $run}"; break 2; fi
	done
done
if [ -z "$found" ]; then
	echo "tsan-user: no compiler could build and run a TSan program here"; exit 1
fi
echo "tsan-user: $found, linked against $LIB/libgosync.so"
ldd "$OUT" | grep -q "$LIB/libgosync.so" || { echo "tsan-user: not linked to $LIB/libgosync.so"; exit 1; }

# check NAME EXPECTED_EXIT EXPECTED_TEXT|- EXTRA_TSAN_OPTIONS
check() {
	name=$1 want=$2 text=$3 extra=$4
	err=$(TSAN_OPTIONS="halt_on_error=1 atexit_sleep_ms=0 $extra" $RUN "$OUT" "$name" 2>&1)
	rc=$?
	ok=1
	[ "$rc" = "$want" ] || ok=0
	if [ "$text" = "-" ]; then
		case $err in *ThreadSanitizer*) ok=0 ;; esac
	else
		case $err in *"$text"*) ;; *) ok=0 ;; esac
	fi
	verdict=$(printf '%s\n' "$err" | grep -m1 'WARNING: ThreadSanitizer' || echo "no report")
	if [ $ok = 1 ]; then
		echo "  ok   $name${extra:+ ($extra)}: exit $rc, $verdict"
	else
		echo "  FAIL $name${extra:+ ($extra)}: exit $rc (want $want), want ${text#-}"
		[ "$text" = "-" ] && echo "       (want no report)"
		printf '%s\n' "$err" | sed -n '1,40p' | sed 's/^/       /'
		fail=1
	fi
}

check locked 0 - ""
check racy 66 "WARNING: ThreadSanitizer: data race" ""
check inversion 66 "WARNING: ThreadSanitizer: lock-order-inversion" ""
check handover 0 - "report_mutex_bugs=0"
check handover_control 66 "WARNING: ThreadSanitizer: data race" "report_mutex_bugs=0"
# Without report_mutex_bugs=0 TSan's mutex model objects to the cross-thread unlock
# itself: this is why users of cross-thread unlock need that option.
check handover 66 "WARNING: ThreadSanitizer: unlock of an unlocked mutex (or by a wrong thread)" ""

[ $fail = 0 ] && echo "tsan-user: OK" || echo "tsan-user: FAILED"
exit $fail
