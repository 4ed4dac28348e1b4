#!/usr/bin/env bash
# pg-pgbouncer.t: three backend hosts (127.0.0.2-4, 2 workers each) behind one nginx, through PgBouncer in transaction pooling mode (default_pool_size 4) with PG_STATEMENTS=unnamed: no errors, the direct connection's bytes, one execution per request, at most 4 server connections for 6 workers; and with no PG_STATEMENTS (pool 2, 4 workers, 20 clients), 0 failed and the same bytes.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/fronts.sh"
source "$ROOT/tests/lib/pg.sh"
source "$ROOT/tests/lib/pgbouncer.sh"

on_exit pg_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
"$ROOT/scripts/seed-db" --postgres "$PG_TEST_URL" >/dev/null 2>&1 || bail_out "seed-db --postgres failed"
pgbouncer_start 4 || bail_out "cannot start PgBouncer"

# cgi URI [VAR=VALUE...]: the body of one CGI request (the blocking path).
cgi() {
	local answer query="" uri=$1
	shift
	[[ "$uri" == *\?* ]] && query=${uri#*\?}
	answer=$(env -i PATH="$PATH" "$@" REQUEST_METHOD=GET REQUEST_URI="$uri" QUERY_STRING="$query" "$RESPONDER")
	printf '%s' "${answer#*$'\r\n\r\n'}"
}
# The reference: straight to PostgreSQL, named statements (the default).
DIRECT=$(cgi /orders DATABASE_URL="$PG_TEST_URL")
is "$DIRECT" "$(expected_orders_json "$(seeded_database)" 100 1000)" "direct to PostgreSQL: /orders is the contract's bytes"
DIRECT_PAGE=$(cgi '/orders?limit=7&offset=42' DATABASE_URL="$PG_TEST_URL")
is "$(cgi /orders DATABASE_URL="$PGBOUNCER_URL" PG_STATEMENTS=unnamed)" "$DIRECT" \
	"CGI mode through PgBouncer with PG_STATEMENTS=unnamed: the same bytes"
is "$(cgi '/orders?limit=7&offset=42' DATABASE_URL="$PGBOUNCER_URL" PG_STATEMENTS=unnamed)" "$DIRECT_PAGE" \
	"... and for a page with parameters"
for _ in 1 2 3; do
	is "$(cgi /orders DATABASE_URL="$PGBOUNCER_URL" 2>>"$TEST_TMP/cgi.log")" "$DIRECT" \
		"CGI mode through PgBouncer with no PG_STATEMENTS: the same bytes"
done
check "... and no failure logged" bash -c "! grep -E 'unavailable|query failed' '$TEST_TMP/cgi.log'"

HOSTS=(127.0.0.2 127.0.0.3 127.0.0.4)
# One port free on all three addresses, as on three machines set up alike.
for _ in $(seq 20); do
	PORT=$(free_port 127.0.0.2) || bail_out "no free port"
	(exec 3<>"/dev/tcp/127.0.0.3/$PORT") 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.4/$PORT") 2>/dev/null || break
done
for host in "${HOSTS[@]}"; do
	FCGI_WEB_SERVER_ADDRS=127.0.0.1 DATABASE_URL=$PGBOUNCER_URL PG_STATEMENTS=unnamed \
		"$RESPONDER" --listen "$host:$PORT" --workers 2 2>>"$TEST_TMP/backend-$host.log" &
	supervisor=$!
	echo "$supervisor" >"$TEST_TMP/backend-$host.pid"
	on_exit "kill -TERM $supervisor"
	wait_for_port "$host" "$PORT" || bail_out "the backend on $host did not listen: $(cat "$TEST_TMP/backend-$host.log")"
done

NGINX_PORT=$(free_port) || bail_out "no free port"
mkdir -p "$TEST_TMP/nginx"
cat >"$TEST_TMP/nginx/site.conf" <<EOF
upstream webapi {
	server 127.0.0.2:$PORT;
	server 127.0.0.3:$PORT;
	server 127.0.0.4:$PORT;
}
server {
	listen 127.0.0.1:$NGINX_PORT;
	location / {
		include fastcgi_params;
		# A connection per request, which the kernel hands to either
		# worker of a host: all 6 serve.
		fastcgi_pass webapi;
	}
}
EOF
start_nginx "$TEST_TMP/nginx" "$NGINX_PORT"
URL="http://127.0.0.1:$NGINX_PORT"

ORDERS_QUERY="query LIKE 'SELECT id, customer_id, total_cents, status, created_at FROM orders%'"
executions() {
	pg_query "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE $ORDERS_QUERY"
}
# The connections PgBouncer holds to PostgreSQL (it logs in as apiuser;
# this test's own psql is the superuser).
server_connections() {
	pg_query "SELECT count(*) FROM pg_stat_activity WHERE usename = 'apiuser' AND datname = 'ordersdb'"
}

is "$(curl -s --max-time 10 "$URL/orders")" "$DIRECT" "through nginx and PgBouncer: the direct connection's bytes"
is "$(curl -s --max-time 10 "$URL/orders?limit=7&offset=42")" "$DIRECT_PAGE" "... and for a page with parameters"

# 1,200 /orders, 12 at a time over kept connections, each body to a file;
# meanwhile pg_stat_activity is sampled every 50 ms.
REQUESTS=1200
mkdir -p "$TEST_TMP/bodies"
for i in $(seq "$REQUESTS"); do
	printf 'url = "%s/orders"\noutput = "%s/bodies/%d"\n' "$URL" "$TEST_TMP" "$i"
done >"$TEST_TMP/load.conf"
# The workers' connections to PgBouncer, seen from its side.
client_connections() {
	ss -Htn state established "( sport = :$PGBOUNCER_PORT )" | grep -c ''
}
(while :; do echo "$(server_connections) $(client_connections)"; sleep 0.05; done) >"$TEST_TMP/samples" 2>/dev/null &
sampler=$!
on_exit "kill $sampler"
before=$(executions)
started=$(date +%s%3N)
curl -s --no-progress-meter --parallel --parallel-max 12 --max-time 10 -w '%{http_code}\n' -K "$TEST_TMP/load.conf" >"$TEST_TMP/codes"
elapsed=$(($(date +%s%3N) - started))
kill "$sampler"
wait "$sampler" 2>/dev/null
ran=$(($(executions) - before))
most=$(cut -d' ' -f1 "$TEST_TMP/samples" | sort -n | tail -n 1)
clients=$(cut -d' ' -f2 "$TEST_TMP/samples" | sort -n | uniq | xargs)
diag "$REQUESTS /orders in $elapsed ms; $(grep -c '' "$TEST_TMP/samples") samples: at most ${most:-?} server connections in pg_stat_activity, clients of PgBouncer: ${clients:-?}"
is "$(grep -c '' "$TEST_TMP/codes") $(grep -vcx 200 "$TEST_TMP/codes")" "$REQUESTS 0" "$REQUESTS requests through 3 hosts and PgBouncer: 0 errors"
same=0
for body in "$TEST_TMP"/bodies/*; do
	[[ "$(cat "$body")" == "$DIRECT" ]] && same=$((same + 1))
done
is "$same" "$REQUESTS" "... every body byte-identical to the direct connection's"
is "$ran" "$REQUESTS" "... one execution per request (pg_stat_statements)"
check "... with at most 4 server connections seen in pg_stat_activity (${most:-none})" \
	test -n "$most" -a "${most:-9}" -ge 1 -a "${most:-9}" -le 4
is "$clients" 6 "... while the 6 workers each held their connection to PgBouncer"

# Each worker says, when it stops, how many queries it had answered.
for host in "${HOSTS[@]}"; do
	kill -TERM "$(cat "$TEST_TMP/backend-$host.pid")"
done
for host in "${HOSTS[@]}"; do
	wait "$(cat "$TEST_TMP/backend-$host.pid")"
done
counts=$(cat "$TEST_TMP"/backend-*.log | sed -n 's/.*: \([0-9]*\) queries answered.*/\1/p' | xargs)
diag "queries answered per worker: $counts"
is "$(echo "$counts" | wc -w)" 6 "each of the 6 workers served"
is "$(($(echo "$counts" | tr ' ' '+')))" "$((REQUESTS + 2))" "... and together they answered the $REQUESTS and the 2 before, no more"

most_in_flight=$(cat "$TEST_TMP"/backend-*.log | sed -n 's/.*at most \([0-9]*\) in flight at once.*/\1/p' | sort -n | tail -n 1)
check "pipelining through PgBouncer: some worker had more than one query in flight (at most ${most_in_flight:-?})" \
	test "${most_in_flight:-0}" -gt 1
check "and the workers logged no failure" bash -c "! grep -E 'unavailable|query failed' '$TEST_TMP'/backend-*.log"
check "nor did PgBouncer" bash -c "! grep -E 'ERROR|WARNING|FATAL' '$PGBOUNCER_DIR/pgbouncer.log'"

# The default settings (no PG_STATEMENTS) through PgBouncer in transaction
# mode with a pool of 2: the workers' named statements meet server
# connections that lack them or have them already; each connection goes on
# unnamed, and the query is run again, so that no client sees it. 4
# workers behind lighttpd, 20 curl clients for 6 s.
pgbouncer_start 2 || bail_out "cannot start a second PgBouncer"
stack_up DATABASE_URL="$PGBOUNCER_URL" WORKERS=4
mkdir -p "$TEST_TMP/default"
awk -v url="$BASE_URL/orders" -v dir="$TEST_TMP/default" \
	'BEGIN { for (i = 0; i < 100000; i++) printf "url = \"%s\"\noutput = \"%s/%d\"\n", url, dir, i }' \
	>"$TEST_TMP/default.conf"
timeout -s INT 6 stdbuf -oL curl -s --no-progress-meter --parallel --parallel-max 20 --max-time 3 \
	-w '%{http_code} %{filename_effective}\n' -K "$TEST_TMP/default.conf" >"$TEST_TMP/default-codes"
sent=$(grep -c '' "$TEST_TMP/default-codes")
failed=$(grep -vc '^200 ' "$TEST_TMP/default-codes")
diag "PG_STATEMENTS unset, PgBouncer pool 2, 4 workers, 20 clients for 6 s: $failed of $sent failed ($(cut -d' ' -f1 "$TEST_TMP/default-codes" | grep -vx 200 | sort | uniq -c | xargs))"
check "... more than a few hundred answers ($sent)" test "$sent" -ge 300
is "$failed" 0 "PG_STATEMENTS unset through PgBouncer in transaction mode: none of the $sent failed"
direct_sum=$(printf '%s' "$DIRECT" | md5sum | cut -d' ' -f1)
different=$(cut -d' ' -f2 "$TEST_TMP/default-codes" | xargs md5sum | grep -vc "^$direct_sum ")
is "$different" 0 "... every body byte-identical to the direct connection's"
switched=$(grep -c 'unnamed on this connection from now on' "$STACK_DIR/stack.log")
diag "connections that went on unnamed: $switched ($(grep 'unnamed on this connection' "$STACK_DIR/stack.log" | sed -n 's/.*prepared statement "\([a-z_0-9]*\)" \(.*\) (SQLSTATE \([0-9A-Z]*\)).*/\1 \2 \3/p' | sort | uniq -c | xargs)); the first: $(grep -m 1 'unnamed on this connection' "$STACK_DIR/stack.log")"
check "... the workers said they went on unnamed, once per connection at most ($switched)" \
	test "$switched" -ge 1 -a "$switched" -le 4
check "... and logged no failure" bash -c "! grep -E 'unavailable|query failed' '$STACK_DIR/stack.log'"
check "... nor a password" bash -c "! grep -q apipassword '$STACK_DIR/stack.log'"

done_testing
