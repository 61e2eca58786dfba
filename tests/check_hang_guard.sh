#!/bin/sh
# Fails unless a stress program's hang guard turns its alarm into a named failure:
# exit status 1 and the program's name in the message (without the guard SIGALRM
# kills it with status 142 and says nothing). The alarm is sent by hand, early.
set -eu
bin=$1
name=$(basename "$bin")
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$bin" 60 >/dev/null 2>"$err" &
pid=$!
sleep 1
kill -ALRM "$pid"
status=0
wait "$pid" || status=$?
if [ "$status" -ne 1 ] || ! grep -q "^$name: FAILED: no verdict before the hang guard's alarm" "$err"; then
	echo "hang guard: $name exited with status $status after SIGALRM; stderr:"; cat "$err"
	exit 1
fi
echo "hang guard: $name fails by name on its alarm"
