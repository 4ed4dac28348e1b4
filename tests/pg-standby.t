#!/usr/bin/env bash
# pg-standby.t: reads from a streaming standby with target_session_attrs=prefer-standby: the standby serves while up, stopped under load (ten times with one client, once with eight) it fails at most the requests in flight, the primary serves while it is away, the workers come back within the documented 10 s, and the standby serves alone once the primary is gone.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/pg.sh"
source "$ROOT/tests/lib/pg-standby.sh"

on_exit pg_destroy
on_exit standby_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
"$ROOT/scripts/seed-db" --postgres "$PG_TEST_URL" >/dev/null 2>&1 || bail_out "seed-db --postgres failed"
standby_start || bail_out "cannot make a streaming standby with pg_basebackup -R"
is "$(standby_query 'SELECT pg_is_in_recovery()') $(pg_query 'SELECT pg_is_in_recovery()')" "t f" \
	"the standby is in recovery, the primary is not"
EXPECTED=$(expected_orders_json "$(seeded_database)" 100 1000)

ORDERS_QUERY="query LIKE 'SELECT id, customer_id, total_cents, status, created_at FROM orders%'"
# on_primary, on_standby: /orders executions each server has counted so far.
on_primary() {
	pg_query "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE $ORDERS_QUERY"
}
on_standby() {
	standby_query "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE $ORDERS_QUERY"
}
# held_by_us QUERY_FN: the responder's connections to that server now.
held_on_primary() {
	pg_query "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'webapi-fcgi'"
}
held_on_standby() {
	standby_query "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'webapi-fcgi'"
}
# load COUNT: COUNT /orders by 4 clients at once (at most 4 in flight);
# each answer a line "STATUS MILLISECONDS" in $TEST_TMP/codes.
load() {
	local client clients=()
	: >"$TEST_TMP/codes"
	for client in 1 2 3 4; do
		(
			for _ in $(seq $(($1 / 4))); do
				started=$(millis)
				status=$(fcgi_get "$SOCKET" /orders | head -n 1 | cut -d' ' -f2)
				echo "${status:-none} $(($(millis) - started))"
			done
		) >"$TEST_TMP/codes-$client" &
		clients+=($!)
	done
	wait "${clients[@]}"
	cat "$TEST_TMP"/codes-[1-4] >"$TEST_TMP/codes"
}
failed() {
	grep -vc '^200 ' "$TEST_TMP/codes"
}
slowest() {
	sort -k2 -n "$TEST_TMP/codes" | tail -n 1 | cut -d' ' -f2
}

# The primary first in the list: prefer-standby, not the order, picks the standby.
export DATABASE_URL="postgresql://apiuser:apipassword@127.0.0.1:$PG_TEST_PORT,127.0.0.1:$STANDBY_PORT/ordersdb?target_session_attrs=prefer-standby"
start_responder standby --workers 2
answer=$(fcgi_get "$SOCKET" /orders)
is "${answer#*$'\r\n\r\n'}" "$EXPECTED" "prefer-standby: /orders is the contract's bytes"

primary0=$(on_primary) standby0=$(on_standby)
load 200
primary1=$(on_primary) standby1=$(on_standby)
is "$(failed)" 0 "200 /orders by 4 clients: none failed"
is "$((standby1 - standby0)) $((primary1 - primary0))" "200 0" \
	"pg_stat_statements: the standby ran the 200, the primary none"
check "both workers read from the standby log so" \
	test "$(grep -c 'reading from the standby at 127.0.0.1:'"$STANDBY_PORT" "$LOG")" -eq 2

# The standby stops (fast shutdown: its sessions are ended) under load, as
# a user meets it: lighttpd and the responder with its default workers,
# curl clients sending /orders one after another, 3 s at most each. A stop
# may fail what is in flight on the standby at that moment, no more: the
# primary, the next host of the list, answers the next request.
kill -TERM "$SUPERVISOR"
wait "$SUPERVISOR"
stack_up DATABASE_URL="$DATABASE_URL"
STACK_WORKERS=$(worker_pids | grep -c '')
awk -v url="$BASE_URL/orders" 'BEGIN { for (i = 0; i < 40000; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", url }' \
	>"$TEST_TMP/orders.conf"
# orders_for SECONDS CLIENTS: CLIENTS curl clients, each one request after
# another, for SECONDS; each answer's status a line in $TEST_TMP/codes
# (000: none within 3 s).
orders_for() {
	local parallel=()
	(($2 > 1)) && parallel=(--parallel --parallel-max "$2")
	timeout -s INT "$1" stdbuf -oL curl -s --no-progress-meter "${parallel[@]}" --max-time 3 -w '%{http_code}\n' \
		-K "$TEST_TMP/orders.conf" >"$TEST_TMP/codes"
}
# standby_serves_stack: the standby back, and every worker of the stack
# (new ones: SIGHUP) connected to it and none to the primary.
standby_serves_stack() {
	local worker supervisor
	standby_start_server || bail_out "the standby did not restart"
	worker=$(worker_pids | head -n 1)
	supervisor=$(ps -o ppid= -p "$worker" | tr -d ' ')
	kill -HUP "$supervisor"
	wait_until '[[ "$(held_on_primary) $(held_on_standby)" == "0 $STACK_WORKERS" ]]' 30 && return 0
	bail_out "the stack's workers did not connect to the restarted standby: $(held_on_primary) on the primary, $(held_on_standby) on it"
}
# stop_under_load CLIENTS: the standby stops 1.5 s into 5 s of load;
# sets FAILED and SENT.
stop_under_load() {
	local loader
	orders_for 5 "$1" &
	loader=$!
	sleep 1.5
	kill -0 "$loader" || bail_out "the load ended before the standby stopped"
	stopped_at=$(millis)
	standby_stop_server || bail_out "the standby did not stop"
	wait "$loader"
	FAILED=$(grep -vcx 200 "$TEST_TMP/codes")
	SENT=$(grep -c '' "$TEST_TMP/codes")
}
STOPS=10
worst=0 fewest=40000 counts=()
for stop in $(seq "$STOPS"); do
	((stop > 1)) && standby_serves_stack
	stop_under_load 1
	counts+=("$FAILED/$SENT")
	((FAILED > worst)) && worst=$FAILED
	((SENT < fewest)) && fewest=$SENT
	((FAILED > 1)) && diag "stop $stop: $FAILED of $SENT failed ($(grep -vx 200 "$TEST_TMP/codes" | sort | uniq -c | xargs))"
done
diag "standby stopped under a sequential client $STOPS times: failed/sent ${counts[*]}; worst $worst"
check "each of the $STOPS stops failed at most the 1 request in flight (worst $worst)" test "$worst" -le 1
check "... and the client kept going after each stop (fewest sent $fewest)" test "$fewest" -ge 100
standby_serves_stack
stop_under_load 8
diag "standby stopped under 8 concurrent clients: $FAILED of $SENT failed"
check "with 8 clients at once, at most the 8 in flight failed ($FAILED)" test "$FAILED" -le 8
diag "attempts that left out the host they failed on: $(grep -c 'failed, trying the other hosts now' "$STACK_DIR/stack.log")"
grep -E 'unavailable|query failed' "$STACK_DIR/stack.log" | sort | uniq -c | head -n 5 | while read -r line; do diag "$line"; done
check "no password in the stack's log" bash -c "! grep -q apipassword '$STACK_DIR/stack.log'"
STACK_DIR=$STACK_DIR "$ROOT/scripts/stack" stop

# Workers that start while the standby is away read from the primary.
start_responder standby-away --workers 2
primary0=$(on_primary)
load 100
is "$(failed) $(($(on_primary) - primary0))" "0 100" "then 100 of 100 are 200s, all run by the primary"
check "the workers said they moved to the primary" grep -q 'reading from the primary at 127.0.0.1:'"$PG_TEST_PORT" "$LOG"

# The standby comes back: the workers, on the primary since it stopped,
# look again 10 s after they connected; under load, every worker is back
# on it within 10 s of its return (asserted 13: the queries in flight and
# a connection on a shared machine).
standby_start_server || bail_out "the standby did not restart"
back_at=$(millis)
: >"$TEST_TMP/codes-back"
for _ in $(seq 200); do
	load 8
	cat "$TEST_TMP/codes" >>"$TEST_TMP/codes-back"
	[[ "$(held_on_primary)" == 0 && "$(held_on_standby)" == 2 ]] && break
	(($(millis) - back_at > 20000)) && break
done
returned=$(($(millis) - back_at))
diag "standby restarted $((back_at - stopped_at)) ms after it stopped; both workers back on it after $returned ms ($(grep -c '' "$TEST_TMP/codes-back") requests meanwhile)"
is "$(held_on_primary) $(held_on_standby)" "0 2" "both workers are connected to the standby again, none to the primary"
check "... within 10 s of its return, asserted under 13 s ($returned ms)" test "$returned" -lt 13000
is "$(grep -vc '^200 ' "$TEST_TMP/codes-back")" 0 "... and no request failed on the way back"
standby0=$(on_standby) primary0=$(on_primary)
load 100
is "$(failed) $(($(on_standby) - standby0)) $(($(on_primary) - primary0))" "0 100 0" \
	"100 of 100 /orders are 200s, all run by the standby"

# The primary stops: the standby keeps serving reads, and new workers
# (SIGHUP: new connections) find it too.
pg_stop_server fast || bail_out "the primary did not stop"
standby0=$(on_standby)
load 100
is "$(failed) $(($(on_standby) - standby0))" "0 100" "primary stopped: 100 of 100 /orders are 200s from the standby"
kill -HUP "$SUPERVISOR"
sleep 1
standby0=$(on_standby)
load 100
is "$(failed) $(($(on_standby) - standby0))" "0 100" "... and from new workers' new connections too"
answer=$(fcgi_get "$SOCKET" /orders)
is "${answer#*$'\r\n\r\n'}" "$EXPECTED" "... with the contract's bytes"
check "no password in the log" bash -c "! grep -q apipassword '$LOG'"

done_testing
