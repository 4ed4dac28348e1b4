#!/usr/bin/env bash
# hostile-slow.t: peers that hold a worker by being slow (issue 20): one that pipelines large answers and never reads them, requests over 16 KiB that come a byte at a time, and requests over --max-request-bytes; over a unix socket and TCP, while control requests are timed on other connections.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/hostile.sh"

DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"
TIMEOUT=3

seconds_in() { # TEXT: the S of "... in S s"
	sed -n 's/.* in \([0-9.]*\) s$/\1/p' <<<"$1" | tail -n1
}
between() { # VALUE LOW HIGH
	awk -v v="${1:-x}" -v low="$2" -v high="$3" 'BEGIN { exit !(v != "x" && v + 0 >= low && v + 0 <= high) }'
}

# Item 2: a kept connection whose peer pipelines /orders?limit=500 (about
# 55 KB each) and does not read. One worker, so that the control requests
# are that worker's other connections.
unread_answers() { # ADDRESS LABEL COUNT
	local address=$1 label=$2 count=$3 requests=() out s
	for _ in $(seq "$count"); do requests+=(get '/orders?limit=500'); done
	watch_start "$address"
	out=$(timeout 60 "$PEER" "$address" keep "${requests[@]}" send unread 30 count 5)
	diag "$label: $count pipelined, none read: ${out//$'\n'/; }"
	s=$(seconds_in "$(head -n1 <<<"$out")")
	check "$label: $count pipelined /orders?limit=500 never read: the connection is cut ${s:+after $s s} (--request-timeout $TIMEOUT)" \
		between "$s" 2.5 8
	watch_end "$label: $count answers never read"

	# Read late, but within --request-timeout: nothing is lost, the
	# requests that waited are answered, and the connection stays.
	watch_start "$address"
	out=$(timeout 90 "$PEER" "$address" keep "${requests[@]}" send sleep 1.5 count-to "$count" 60 \
		get / send answer 5 "$TEST_TMP/after")
	diag "$label: $count pipelined, read after 1.5 s: ${out//$'\n'/; }"
	like "$out" "^answers $count in " "$label: read 1.5 s late, all $count answers come"
	like "$out" $'\nend id=1 protocol=0 status=200' "$label: ... and the connection serves one more request"
	watch_end "$label: $count answers read 1.5 s late"
}

# Item 4: two requests over 16 KiB, 17 KB at once and then a byte every
# 0.9 s: each is cut at --request-timeout, and neither holds a worker.
slow_bodies() { # ADDRESS LABEL
	local address=$1 label=$2 one two out s
	watch_start "$address"
	timeout 40 "$PEER" "$address" post / 20000 send-bytes 17000 trickle 0.9 >"$TEST_TMP/slow1" &
	one=$!
	timeout 40 "$PEER" "$address" post / 20000 send-bytes 17000 trickle 0.9 >"$TEST_TMP/slow2" &
	two=$!
	on_exit "kill $one $two"
	wait "$one" "$two"
	for out in "$(cat "$TEST_TMP/slow1")" "$(cat "$TEST_TMP/slow2")"; do
		s=$(seconds_in "$out")
		# The cut is seen at the next byte written (unix) or the one after
		# (TCP: that one brings the reset): up to 1.8 s after it.
		check "$label: a 20,000-byte request, 17,000 at once then a byte every 0.9 s, is cut at --request-timeout $TIMEOUT (${out:-not cut})" \
			between "$s" 2.5 6.5
	done
	watch_end "$label: two requests over 16 KiB at a byte every 0.9 s"
}

# Item 4: --max-request-bytes. LIMIT is the responder's.
too_large() { # ADDRESS LABEL LIMIT
	local address=$1 label=$2 limit=$3 over under out
	over=$((limit + limit / 10)) under=$((limit - 4096))
	watch_start "$address"
	out=$(timeout 60 "$PEER" "$address" keep post /orders "$over" send answer 20 "$TEST_TMP/big" closed 3 2>/dev/null)
	like "$out" '^end id=1 protocol=0 status=413 ' "$label: a POST of $over bytes (--max-request-bytes $limit) is answered 413"
	like "$(head -n1 <<<"$out") $(body_of "$TEST_TMP/big" 2>/dev/null)" '^end id=1 protocol=0 status=413 .* \{"error":"[^"]+"\}$' \
		"$label: ... with a JSON error body ($(body_of "$TEST_TMP/big" 2>/dev/null | head -c 80))"
	like "$out" $'^end id=1 protocol=0 status=413 [^\n]*\nclosed in ' "$label: ... and the connection is closed, though it asked to be kept"
	out=$(timeout 60 "$PEER" "$address" begin param REQUEST_METHOD=GET param REQUEST_URI=/ param SCRIPT_NAME=/ \
		param-bytes HTTP_X_PADDING "$over" params end-params end-stdin send answer 20 "$TEST_TMP/big" closed 3 2>/dev/null)
	like "$out" '^end id=1 protocol=0 status=413 ' "$label: a GET whose PARAMS are $over bytes is answered 413"
	out=$(timeout 60 "$PEER" "$address" keep post /orders "$under" send answer 20 "$TEST_TMP/small" get / send answer 5 "$TEST_TMP/next")
	like "$out" '^end id=1 protocol=0 status=405 ' "$label: a POST of $under bytes gets its normal answer (405)"
	like "$out" $'\nend id=1 protocol=0 status=200 ' "$label: ... and the kept connection serves the next request"
	out=$(timeout 60 "$PEER" "$address" begin param REQUEST_METHOD=GET param REQUEST_URI=/ param SCRIPT_NAME=/ \
		param-bytes HTTP_X_PADDING "$under" params end-params end-stdin send answer 20 "$TEST_TMP/small")
	like "$out" '^end id=1 protocol=0 status=200 ' "$label: a GET whose PARAMS are $under bytes is answered 200"
	is "$(body_of "$TEST_TMP/small")" "$HELLO" "$label: ... with its body"
	watch_end "$label: requests over and under $limit bytes"
}

# try_responder KIND NAME FLAGS...: start_responder or start_tcp_responder,
# but a refusal to start is a failed test, not the end of the file (today's
# responder has no --max-request-bytes).
try_responder() {
	local kind=$1 name=$2 address
	shift 2
	if [[ "$kind" == unix ]]; then
		SOCKET="$TEST_TMP/$name.sock" LOG="$TEST_TMP/$name.log" address=$SOCKET
	else
		PORT=$(free_port) || bail_out "no free port"
		LOG="$TEST_TMP/$name.log" address="127.0.0.1:$PORT" ADDRESS=$address
	fi
	"$RESPONDER" --listen "$address" "$@" >/dev/null 2>"$LOG" &
	SUPERVISOR=$!
	on_exit "kill -STOP $SUPERVISOR; pkill -KILL -P $SUPERVISOR; kill -KILL $SUPERVISOR"
	# Until it listens, or has exited (a refusal, checked next).
	if [[ "$kind" == unix ]]; then
		wait_until '! kill -0 "$SUPERVISOR" 2>/dev/null || [[ -S "$address" ]]' 10
	else
		wait_until '! kill -0 "$SUPERVISOR" 2>/dev/null || can_connect 127.0.0.1 "$PORT"' 10
	fi
	check "$kind: the responder starts with $*" kill -0 "$SUPERVISOR"
	kill -0 "$SUPERVISOR" 2>/dev/null || diag "$kind: $(grep -m1 . "$LOG")"
}

for kind in unix tcp; do
	count=40
	[[ $kind == tcp ]] && count=400
	try_responder "$kind" "unread-$kind" --workers 1 --request-timeout $TIMEOUT --keepalive-timeout 10
	wait_for_children 1 || bail_out "$kind: no worker started"
	address=$SOCKET
	[[ $kind == tcp ]] && address=$ADDRESS
	unread_answers "$address" "$kind" "$count"
	kill -TERM "$SUPERVISOR"

	try_responder "$kind" "slow-$kind" --workers 2 --request-timeout $TIMEOUT
	wait_for_children 2 || bail_out "$kind: no workers started"
	address=$SOCKET
	[[ $kind == tcp ]] && address=$ADDRESS
	slow_bodies "$address" "$kind"
	too_large "$address" "$kind (default limit)" 1048576
	kill -TERM "$SUPERVISOR"

	try_responder "$kind" "limit-$kind" --workers 2 --request-timeout $TIMEOUT --max-request-bytes 65536
	address=$SOCKET
	[[ $kind == tcp ]] && address=$ADDRESS
	if kill -0 "$SUPERVISOR" 2>/dev/null; then
		wait_for_children 2 || bail_out "$kind: no workers started"
		too_large "$address" "$kind (--max-request-bytes 65536)" 65536
		kill -TERM "$SUPERVISOR"
	fi
done

done_testing
