#!/bin/sh
# Real multithreaded Debian programs on the pthread shim.
#   usage: tests/apps/run.sh [--quick] [BUILD_DIR] [APP...]
#
# Each tests/apps/<app>.sh describes one workload: the Debian packages it needs
# (APP_PKGS), whether it belongs to the quick set (APP_QUICK=1), how many pairs a full
# run makes (APP_PAIRS, default 5), app_prepare (make the input once, in $DIR), app_run
# (run the workload, printing only deterministic facts: checksums, counts, test
# results; a server it starts it also stops) and optionally app_stop (kill what a
# failed app_run left behind), where the program under test is started through
# `app CMD...` so that it runs on glibc or on the shim as the driver asks. The driver
#   1. installs missing packages when run as root, else prints the apt-get line and fails;
#   2. runs the workload once under the shim with LD_DEBUG=bindings and fails unless
#      the program really bound pthread mutex/cond functions to libgosync-pthread.so
#      (the list is printed);
#   3. runs PAIRS alternating pairs (glibc first in odd pairs, shim first in even ones),
#      fails if any output differs from the first glibc run, and prints the wall-time
#      ratio shim/glibc of each pair as min/median/max (plus the glibc median).
# --quick: the quick apps, small inputs, one pair (make check-apps-quick; < 30 s).
# Results are also appended to BUILD_DIR/apps/results.txt.
set -u
QUICK=0
if [ "${1:-}" = --quick ]; then
	QUICK=1
	shift
fi
B=${1:-build}
[ $# -gt 0 ] && shift
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "$B" && pwd) || exit 1
SHIM=$B/libgosync-pthread.so
W=$B/apps
[ -e "$SHIM" ] || { echo "apps: $SHIM is missing (make lib)"; exit 1; }
mkdir -p "$W"
if [ $# -gt 0 ]; then
	APPS="$*"
else
	APPS=$(cd "$HERE" && ls *.sh | sed -n 's/\.sh$//p' | grep -v '^run$')
fi

# --- helpers for the app files ---------------------------------------------------------
MODE=glibc   # glibc | shim
LDDEBUG=""   # LD_DEBUG_OUTPUT prefix for the bindings run
app() {
	if [ "$MODE" = shim ]; then
		if [ -n "$LDDEBUG" ]; then
			LD_DEBUG=bindings LD_DEBUG_OUTPUT=$LDDEBUG LD_PRELOAD=$SHIM "$@"
		else
			LD_PRELOAD=$SHIM "$@"
		fi
	else
		"$@"
	fi
}

# app_bg PIDFILE CMD...: like app, in the background; the program's own pid goes to
# PIDFILE (a server; the app stops it with kill).
app_bg() {
	pidfile=$1
	shift
	if [ "$MODE" = shim ] && [ -n "$LDDEBUG" ]; then
		env LD_DEBUG=bindings LD_DEBUG_OUTPUT="$LDDEBUG" LD_PRELOAD="$SHIM" "$@" &
	elif [ "$MODE" = shim ]; then
		env LD_PRELOAD="$SHIM" "$@" &
	else
		"$@" &
	fi
	echo $! >"$pidfile"
}

# stop_bg PIDFILE: stop what app_bg started (SIGTERM, then wait for it).
stop_bg() {
	[ -e "$1" ] || return 0
	pid=$(cat "$1")
	rm -f "$1"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# gen_text FILE LINES: deterministic, moderately compressible text.
gen_text() {
	awk -v n="$2" 'BEGIN {
		srand(7)
		s = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod " \
		    "tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam"
		for (i = 0; i < n; i++)
			printf "%07d %s %04x\n", int(rand() * 9999999),
				substr(s, int(rand() * 80) + 1, 12 + int(rand() * 50)), int(rand() * 65536)
	}' >"$1"
}

# A TCP port on 127.0.0.1 that is free right now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most).
wait_port() {
	python3 - "$1" <<'EOF'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
EOF
}

sha() { sha256sum | cut -c1-16; }

now_ns() { date +%s%N; }

# --- packages --------------------------------------------------------------------------
need_pkgs() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" = 0 ]; then
		echo "apps: installing Debian packages:$missing"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $missing; } >"$W/apt.log" 2>&1 ||
			{ tail -n 5 "$W/apt.log"; return 1; }
		# a package's service started by its install is not ours to keep
		return 0
	fi
	echo "apps: need Debian packages:$missing"
	echo "run: sudo apt-get install -y$missing"
	return 1
}

# --- the driver --------------------------------------------------------------------------
failed=0
passed=0
ran=0
for name in $APPS; do
	[ -f "$HERE/$name.sh" ] || { echo "apps: no $HERE/$name.sh"; failed=$((failed + 1)); continue; }
	(
		APP_PKGS="" APP_QUICK=0 APP_PAIRS=""
		app_stop() { :; }
		. "$HERE/$name.sh"
		if [ $QUICK = 1 ] && [ "$APP_QUICK" != 1 ]; then
			exit 77
		fi
		need_pkgs $APP_PKGS || exit 1
		DIR=$W/$name
		mkdir -p "$DIR"
		app_prepare || { echo "FAIL $name: prepare"; exit 1; }

		# 1. does it really run on the shim?
		rm -f "$DIR"/ld.*
		MODE=shim LDDEBUG=$DIR/ld
		app_run >"$DIR/bind.out" 2>"$DIR/bind.err"
		st=$?
		LDDEBUG=""
		app_stop
		bound=$(cat "$DIR"/ld.* 2>/dev/null |
			sed -n "s/.* to [^ ]*libgosync-pthread[^ ]* \[[0-9]*\]: normal symbol \`\([a-z_]*\)'.*/\1/p" |
			sort -u | tr '\n' ' ')
		rm -f "$DIR"/ld.*
		if [ $st -ne 0 ]; then
			echo "FAIL $name: run under the shim (LD_DEBUG) exited $st"
			tail -n 5 "$DIR/bind.err" | sed 's/^/    /'
			exit 1
		fi
		case " $bound" in
		*" pthread_mutex_"* | *" pthread_cond_"*) ;;
		*)
			echo "FAIL $name: nothing bound to the shim's mutex or cond functions ($bound)"
			exit 1
			;;
		esac
		echo "$name: on the shim: $bound"

		# 2. alternating pairs
		pairs=${APP_PAIRS:-5}
		[ $QUICK = 1 ] && pairs=1
		[ -n "${PAIRS:-}" ] && pairs=$PAIRS
		rm -f "$DIR/expected.out"
		ratios=""
		glibc_times=""
		shim_times=""
		i=1
		while [ $i -le $pairs ]; do
			if [ $((i % 2)) = 1 ]; then order="glibc shim"; else order="shim glibc"; fi
			for MODE in $order; do
				t0=$(now_ns)
				app_run >"$DIR/$MODE.out" 2>"$DIR/$MODE.err"
				st=$?
				t1=$(now_ns)
				app_stop
				if [ $st -ne 0 ]; then
					echo "FAIL $name: $MODE run $i exited $st"
					tail -n 10 "$DIR/$MODE.err" | sed 's/^/    /'
					tail -n 5 "$DIR/$MODE.out" | sed 's/^/    /'
					exit 1
				fi
				eval "t_$MODE=$((t1 - t0))"
				[ -e "$DIR/expected.out" ] || cp "$DIR/$MODE.out" "$DIR/expected.out"
				if ! cmp -s "$DIR/expected.out" "$DIR/$MODE.out"; then
					echo "FAIL $name: $MODE output of pair $i differs"
					diff "$DIR/expected.out" "$DIR/$MODE.out" | head -n 20 | sed 's/^/    /'
					exit 1
				fi
			done
			ratios="$ratios $(echo "$t_shim $t_glibc" | awk '{printf "%.3f", $1 / $2}')"
			glibc_times="$glibc_times $t_glibc"
			shim_times="$shim_times $t_shim"
			i=$((i + 1))
		done
		med() { printf '%s\n' $* | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
		if ! cmp -s "$DIR/expected.out" "$DIR/bind.out"; then
			echo "FAIL $name: output of the LD_DEBUG run under the shim differs"
			diff "$DIR/expected.out" "$DIR/bind.out" | head -n 20 | sed 's/^/    /'
			exit 1
		fi
		rs=$(printf '%s\n' $ratios | sort -g | tr '\n' ' ')
		line=$(printf '%s: %d pairs, output identical (%s lines); shim/glibc wall time min %s median %s max %s; median glibc %.2f s, shim %.2f s' \
			"$name" "$pairs" "$(wc -l <"$DIR/expected.out")" \
			"$(echo $rs | awk '{print $1}')" "$(med $ratios)" "$(echo $rs | awk '{print $NF}')" \
			"$(med $glibc_times | awk '{print $1 / 1e9}')" "$(med $shim_times | awk '{print $1 / 1e9}')")
		echo "$line"
		echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $([ $QUICK = 1 ] && echo quick || echo full) $line" >>"$W/results.txt"
		rm -f "$DIR/expected.out"
		exit 0
	)
	st=$?
	case $st in
	0) passed=$((passed + 1)) ran=$((ran + 1)) ;;
	77) ;;
	*) failed=$((failed + 1)) ran=$((ran + 1)) ;;
	esac
done
echo "apps: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $ran -gt 0 ]
