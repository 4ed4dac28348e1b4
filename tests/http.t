#!/usr/bin/env bash
# http.t: the contract over HTTP through the real lighttpd stack on the embedded store, checked with curl.
source "$(dirname "$0")/lib/common.sh"

DB=$(seeded_database)
stack_up DATABASE_URL="sqlite://$DB" WORKERS=2

status=$(http GET "$BASE_URL/")
is "$status" 200 "GET / is 200"
is "$(cat "$TEST_TMP/body")" '{"message":"Hello, World!"}' "GET / body is exact"
is "$(stat -c %s "$TEST_TMP/body")" 27 "GET / body is 27 bytes, no newline"
is "$(header Content-Type)" "application/json" "GET / Content-Type"
is "$(header Content-Length)" 27 "GET / Content-Length"
like "$(header Date)" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$' "GET / has a Date header"
like "$(header Server)" '^lighttpd' "GET / has a Server header"
# The contract: the Date header is current on every response (lighttpd's
# own, cached per second): within a few seconds of this clock, no sleep.
date_skew=$(($(date -u +%s) - $(date -u -d "$(header Date)" +%s)))
check "the Date header is current ($(header Date), ${date_skew#-} s off)" test "${date_skew#-}" -le 5

status=$(http GET "$BASE_URL/?x=1&y=2")
is "$status:$(cat "$TEST_TMP/body")" '200:{"message":"Hello, World!"}' "a query string on / is ignored"

status=$(http GET "$BASE_URL/orders")
is "$status" 200 "GET /orders is 200"
is "$(header Content-Type)" "application/json" "GET /orders Content-Type"
is "$(header Content-Length)" "$(stat -c %s "$TEST_TMP/body")" "GET /orders Content-Length matches the body"
body=$(cat "$TEST_TMP/body")
is "$(grep -o '{"id":' <<<"$body" | wc -l)" 100 "GET /orders has 100 objects"
like "$body" '^\[\{"id":1001,"customer_id":[0-9]+,"total_cents":[0-9]+,"status":"[a-z]+","created_at":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"\},' \
	"keys in contract order, created_at in the ISO form"
is "$(grep -o '"id":[0-9]*' <<<"$body" | cut -d: -f2 | tr '\n' ' ')" "$(seq -s ' ' 1001 1100) " "ids are 1001..1100 in order"
is "$body" "$(expected_orders_json "$DB" 100 1000)" "GET /orders is byte-for-byte the rows of the contract's query"
is "$(grep -c ' ' <<<"$body")" 0 "GET /orders is compact (no spaces)"

status=$(http GET "$BASE_URL/orders?limit=3&offset=0")
is "$status:$(cat "$TEST_TMP/body")" "200:$(expected_orders_json "$DB" 3 0)" "/orders?limit=3&offset=0 is that page"
status=$(http GET "$BASE_URL/orders?limit=2&offset=9999")
is "$status:$(cat "$TEST_TMP/body")" "200:$(expected_orders_json "$DB" 2 9999)" "the last row, a short page"
status=$(http GET "$BASE_URL/orders?offset=20000")
is "$status:$(cat "$TEST_TMP/body")" "200:[]" "a page past the end is an empty array"
for query in "limit=0" "limit=501" "limit=abc" "offset=-1" "limit=1&limit=2" "sort=id" "offset=2147483648"; do
	status=$(http GET "$BASE_URL/orders?$query")
	like "$status $(cat "$TEST_TMP/body")" '^400 \{"error":"[^"]+"\}$' "/orders?$query is a 400 JSON error"
done
http GET "$BASE_URL/orders?limit=501" >/dev/null
is "$(cat "$TEST_TMP/body")" '{"error":"limit must be an integer from 1 to 500"}' "the 400 names the parameter"

status=$(http GET "$BASE_URL/nope")
is "$status $(cat "$TEST_TMP/body")" '404 {"error":"not found"}' "unknown path: 404 JSON"
is "$(header Content-Type)" "application/json" "404 is application/json"
for method in POST PUT DELETE PATCH; do
	# With an empty body: lighttpd itself answers 411 to a POST without one.
	status=$(http "$method" "$BASE_URL/orders" --data '')
	is "$status $(cat "$TEST_TMP/body")" '405 {"error":"method not allowed"}' "$method /orders: 405 JSON"
	is "$(header Allow)" "GET, HEAD" "$method /orders: Allow header"
done
status=$(http POST "$BASE_URL/" --data 'x=1')
is "$status" 405 "POST / with a body: 405"

status=$(curl -s -I -D "$TEST_TMP/headers" -o /dev/null -w '%{http_code} %{size_download}' "$BASE_URL/orders")
is "$status" "200 0" "HEAD /orders is 200 with no body"
is "$(header Content-Length)" "$(curl -s "$BASE_URL/orders" | wc -c)" "HEAD /orders carries the GET Content-Length"
is "$(header Content-Type)" "application/json" "HEAD /orders Content-Type"
status=$(curl -s -I -D "$TEST_TMP/headers" -o /dev/null -w '%{http_code}' "$BASE_URL/")
is "$status:$(header Content-Length)" "200:27" "HEAD / carries Content-Length 27"

status=$(http GET "$BASE_URL/health")
is "$status $(cat "$TEST_TMP/body")" '200 {"status":"ok"}' "GET /health on the embedded store"

done_testing
