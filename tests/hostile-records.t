#!/usr/bin/env bash
# hostile-records.t: the records of issue 20 that killed or held a worker, from a raw FastCGI client over a unix socket and TCP: management records inside a request and over 16 KiB, huge parameter lengths, rejected BEGIN_REQUESTs, misordered streams, padding; each while control requests are timed on other connections.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/hostile.sh"

DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"
WORKERS=2
CAP=300
FLOOD_SECONDS=${HOSTILE_FLOOD_SECONDS:-5}

names() { # COUNT: FCGI_MAX_CONNS, COUNT times, comma-separated
	printf 'FCGI_MAX_CONNS%.0s,' $(seq "$1") | sed 's/,$//'
}
OPEN_GET=(begin param REQUEST_METHOD=GET param REQUEST_URI=/ param SCRIPT_NAME=/ params)
# The bytes of the flood's cases, each alone on a connection.
MGMT_INSIDE=$("$PEER" - "${OPEN_GET[@]}" get-values "$(names 6)" end-params end-stdin hex)
MGMT_HUGE=$("$PEER" - get-values "$(names 2000)" hex)
HUGE_LENGTHS=$("$PEER" - begin record 4 c0000000c0000000 end-params end-stdin hex)

# Item 1 of issue 20: management records where libfcgi mishandled them.
management() { # ADDRESS LABEL
	local address=$1 label=$2 out count
	watch_start "$address"
	for count in 4 6; do
		out=$("$PEER" "$address" keep "${OPEN_GET[@]}" get-values "$(names $count)" end-params end-stdin send \
			answer 5 "$TEST_TMP/m1" answer 5 "$TEST_TMP/m2")
		like "$out" "values FCGI_MAX_CONNS=$EXPECTED_CONNS" \
			"$label: FCGI_GET_VALUES naming FCGI_MAX_CONNS $count times between BEGIN_REQUEST and the end of PARAMS is answered"
		like "$out" 'end id=1 protocol=0 status=200' "$label: ... and the request around it too"
	done
	out=$("$PEER" "$address" "${OPEN_GET[@]}" get-values FCGI_MPXS_CONNS end-params end-stdin send \
		answer 5 "$TEST_TMP/m1" answer 5 "$TEST_TMP/m2")
	like "$out" 'values FCGI_MPXS_CONNS=0 ' "$label: inside a request, FCGI_MPXS_CONNS is 0 (the loop's answer, not libfcgi's)"
	out=$("$PEER" "$address" "${OPEN_GET[@]}" id 0 record 12 '' id 1 end-params end-stdin send \
		answer 5 "$TEST_TMP/m1" answer 5 "$TEST_TMP/m2")
	like "$out" 'unknown type=12 ' "$label: an unknown management type inside a request gets FCGI_UNKNOWN_TYPE"
	like "$out" 'end id=1 protocol=0 status=200' "$label: ... and the request around it is answered"
	is "$(body_of "$TEST_TMP/m2")" "$HELLO" "$label: ... with its body"

	for count in 1100 2000 4000; do
		# fcgi-peer sends content in records of 32 KiB: one reply each.
		replies=()
		for _ in $(seq $(((count * 16 + 32767) / 32768))); do replies+=(answer 5 "$TEST_TMP/v"); done
		out=$("$PEER" "$address" get-values "$(names $count)" send "${replies[@]}" keep get / send answer 5 "$TEST_TMP/g")
		like "$out" "^values FCGI_MAX_CONNS=$EXPECTED_CONNS" \
			"$label: FCGI_GET_VALUES of $((count * 16)) bytes ($count names) is answered"
		like "$out" $'\nend id=1 protocol=0 status=200' "$label: ... and a request after it on the same connection"
	done
	out=$("$PEER" "$address" keep "${OPEN_GET[@]}" get-values "$(names 1100)" end-params end-stdin send \
		answer 5 "$TEST_TMP/m1" answer 5 "$TEST_TMP/m2")
	like "$out" 'end id=1 protocol=0 status=200' "$label: FCGI_GET_VALUES of 1,100 names inside a request: the request is answered"

	out=$("$PEER" "$address" begin record 4 c0000000c0000000 end-params end-stdin send closed 3)
	closed_at_once "$label: PARAMS whose name and value lengths say 0x40000000 each close the connection at once" "$out"
	out=$("$PEER" "$address" begin record 4 c000000001 end-params end-stdin send closed 3)
	closed_at_once "$label: PARAMS with a 0x40000000 name length in 5 bytes: closed at once" "$out"
	watch_end "$label: management records and huge lengths"

	# Two clients, one connection after another, for a while.
	watch_start "$address"
	"$FLOOD" -w 200 "$address" "$FLOOD_SECONDS" "$MGMT_INSIDE" "$MGMT_HUGE" "$HUGE_LENGTHS" >"$TEST_TMP/flood1" &
	local first=$!
	"$FLOOD" -w 200 "$address" "$FLOOD_SECONDS" "$HUGE_LENGTHS" "$MGMT_INSIDE" "$MGMT_HUGE" >"$TEST_TMP/flood2" &
	local second=$!
	on_exit "kill $first $second"
	wait "$first" "$second"
	diag "$label: $(cat "$TEST_TMP/flood1"); $(cat "$TEST_TMP/flood2")"
	watch_end "$label: two clients looping over these records for $FLOOD_SECONDS s"
}

# Item 3: BEGIN_REQUESTs the responder refuses, and streams out of order.
rejected() { # ADDRESS LABEL
	local address=$1 label=$2 out
	watch_start "$address"
	out=$("$PEER" "$address" role 7 begin send answer 5 "$TEST_TMP/r" closed 3)
	like "$out" '^end id=1 protocol=3 ' "$label: role 7: FCGI_END_REQUEST with FCGI_UNKNOWN_ROLE"
	closed_at_once "$label: ... and without FCGI_KEEP_CONN the connection closes at once" "$out"
	out=$("$PEER" "$address" keep role 7 begin send answer 5 "$TEST_TMP/r" role 1 get / send answer 5 "$TEST_TMP/r2")
	like "$out" $'^end id=1 protocol=3 [^\n]*\nend id=1 protocol=0 status=200' \
		"$label: role 7 with FCGI_KEEP_CONN: FCGI_UNKNOWN_ROLE, then a request on the same connection is answered"
	out=$("$PEER" "$address" begin-body 0001000000 send closed 3)
	closed_at_once "$label: a BEGIN_REQUEST body of 5 bytes closes the connection at once" "$out"
	out=$("$PEER" "$address" begin-body 000100000000000000000000 send closed 3)
	closed_at_once "$label: a BEGIN_REQUEST body of 12 bytes closes the connection at once" "$out"
	out=$("$PEER" "$address" "${OPEN_GET[@]}" record 5 78787878 send closed 3)
	closed_at_once "$label: STDIN before the end of PARAMS closes the connection at once" "$out"
	out=$("$PEER" "$address" "${OPEN_GET[@]}" end-params param X=1 params send closed 3)
	closed_at_once "$label: PARAMS after the end of PARAMS closes the connection at once" "$out"
	out=$("$PEER" "$address" "${OPEN_GET[@]}" end-params record 5 78 param X=1 params send closed 3)
	closed_at_once "$label: PARAMS after STDIN closes the connection at once" "$out"
	watch_end "$label: rejected BEGIN_REQUESTs"

	# A peer that goes on sending a byte every 1.5 s after its rejected
	# BEGIN_REQUEST: the connection closed at once, the byte written at 0 s
	# (if it went before the close) is the last taken; the one at 1.5 s
	# fails (unix: the peer is gone; TCP: the reset came back).
	watch_start "$address"
	local shape steps
	for shape in "role 7 begin" "begin-body 000100000000000000000000"; do
		read -r -a steps <<<"$shape"
		out=$("$PEER" "$address" "${steps[@]}" send raw 0000000000000000 trickle 1.5)
		like "$out" '^cut after [01] bytes in [01]\.[0-9] s' \
			"$label: after a rejected BEGIN_REQUEST ($shape), a byte every 1.5 s finds the connection closed ($out)"
	done
	watch_end "$label: a byte every 1.5 s after a rejected BEGIN_REQUEST"

	# Two rejected BEGIN_REQUESTs a second, on new connections.
	watch_start "$address"
	"$FLOOD" -r 2 -w 3000 "$address" "$FLOOD_SECONDS" "$("$PEER" - role 7 begin hex)" 01010001000500000001000000 \
		"$("$PEER" - begin-body 000100000000000000000000 hex)" >"$TEST_TMP/rejects"
	out=$(cat "$TEST_TMP/rejects")
	diag "$label: $out"
	like "$out" ' open 0$' "$label: each of the rejected connections was closed by the responder within 1 s"
	local max_close
	max_close=$(sed -n 's/.* max-close \([0-9]*\) ms.*/\1/p' <<<"$out")
	check "$label: ... each within 500 ms (slowest ${max_close:-?} ms)" test "${max_close:-99999}" -lt 500
	watch_end "$label: 2 rejected BEGIN_REQUESTs a second for $FLOOD_SECONDS s"
}

# Item 8: padding is legal on every record.
padding() { # ADDRESS LABEL
	local address=$1 label=$2 out
	watch_start "$address"
	out=$("$PEER" "$address" pad 8 begin pad 0 param REQUEST_METHOD=GET param REQUEST_URI=/ param SCRIPT_NAME=/ params \
		end-params end-stdin send answer 5 "$TEST_TMP/p")
	like "$out" '^end id=1 protocol=0 status=200' "$label: 8 bytes of padding on BEGIN_REQUEST: answered"
	is "$(body_of "$TEST_TMP/p")" "$HELLO" "$label: ... with its body"
	out=$("$PEER" "$address" "${OPEN_GET[@]}" pad 7 end-params pad 0 end-stdin send answer 5 "$TEST_TMP/p")
	like "$out" '^end id=1 protocol=0 status=200' "$label: 7 bytes of padding on the empty PARAMS record: answered"
	out=$("$PEER" "$address" pad 3 keep get / send answer 5 "$TEST_TMP/p1" get /orders send answer 5 "$TEST_TMP/p2")
	like "$out" $'^end id=1 protocol=0 status=200[^\n]*\nend id=1 protocol=0 status=200' \
		"$label: padding on every record, two requests on a kept connection: both answered"
	is "$(body_of "$TEST_TMP/p2")" "$ORDERS" "$label: ... the second byte for byte"
	out=$("$PEER" "$address" pad 255 post /orders 100 send answer 5 "$TEST_TMP/p")
	like "$out" '^end id=1 protocol=0 status=405' "$label: 255 bytes of padding on every record of a POST: answered (405)"
	watch_end "$label: padding"
}

# Parameters the worker reads, sent twice or beside names that begin as
# theirs: the first of a name counts, as libfcgi's FCGX_GetParam has it,
# and a longer name is another parameter.
parameters() { # ADDRESS LABEL
	local address=$1 label=$2 out
	out=$("$PEER" "$address" begin param REQUEST_METHOD=GET param REQUEST_URI_X=/ param QUERY_STRINGS=limit=7 \
		param REQUEST_URI=/orders param QUERY_STRING=limit=2 param REQUEST_URI=/ param QUERY_STRING=limit=5 \
		param REQUEST_METHOD=POST params end-params end-stdin send answer 5 "$TEST_TMP/q")
	like "$out" '^end id=1 protocol=0 status=200' "$label: REQUEST_URI, QUERY_STRING and REQUEST_METHOD sent twice: answered"
	is "$(body_of "$TEST_TMP/q" | grep -o '"id"' | wc -l)" 2 \
		"$label: ... as the first of each says (GET /orders?limit=2), not REQUEST_URI_X or QUERY_STRINGS"
	out=$("$PEER" "$address" begin param REQUEST_METHOD=GET param SCRIPT_NAME=/orders param PATH_INFO= \
		param SCRIPT_NAME=/ params end-params end-stdin send answer 5 "$TEST_TMP/q")
	like "$out" '^end id=1 protocol=0 status=200' "$label: no REQUEST_URI, SCRIPT_NAME sent twice: answered"
	is "$(body_of "$TEST_TMP/q" | grep -o '"id"' | wc -l)" 100 "$label: ... for the first SCRIPT_NAME, /orders"
}

ORDERS=$(expected_orders_json "$DB" 100 1000)
EXPECTED_CONNS=$((WORKERS * CAP))
FLAGS=(--workers "$WORKERS" --max-connections "$CAP" --request-timeout 3 --keepalive-timeout 5)
all_of_it() { # ADDRESS LABEL
	wait_for_children $WORKERS || bail_out "$2: no workers started"
	management "$1" "$2"
	rejected "$1" "$2"
	padding "$1" "$2"
	parameters "$1" "$2"
	kill -TERM "$SUPERVISOR"
}
start_responder records-unix "${FLAGS[@]}"
all_of_it "$SOCKET" unix
start_tcp_responder records-tcp "${FLAGS[@]}"
all_of_it "$ADDRESS" tcp

done_testing
