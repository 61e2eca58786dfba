#!/bin/sh
# Runs one binary of a cross build under qemu-user: the $(RUN) prefix of run-tests,
# run-stress and examples when CROSS= is set (mk/cross.mk).
#   sh tests/cross/run.sh EMULATOR BINARY [ARGS...]
# A binary still running after CROSS_TIMEOUT seconds (default 600) has failed: a hang
# must not stall the build. CROSS_XFAIL lists binaries (by name) known to fail on this
# target, each for a reason given in mk/cross.mk: such a binary must fail (XFAIL,
# within CROSS_XFAIL_TIMEOUT seconds, default 30); if it passes (XPASS) the list is
# stale, and that is an error too.
set -u
emu=$1
shift
name=$(basename "$1")
xfail=false
case " ${CROSS_XFAIL:-} " in *" $name "*) xfail=true ;; esac
limit=${CROSS_TIMEOUT:-600}
if $xfail; then limit=${CROSS_XFAIL_TIMEOUT:-30}; fi

timeout -k 10 "$limit" "$emu" "$@"
rc=$?
[ $rc -eq 124 ] && echo "$name: still running after ${limit}s under $emu: stopped"
if $xfail; then
	if [ $rc -eq 0 ]; then
		echo "XPASS $name: listed as failing on this target (CROSS_XFAIL) but passed; update mk/cross.mk"
		exit 1
	fi
	echo "XFAIL $name (exit $rc): known failure on this target, see mk/cross.mk"
	exit 0
fi
exit $rc
