#!/usr/bin/env bash
# pg-async.t: PostgreSQL answered inside the worker's event loop: a hung, refusing, locked or crowded database never starves the rest, reconnection backs off, schema and time-zone changes are served, and several queries are in flight on one connection.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/pg.sh"

FAKE="$ROOT/tests/lib/fake-postgres"
# hammer N URI: N clients asking for URI over and over; HAMMERS holds their pids.
hammer() {
	local client
	HAMMERS=()
	for client in $(seq "$1"); do
		(while :; do fcgi_get "$SOCKET" "$2" >/dev/null 2>&1; sleep 0.02; done) &
		HAMMERS+=($!)
		on_exit "kill $!"
	done
}
stop_hammers() {
	kill "${HAMMERS[@]}" 2>/dev/null
	wait "${HAMMERS[@]}" 2>/dev/null
}
answers_hello() {
	[[ "$(fcgi_get "$SOCKET" / | tail -c 27)" == '{"message":"Hello, World!"}' ]]
}
# time_hellos COUNT: COUNT sequential GET /; sets ANSWERED and SLOWEST (ms).
time_hellos() {
	local started elapsed
	SLOWEST=0 ANSWERED=0
	for _ in $(seq "$1"); do
		started=$(millis)
		answers_hello && ANSWERED=$((ANSWERED + 1))
		elapsed=$(($(millis) - started))
		((elapsed > SLOWEST)) && SLOWEST=$elapsed
	done
}
wait_until_serving() { # up to 10 s for GET / to be answered
	wait_until answers_hello 10
}

# A database that accepts connections and never answers: GET / is answered
# at once however many /orders wait on it, with one worker or two.
for workers in 1 2; do
	port=$(free_port) || bail_out "no free port"
	"$FAKE" silent "$port" "$TEST_TMP/hung-$workers.count" &
	on_exit "kill $!"
	wait_for_port 127.0.0.1 "$port" || bail_out "fake-postgres did not listen"
	export DATABASE_URL="postgresql://apiuser:apipassword@127.0.0.1:$port/ordersdb?sslmode=disable&gssencmode=disable"
	start_responder "hung-$workers" --workers "$workers"
	wait_until_serving || bail_out "the responder on a hung database did not start serving"
	hammer 4 /orders
	sleep 0.5
	time_hellos 200
	out=$(fcgi_get "$SOCKET" /orders)
	stop_hammers
	is "$ANSWERED" 200 "hung database, $workers worker(s), 4 clients on /orders: 200 sequential GET / all answered"
	check "... each in well under the query deadline (slowest $SLOWEST ms; asserted under 1000)" test "$SLOWEST" -lt 1000
	like "$out" $'^Status: 503 Service Unavailable\r\n.*"database unavailable"' "... and /orders itself is a 503"
done

# A database that refuses (accepts and closes at once): over 5 s of /orders
# load, the connection attempts are bounded by the back-off, not by the
# requests, and the log says so once, not once a request.
port=$(free_port) || bail_out "no free port"
"$FAKE" refuse "$port" "$TEST_TMP/refuse.count" &
on_exit "kill $!"
wait_for_port 127.0.0.1 "$port" || bail_out "fake-postgres did not listen"
export DATABASE_URL="postgresql://apiuser:apipassword@127.0.0.1:$port/ordersdb?sslmode=disable&gssencmode=disable"
start_responder refuse --workers 2
wait_until_serving || bail_out "the responder on a refusing database did not start serving"
before=$(wc -l <"$TEST_TMP/refuse.count")
hammer 4 /orders
sleep 5
stop_hammers
attempts=$(($(wc -l <"$TEST_TMP/refuse.count") - before))
served=$(grep -c . "$LOG")
diag "refusing database: $attempts connection attempts in 5 s of load by 2 workers; $served log lines"
check "connection attempts stay bounded by the back-off ($attempts; at most 10 per worker)" test "$attempts" -le 20
check "... and the log is not one line per request ($served lines)" test "$served" -lt 30
check "the log says it backs off" grep -q 'unavailable: .*retrying with back-off' "$LOG"
kill -TERM "$SUPERVISOR"

# The real thing from here on.
on_exit pg_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
"$ROOT/scripts/seed-db" --postgres "$PG_TEST_URL" >/dev/null 2>&1 || bail_out "seed-db --postgres failed"
DB=$(seeded_database)
EXPECTED=$(expected_orders_json "$DB" 100 1000)
get_body() { # URI: the body of GET URI on the responder's socket (body_of reads a file)
	local answer
	answer=$(fcgi_get "$SOCKET" "$1")
	printf '%s' "${answer#*$'\r\n\r\n'}"
}
fatal_lines() {
	grep -c 'FATAL' "$PG_TEST_DIR/server.log" || true
}

# A wrong password: PostgreSQL's log gets a FATAL per attempt, so attempts
# must follow the back-off, not the requests.
export DATABASE_URL="postgresql://apiuser:wrongsecret@127.0.0.1:$PG_TEST_PORT/ordersdb"
start_responder wrong-password --workers 2
wait_until_serving || bail_out "the responder with a wrong password did not start serving"
before=$(fatal_lines)
hammer 4 /orders
sleep 5
stop_hammers
fatals=$(($(fatal_lines) - before))
diag "wrong password: $fatals FATAL lines in PostgreSQL's log in 5 s of load by 2 workers"
check "a wrong password: PostgreSQL's FATAL lines stay bounded by the back-off ($fatals; at most 10 per worker)" \
	test "$fatals" -le 20
check "and the password is in no log line" bash -c "! grep -q wrongsecret '$LOG'"
kill -TERM "$SUPERVISOR"

export DATABASE_URL=$PG_TEST_URL
# One worker, 16 /orders at once: all answered, byte for byte, with more
# than one query in flight on its one connection (the worker says so
# when it stops).
start_responder pipeline --workers 1
wait_until_serving || bail_out "the responder did not start serving"
clients=()
for client in $(seq 16); do
	get_body /orders >"$TEST_TMP/concurrent-$client" &
	clients+=($!)
done
wait "${clients[@]}"
same=0
for client in $(seq 16); do
	[[ "$(cat "$TEST_TMP/concurrent-$client")" == "$EXPECTED" ]] && same=$((same + 1))
done
is "$same" 16 "one worker, 16 concurrent /orders: all 16 answered with the contract's bytes"
hammer 16 /orders
sleep 2
stop_hammers
kill -TERM "$SUPERVISOR"
wait_for_log "$LOG" 'at most [0-9]+ in flight at once' || true
most=$(sed -n 's/.*at most \([0-9]*\) in flight at once.*/\1/p' "$LOG" | sort -n | tail -n1)
diag "$(grep 'in flight at once' "$LOG")"
check "... and more than one query was in flight at once on its connection (at most ${most:-?})" \
	test "${most:-0}" -gt 1

# The schema changes under a running worker: the plans cached for the old
# column types are prepared again, and the next request is served.
start_responder schema --workers 1
wait_until_serving || bail_out "the responder did not start serving"
is "$(get_body /orders)" "$EXPECTED" "before the change: the contract's bytes"
pg_query 'ALTER TABLE orders ALTER COLUMN total_cents TYPE bigint' >/dev/null
is "$(get_body /orders)" "$EXPECTED" "ALTER TABLE ... total_cents TYPE bigint: the next /orders is 200 with the same bytes"
pg_query 'ALTER TABLE orders ALTER COLUMN status TYPE varchar(100)' >/dev/null
is "$(get_body /orders)" "$EXPECTED" "ALTER TABLE ... status TYPE varchar(100): the same"
# The queries of one turn of the loop go out as one batch: a type changed
# under them fails the first and aborts the rest of its batch, and each of
# them is run again. The worker is stopped while 8 requests queue up, so
# that it takes them in one turn, after the change.
worker=$(children | head -n1)
kill -STOP "$worker"
clients=()
for client in $(seq 8); do
	get_body /orders >"$TEST_TMP/under-alter-$client" &
	clients+=($!)
done
sleep 0.3
pg_query 'ALTER TABLE orders ALTER COLUMN total_cents TYPE integer' >/dev/null
kill -CONT "$worker"
wait "${clients[@]}"
same=0
for client in $(seq 8); do
	[[ "$(cat "$TEST_TMP/under-alter-$client")" == "$EXPECTED" ]] && same=$((same + 1))
done
is "$same" 8 "8 /orders in one batch on statements the type change made stale: all 8 answered with the contract's bytes"
# Types the binary result format does not read (numeric here) are read as text.
pg_query 'ALTER TABLE orders ALTER COLUMN total_cents TYPE numeric' >/dev/null
is "$(get_body /orders)" "$EXPECTED" "ALTER TABLE ... total_cents TYPE numeric: the same bytes, read as text"
pg_query 'ALTER TABLE orders ALTER COLUMN total_cents TYPE integer' >/dev/null
# The server ends a session under a query in flight (what a restart or
# pg_terminate_backend does: FATAL 57P01): the query is sent again on a
# new connection, not answered 500. A lock holds it in flight meanwhile.
pg_query 'BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1); COMMIT' >/dev/null &
locker=$!
sleep 0.3
fcgi_get "$SOCKET" /orders >"$TEST_TMP/terminated" &
asker=$!
sleep 0.3
terminated=$(pg_query "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'apiuser' AND wait_event_type = 'Lock'" 2>/dev/null || true)
wait "$locker" "$asker"
is "$(head -n1 "$TEST_TMP/terminated" | tr -d '\r')${terminated:+ (terminated $terminated)}" "Status: 200 OK (terminated 1)" \
	"a backend terminated under a query in flight: the query is run again on a new connection, 200"
is "$(get_body /health)" '{"status":"ok"}' "/health is ok"
pg_query 'ALTER TABLE orders RENAME TO orders_away' >/dev/null
like "$(fcgi_get "$SOCKET" /health)" $'^Status: 503 .*\\{"status":"unavailable"\\}$' \
	"the orders table gone: /health is 503 on PostgreSQL"
pg_query 'ALTER TABLE orders_away RENAME TO orders' >/dev/null
is "$(get_body /health)" '{"status":"ok"}' "and ok again once it is back"

# A timestamptz column and a role whose time zone is Europe/Berlin: the
# session runs in UTC, so the bytes are those of the timestamp column.
pg_query "ALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC'" >/dev/null
pg_query "ALTER ROLE apiuser SET timezone = 'Europe/Berlin'" >/dev/null
is "$(PGPASSWORD=apipassword psql -X -At -h 127.0.0.1 -p "$PG_TEST_PORT" -U apiuser ordersdb -c 'SHOW timezone')" \
	Europe/Berlin "the role's own sessions are in Europe/Berlin"
kill -HUP "$SUPERVISOR" # new workers, new connections: the role's setting applies to them
wait_for_log "$LOG" 'in flight at once, [0-9]+ run again' || true
again=$(sed -n 's/.* \([0-9]*\) run again.*/\1/p' "$LOG" | head -n1)
check "... each of the 8 was run once more (the worker ran ${again:-?} again: 1 stale, 7 aborted with it, 1 read as text)" \
	test "${again:-0}" -ge 9
sleep 1
is "$(get_body /orders)" "$EXPECTED" "timestamptz column, role time zone Europe/Berlin: bytes identical to the timestamp column's"
kill -TERM "$SUPERVISOR"

# More workers than the server takes connections (32 against 10, three
# of them reserved for superusers): the workers that connected serve,
# the others answer 503 at once, and neither log is flooded.
pg_query "ALTER SYSTEM SET max_connections = 10" >/dev/null
pg_stop_server fast >/dev/null
pg_start_server >/dev/null || bail_out "PostgreSQL did not restart"
fatal_before=$(fatal_lines)
export DATABASE_URL=$PG_TEST_URL
start_responder crowd --workers 32
wait_for_children 32 || bail_out "32 workers did not start"
wait_until_serving || bail_out "the crowded responder did not start serving"
# 8 clients at once, so that the kernel hands connections to many of the
# workers, 40 requests each; each line: status and milliseconds.
clients=()
for client in $(seq 8); do
	(
		for _ in $(seq 40); do
			started=$(millis)
			status=$(fcgi_get "$SOCKET" /orders | head -n1 | cut -d' ' -f2)
			echo "$status $(($(millis) - started))"
		done
	) >"$TEST_TMP/crowd-$client" &
	clients+=($!)
done
wait "${clients[@]}"
read -r ok unavailable other slowest_503 < <(cat "$TEST_TMP"/crowd-* | awk '
	$1 == 200 { ok++; next }
	$1 == 503 { unavailable++; if ($2 > slowest) slowest = $2; next }
	{ other++ }
	END { printf "%d %d %d %d\n", ok, unavailable, other, slowest }')
connections=$(pg_query "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'webapi-fcgi'")
diag "32 workers, max_connections 10: $ok answered 200, $unavailable 503 (slowest $slowest_503 ms), $other otherwise; $connections connections held; $(grep -c . "$LOG") log lines, $(($(fatal_lines) - fatal_before)) FATAL lines in PostgreSQL's"
check "32 workers against max_connections 10: requests are served ($ok of 320)" test "$ok" -gt 0
is "$other" 0 "... every answer is a 200 or a 503"
check "... and a 503 comes at once (slowest $slowest_503 ms; asserted under 1000)" test "$slowest_503" -lt 1000
check "... with at most 7 connections held ($connections)" test "$connections" -le 7
check "... and a log of fewer than 150 lines for 32 workers ($(grep -c . "$LOG"))" test "$(grep -c . "$LOG")" -lt 150
kill -TERM "$SUPERVISOR"
pg_query "ALTER SYSTEM RESET max_connections" >/dev/null
pg_stop_server fast >/dev/null
pg_start_server >/dev/null || bail_out "PostgreSQL did not restart"

# The embedded store's /health reads the orders table too.
export DATABASE_URL="sqlite://$DB"
start_responder sqlite-health --workers 1
wait_until_serving || bail_out "the SQLite responder did not start serving"
is "$(get_body /health)" '{"status":"ok"}' "SQLite: /health is ok"
# A worker holds a shared lock on the file it opened (locking_mode
# EXCLUSIVE): a writer in place is refused, the worker goes on.
sqlite3 "$DB" 'DROP TABLE orders' 2>"$TEST_TMP/drop.err"
dropped=$?
check "SQLite: DROP TABLE in place while the file is served is refused (sqlite3 exits $dropped)" test "$dropped" -ne 0
like "$(cat "$TEST_TMP/drop.err")" "database is locked" "... as locked"
is "$(get_body /health)" '{"status":"ok"}' "... and /health is still ok"
# A file without the table moved into place (as scripts/seed-db moves
# its new file), then SIGHUP: the new worker opens it.
cp "$DB" "$DB.new" && sqlite3 "$DB.new" 'DROP TABLE orders' && mv -f "$DB.new" "$DB"
kill -HUP "$SUPERVISOR"
wait_until '[[ "$(fcgi_get "$SOCKET" /health)" == "Status: 503"* ]]' 5
like "$(fcgi_get "$SOCKET" /health)" $'^Status: 503 .*\\{"status":"unavailable"\\}$' \
	"SQLite: a file without the orders table, after SIGHUP: /health is 503"
is "$(fcgi_get "$SOCKET" / | tail -c 27)" '{"message":"Hello, World!"}' "and / is still answered"

# A locked SQLite file costs a request at most about 100 ms (the busy
# timeout), and never holds GET / back longer than that. A worker keeps
# its shared lock once it has the file open, so the file is locked
# before a new worker (SIGHUP) opens it.
DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"
start_responder sqlite-locked --workers 1
wait_until_serving || bail_out "the SQLite responder did not start serving"
cp "$DB" "$DB.new" && mv -f "$DB.new" "$DB"
(
	echo 'BEGIN EXCLUSIVE;'
	sleep 30
	echo 'COMMIT;'
) | sqlite3 "$DB" &
locker=$!
on_exit "kill $locker"
sleep 0.5
kill -HUP "$SUPERVISOR"
sleep 0.5
hammer 4 /orders
sleep 0.3
time_hellos 50
started=$(millis)
out=$(fcgi_get "$SOCKET" /orders)
orders_ms=$(($(millis) - started))
stop_hammers
pkill -P "$locker"
kill "$locker" 2>/dev/null
is "$ANSWERED" 50 "a locked SQLite file, 4 clients on /orders: 50 sequential GET / answered"
check "... the slowest in $SLOWEST ms (asserted under 1000; 2 s and more before)" test "$SLOWEST" -lt 1000
like "$out" '^Status: 503 ' "... and /orders is a 503"
check "... within about the 100 ms busy timeout ($orders_ms ms; asserted under 1000)" test "$orders_ms" -lt 1000

done_testing
