#!/usr/bin/env bash
# loop.t: the event-driven worker seen from a raw FastCGI client: kept connections, management records, aborts, multiplexing, idle crowds, slowloris, deadlines, and a sole worker that dies or stops.
source "$(dirname "$0")/lib/common.sh"

PEER="$ROOT/tests/lib/fcgi-peer"
HOLD="$ROOT/tests/lib/hold-connections"
DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"
HELLO='{"message":"Hello, World!"}'
ORDERS=$(expected_orders_json "$DB" 100 1000)
PAGE=$(expected_orders_json "$DB" 3 7)

served_at() { # ADDRESS: GET / answered 200
	[[ "$(fcgi_get "$1" / | head -n1)" == $'Status: 200 OK\r' ]]
}
workers_cpu_ticks() { # user and system time of the workers so far
	local pid total=0 fields
	for pid in $(children); do
		read -r -a fields <<<"$(sed 's/.*) //' "/proc/$pid/stat")"
		total=$((total + fields[11] + fields[12]))
	done
	echo "$total"
}
no_worker_replaced() {
	! grep -qE 'replacing it|killed by signal|exited with status' "$LOG"
}

# The raw-protocol checks, once over a unix socket and once over TCP.
protocol_checks() { # ADDRESS LABEL
	local address=$1 label=$2 out
	out=$("$PEER" "$address" keep get / send answer 5 "$TEST_TMP/a1" \
		get /orders send answer 5 "$TEST_TMP/a2" \
		get '/orders?limit=3&offset=7' send answer 5 "$TEST_TMP/a3" closed 0.5)
	is "$?" 4 "$label: three requests in sequence on one kept connection, and it stays open after them"
	is "$(grep -c '^end id=1 protocol=0 status=200' <<<"$out")" 3 "$label: each ends with FCGI_END_REQUEST, status 200"
	is "$(body_of "$TEST_TMP/a1")" "$HELLO" "$label: the first is GET /"
	is "$(body_of "$TEST_TMP/a2")" "$ORDERS" "$label: the second GET /orders, byte for byte"
	is "$(body_of "$TEST_TMP/a3")" "$PAGE" "$label: the third a page"

	# The loop reads a connection once and hands libfcgi only the request's
	# bytes: what came after it waits for the next round, not in libfcgi.
	out=$("$PEER" "$address" keep get / get /orders send answer 5 "$TEST_TMP/p1" answer 5 "$TEST_TMP/p2" closed 0.5)
	is "$?" 4 "$label: two requests written at once on a kept connection: it stays open after them"
	is "$(grep -c '^end id=1 protocol=0 status=200' <<<"$out")" 2 "$label: ... and both are answered"
	is "$(body_of "$TEST_TMP/p2")" "$ORDERS" "$label: ... the second byte for byte"
	out=$("$PEER" "$address" keep get / get / get /orders send-half sleep 0.2 send answer 5 "$TEST_TMP/h1" \
		answer 5 "$TEST_TMP/h2" answer 5 "$TEST_TMP/h3")
	is "$(grep -c '^end id=1 protocol=0 status=200' <<<"$out")" 3 \
		"$label: three requests cut in the middle of the second: all three answered"
	is "$(body_of "$TEST_TMP/h3")" "$ORDERS" "$label: ... the third byte for byte"

	out=$("$PEER" "$address" get / send answer 5 "$TEST_TMP/b1" closed 5)
	like "$out" $'end id=1 protocol=0 status=200.*\nclosed in' "$label: without FCGI_KEEP_CONN the connection closes after the answer"

	out=$("$PEER" "$address" get-values FCGI_MAX_CONNS,FCGI_MAX_REQS,FCGI_MPXS_CONNS,FCGI_UNHEARD_OF send answer 5 "$TEST_TMP/v")
	diag "$label: $out"
	like "$out" "^values FCGI_MAX_CONNS=$EXPECTED_CONNS FCGI_MAX_REQS=$EXPECTED_CONNS FCGI_MPXS_CONNS=0 ms=" \
		"$label: FCGI_GET_VALUES alone is answered with what the responder takes ($WORKERS workers x $CAP)"
	ms=$(sed -n 's/.* ms=//p' <<<"$out")
	check "$label: ... at once (${ms:-never} ms; asserted under 500)" test "${ms:-99999}" -lt 500

	out=$("$PEER" "$address" get-values FCGI_MPXS_CONNS keep get / send answer 5 "$TEST_TMP/c1" answer 5 "$TEST_TMP/c2")
	like "$out" $'^values FCGI_MPXS_CONNS=0 .*\nend id=1 protocol=0 status=200' "$label: FCGI_GET_VALUES before a request, then the request"
	out=$("$PEER" "$address" raw 010c0000000000000 send answer 5 "$TEST_TMP/u")
	like "$out" '^unknown type=12 ' "$label: another management type gets FCGI_UNKNOWN_TYPE"

	out=$("$PEER" "$address" keep begin param REQUEST_METHOD=GET param REQUEST_URI=/orders params send sleep 0.2 \
		abort send answer 5 "$TEST_TMP/d1" get / send answer 5 "$TEST_TMP/d2")
	like "$out" $'^end id=1 protocol=0 status=- .*\nend id=1 protocol=0 status=200' \
		"$label: FCGI_ABORT_REQUEST before the request is whole ends it (FCGI_END_REQUEST, no output); the kept connection serves the next"

	out=$("$PEER" "$address" keep begin param REQUEST_METHOD=GET params id 2 begin id 1 param REQUEST_URI=/ end-params \
		end-stdin send answer 5 "$TEST_TMP/m1" answer 5 "$TEST_TMP/m2")
	like "$out" $'^end id=2 protocol=1 .*\nend id=1 protocol=0 status=200' \
		"$label: a second request id on a busy connection gets FCGI_CANT_MPX_CONN, the first its answer"
	is "$(body_of "$TEST_TMP/m2")" "$HELLO" "$label: ... with its body intact"

	out=$("$PEER" "$address" keep get / send answer 5 "$TEST_TMP/k" closed 10)
	like "$out" 'closed in [0-9.]+ s' "$label: a kept connection idle past --keepalive-timeout 2 is closed ($(tail -n1 <<<"$out"))"

	# 2,000 peers that connect and say nothing: each costs its own
	# connection (or, past the cap, its place), never anyone's request.
	"$HOLD" "$address" 2000 "$TEST_TMP/held-$label" &
	local holder=$!
	on_exit "kill $holder"
	wait_until '[[ -s "$TEST_TMP/held-$label" ]]' 15
	is "$(cat "$TEST_TMP/held-$label" 2>/dev/null)" 2000 "$label: 2,000 idle connections are open"
	local started elapsed
	started=$(millis)
	out=$(fcgi_get "$address" /orders)
	elapsed=$(($(millis) - started))
	is "${out#*$'\r\n\r\n'}" "$ORDERS" "$label: with them held, GET /orders is answered"
	check "$label: ... within 1 s ($elapsed ms)" test "$elapsed" -lt 1000
	kill "$holder"
	wait "$holder" 2>/dev/null

	# A slowloris: a request at one byte a second is cut at its deadline
	# (--request-timeout 3) while requests from others flow.
	local cpu_before
	cpu_before=$(workers_cpu_ticks)
	"$PEER" "$address" get /orders trickle 1 >"$TEST_TMP/slow-$label" &
	local slow=$! answered=0 sent=0
	on_exit "kill $slow"
	while kill -0 "$slow" 2>/dev/null && ((sent < 60)); do
		sent=$((sent + 1))
		served_at "$address" && answered=$((answered + 1))
		sleep 0.1
	done
	wait "$slow"
	is "$?" 0 "$label: the slowloris is cut ($(cat "$TEST_TMP/slow-$label"))"
	seconds=$(sed -n 's/.* in \([0-9]*\).*/\1/p' "$TEST_TMP/slow-$label")
	check "$label: ... at its deadline of 3 s, not before, not long after (${seconds:-?} s)" \
		test "${seconds:-0}" -ge 2 -a "${seconds:-99}" -le 6
	is "$answered" "$sent" "$label: all $sent requests made meanwhile were answered"
	local ticks=$(($(workers_cpu_ticks) - cpu_before))
	check "$label: ... and the workers did not spin on the waiting bytes ($ticks ticks of CPU in 3 s)" \
		test "$ticks" -lt 100
}

WORKERS=2
CAP=300
EXPECTED_CONNS=$((WORKERS * CAP))
# on_both LABEL ADDRESS: the checks, and that the same workers did it all.
on_both() {
	wait_for_children $WORKERS || bail_out "$1: no workers started"
	local before
	before=$(children | tr '\n' ' ')
	protocol_checks "$2" "$1"
	is "$(children | tr '\n' ' ')" "$before" "$1: the same workers served it all ($before)"
	check "$1: no worker was replaced" no_worker_replaced
}
FLAGS=(--workers $WORKERS --max-connections $CAP --request-timeout 3 --keepalive-timeout 2)
start_responder unix "${FLAGS[@]}"
on_both unix "$SOCKET"
start_tcp_responder tcp "${FLAGS[@]}"
on_both tcp "$ADDRESS"

# A sole worker that dies or stops: how long the socket goes unserved.
start_responder sole --workers 1
wait_for_children 1 || bail_out "no worker started"
outage() { # SIGNAL: ms from the signal to the next answered GET /
	local worker started
	worker=$(children)
	started=$(millis)
	kill "-$1" "$worker"
	wait_until 'served_at "$SOCKET"' 8 >&2
	echo $(($(millis) - started))
}
ms=$(outage KILL)
diag "SIGKILL of the sole worker: the next request was answered after $ms ms"
check "a crashed sole worker is replaced and serving within 1 s ($ms ms)" test "$ms" -lt 1000
stopped=$(children)
ms=$(outage STOP)
diag "SIGSTOP of the sole worker: the next request was answered after $ms ms"
check "a stopped sole worker is replaced within 2 s of stall plus a tick, serving within 4 s ($ms ms)" test "$ms" -lt 4000
check "the log says why it was replaced" grep -q "worker $stopped has not run for [0-9]* ms (stopped), replacing it" "$LOG"
check "and the stopped worker is gone" bash -c "! kill -0 $stopped 2>/dev/null"

done_testing
