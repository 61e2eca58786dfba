# nginx (2 worker processes) reading files through a thread pool ("aio threads": 4
# threads per worker, fed through a queue with pthread mutexes and condvars) under ab,
# 16 concurrent keep-alive connections. Output: what ab counts (complete, failed,
# document length) and the checksums of the files fetched back.
APP_PKGS="nginx-light apache2-utils python3"
app_prepare() {
	N=$([ $QUICK = 1 ] && echo 2000 || echo 10000)
	mkdir -p "$DIR/www" "$DIR/tmp"
	[ -s "$DIR/www/big.txt" ] || gen_text "$DIR/www/big.txt" 6000
	[ -s "$DIR/www/small.txt" ] || gen_text "$DIR/www/small.txt" 40
}
app_run() {
	port=$(free_port)
	cat >"$DIR/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
$([ "$(id -u)" = 0 ] && echo "user root;")
thread_pool pool threads=4 max_queue=65536;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $DIR/tmp/body;
	proxy_temp_path $DIR/tmp/proxy;
	fastcgi_temp_path $DIR/tmp/fastcgi;
	uwsgi_temp_path $DIR/tmp/uwsgi;
	scgi_temp_path $DIR/tmp/scgi;
	server {
		listen 127.0.0.1:$port;
		root $DIR/www;
		location / {
			aio threads=pool;
			sendfile off;
			output_buffers 2 32k;
		}
	}
}
CONF
	app_bg "$DIR/server.pid" nginx -p "$DIR" -e "$DIR/error.log" -c "$DIR/nginx.conf"
	wait_port "$port" || return 1
	for f in big small; do
		app ab -q -k -n "$N" -c 16 "http://127.0.0.1:$port/$f.txt" >"$DIR/ab.out" 2>&1 || return 1
		echo "$f: $(grep -E '^(Complete requests|Failed requests|Non-2xx responses|Document Length)' "$DIR/ab.out" | tr -s ' ' | tr '\n' ' ')"
	done
	for f in big small; do
		echo "$f: fetched $(python3 -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())' "http://127.0.0.1:$port/$f.txt" | sha), file $(sha <"$DIR/www/$f.txt")"
	done
	stop_bg "$DIR/server.pid"
}
app_stop() { stop_bg "$DIR/server.pid"; }
