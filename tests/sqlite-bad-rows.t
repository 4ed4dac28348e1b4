#!/usr/bin/env bash
# sqlite-bad-rows.t: SQLite rows the contract's types do not allow (NULL, text or real integers, impossible timestamps, invalid UTF-8) are refused with 500 and one log line, as PostgreSQL refuses them (issue 11, item 7).
source "$(dirname "$0")/lib/common.sh"

# A table without the seed's constraints, as a user's own file may have.
db="$TEST_TMP/loose.db"
sqlite3 "$db" "CREATE TABLE orders (id, customer_id, total_cents, status, created_at);"
# one_row_answer SQL-VALUES: the CGI answer for a table holding just that row;
# its stderr goes to $TEST_TMP/err.
one_row_answer() {
	sqlite3 "$db" "DELETE FROM orders; INSERT INTO orders VALUES ($1);"
	env -i DATABASE_URL="sqlite://$db" REQUEST_METHOD=GET REQUEST_URI=/orders QUERY_STRING='limit=1&offset=0' \
		"$RESPONDER" 2>"$TEST_TMP/err"
}

good=$(one_row_answer "7, 2, 300, 'pending', '2026-10-15 03:37:37.629'")
like "$good" $'^Status: 200 OK\r' "a good row is served"
check "as valid JSON" python3 -c 'import json, sys; json.loads(sys.argv[1].split("\r\n\r\n", 1)[1])' "$good"

while IFS='|' read -r values what; do
	answer=$(one_row_answer "$values")
	like "$answer" $'^Status: 500 Internal Server Error\r' "$what: 500"
	like "$answer" '\{"error":"database query failed"\}$' "$what: an error body"
	is "$(wc -l <"$TEST_TMP/err")" 1 "$what: one log line ($(head -c 150 "$TEST_TMP/err"))"
done <<'ROWS'
7, NULL, 300, 'pending', '2026-10-15 03:37:37'|a NULL customer_id
7, 'abc', 300, 'pending', '2026-10-15 03:37:37'|a text customer_id
7, 2, '12abc', 'pending', '2026-10-15 03:37:37'|a total_cents of '12abc'
7, 2, 1.9e30, 'pending', '2026-10-15 03:37:37'|a total_cents of 1.9e30
'7', 2, 300, 'pending', '2026-10-15 03:37:37'|a text id
7, 2, 300, NULL, '2026-10-15 03:37:37'|a NULL status
7, 2, 300, 'pending', '2026-13-45 99:99:99'|created_at 2026-13-45 99:99:99
7, 2, 300, 'pending', '2026-02-30 00:00:00'|created_at 2026-02-30
7, 2, 300, CAST(X'70656E64FF' AS TEXT), '2026-10-15 03:37:37'|a status that is not UTF-8
7, 2, 300, CAST(X'EDA080' AS TEXT), '2026-10-15 03:37:37'|a status holding a UTF-16 surrogate
ROWS
done_testing
