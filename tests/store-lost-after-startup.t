#!/usr/bin/env bash
# store-lost-after-startup.t: a SQLite file that cannot be opened after start-up (moved away, then SIGHUP) does not stop the responder: / answers, /orders and /health say 503, and it recovers when the file is back (issue 11, item 1).
source "$(dirname "$0")/lib/common.sh"

# status_of URI: the CGI status line's code.
status_of() {
	fcgi_get "$SOCKET" "$1" | head -n 1 | tr -d '\r' | cut -d' ' -f2
}
# wait_for_status URI CODE: up to 10 s.
wait_for_status() {
	local uri=$1 code=$2
	wait_until '[[ "$(status_of "$uri")" == "$code" ]]' 10
}

db=$(seeded_database)
# A worker reopens the file after it left root: --user must be able to read it.
chmod o+rx "$TEST_TMP" && chmod o+r "$db"
export DATABASE_URL="sqlite://$db"
start_responder lost --workers 2
wait_for_children 2 || bail_out "no workers started: $(cat "$LOG")"
is "$(status_of /orders)" 200 "GET /orders answers 200 at first"

mv "$db" "$db.moved"
kill -HUP "$SUPERVISOR"
# The replacements start without the file; the old workers leave.
wait_for_log "$LOG" 'cannot read database' || diag "no worker said it cannot read the file"
sleep 1
check "the supervisor is still running after the replacements" kill -0 "$SUPERVISOR"
check "the socket is still there" test -S "$SOCKET"
is "$(status_of /)" 200 "GET / answers 200 without the file"
is "$(status_of /orders)" 503 "GET /orders answers 503"
is "$(status_of /health)" 503 "GET /health answers 503"

mv "$db.moved" "$db"
check "GET /orders answers 200 again once the file is back" wait_for_status /orders 200
is "$(status_of /health)" 200 "and GET /health 200"
check "the log says the store opened again" grep -q 'opened again' "$LOG"

# At start-up the same missing file is still a clear fatal error.
DATABASE_URL="sqlite://$TEST_TMP/missing.db" timeout -s KILL 5 "$RESPONDER" --listen "$TEST_TMP/startup.sock" \
	--workers 1 2>"$TEST_TMP/startup.log"
is "$?" 1 "at start-up a missing file stops the responder with status 1"
like "$(cat "$TEST_TMP/startup.log")" "cannot read database .*missing.db: No such file" "and names the file"
done_testing
