#!/usr/bin/env bash
# hostile-cap.t: --max-connections at its limit (issue 20): one connection a worker still serves one new connection after another, an idle kept connection is closed only for a new one that has no slot, and a worker full of unfinished requests leaves new connections to the other; over a unix socket and TCP.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/hostile.sh"

DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"
PARTIALS=15
HOLD_SECONDS=${HOSTILE_CAP_SECONDS:-8}

# --workers 1 --max-connections 1: twenty requests, each on a new connection.
# They are the control requests: with one slot, another client at the same
# time would have to wait for it.
one_slot() { # ADDRESS LABEL
	local address=$1 label=$2 answered=0 out started elapsed slowest=0
	watch_start "$address" no-control
	for _ in $(seq 20); do
		started=$(millis)
		out=$("$PEER" "$address" get / send answer 5 "$TEST_TMP/one")
		elapsed=$(($(millis) - started))
		((elapsed > slowest)) && slowest=$elapsed
		[[ "$out" == "end id=1 protocol=0 status=200 "* ]] && answered=$((answered + 1))
	done
	is "$answered" 20 "$label: --max-connections 1: 20 requests one after another on new connections, all answered"
	check "$label: ... each within 1 s (slowest $slowest ms, fcgi-peer's start included)" test "$slowest" -lt 1000
	watch_end "$label: --max-connections 1"
}

# --max-connections 2: a kept connection, idle, and a second one: both stay.
two_slots() { # ADDRESS LABEL
	local address=$1 label=$2 kept out
	watch_start "$address" no-control
	rm -f "$TEST_TMP/first-answered" "$TEST_TMP/second-done"
	"$PEER" "$address" keep get / send answer 5 "$TEST_TMP/k1" touch "$TEST_TMP/first-answered" \
		wait-for "$TEST_TMP/second-done" get / send answer 5 "$TEST_TMP/k2" >"$TEST_TMP/kept" &
	kept=$!
	on_exit "kill $kept"
	wait_until '[[ -e "$TEST_TMP/first-answered" ]]' 5
	sleep 0.2
	out=$("$PEER" "$address" get / send answer 5 "$TEST_TMP/second")
	touch "$TEST_TMP/second-done"
	like "$out" '^end id=1 protocol=0 status=200 ' "$label: --max-connections 2, one kept connection idle: a second connection is answered"
	wait "$kept"
	out=$(cat "$TEST_TMP/kept")
	like "$out" $'^end id=1 protocol=0 status=200 [^\n]*\nend id=1 protocol=0 status=200 ' \
		"$label: ... and the idle kept connection stayed open: its next request is answered"
	watch_end "$label: --max-connections 2"
}

# --max-connections 8, 2 workers, 15 connections that began a request and
# say no more: new connections still find a worker.
full_of_partials() { # ADDRESS LABEL
	local address=$1 label=$2 partials=() i
	watch_start "$address"
	for i in $(seq $PARTIALS); do
		"$PEER" "$address" begin param REQUEST_METHOD=GET param REQUEST_URI=/ params send \
			touch "$TEST_TMP/partial-$label-$i" sleep $((HOLD_SECONDS + 5)) &
		partials+=($!)
		on_exit "kill $!"
	done
	wait_until '[[ $(find "$TEST_TMP" -name "partial-$label-*" | wc -l) -eq $PARTIALS ]]' 5
	diag "$label: $PARTIALS partial requests held; control requests for $HOLD_SECONDS s"
	sleep "$HOLD_SECONDS"
	watch_end "$label: --max-connections 8, 2 workers, $PARTIALS unfinished requests held"
	kill "${partials[@]}" 2>/dev/null
	wait "${partials[@]}" 2>/dev/null
}

for kind in unix tcp; do
	starter=start_responder
	[[ $kind == tcp ]] && starter=start_tcp_responder
	address() { if [[ $kind == unix ]]; then echo "$SOCKET"; else echo "$ADDRESS"; fi; }

	$starter "one-$kind" --workers 1 --max-connections 1
	wait_for_children 1 || bail_out "$kind: no worker started"
	one_slot "$(address)" "$kind"
	kill -TERM "$SUPERVISOR"

	$starter "two-$kind" --workers 1 --max-connections 2
	wait_for_children 1 || bail_out "$kind: no worker started"
	two_slots "$(address)" "$kind"
	kill -TERM "$SUPERVISOR"

	$starter "eight-$kind" --workers 2 --max-connections 8 --request-timeout 30
	wait_for_children 2 || bail_out "$kind: no workers started"
	full_of_partials "$(address)" "$kind"
	kill -TERM "$SUPERVISOR"
done

done_testing
