#!/usr/bin/env bash
# status.t: --status-path answers JSON, ?full and ?openmetrics (checked by promtool) with exact counts, is 404 when off and refused by the stack's lighttpd from another address; --slow-request-ms logs a request slowed by a locked PostgreSQL table and not a fast one.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/pg.sh"

command -v promtool >/dev/null || bail_out "promtool is missing: scripts/install-deps test"
DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"

# body: the response body of a CGI response on stdin.
body() {
	sed '1,/^\r$/d'
}
# field JSON PATH: a value of a JSON document, by a Python expression on "d".
# metric TEXT LINE-PREFIX: the value on the metrics line starting with LINE-PREFIX + " ".
metric() {
	grep -F "$2 " <<<"$1" | grep -v '^#' | awk -v name="$2" '$1 == name { print $2 }'
}

start_responder status --workers 2 --backlog 77 --status-path /status
for _ in 1 2 3 4; do fcgi_get "$SOCKET" / >/dev/null; done
fcgi_get "$SOCKET" /orders >/dev/null
fcgi_get "$SOCKET" '/orders?limit=5' >/dev/null
fcgi_get "$SOCKET" /nope >/dev/null

response=$(fcgi_get "$SOCKET" /status)
like "$response" $'^Status: 200 OK\r\nContent-Type: application/json\r\n' "GET /status: 200, JSON"
json=$(body <<<"$response")
is "$(field "$json" 'd["requests"]')" 7 "requests: the 7 sent before it (it counts once answered)"
is "$(field "$json" 'd["accepted_connections"]')" 8 "accepted_connections: 8, its own included"
is "$(field "$json" 'd["slow_requests"]')" 0 "slow_requests: 0 without --slow-request-ms"
is "$(field "$json" 'd["pid"]')" "$SUPERVISOR" "pid: the supervisor's"
is "$(field "$json" 'd["version"]')" "$("$RESPONDER" --version | cut -d' ' -f2)" "version: what --version says"
like "$(field "$json" 'd["start_time"]')" '^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]{8}\.[0-9]{3}Z$' "start_time: ISO 8601, UTC"
check "uptime_seconds: a whole number, small" test "$(field "$json" 'd["uptime_seconds"]')" -lt 60
is "$(field "$json" 'd["workers"]["total"]')" 2 "workers.total: 2"
is "$(field "$json" 'd["workers"]["active"]') $(field "$json" 'd["workers"]["idle"]')" "1 1" \
	"workers: 1 active (the one answering) and 1 idle"
check "workers.max_active: at least 1" test "$(field "$json" 'd["workers"]["max_active"]')" -ge 1
is "$(field "$json" 'd["listen_queue_limit"]')" 77 "listen_queue_limit: --backlog, as the kernel tells it (unix socket)"
is "$(field "$json" 'd["listen_queue"]')" 0 "listen_queue: 0, nobody waiting"
is "$(field "$json" 'd["connections"]') $(field "$json" 'd["kept_connections"]')" "1 0" \
	"connections: its own; kept_connections: 0 (cgi-fcgi keeps none)"
is "$(field "$json" 'd["store"]')" '{"state": "up", "down_since": null, "reconnects": 0}' "store: up, never down"

json=$(fcgi_get "$SOCKET" '/status?full' | body)
is "$(field "$json" '" ".join(sorted(str(p["pid"]) for p in d["processes"]))')" "$(children | tr '\n' ' ' | sed 's/ $//')" \
	"?full: one entry per worker, with its pid"
is "$(field "$json" 'sum(p["requests"] for p in d["processes"])')" 8 "?full: the workers' requests add up to 8"
is "$(field "$json" 'sorted(p["state"] for p in d["processes"])')" '["active", "idle"]' "?full: their states"
check "?full: each has its resident size" \
	test "$(field "$json" 'min(p["rss_bytes"] for p in d["processes"])')" -gt 100000
like "$(field "$json" '[p.get("request") for p in d["processes"] if p["state"] == "active"][0]')" '^GET /status\?full$' \
	"?full: the active one's current request"

response=$(fcgi_get "$SOCKET" '/status?openmetrics')
like "$response" $'Content-Type: text/plain; version=0.0.4' "?openmetrics: the Prometheus text format"
metrics=$(body <<<"$response")
lint=$(promtool check metrics <<<"$metrics" 2>&1)
is "$?" 0 "promtool check metrics: passes${lint:+ ($lint)}"
is "$(metric "$metrics" webapi_requests_total)" 9 "webapi_requests_total: the 9 requests before it"
is "$(metric "$metrics" 'webapi_route_requests_total{route="hello",code="200"}')" 4 "by route and code: hello 200 x4"
is "$(metric "$metrics" 'webapi_route_requests_total{route="orders",code="200"}')" 2 "orders 200 x2"
is "$(metric "$metrics" 'webapi_route_requests_total{route="other",code="404"}')" 1 "other 404 x1"
is "$(metric "$metrics" 'webapi_route_requests_total{route="status",code="200"}')" 2 "status 200 x2"
is "$(metric "$metrics" 'webapi_request_duration_seconds_count{route="hello"}')" 4 "latency histogram: 4 for hello"
is "$(metric "$metrics" 'webapi_request_duration_seconds_bucket{route="orders",le="+Inf"}')" 2 \
	"latency histogram: orders' +Inf bucket holds both"
is "$(metric "$metrics" 'webapi_workers{state="idle"}')" 1 "webapi_workers idle 1"

# The active worker's label is the status request's own, "GET URI" cut by
# the worker at 239 bytes and copied as the request's bytes came: the page
# must still be JSON a strict parser takes (the bytes as strict UTF-8).
# strict_json FILE: "ok", or why Python's json.loads refuses the page.
strict_json() {
	python3 -c 'import json, sys
try:
	json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))
	print("ok")
except ValueError as error:
	print(error)' "$1"
}
# own_label FILE: the active worker's request label of a saved ?full page.
own_label() {
	python3 -c 'import json, sys; d = json.loads(open(sys.argv[1], "rb").read()); print([p["request"] for p in d["processes"] if p["state"] == "active"][0])' "$1"
}
prefix='/status?full&pad='
# "GET " and the prefix are 21 bytes; the 239th byte of the label is
# inside the 3-byte euro sign that starts at byte 238 or 237.
for before in 217 216; do
	pad=$(printf "%${before}s" "" | tr ' ' a)
	fcgi_get "$SOCKET" "$prefix$pad€€" | body >"$TEST_TMP/cut.json"
	is "$(strict_json "$TEST_TMP/cut.json")" ok "?full with a UTF-8 URI cut inside a character $((239 - 21 - before)) byte(s) in: strict JSON"
	is "$(own_label "$TEST_TMP/cut.json")" "GET $prefix$pad" "and the label ends before the cut character"
done
pad=$(printf "%209s" "" | tr ' ' a)
fcgi_get "$SOCKET" "$prefix$pad€€€" | body >"$TEST_TMP/cut.json"
is "$(strict_json "$TEST_TMP/cut.json")" ok "?full with a UTF-8 URI whose label ends at byte 239 on a character: strict JSON"
is "$(own_label "$TEST_TMP/cut.json")" "GET $prefix$pad€€€" "and the label keeps that character"
for case in 'ff fe:\xff\xfe:��' 'lone continuation bytes:\x80\xbf:��' "an overlong '/':\xc0\xaf:��" \
	'an overlong three-byte /:\xe0\x80\xaf:���' 'a surrogate:\xed\xa0\x80:���' 'a cut euro sign inside:\xe2\x82z:��z'; do
	IFS=: read -r what raw shown <<<"$case"
	fcgi_get "$SOCKET" "$prefix$(printf '%b' "$raw")" | body >"$TEST_TMP/raw.json"
	is "$(strict_json "$TEST_TMP/raw.json")" ok "?full with $what ($raw) in the URI: strict JSON"
	is "$(own_label "$TEST_TMP/raw.json")" "GET $prefix$shown" "and each such byte shows as U+FFFD"
done

# A kept connection (FCGI_KEEP_CONN) waiting for its next request.
"$ROOT/tests/lib/fcgi-peer" "$SOCKET" keep get / send answer 5 /dev/null touch "$TEST_TMP/kept" wait-for "$TEST_TMP/release" \
	>/dev/null 2>&1 &
peer=$!
on_exit "kill $peer"
wait_until '[[ -e "$TEST_TMP/kept" ]]' 5
json=$(fcgi_get "$SOCKET" /status | body)
is "$(field "$json" 'd["kept_connections"]') $(field "$json" 'd["connections"]')" "1 2" \
	"a kept connection: kept_connections 1, connections 2 (with the status request's)"
touch "$TEST_TMP/release"
wait "$peer"

# The listen queue's maximum: the workers stopped, connections wait in
# the backlog, the supervisor's tick sees them.
start_tcp_responder status-tcp --workers 1 --backlog 50 --status-path /status
kill -STOP $(children)
exec 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT" 7<>"/dev/tcp/127.0.0.1/$PORT"
sleep 0.6
kill -CONT $(children)
exec 5>&- 6>&- 7>&-
json=$(fcgi_get "$ADDRESS" /status | body)
is "$(field "$json" 'd["listen_queue_limit"]')" 50 "TCP: listen_queue_limit is --backlog"
# At least the 3; the status request's own connection, or the start-up
# probe's, may have been waiting beside them when the supervisor looked.
max_queue=$(field "$json" 'd["max_listen_queue"]')
check "TCP: max_listen_queue: the 3 connections that waited, seen ($max_queue)" test "$max_queue" -ge 3 -a "$max_queue" -le 5

# Off by default: the path is any unknown path.
start_responder nostatus --workers 1
like "$(fcgi_get "$SOCKET" /status)" '^Status: 404 Not Found' "no --status-path: /status is 404"

# --slow-request-ms: a PostgreSQL table locked for 300 ms by the test.
on_exit pg_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
"$ROOT/scripts/seed-db" --postgres "$PG_TEST_URL" >/dev/null 2>&1 || bail_out "seed-db --postgres failed"
DATABASE_URL=$PG_TEST_URL start_responder slow --workers 1 --slow-request-ms 100 --status-path /status
fcgi_get "$SOCKET" /orders >/dev/null
fcgi_get "$SOCKET" / >/dev/null
pg_query "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(0.3); COMMIT;" >/dev/null &
locker=$!
# The lock is taken once pg_stat_activity shows the sleep.
wait_until "[[ \$(pg_query \"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(0.3)%' AND pid <> pg_backend_pid()\") == 1 ]]" 5
like "$(fcgi_get "$SOCKET" /orders)" '^Status: 200 OK' "GET /orders waits for the locked table, then 200"
wait "$locker"
check "the slow request is logged, naming its peer and GET /orders" wait_for_log "$LOG" 'slow request: status 200 took .*; peer [^,]+, request GET /orders$'
line=$(grep 'slow request:' "$LOG")
like "$line" 'took [0-9]+ ms: [0-9]+ ms waiting for the database, [0-9]+ ms in the worker' \
	"with its duration and where the time went"
database_ms=$(sed -E 's/.*: ([0-9]+) ms waiting for the database.*/\1/' <<<"$line" | head -n1)
check "most of it waiting for the database ($database_ms ms)" test "$database_ms" -ge 100
is "$(grep -c 'slow request:' "$LOG")" 1 "exactly one slow line: the fast /orders and GET / before it are not logged"
is "$(field "$(fcgi_get "$SOCKET" /status | body)" 'd["slow_requests"]')" 1 "the status page counts it"

# The stack: lighttpd passes /status to the responder for 127.0.0.1 only.
stack_up
is "$(http GET "$BASE_URL/status")" 200 "through the stack's lighttpd from 127.0.0.1: 200"
like "$(cat "$TEST_TMP/body")" '"workers":\{"idle":' "and it is the status JSON"
is "$(http GET "$BASE_URL/status" --interface 127.0.0.2)" 403 "from 127.0.0.2: 403, lighttpd refuses it"
is "$(http GET "$BASE_URL/status?openmetrics" --interface 127.0.0.2)" 403 "with a query too"
is "$(http GET "$BASE_URL/" --interface 127.0.0.2)" 200 "while GET / is served to 127.0.0.2"

done_testing
