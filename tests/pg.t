#!/usr/bin/env bash
# pg.t: /orders from a throwaway PostgreSQL: byte-identical to SQLite, one query per request, 503 and recovery when it goes away.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/pg.sh"

on_exit pg_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
"$ROOT/scripts/seed-db" --postgres "$PG_TEST_URL" >/dev/null 2>"$TEST_TMP/seed.log"
is "$?" 0 "scripts/seed-db --postgres loads the rows"
check "and never prints the password" bash -c "! grep -q apipassword '$TEST_TMP/seed.log'"
is "$(pg_query 'SELECT count(*) FROM orders' ordersdb)" 10000 "10,000 rows in PostgreSQL"

DB=$(seeded_database)
stack_up DATABASE_URL="sqlite://$DB" WORKERS=2
SQLITE_URL=$BASE_URL
stack_up DATABASE_URL="$PG_TEST_URL" WORKERS=2
PG_URL=$BASE_URL
PG_STACK_DIR=$STACK_DIR

status=$(http GET "$PG_URL/orders")
is "$status" 200 "GET /orders from PostgreSQL is 200"
check "the PostgreSQL and SQLite bodies are byte-identical" cmp -s "$TEST_TMP/body" <(curl -s "$SQLITE_URL/orders")
is "$(cat "$TEST_TMP/body")" "$(expected_orders_json "$DB" 100 1000)" "and both are the contract's bytes for the seeded rows"
for page in "limit=1&offset=0" "limit=500&offset=9700" "limit=37&offset=4242" "offset=9999" "limit=5&offset=10000"; do
	check "page $page is identical on both stores" cmp -s <(curl -s "$PG_URL/orders?$page") <(curl -s "$SQLITE_URL/orders?$page")
done
for query in "limit=0" "limit=abc" "offset=-5" "limit=1&limit=1" "what=1"; do
	check "bad input $query: the same 400 on both stores" \
		cmp -s <(curl -s -w '%{http_code}' "$PG_URL/orders?$query") <(curl -s -w '%{http_code}' "$SQLITE_URL/orders?$query")
done

# N requests are N executions of the contract's query.
count_executions() {
	pg_query "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
	          WHERE d.datname = 'ordersdb' AND s.query LIKE 'SELECT id, customer_id, total_cents, status, created_at FROM orders LIMIT%'" ordersdb
}
before=$(count_executions)
for _ in $(seq 50); do curl -s -o /dev/null "$PG_URL/orders"; done
after=$(count_executions)
is "$((after - before))" 50 "50 requests ran the query 50 times (no caching)"
before=$(count_executions)
for query in "limit=0" "limit=501" "offset=x" "limit=1&limit=2" "sort=id"; do curl -s -o /dev/null "$PG_URL/orders?$query"; done
is "$(($(count_executions) - before))" 0 "bad pagination input never reaches the database"
# The page as PostgreSQL itself formats it, independently of the responder.
expected_pg_json() { # DATABASE
	pg_query "SELECT '[' || string_agg(format('{\"id\":%s,\"customer_id\":%s,\"total_cents\":%s,\"status\":\"%s\",\"created_at\":\"%s\"}',
		id, customer_id, total_cents, status, to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')), ',') || ']'
		FROM (SELECT id, customer_id, total_cents, status, created_at FROM orders LIMIT 100 OFFSET 1000) AS page" "$1"
}
before_update=$(curl -s "$PG_URL/orders")
pg_query "UPDATE orders SET status = 'refunded', total_cents = 4242 WHERE id BETWEEN 1001 AND 1003" ordersdb >/dev/null
after_update=$(curl -s "$PG_URL/orders")
check "rows changed in the database change the very next response" test "$after_update" != "$before_update"
is "$after_update" "$(expected_pg_json ordersdb)" "and it is exactly what the query returns now"

# Other ways to name the database.
keyword="host=127.0.0.1 port=$PG_TEST_PORT dbname=ordersdb user=apiuser password=apipassword"
out=$(env -i DATABASE_URL="$keyword" REQUEST_METHOD=GET REQUEST_URI=/orders "$RESPONDER")
is "${out#*$'\r\n\r\n'}" "$(curl -s "$PG_URL/orders")" "a libpq keyword string works"
dead_port=$(free_port)
multi="host=127.0.0.1,127.0.0.1 port=$dead_port,$PG_TEST_PORT dbname=ordersdb user=apiuser password=apipassword"
out=$(env -i DATABASE_URL="$multi" REQUEST_METHOD=GET REQUEST_URI=/orders "$RESPONDER")
is "${out#*$'\r\n\r\n'}" "$(curl -s "$PG_URL/orders")" "a multi-host string whose first host is down works"
out=$(env -i DATABASE_URL="postgres://apiuser:apipassword@127.0.0.1:$PG_TEST_PORT/ordersdb" REQUEST_METHOD=GET REQUEST_URI='/orders?limit=2&offset=0' "$RESPONDER")
like "$out" '^Status: 200 OK' "postgres:// works too"
err=$(env -i DATABASE_URL="postgresql://apiuser:wrongsecret@127.0.0.1:$PG_TEST_PORT/ordersdb" REQUEST_METHOD=GET REQUEST_URI=/orders "$RESPONDER" 2>&1 >"$TEST_TMP/out")
like "$(head -n1 "$TEST_TMP/out")" '^Status: 503' "a wrong password: 503"
check "and the log does not show it" test "${err/wrongsecret/}" == "$err"

# The database goes away: 503 quickly, / still answers, no worker exits; it comes back: served again.
workers_before=$(STACK_DIR=$PG_STACK_DIR worker_pids | sort | tr '\n' ' ')
pg_stop_server fast >/dev/null
out=$(curl -s -w ' %{http_code} %{time_total}' "$PG_URL/orders")
like "$out" '^\{"error":"database unavailable"\} 503 ' "database stopped: /orders is 503 JSON"
check "within 2 s ($(echo "$out" | awk '{print $NF}') s)" awk -v t="$(echo "$out" | awk '{print $NF}')" 'BEGIN { exit !(t < 2.5) }'
is "$(curl -s -w ' %{http_code}' "$PG_URL/")" '{"message":"Hello, World!"} 200' "database stopped: / is still 200"
is "$(curl -s -w ' %{http_code}' "$PG_URL/health")" '{"status":"unavailable"} 503' "database stopped: /health is 503"
failures=0
for _ in $(seq 20); do [[ $(curl -s -o /dev/null -w '%{http_code}' "$PG_URL/orders") == 503 ]] || failures=$((failures + 1)); done
is "$failures" 0 "20 more requests while it is down: all 503, none hangs or fails otherwise"
pg_start_server >/dev/null
# Each worker tries again after its back-off (100 ms doubling to 5 s, a
# quarter of jitter), answering 503 at once meanwhile.
# Until anything but 503: it must be a 200.
wait_until 'status=$(curl -s -o /dev/null -w "%{http_code}" "$PG_URL/orders"); [[ "$status" != 503 ]]' 10
is "$status" 200 "database back: served again within the back-off (at most 6.25 s), only 503 before"
sleep 6.5 # every worker's back-off has run out
failures=0
for _ in $(seq 20); do [[ $(curl -s -o /dev/null -w '%{http_code}' "$PG_URL/orders") == 200 ]] || failures=$((failures + 1)); done
is "$failures" 0 "and the next 20 too, without restarting anything"
is "$(STACK_DIR=$PG_STACK_DIR worker_pids | sort | tr '\n' ' ')" "$workers_before" "no worker exited or was replaced"
is "$(curl -s -w ' %{http_code}' "$PG_URL/health")" '{"status":"ok"} 200' "/health is ok again"

# A database that hangs (SIGSTOP) costs about 2 s, not forever.
# The postmaster and its backends (ours among them) stop answering.
cluster_pids=$(echo "$(pg_server_pid)" $(pgrep -P "$(pg_server_pid)"))
kill -STOP $cluster_pids
on_exit "kill -CONT $cluster_pids"
out=$(curl -s -w ' %{http_code} %{time_total}' --max-time 10 "$PG_URL/orders")
like "$out" '^\{"error":"database unavailable"\} 503 ' "a hung database: 503"
check "after about 2 s ($(echo "$out" | awk '{print $NF}') s)" awk -v t="$(echo "$out" | awk '{print $NF}')" 'BEGIN { exit !(t < 4.5) }'
kill -CONT $cluster_pids
sleep 0.2
ok_after=0
for _ in $(seq 5); do [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$PG_URL/orders") == 200 ]] && ok_after=$((ok_after + 1)); done
is "$ok_after" 5 "it resumes: served again"

# A query error is a JSON error with the detail in the log, not a crash.
pg_query "ALTER TABLE orders RENAME TO orders_away" ordersdb >/dev/null
out=$(curl -s -w ' %{http_code}' "$PG_URL/orders")
like "$out" '^\{"error":"[a-z ]+"\} (500|503)$' "the table gone: a JSON error ($out)"
pg_query "ALTER TABLE orders_away RENAME TO orders" ordersdb >/dev/null
is "$(curl -s -o /dev/null -w '%{http_code}' "$PG_URL/orders")" 200 "the table back: served again"
is "$(STACK_DIR=$PG_STACK_DIR worker_pids | sort | tr '\n' ' ')" "$workers_before" "still no worker replaced"
check "the password never reached the log" bash -c "! grep -q apipassword '$PG_STACK_DIR/stack.log'"
check "the log shows libpq's reading, password masked" grep -q 'user=apiuser password=\*\*\*\* dbname=ordersdb' "$PG_STACK_DIR/stack.log"

# The benchmark's own kind of data (random rows, its schema) is served as it comes.
pg_query "CREATE DATABASE benchdb OWNER apiuser" >/dev/null
pg_query "CREATE TABLE orders (id SERIAL PRIMARY KEY, customer_id INTEGER NOT NULL, total_cents INTEGER NOT NULL,
	status VARCHAR(50) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT NOW());
	INSERT INTO orders (customer_id, total_cents, status, created_at)
	SELECT (random() * 1000)::int + 1, (random() * 99900)::int + 100,
	       (ARRAY['pending','processing','completed','cancelled','refunded'])[(random() * 4)::int + 1],
	       NOW() - (random() * INTERVAL '365 days') FROM generate_series(1, 10000);
	GRANT SELECT ON orders TO apiuser" benchdb >/dev/null
expected=$(expected_pg_json benchdb)
out=$(env -i DATABASE_URL="postgresql://apiuser:apipassword@127.0.0.1:$PG_TEST_PORT/benchdb" REQUEST_METHOD=GET REQUEST_URI=/orders "$RESPONDER")
is "${out#*$'\r\n\r\n'}" "$expected" "rows loaded the benchmark's way (random, now()) are served exactly"

done_testing
