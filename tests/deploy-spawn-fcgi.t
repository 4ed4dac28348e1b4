#!/usr/bin/env bash
# deploy-spawn-fcgi.t: responders started by scripts/deploy/spawn-fcgi.sh (unix socket and TCP) behind lighttpd and nginx answer byte for byte what scripts/stack answers.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/fronts.sh"

DEPLOY="$ROOT/scripts/deploy"
DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"
stack_up DATABASE_URL="$DATABASE_URL" WORKERS=2
REFERENCE=$BASE_URL

# nginx's workers run as www-data, as on a real host: they must reach the
# socket through the directories and through its mode and group.
chmod 711 "$TEST_TMP"
RUN="$TEST_TMP/run"
mkdir -m 711 "$RUN"

# stop_spawned PIDFILE...: SIGTERM to the supervisors spawn-fcgi started
# (they stop their workers), SIGKILL to anything left after 5 s.
stop_spawned() {
	local pids children pid
	# awk, not cat: spawn-fcgi ends its pid file without a newline.
	pids=$(awk 1 "$@" 2>/dev/null)
	[[ -n "$pids" ]] || return 0
	children=$(for pid in $pids; do pgrep -P "$pid"; done)
	kill -TERM $pids 2>/dev/null
	wait_until '[[ -z "$(alive $pids $children)" ]]' 5 && return 0
	kill -KILL $pids $children 2>/dev/null
}

count_children() { # PIDFILE: the workers under each supervisor, space-separated
	local pid
	for pid in $(cat "$1"); do pgrep -c -P "$pid"; done | tr '\n' ' ' | sed 's/ $//'
}
wait_for_spawned_children() { # PIDFILE EXPECTED: up to 5 s
	local pidfile=$1 expected=$2
	wait_until '[[ "$(count_children "$pidfile")" == "$expected" ]]' 5
}

# --- spawn-fcgi: one supervisor with 4 workers on a unix socket ---
SOCKET="$RUN/webapi.sock"
on_exit "stop_spawned '$RUN/unix.pids'"
PID_FILE="$RUN/unix.pids" WORKERS=4 "$DEPLOY/spawn-fcgi.sh" unix "$SOCKET" >"$RUN/unix.out" 2>&1
is "$?" 0 "spawn-fcgi.sh unix: spawn-fcgi started the responder"
like "$(head -n1 "$RUN/unix.out")" "^spawn-fcgi -s $SOCKET -M 0660 -U www-data -G www-data -F 1 -P $RUN/unix.pids -- $RESPONDER --workers 4\$" \
	"and printed the command it ran"
check "the unix socket exists" wait_for_socket "$SOCKET"
is "$(stat -c '%a %U:%G' "$SOCKET")" "660 www-data:www-data" "the socket is 0660 and belongs to the web server's user"
is "$(grep -c '' "$RUN/unix.pids")" 1 "spawn-fcgi -F 1: one supervisor"
check "spawn-fcgi -F 1 -- webapi-fcgi --workers 4: 4 workers under it" wait_for_spawned_children "$RUN/unix.pids" 4

# --- spawn-fcgi: 4 supervisors with 1 worker each on TCP ---
TCP_PORT=$(free_port) || bail_out "no free port"
on_exit "stop_spawned '$RUN/tcp.pids'"
PID_FILE="$RUN/tcp.pids" PROCS=4 "$DEPLOY/spawn-fcgi.sh" tcp ":$TCP_PORT" >"$RUN/tcp.out" 2>&1
is "$?" 0 "spawn-fcgi.sh tcp: spawn-fcgi started the responders"
like "$(head -n1 "$RUN/tcp.out")" "^spawn-fcgi -a 127.0.0.1 -p $TCP_PORT -F 4 -P $RUN/tcp.pids -- $RESPONDER --workers 1\$" \
	"an empty host is 127.0.0.1 (spawn-fcgi's own default is 0.0.0.0); -F 4 gets --workers 1"
check "the TCP port answers" wait_for_port 127.0.0.1 "$TCP_PORT"
is "$(ss -Hltn "sport = :$TCP_PORT" | awk '{print $4}')" "127.0.0.1:$TCP_PORT" "bound to the loopback only"
check "spawn-fcgi -F 4 -- webapi-fcgi --workers 1: 4 supervisors with 1 worker each" \
	wait_for_spawned_children "$RUN/tcp.pids" "1 1 1 1"

# --- lighttpd fronts from scripts/deploy/lighttpd-external.conf ---
# lighttpd_front NAME BACKEND: BACKEND replaces the first backend's
# "host"/"port" pair; the second backend is dropped. Sets FRONT_URL.
lighttpd_front() {
	local dir="$TEST_TMP/lighttpd-$1" port
	mkdir -p "$dir/empty"
	port=$(free_port) || bail_out "no free port"
	sed -e "s|\"host\" => \"127.0.0.2\", \"port\" => 9000|$2|" -e '/"host" => "127.0.0.3"/d' \
		"$DEPLOY/lighttpd-external.conf" >"$dir/external.conf"
	grep -qF "$2" "$dir/external.conf" && ! grep -v '^[[:space:]]*#' "$dir/external.conf" | grep -q 9000 ||
		bail_out "scripts/deploy/lighttpd-external.conf no longer has the backends this test rewrites"
	cat >"$dir/lighttpd.conf" <<EOF
server.bind = "127.0.0.1"
server.port = $port
server.document-root = "$dir/empty"
server.errorlog = "$dir/error.log"
server.tag = "lighttpd"
include "$dir/external.conf"
EOF
	lighttpd -D -f "$dir/lighttpd.conf" >>"$dir/error.log" 2>&1 </dev/null &
	on_exit "kill -TERM $!"
	wait_for_port 127.0.0.1 "$port" || bail_out "lighttpd ($1) did not start: $(tail -n 5 "$dir/error.log")"
	FRONT_URL="http://127.0.0.1:$port"
}

# --- nginx fronts from scripts/deploy/nginx.conf ---
# nginx_front NAME UPSTREAM: UPSTREAM replaces "server unix:/run/webapi.sock;".
nginx_front() {
	local dir="$TEST_TMP/nginx-$1" port
	mkdir -p "$dir"
	port=$(free_port) || bail_out "no free port"
	sed -e "s|server unix:/run/webapi.sock;|$2|" -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$port;|" \
		"$DEPLOY/nginx.conf" >"$dir/site.conf"
	grep -qF "$2" "$dir/site.conf" && grep -qF "listen 127.0.0.1:$port;" "$dir/site.conf" ||
		bail_out "scripts/deploy/nginx.conf no longer has the lines this test rewrites"
	start_nginx "$dir" "$port" www-data
	FRONT_URL="http://127.0.0.1:$port"
}

lighttpd_front unix "\"socket\" => \"$SOCKET\""
LIGHTTPD_UNIX=$FRONT_URL
lighttpd_front tcp "\"host\" => \"127.0.0.1\", \"port\" => $TCP_PORT"
LIGHTTPD_TCP=$FRONT_URL
nginx_front unix "server unix:$SOCKET;"
NGINX_UNIX=$FRONT_URL
nginx_front tcp "server 127.0.0.1:$TCP_PORT;"
NGINX_TCP=$FRONT_URL

# fetch NAME URL [CURL ARGS]: the status, then the headers a client sees
# from the responder (all but Date, Server, Connection and Accept-Ranges,
# which are the web server's), then the body in hex.
fetch() {
	local name=$1 url=$2
	shift 2
	local status size
	read -r status size < <(curl -s -D "$TEST_TMP/$name.headers" -o "$TEST_TMP/$name.body" \
		-w '%{http_code} %{size_download}\n' --max-time 10 "$@" "$url")
	echo "status $status"
	tr -d '\r' <"$TEST_TMP/$name.headers" | grep -viE '^(HTTP/|Date:|Server:|Connection:|Accept-Ranges:|$)' |
		tr 'A-Z' 'a-z' | sort
	echo "body $size bytes"
	# HEAD: curl -I writes the headers where the body would go.
	((size > 0)) && od -An -tx1 -v "$TEST_TMP/$name.body" | tr -d ' \n'
	echo
}

REQUESTS=("GET /" "GET /orders" "GET /orders?limit=3&offset=0" "GET /health" "GET /nope" "DELETE /orders"
	"HEAD /orders" "GET /orders?limit=0")
request_args() { # "METHOD PATH"
	case "${1%% *}" in
	HEAD) echo "-I" ;;
	*) echo "-X ${1%% *}" ;;
	esac
}

# The reference answers are the contract's (so a front that matches them is right, not just alike).
reference_orders=$(curl -s "$REFERENCE/orders")
is "$reference_orders" "$(expected_orders_json "$DB" 100 1000)" "the reference stack's /orders are the contract's bytes"

declare -A reference
for request in "${REQUESTS[@]}"; do
	# shellcheck disable=SC2046
	reference[$request]=$(fetch reference "$REFERENCE${request#* }" $(request_args "$request"))
done
for front in "lighttpd, unix socket|$LIGHTTPD_UNIX" "lighttpd, TCP|$LIGHTTPD_TCP" \
	"nginx, unix socket|$NGINX_UNIX" "nginx, TCP|$NGINX_TCP"; do
	name=${front%%|*}
	url=${front#*|}
	for request in "${REQUESTS[@]}"; do
		expected=${reference[$request]}
		# shellcheck disable=SC2046
		got=$(fetch front "$url${request#* }" $(request_args "$request"))
		if [[ "$got" == "$expected" ]]; then
			ok 0 "$name: $request is identical to scripts/stack ($(head -n1 <<<"$got"), $(grep '^body' <<<"$got"))"
		else
			ok 1 "$name: $request is identical to scripts/stack"
			diff <(echo "$expected" | cut -c1-200) <(echo "$got" | cut -c1-200) | sed 's/^/#   /'
		fi
	done
done

status=$(http GET "$NGINX_UNIX/health")
is "$status $(cat "$TEST_TMP/body")" '200 {"status":"ok"}' "GET /health through nginx on the embedded store"
is "$(header Content-Type)" "application/json" "and it is application/json"
like "$(header Server)" '^nginx$' "and nginx answered it (no version: server_tokens off)"
status=$(http GET "$NGINX_TCP/orders")
is "$(cat "$TEST_TMP/body")" "$reference_orders" "nginx over TCP: /orders is the contract's bytes"

# nginx keeps its FastCGI connections open between requests (nginx.conf says why).
check "nginx.conf keeps FastCGI connections open (upstream keepalive and fastcgi_keep_conn on)" \
	bash -c "grep -v '^[[:space:]]*#' '$DEPLOY/nginx.conf' | grep -qE '^[[:space:]]*keepalive[[:space:]]+[0-9]+;' && grep -v '^[[:space:]]*#' '$DEPLOY/nginx.conf' | grep -qE '^[[:space:]]*fastcgi_keep_conn[[:space:]]+on;'"

# The socket's owner and mode are what let nginx in: one that www-data
# cannot open gives 502 through nginx, whose workers run as www-data. Only
# a new connection meets them. The responder's workers are replaced
# (SIGHUP), but a replaced worker keeps the connections nginx holds open
# (nginx may be sending on one), so nginx is reloaded too: its new worker
# has none, and connects anew.
chown root:root "$SOCKET"
kill -HUP "$(head -n1 "$RUN/unix.pids")"
kill -HUP "$(cat "$TEST_TMP/nginx-unix/nginx.pid")"
sleep 1
statuses=""
wait_until 'status=$(http GET "$NGINX_UNIX/"); statuses+="$status "; [[ "$status" == 502 ]]' 5
like "$statuses" '^(200 )*502 $' \
	"with the socket given to root:root, nginx (www-data) cannot connect: 502 ($statuses)"
chown www-data:www-data "$SOCKET"
status=$(http GET "$NGINX_UNIX/")
is "$status" 200 "and given back to www-data:www-data it can"

# spawn-fcgi's responders stop cleanly on SIGTERM.
supervisors=$(awk 1 "$RUN/unix.pids" "$RUN/tcp.pids")
workers=$(for pid in $supervisors; do pgrep -P "$pid"; done)
stop_spawned "$RUN/unix.pids" "$RUN/tcp.pids"
# shellcheck disable=SC2086
is "$(alive $supervisors $workers | wc -l)" 0 \
	"SIGTERM to the $(wc -w <<<"$supervisors") supervisors: none of them or their $(wc -w <<<"$workers") workers is left"

done_testing
