# memcached -t 4 on 127.0.0.1 (worker threads, LRU maintainer and crawler threads, all
# coordinated with pthread mutexes and condvars) under load: memcslap (libmemcached's
# threaded load generator, 8 threads) sets and gets, then memcached_check.py checks
# values and an incr counter from 8 connections at once. Both memcached and memcslap run
# in the mode under test; the checker runs plainly. Output: the checker's counts.
APP_PKGS="memcached libmemcached-tools python3"
APP_QUICK=1
app_prepare() {
	N=$([ $QUICK = 1 ] && echo 500 || echo 5000)
	KEYS=$([ $QUICK = 1 ] && echo 100 || echo 400)
}
app_run() {
	port=$(free_port)
	app_bg "$DIR/server.pid" memcached -t 4 -l 127.0.0.1 -p "$port" -U 0 -m 64 -c 512 -u root
	wait_port "$port" || return 1
	app memcslap -s "127.0.0.1:$port" -t set -c 8 -e "$N" >"$DIR/slap.out" 2>&1 || return 1
	app memcslap -s "127.0.0.1:$port" -t get -c 8 -e "$N" >>"$DIR/slap.out" 2>&1 || return 1
	python3 "$HERE/memcached_check.py" "$port" "$KEYS" || return 1
	stop_bg "$DIR/server.pid"
}
app_stop() { stop_bg "$DIR/server.pid"; }
