#!/usr/bin/env bash
# deploy-hosts.t: two responders on 127.0.0.2 and 127.0.0.3 sharing one PostgreSQL, behind lighttpd and nginx (scripts/deploy examples): one is killed mid-run and comes back.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/fronts.sh"
source "$ROOT/tests/lib/pg.sh"

DEPLOY="$ROOT/scripts/deploy"
on_exit pg_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
"$ROOT/scripts/seed-db" --postgres "$PG_TEST_URL" >/dev/null || bail_out "scripts/seed-db --postgres failed"
# Each backend logs in as its own role, so PostgreSQL counts, per backend,
# the /orders queries it ran: that is how many requests each one served.
pg_query "CREATE ROLE backend_b LOGIN PASSWORD 'apipassword'" >/dev/null &&
	pg_query "GRANT SELECT ON orders TO backend_b" >/dev/null || bail_out "cannot create role backend_b"
declare -A DATABASE=([a]=$PG_TEST_URL [b]="postgresql://backend_b:apipassword@127.0.0.1:$PG_TEST_PORT/ordersdb")
declare -A ROLE=([a]=apiuser [b]=backend_b)
declare -A HOST=([a]=127.0.0.2 [b]=127.0.0.3)

# One port free on both addresses, as on two machines running the same setup.
for _ in $(seq 20); do
	PORT=$(free_port 127.0.0.2) || bail_out "no free port"
	(exec 3<>"/dev/tcp/127.0.0.3/$PORT") 2>/dev/null || break
done


# start_backend NAME: webapi-fcgi on its own address, accepting only the
# front's address (the loopback connects from 127.0.0.1).
start_backend() {
	FCGI_WEB_SERVER_ADDRS=127.0.0.1 DATABASE_URL=${DATABASE[$1]} \
		"$RESPONDER" --listen "${HOST[$1]}:$PORT" --workers 2 2>>"$TEST_TMP/backend-$1.log" &
	echo $! >"$TEST_TMP/backend-$1.pid"
	wait_for_port "${HOST[$1]}" "$PORT"
}
# kill_backend NAME: the machine dies: SIGKILL to the supervisor and its workers at once.
kill_backend() {
	local supervisor
	supervisor=$(cat "$TEST_TMP/backend-$1.pid" 2>/dev/null) || return 0
	kill -KILL "$supervisor" $(pgrep -P "$supervisor") 2>/dev/null
	wait "$supervisor" 2>/dev/null
	rm -f "$TEST_TMP/backend-$1.pid"
}
on_exit "kill_backend a"
on_exit "kill_backend b"
check "backend a listens on 127.0.0.2:$PORT" start_backend a
check "backend b listens on 127.0.0.3:$PORT" start_backend b

# --- the fronts, from the examples in scripts/deploy ---
mkdir -p "$TEST_TMP/lighttpd/empty" "$TEST_TMP/nginx/temp"
LIGHTTPD_PORT=$(free_port) || bail_out "no free port"
sed "/^[[:space:]]*#/!s/\"port\" => 9000/\"port\" => $PORT/" "$DEPLOY/lighttpd-external.conf" >"$TEST_TMP/lighttpd/external.conf"
[[ $(grep -c "\"host\" => \"127.0.0.[23]\", \"port\" => $PORT" "$TEST_TMP/lighttpd/external.conf") -eq 2 ]] ||
	bail_out "scripts/deploy/lighttpd-external.conf no longer has the two backends this test rewrites"
cat >"$TEST_TMP/lighttpd/lighttpd.conf" <<EOF
server.bind = "127.0.0.1"
server.port = $LIGHTTPD_PORT
server.document-root = "$TEST_TMP/lighttpd/empty"
server.errorlog = "$TEST_TMP/lighttpd/error.log"
include "$TEST_TMP/lighttpd/external.conf"
EOF
lighttpd -D -f "$TEST_TMP/lighttpd/lighttpd.conf" >>"$TEST_TMP/lighttpd/error.log" 2>&1 </dev/null &
on_exit "kill -TERM $!"
wait_for_port 127.0.0.1 "$LIGHTTPD_PORT" || bail_out "lighttpd did not start: $(tail -n 5 "$TEST_TMP/lighttpd/error.log")"

NGINX_PORT=$(free_port) || bail_out "no free port"
dir="$TEST_TMP/nginx"
sed -e '/server unix:\/run\/webapi.sock;/d' -e "s|#server \(127\.0\.0\.[23]\):9000|server \1:$PORT|" \
	-e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$NGINX_PORT;|" "$DEPLOY/nginx.conf" >"$dir/site.conf"
[[ $(grep -cE "^[[:space:]]*server 127\.0\.0\.[23]:$PORT " "$dir/site.conf") -eq 2 ]] &&
	grep -q "listen 127.0.0.1:$NGINX_PORT;" "$dir/site.conf" ||
	bail_out "scripts/deploy/nginx.conf no longer has the lines this test rewrites"
start_nginx "$dir" "$NGINX_PORT"

# served NAME: /orders queries backend NAME has run so far.
served() {
	pg_query "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
	          WHERE r.rolname = '${ROLE[$1]}' AND s.query LIKE 'SELECT id, customer_id, total_cents, status, created_at FROM orders%'"
}
# load URL COUNT CODES: COUNT requests for URL, 4 at a time over kept
# connections (one curl: thousands of curl processes would take minutes),
# one status a line in CODES.
load() {
	local config
	config=$(mktemp "$TEST_TMP/load.XXXXXX")
	# shellcheck disable=SC2046
	printf 'url = "%s"\noutput = "/dev/null"\n' $(yes "$1" | head -n "$2") >"$config"
	curl -s --no-progress-meter --parallel --parallel-max 4 --max-time 10 -w '%{http_code}\n' -K "$config" >>"$3"
	rm -f "$config"
}
failed() { # CODES
	grep -vcx 200 "$1"
}

scenario() { # NAME URL
	local front=$1 url=$2/orders codes="$TEST_TMP/$1.codes" a0 b0 a1 b1 started

	a0=$(served a) b0=$(served b)
	: >"$codes"
	load "$url" 200 "$codes"
	a1=$(served a) b1=$(served b)
	is "$(grep -c '' "$codes") $(failed "$codes")" "200 0" "$front: 200 requests over both backends, none failed"
	check "$front: both backends served (a $((a1 - a0)), b $((b1 - b0)))" test $((a1 - a0)) -gt 0 -a $((b1 - b0)) -gt 0
	is "$((a1 - a0 + b1 - b0))" 200 "$front: and together they ran 200 queries, one per request"

	# Backend a dies while 3000 requests are on their way.
	: >"$codes"
	a0=$(served a) b0=$(served b)
	load "$url" 3000 "$codes" &
	local loader=$!
	sleep 0.3
	check "$front: the load is still running when backend a is killed" kill -0 "$loader"
	kill_backend a
	wait "$loader"
	a1=$(served a) b1=$(served b)
	local during
	during=$(failed "$codes")
	diag "$front: $during of 3000 requests failed ($(grep -vx 200 "$codes" | sort | uniq -c | xargs));" \
		"a served $((a1 - a0)) before it died, b $((b1 - b0))"
	check "$front: at most the 4 in flight failed when backend a died ($during)" test "$during" -le 4
	is "$(grep -c '' "$codes")" 3000 "$front: every one of the 3000 got an answer"

	# The front has noticed: everything goes to b, and succeeds.
	a0=$(served a) b0=$(served b)
	: >"$codes"
	load "$url" 100 "$codes"
	a1=$(served a) b1=$(served b)
	is "$(failed "$codes") $((a1 - a0)) $((b1 - b0))" "0 0 100" "$front: with a down, 100 of 100 requests succeed, all on b"

	# a comes back: the front takes it in again once its failure has expired.
	start_backend a || bail_out "backend a did not restart: $(tail -n 5 "$TEST_TMP/backend-a.log")"
	started=$SECONDS
	a0=$(served a)
	: >"$codes"
	for _ in $(seq 40); do
		load "$url" 20 "$codes"
		(($(served a) > a0)) && break
		sleep 0.2
	done
	local back=$((SECONDS - started))
	check "$front: restarted backend a serves again (after about $back s)" test "$(served a)" -gt "$a0"
	is "$(failed "$codes")" 0 "$front: and no request failed meanwhile ($(grep -c '' "$codes") sent)"
	a0=$(served a) b0=$(served b)
	: >"$codes"
	load "$url" 200 "$codes"
	a1=$(served a) b1=$(served b)
	check "$front: both serve again (a $((a1 - a0)), b $((b1 - b0)) of 200, $(failed "$codes") failed)" \
		test $((a1 - a0)) -gt 0 -a $((b1 - b0)) -gt 0 -a "$(failed "$codes")" -eq 0
}

scenario lighttpd "http://127.0.0.1:$LIGHTTPD_PORT"
scenario nginx "http://127.0.0.1:$NGINX_PORT"

like "$(grep -c "listening on 127.0.0.2:$PORT" "$TEST_TMP/backend-a.log")" '^3$' "backend a's log shows its 3 starts"
check "the fronts connect from 127.0.0.1, which FCGI_WEB_SERVER_ADDRS allows: no refusal logged" \
	bash -c "! grep -q refused '$TEST_TMP/backend-a.log' '$TEST_TMP/backend-b.log'"
like "$(cat "$TEST_TMP/lighttpd/error.log")" "establishing connection failed: socket: tcp:127.0.0.2:$PORT: Connection refused" \
	"lighttpd logged backend a's failure"

done_testing
