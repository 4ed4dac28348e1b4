#!/usr/bin/env bash
# log-flood.t: events a peer or a broken database repeats at will (refused peers, failing queries, bad rows) collapse into one line and a count (issue 11, item 8).
source "$(dirname "$0")/lib/common.sh"

# count_lines FILE REGEX
count_lines() {
	grep -cE "$2" "$1"
}

# 2,000 connections from a peer FCGI_WEB_SERVER_ADDRS does not allow.
port=$(free_port) || bail_out "no free port"
DATABASE_URL="sqlite://$(seeded_database)" FCGI_WEB_SERVER_ADDRS=192.0.2.1 "$RESPONDER" --listen "127.0.0.1:$port" --workers 1 2>"$TEST_TMP/refused.log" &
refusing=$!
on_exit "kill -KILL $refusing; pkill -KILL -P $refusing"
wait_for_port 127.0.0.1 "$port" || bail_out "the responder did not start: $(cat "$TEST_TMP/refused.log")"
perl -MIO::Socket::INET -e 'for (1 .. 2000) { my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], Proto => "tcp") or next; sysread($s, my $b, 1); }' \
	"127.0.0.1:$port"
refused=$(count_lines "$TEST_TMP/refused.log" 'refused a connection')
diag "2,000 refused connections: $refused log lines"
check "2,000 refused connections: at most 2 log lines ($refused)" test "$refused" -ge 1 -a "$refused" -le 2

# A query that fails at run time on every request (the view calls json()
# on text that is not JSON).
broken_db="$TEST_TMP/broken.db"
sqlite3 "$broken_db" "CREATE TABLE o (id INTEGER, customer_id INTEGER, total_cents INTEGER, status TEXT, created_at TEXT);
	INSERT INTO o VALUES (1, 2, 3, 'pending', '2026-01-01 00:00:00');
	CREATE VIEW orders AS SELECT id, customer_id, total_cents, status, created_at FROM o WHERE json('{');"
DATABASE_URL="sqlite://$broken_db" start_responder broken --workers 1
for _ in $(seq 200); do fcgi_get "$SOCKET" /orders; done >"$TEST_TMP/broken.out"
is "$(grep -o 'Status: 500' "$TEST_TMP/broken.out" | wc -l)" 200 "200 requests on a failing query: 200 answers 500"
failed=$(count_lines "$LOG" 'query')
diag "200 failing queries: $failed log lines"
check "and at most 2 log lines ($failed)" test "$failed" -ge 1 -a "$failed" -le 2

# A row whose created_at is not a timestamp.
bad_row_db=$(seeded_database)
sqlite3 "$bad_row_db" "UPDATE orders SET created_at = 'not a time' WHERE id = 1001"
DATABASE_URL="sqlite://$bad_row_db" start_responder bad-row --workers 1
for _ in $(seq 200); do fcgi_get "$SOCKET" /orders; done >"$TEST_TMP/bad-row.out"
is "$(grep -o 'Status: 500' "$TEST_TMP/bad-row.out" | wc -l)" 200 "200 requests meeting a bad created_at: 200 answers 500"
rejected=$(count_lines "$LOG" 'created_at')
diag "200 rejected rows: $rejected log lines"
check "and at most 2 log lines ($rejected)" test "$rejected" -ge 1 -a "$rejected" -le 2

done_testing
