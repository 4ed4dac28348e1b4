#!/usr/bin/env bash
# harden-fcgi-fuzz.t: thousands of malformed FastCGI records thrown at a live responder socket (build/fcgi_records): each costs at most its connection, never a worker, and requests are served throughout and after.
source "$(dirname "$0")/lib/common.sh"

CASES=${FCGI_FUZZ_CASES:-5000}
SEED=${FCGI_FUZZ_SEED:-7}
LONG_HOLDS=3
make -s -C "$ROOT" build/fcgi_records >&2 || bail_out "cannot build build/fcgi_records"

DB=$(seeded_database)
SOCKET="$TEST_TMP/fuzz.sock"
LOG="$TEST_TMP/fuzz.log"
DATABASE_URL="sqlite://$DB" "$RESPONDER" --listen "$SOCKET" --workers 2 --request-timeout 2 --keepalive-timeout 2 >/dev/null 2>"$LOG" &
SUPERVISOR=$!
on_exit "kill -STOP $SUPERVISOR; pkill -KILL -P $SUPERVISOR; kill -KILL $SUPERVISOR"
wait_for_socket "$SOCKET" && wait_for_children 2
started=$(awk '{ print $22 }' "/proc/$SUPERVISOR/stat")

# Every case gets 100 ms; LONG_HOLDS silent peers hold 4 s each, past the
# 2 s deadlines; a well-formed GET / every 50 cases must get its 200.
timeout 300 "$ROOT/build/fcgi_records" -n "$CASES" -s "$SEED" -t 100 -L "$LONG_HOLDS" -H 4000 -c 50 "$SOCKET" \
	>"$TEST_TMP/fuzz.out"
status=$?
while read -r line; do diag "$line"; done <"$TEST_TMP/fuzz.out"
is "$status" 0 "$CASES malformed cases (seed $SEED): every control request in between was answered 200"

out=$(fcgi_get "$SOCKET" /)
like "$out" $'^Status: 200 OK\r\n.*\\{"message":"Hello, World!"\\}$' "afterwards, cgi-fcgi GET / is answered"
out=$(fcgi_get "$SOCKET" /orders)
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 100 1000)" "and GET /orders in full"
check "the supervisor is the same process (pid $SUPERVISOR, same start time)" \
	test "$(awk '{ print $22 }' "/proc/$SUPERVISOR/stat" 2>/dev/null)" == "$started"
is "$(pgrep -P "$SUPERVISOR" | wc -l)" 2 "2 workers run"

watchdog=$(grep -c 'replacing it' "$LOG")
aborted=$(grep -c 'killed by signal 6 ' "$LOG")
libfcgi_asserts=$(grep -c 'fcgiapp.c:[0-9]*: .*Assertion' "$LOG")
smashed=$(grep -c 'stack smashing detected' "$LOG")
deaths=$(grep -c 'killed by signal\|exited with status' "$LOG")
diag "workers replaced: $watchdog by the watchdog, $deaths died ($aborted aborted: $libfcgi_asserts libfcgi assertions, $smashed stack smashing)"
grep 'killed by signal\|exited with status\|Assertion\|stack smashing' "$LOG" | sed 's/[0-9]\{3,\}/N/g' | sort | uniq -c | sort -rn | head -n 8 |
	while read -r line; do diag "log: $line"; done
is "$watchdog" 0 "no long silent peer cost a worker: each was closed at its connection's deadline"
is "$libfcgi_asserts $smashed" "0 0" "no libfcgi assertion (huge parameter lengths, CVE-2025-23016's shape) and no stack smashing (management records inside a request)"
is "$deaths" 0 "no worker died in $CASES cases: no SIGABRT, SIGSEGV, SIGBUS, SIGFPE, no error exit"
check "no death was taken for a start failure (no back-off)" bash -c "! grep -q 'in a row' '$LOG'"

done_testing
