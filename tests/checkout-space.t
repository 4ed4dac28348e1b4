#!/usr/bin/env bash
# checkout-space.t: a checkout at a path with a space builds, passes make check and answers in CGI mode; make run refuses it, saying why (lighttpd's bin-path).
source "$(dirname "$0")/lib/common.sh"

SRC="$TEST_TMP/with space/webapi-fcgi"
copy_checkout "$SRC" || bail_out "cannot copy the checkout"

make -C "$SRC" -j2 >"$TEST_TMP/make.log" 2>&1
status=$?
is "$status" 0 "make at '$SRC'"
((status == 0)) || sed 's/^/#   /' "$TEST_TMP/make.log" | tail -n 10

make -C "$SRC" check >"$TEST_TMP/check.log" 2>&1
status=$?
is "$status" 0 "make check there ($(grep -E "^[0-9]+ passed" "$TEST_TMP/check.log"))"
((status == 0)) || grep -E '^not ok|rror' "$TEST_TMP/check.log" | head -n 10 | sed 's/^/#   /'

"$SRC/scripts/seed-db" >"$TEST_TMP/seed.log" 2>&1
is "$(cat "$TEST_TMP/seed.log")" "seed-db: $SRC/data/orders.db: 10000 orders" "scripts/seed-db creates data/orders.db there"
# No DATABASE_URL: the path compiled in holds the space, in one piece.
out=$(env -i REQUEST_METHOD=GET REQUEST_URI=/orders "$SRC/build/webapi-fcgi" 2>"$TEST_TMP/cgi.err")
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$SRC/data/orders.db" 100 1000)" \
	"CGI GET /orders from the default database, whose path has the space"
like "$("$SRC/build/webapi-fcgi" --help)" "unset: $SRC/data/orders.db" "--help names that path"

port=$(free_port) || bail_out "no free port"
out=$(PORT=$port timeout 60 make -s -C "$SRC" run 2>&1 </dev/null)
status=$?
check "make run fails instead of starting a lighttpd that cannot run the responder (status $status)" \
	test "$status" -ne 0 -a "$status" -ne 124
like "$out" "its bin-path splits on spaces, and this path has one" "and says why"
check "nothing listens on its port" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"

done_testing
