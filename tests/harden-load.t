#!/usr/bin/env bash
# harden-load.t: faults under load on the loopback: a worker SIGKILLed every second under wrk, and PostgreSQL restarted under load.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/pg.sh"

KILLS=10
DB=$(seeded_database)
stack_up DATABASE_URL="sqlite://$DB" WORKERS=2

# wrk_failures FILE: the requests wrk saw fail: non-2xx answers plus
# socket errors (connect, read, write, timeout).
wrk_failures() {
	local non2xx errors
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$1")
	errors=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$1")
	echo $((${non2xx:-0} + ${errors:-0}))
}
wrk_summary() { # FILE
	grep -E 'requests in|Non-2xx|Socket errors' "$1" | sed 's/^ *//' | tr '\n' ';'
}
two_workers_without() { # KILLED-PID
	local now
	now=$(worker_pids)
	[[ $(wc -w <<<"$now") -eq 2 && " $(echo $now) " != *" $1 "* ]]
}
workers_back() { # KILLED-PID: up to 5 s for 2 workers, the killed one not among them
	wait_until "two_workers_without $1" 5
}

# A worker SIGKILLed every second for 10 s under wrk -t2 -c20 on /orders:
# only what the killed worker had in flight may fail.
wrk -t2 -c20 -d12s --timeout 5s "$BASE_URL/orders" >"$TEST_TMP/kills.wrk" 2>&1 &
load=$!
on_exit "kill $load"
sleep 1
back=0
for round in $(seq "$KILLS"); do
	started=$SECONDS
	victim=$(worker_pids | shuf -n1)
	kill -KILL "$victim"
	if workers_back "$victim"; then
		back=$((back + 1))
	else
		diag "round $round: the worker count did not come back after killing $victim"
	fi
	sleep 0.$((RANDOM % 5 + 5))
done
wait "$load"
failed=$(wrk_failures "$TEST_TMP/kills.wrk")
diag "wrk under $KILLS kills: $(wrk_summary "$TEST_TMP/kills.wrk")"
diag "failed requests: $failed in all, $(awk -v f="$failed" -v k="$KILLS" 'BEGIN { printf "%.1f", f / k }') per kill"
is "$back" "$KILLS" "after each of the $KILLS kills, 2 workers run again"
check "at most 2 failed requests per kill (the killed worker's own): $failed for $KILLS kills" \
	test "$failed" -le $((2 * KILLS))
check "wrk got answers throughout" grep -qE '^ +[0-9]+ requests in' "$TEST_TMP/kills.wrk"
is "$(grep -c 'killed by signal 9' "$STACK_DIR/stack.log")" "$KILLS" "the supervisor logged each of the $KILLS deaths"

# PostgreSQL stopped for 3 s under load and started again: while it is
# down /orders is 503, nothing else (a curl loop classifies every answer
# beside wrk's load); afterwards 200 again, and no worker was replaced.
on_exit pg_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
"$ROOT/scripts/seed-db" --postgres "$PG_TEST_URL" >/dev/null 2>&1 || bail_out "cannot load the rows into PostgreSQL"
stack_up DATABASE_URL="$PG_TEST_URL" WORKERS=2
workers_before=$(worker_pids | sort | tr '\n' ' ')
statuses="$TEST_TMP/pg.statuses"
: >"$statuses"
wrk -t2 -c20 -d14s --timeout 5s "$BASE_URL/orders" >"$TEST_TMP/pg.wrk" 2>&1 &
load=$!
on_exit "kill $load"
(while [[ ! -e "$TEST_TMP/stop-curl" ]]; do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$BASE_URL/orders" >>"$statuses"
done) &
classifier=$!
on_exit "kill $classifier"
sleep 3
echo "# stopping" >>"$statuses"
pg_stop_server fast >/dev/null
echo "# stopped" >>"$statuses"
sleep 3
echo "# starting" >>"$statuses"
pg_start_server >/dev/null
echo "# started" >>"$statuses"
# Each worker tries the database again once its back-off (at most 5 s
# and a quarter of jitter) has run out, answering 503 at once meanwhile.
sleep 6.5
echo "# backed off" >>"$statuses"
sleep 3
touch "$TEST_TMP/stop-curl"
wait "$classifier"
wait "$load"

codes() { grep -v '^#' "$statuses"; }
while_down() { sed -n '/^# stopped$/,/^# starting$/p' "$statuses" | grep -v '^#'; }
after_start() { sed -n '/^# started$/,$p' "$statuses" | grep -v '^#'; }
after_backoff() { sed -n '/^# backed off$/,$p' "$statuses" | grep -v '^#'; }
diag "curl statuses: $(codes | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')"
diag "while down: $(while_down | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')"
diag "after the start: $(after_start | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')"
diag "wrk beside it: $(wrk_summary "$TEST_TMP/pg.wrk")"
is "$(codes | grep -cvxE '200|503')" 0 "every answer during the restart was 200 or 503 ($(codes | wc -l) answers)"
check "503 while PostgreSQL was down ($(while_down | grep -cx 503) of $(while_down | wc -l))" \
	test "$(while_down | grep -cx 503)" -gt 0
is "$(while_down | grep -cvx 503)" 0 "and nothing but 503 while it was down"
first_ok=$(after_start | grep -nx 200 | head -n1 | cut -d: -f1)
check "200 again after the start" test -n "$first_ok"
is "$(after_backoff | grep -cvx 200)" 0 "and only 200 once every worker's back-off has run out ($(after_backoff | wc -l) answers)"
check "... of which there were some" test "$(after_backoff | wc -l)" -gt 0
is "$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$TEST_TMP/pg.wrk")" "" \
	"wrk saw no socket error (no connection dropped)"
is "$(worker_pids | sort | tr '\n' ' ')" "$workers_before" "no worker crashed or was replaced"

done_testing
