#!/usr/bin/env bash
# worker-memory-after-huge-response.t: a worker that built one huge /orders page goes back near its baseline resident size afterwards (issue 11, item 9).
source "$(dirname "$0")/lib/common.sh"

# rss_kib PID: resident set size in KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

db=$(seeded_database)
# 20 orders whose status is 1 MB each: a 20 MB page.
sqlite3 "$db" "UPDATE orders SET status = replace(hex(zeroblob(500000)), '0', 'x') WHERE id <= 20"
DATABASE_URL="sqlite://$db" start_responder huge --workers 1
wait_for_children 1 || bail_out "no worker started: $(cat "$LOG")"
worker=$(children)
fcgi_get "$SOCKET" '/orders?limit=5&offset=100' >/dev/null
baseline=$(rss_kib "$worker")
size=$(fcgi_get "$SOCKET" '/orders?limit=20&offset=0' | wc -c)
check "the huge page is served ($size bytes)" test "$size" -gt 20000000
sleep 0.2
after=$(rss_kib "$worker")
diag "worker RSS: $baseline KiB before the huge page, $after KiB after it"
check "the worker is back within 8 MiB of its baseline ($baseline -> $after KiB)" test "$after" -le $((baseline + 8192))
fcgi_get "$SOCKET" '/orders?limit=5&offset=100' >"$TEST_TMP/small.out"
is "$(grep -o 'Status: 200' "$TEST_TMP/small.out")" "Status: 200" "and still answers a normal page"

# --max-worker-rss: a worker past the limit after a request leaves (exit 0)
# and the supervisor starts a fresh one; the request itself is answered.
DATABASE_URL="sqlite://$db" start_responder capped --workers 1 --max-worker-rss 1
wait_for_children 1 || bail_out "no worker started: $(cat "$LOG")"
first=$(children)
like "$(fcgi_get "$SOCKET" /)" $'^Status: 200 OK\r' "with --max-worker-rss 1 the request is answered"
check "and its worker is replaced by a fresh one" wait_until '[[ -n "$(children)" && "$(children)" != "$first" ]]' 5
check "the log says why" grep -q 'max-worker-rss' "$LOG"
check "the exit is not a failure" bash -c "! grep -q 'exited with status' '$LOG'"
done_testing
