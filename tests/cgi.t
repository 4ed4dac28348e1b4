#!/usr/bin/env bash
# cgi.t: every endpoint and every error of the contract, answered in CGI mode from a shell (no server: part of make check).
source "$(dirname "$0")/lib/common.sh"

DB=$(seeded_database)

# cgi METHOD URI [VAR=VALUE...]: the responder's whole answer, CR LF kept;
# the exit status in $TEST_TMP/status, stderr in $TEST_TMP/stderr. An
# empty URI sets no REQUEST_URI.
cgi() {
	local method=$1 uri=()
	[[ -n "$2" ]] && uri=(REQUEST_URI="$2")
	shift 2
	env -i DATABASE_URL="sqlite://$DB" REQUEST_METHOD="$method" "${uri[@]}" "$@" "$RESPONDER" \
		2>"$TEST_TMP/stderr"
	echo $? >"$TEST_TMP/status"
}
# answer STATUS-LINE BODY [EXTRA HEADER]: what the responder must print.
answer() {
	local extra=""
	[[ -n "${3:-}" ]] && extra="$3"$'\r\n'
	printf 'Status: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s' "$1" "${#2}" "$extra" "$2"
}

is "$(cgi GET /)" "$(answer "200 OK" '{"message":"Hello, World!"}')" "GET / is the greeting, 27 bytes"
is "$(cgi GET '/?x=1')" "$(answer "200 OK" '{"message":"Hello, World!"}')" "GET / ignores a query string"
is "$(cgi GET /orders)" "$(answer "200 OK" "$(expected_orders_json "$DB" 100 1000)")" \
	"GET /orders is the contract's 100 rows at offset 1000, byte for byte"
is "$(cgi GET '/orders?limit=3&offset=0')" "$(answer "200 OK" "$(expected_orders_json "$DB" 3 0)")" \
	"GET /orders?limit=3&offset=0 is that page"
is "$(cgi GET '/orders?limit=500&offset=9999')" "$(answer "200 OK" "$(expected_orders_json "$DB" 500 9999)")" \
	"the largest limit past the last row: the one row left"
is "$(cgi GET '/orders?offset=20000')" "$(answer "200 OK" '[]')" "an offset past the end is an empty array"
is "$(cgi GET '' SCRIPT_NAME=/orders QUERY_STRING='limit=1&offset=1')" \
	"$(answer "200 OK" "$(expected_orders_json "$DB" 1 1)")" "no REQUEST_URI: SCRIPT_NAME and QUERY_STRING"
is "$(cgi GET /health)" "$(answer "200 OK" '{"status":"ok"}')" "GET /health while the store answers"
head_answer=$(answer "200 OK" "$(expected_orders_json "$DB" 100 1000)")
is "$(cgi HEAD /orders)" "${head_answer%%$'\r\n\r\n'*}"$'\r\n\r' "HEAD /orders: the headers of GET, no body"

is "$(cgi GET /nope)" "$(answer "404 Not Found" '{"error":"not found"}')" "an unknown path is 404"
is "$(cgi GET /orders/1)" "$(answer "404 Not Found" '{"error":"not found"}')" "a path below /orders is 404"
for method in POST PUT DELETE PATCH OPTIONS; do
	is "$(cgi "$method" /orders)" "$(answer "405 Method Not Allowed" '{"error":"method not allowed"}' 'Allow: GET, HEAD')" \
		"$method /orders is 405 with Allow: GET, HEAD"
done
for query in limit=0 limit=501 limit=x 'limit=' offset=-1 offset=2147483648 'limit=1&limit=2' foo=1; do
	out=$(cgi GET "/orders?$query")
	like "$out" $'^Status: 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: [0-9]+\r\n\r\n\\{"error":"[^"]+"\\}$' \
		"/orders?$query is 400 with a JSON reason (${out##*$'\r\n\r\n'})"
done

# The store down: PostgreSQL on a port nothing listens on. The plugin
# beside the responder is loaded, the answer is 503, the password is not logged.
down=(DATABASE_URL=postgresql://apiuser:s3cret@127.0.0.1:1/ordersdb)
is "$(cgi GET /orders "${down[@]}")" "$(answer "503 Service Unavailable" '{"error":"database unavailable"}')" \
	"the database down: /orders is 503"
check "and the password is not in the log" bash -c "! grep -q s3cret '$TEST_TMP/stderr'"
check "and the plugin was loaded (the log is libpq's refusal)" grep -q "Connection refused" "$TEST_TMP/stderr"
is "$(cgi GET /health "${down[@]}")" "$(answer "503 Service Unavailable" '{"status":"unavailable"}')" \
	"the database down: /health is 503 unavailable"
is "$(cgi GET / "${down[@]}")" "$(answer "200 OK" '{"message":"Hello, World!"}')" "the database down: / still answers"

# Startup errors: a status and one clear line, no answer.
out=$(cgi GET / DATABASE_URL="sqlite://$TEST_TMP/missing.db")
is "$out/$(cat "$TEST_TMP/status")" "/1" "a missing database file: no answer, exit status 1"
like "$(cat "$TEST_TMP/stderr")" "cannot read database $TEST_TMP/missing.db: No such file or directory \\(create it with scripts/seed-db\\)" \
	"and the error names the file and the command that creates it"
out=$(cgi GET / DATABASE_URL="mysql://u:s3cret@h/d")
is "$out/$(cat "$TEST_TMP/status")" "/2" "a DATABASE_URL it does not understand: exit status 2"
check "and the password is not echoed" bash -c "! grep -q s3cret '$TEST_TMP/stderr'"

done_testing
