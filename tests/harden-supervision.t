#!/usr/bin/env bash
# harden-supervision.t: the supervisor under stress: --max-requests recycling, back-off for workers that die at start, connection deadlines, the --request-timeout watchdog, SIGHUP and SIGTERM with requests in flight.
source "$(dirname "$0")/lib/common.sh"

PEER="$ROOT/tests/lib/fcgi-peer"
DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"

replaced() { # OLD-WORKER: up to 10 s for another one to take its place
	local old=$1
	wait_until '[[ -n "$(children)" && "$(children)" != "$old" ]]' 10
}
served_ok() { # URI
	[[ "$(fcgi_get "$SOCKET" "$1" | head -n1)" == $'Status: 200 OK\r' ]]
}

# --max-requests: a worker leaves after N requests and a new one takes
# its place; the request after the swap waits in the backlog, not fails.
start_responder recycle --workers 1 --max-requests 5
wait_for_children 1 || bail_out "no worker started"
failures=0
seen=()
for _ in $(seq 30); do
	wait_for_children 1 || true
	seen+=($(children))
	served_ok / || failures=$((failures + 1))
done
distinct=$(printf '%s\n' "${seen[@]}" | sort -u | wc -l)
is "$failures" 0 "--max-requests 5: 30 requests in a row, none failed"
check "they were served by at least 6 successive workers ($distinct pids seen)" test "$distinct" -ge 6
check "recycling is not logged as a failure" bash -c "! grep -qE 'in a row|killed by|exited with' '$LOG'"

# A worker that dies right after its start, again and again (here: killed
# as soon as it appears), is restarted later and later, and each time the
# supervisor says so.
start_responder backoff --workers 1
wait_for_children 1 || bail_out "no worker started"
sleep 1.1 # the first worker has lived long enough to have started well
killed=()
deadline=$((SECONDS + 30))
while ((${#killed[@]} < 6 && SECONDS < deadline)); do
	for pid in $(children); do
		if [[ " ${killed[*]} " != *" $pid "* ]]; then
			kill -KILL "$pid"
			killed+=("$pid")
		fi
	done
	sleep 0.01
done
wait_for_log "$LOG" '\(5 in a row\)' || true
mapfile -t backoff < <(grep -oE '\([0-9]+ in a row\); restarting in [0-9]+ ms' "$LOG")
diag "back-off log: ${backoff[*]}"
is "$(grep -c 'killed by signal 9 (Killed); restarting it' "$LOG")" 1 \
	"the first worker, killed after 1 s, is restarted at once"
is "$(printf '%s\n' "${backoff[@]}" | grep -oE '^\([0-9]+' | tr -d '(' | tr '\n' ' ')" "1 2 3 4 5 " \
	"the next 5, killed right after their start, are counted in a row"
delays=$(printf '%s\n' "${backoff[@]}" | grep -oE '[0-9]+ ms' | cut -d' ' -f1 | tr '\n' ' ')
check "with a growing delay before each restart (ms: $delays)" \
	awk -v d="$delays" 'BEGIN { n = split(d, a, " "); for (i = 2; i <= n; i++) if (a[i] <= a[i - 1]) exit 1; exit n != 5 }'
check "a worker runs again after the back-off" wait_for_children 1
check "and serves" served_ok /orders

# Peers that hold a connection without finishing a request cost only
# that connection: each is closed at its own deadline (--keepalive-timeout
# before a request starts, --request-timeout once it has), the worker is
# never replaced for it, and others are served meanwhile.
start_responder deadlines --workers 1 --request-timeout 2 --keepalive-timeout 2
wait_for_children 1 || bail_out "no worker started"
deadline_case() { # DESCRIPTION PEER-STEPS...
	local description=$1 worker peer started elapsed served=0
	shift
	worker=$(children)
	started=$(date +%s%3N)
	"$PEER" "$SOCKET" "$@" read 20 >/dev/null &
	peer=$!
	sleep 0.3
	for _ in 1 2 3; do served_ok / && served=$((served + 1)); done
	wait "$peer"
	is "$?" 3 "$description: the responder closes the connection without an answer"
	elapsed=$(($(date +%s%3N) - started))
	check "$description: ... at its 2 s deadline ($elapsed ms)" test "$elapsed" -ge 1500 -a "$elapsed" -lt 8000
	is "$served" 3 "$description: 3 requests from others were answered meanwhile"
	is "$(children)" "$worker" "$description: the same worker ($worker) serves on"
}
deadline_case "a silent peer"
deadline_case "half a record header" raw 0101 send
deadline_case "a request whose body never ends" \
	begin param REQUEST_METHOD=GET param REQUEST_URI=/orders?stuck=1 param SCRIPT_NAME=/orders params end-params send
check "none of them cost a worker" bash -c "! grep -qE 'replacing it|killed by signal' '$LOG'"

# The watchdog is for a worker stuck past --request-timeout on a request.
# No peer can hold one any more (the loop reads every byte itself), so
# the request here waits on a database server that accepts and never
# answers: a worker waiting on its database counts as busy, and
# --request-timeout 1 is under the store's 2 s deadline. Past it the
# worker is replaced, the log says so, and the next request is served.
fake_port=$(free_port) || bail_out "no free port"
"$ROOT/tests/lib/fake-postgres" silent "$fake_port" "$TEST_TMP/watchdog.count" &
on_exit "kill $!"
wait_for_port 127.0.0.1 "$fake_port" || bail_out "fake-postgres did not listen"
DATABASE_URL="postgresql://apiuser:apipassword@127.0.0.1:$fake_port/ordersdb?sslmode=disable&gssencmode=disable" \
	start_responder watchdog --workers 1 --request-timeout 1
wait_for_children 1 || bail_out "no worker started"
wait_until 'served_ok /' 10
worker=$(children)
fcgi_get "$SOCKET" /orders >/dev/null &
waiter=$!
on_exit "kill $waiter"
check "a worker whose request waits on its database past --request-timeout: the log names it" \
	wait_for_log "$LOG" "worker $worker exceeded --request-timeout 1 s in one request, replacing it"
check "it is replaced" replaced "$worker"
check "the log names the request it was serving" grep -q "GET /orders" "$LOG"
check "and the next request is served" wait_until 'served_ok /' 10
is "$(grep -c "killed by signal" "$LOG")" 1 "its death is logged once more by the supervisor"

# SIGHUP twice under a request loop: every worker is replaced, no request fails.
start_responder reload --workers 2
wait_for_children 2 || bail_out "no workers started"
before=$(children | tr '\n' ' ')
(for _ in $(seq 300); do fcgi_get "$SOCKET" / | head -n1; done >"$TEST_TMP/reload.statuses") &
loop=$!
sleep 0.5
kill -HUP "$SUPERVISOR"
sleep 0.5
kill -HUP "$SUPERVISOR"
wait "$loop"
is "$(sort "$TEST_TMP/reload.statuses" | uniq -c | sed 's/^ *//')" $'300 Status: 200 OK\r' \
	"300 requests across two SIGHUPs: all answered 200"
is "$(grep -c 'SIGHUP: replacing 2 workers' "$LOG")" 2 "both reloads are logged"
wait_for_children 2 || true
after=$(children | tr '\n' ' ')
left=0
for pid in $before; do [[ " $after " == *" $pid "* ]] && left=$((left + 1)); done
is "$left" 0 "no worker from before the reloads is left (before: $before; after: $after)"

# SIGTERM with a request half sent: it is still answered in full, a new
# connection is not taken, and everything exits.
start_responder drain --workers 2
wait_for_children 2 || bail_out "no workers started"
"$PEER" "$SOCKET" begin param REQUEST_METHOD=GET param REQUEST_URI=/orders param SCRIPT_NAME=/orders \
	param QUERY_STRING= params send-half touch "$TEST_TMP/half-sent" wait-for "$TEST_TMP/go" \
	end-params end-stdin send read 20 >"$TEST_TMP/drained.out" &
peer=$!
on_exit "kill $peer"
wait_until '[[ -e "$TEST_TMP/half-sent" ]]' 10
sleep 0.2
workers=$(children | tr '\n' ' ')
kill -TERM "$SUPERVISOR"
sleep 0.5
"$PEER" "$SOCKET" get / read 20 >/dev/null &
late=$!
sleep 0.3
touch "$TEST_TMP/go"
wait "$peer"
is "$?" 0 "the request in flight at SIGTERM gets its FCGI_END_REQUEST"
out=$(cat "$TEST_TMP/drained.out")
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 100 1000)" "and its whole /orders body"
wait "$late"
is "$?" 3 "a connection made after SIGTERM is closed unanswered"
wait_until "! kill -0 $SUPERVISOR 2>/dev/null" 15
wait "$SUPERVISOR"
is "$?" 0 "the supervisor exits 0"
left=0
for pid in $workers; do kill -0 "$pid" 2>/dev/null && left=$((left + 1)); done
is "$left" 0 "and none of its workers ($workers) is left"

# SIGTERM with a request that never finishes: it is cut at the request
# timeout, and the supervisor does not wait for it any longer.
start_responder drain-stuck --workers 1 --request-timeout 2
wait_for_children 1 || bail_out "no worker started"
"$PEER" "$SOCKET" read 30 >/dev/null &
silent=$!
on_exit "kill $silent"
sleep 0.3
kill -TERM "$SUPERVISOR"
check "SIGTERM with a silent peer connected: the supervisor still exits (bounded by 15 s)" \
	wait_until "! kill -0 $SUPERVISOR 2>/dev/null" 15
wait "$silent"
is "$?" 3 "and the silent peer's connection is closed"

done_testing
