#!/usr/bin/env bash
# notify.t: systemd's notification protocol as a service manager sees it on NOTIFY_SOCKET: READY=1 only once the workers serve, STATUS=, RELOADING=1 and READY=1 around SIGHUP, MAINPID= across an upgrade, STOPPING=1, and WATCHDOG=1 when WATCHDOG_USEC is set.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/pg.sh"

DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"

# listen_notify SOCKET FILE: what systemd does with NOTIFY_SOCKET, in
# python: a unix datagram socket; each message is written to FILE as one
# line (its newlines as " | "). A READY=1 carrying MAINPID= freezes that
# process (SIGSTOP) at once, when FREEZE_ON_READY is set: whatever serves
# after that was serving when READY=1 was sent.
listen_notify() {
	python3 -u -c '
import os, signal, socket, sys
path, out = sys.argv[1], open(sys.argv[2], "a", buffering=1)
freeze = os.environ.get("FREEZE_ON_READY") == "1"
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
while True:
    message = s.recv(4096).decode()
    if freeze and "READY=1" in message and "MAINPID=" in message:
        pid = int(message.split("MAINPID=")[1].split("\n")[0])
        os.kill(pid, signal.SIGSTOP)
        freeze = False
    out.write(message.replace("\n", " | ") + "\n")
' "$1" "$2" &
	on_exit "kill $!"
	wait_for_socket "$1" || bail_out "the notify listener did not start"
}

# kinds FILE: the first word of each message (READY=1, STATUS=..., ...), WATCHDOG=1 left out.
kinds() {
	grep -v '^WATCHDOG=1$' "$1" | sed -E 's/^([A-Z]+)=.*/\1/'
}

NOTIFY="$TEST_TMP/manager.sock"
MESSAGES="$TEST_TMP/messages"
FREEZE_ON_READY=1 listen_notify "$NOTIFY" "$MESSAGES"
NOTIFY_SOCKET=$NOTIFY start_responder notify --workers 2 --status-path /status
check "READY=1 arrives" wait_for_log "$MESSAGES" '^READY=1'
like "$(grep '^READY=1' "$MESSAGES")" "^READY=1 \| MAINPID=$SUPERVISOR$" "with MAINPID= the supervisor"
# The supervisor was frozen the moment READY=1 came: it can fork nothing
# more, so what answers now was answering then.
like "$(fcgi_get "$SOCKET" /)" '^Status: 200 OK' "a request is served by what ran when READY=1 was sent"
is "$(fcgi_get "$SOCKET" /status | sed '1,/^\r$/d' | python3 -c 'import json,sys; print(json.load(sys.stdin)["workers"]["total"])')" 2 \
	"both workers were serving by then"
kill -CONT "$SUPERVISOR"
check "STATUS= follows" wait_for_log "$MESSAGES" '^STATUS='
like "$(grep -m1 '^STATUS=' "$MESSAGES")" '^STATUS=2 workers \([0-9]+ active\), [0-9]+ requests, store up$' \
	"STATUS=: workers, requests, store state"

kill -HUP "$SUPERVISOR"
check "SIGHUP: RELOADING=1" wait_for_log "$MESSAGES" '^RELOADING=1'
check "then READY=1 again, once the new workers serve" wait_until '[[ $(grep -c "^READY=1" "$MESSAGES") -ge 2 ]]' 3
like "$(fcgi_get "$SOCKET" /)" '^Status: 200 OK' "and it serves"

kill -TERM "$SUPERVISOR"
wait "$SUPERVISOR"
is "$?" 0 "SIGTERM: it exits 0"
check "STOPPING=1" grep -q '^STOPPING=1$' "$MESSAGES"
is "$(kinds "$MESSAGES" | uniq | tr '\n' ' ')" "READY STATUS RELOADING READY STATUS STOPPING " \
	"in order: READY, STATUS, RELOADING, READY, STATUS, STOPPING"
check "no WATCHDOG=1 without WATCHDOG_USEC" bash -c "! grep -q '^WATCHDOG=1' '$MESSAGES'"

# Workers that cannot start yet: READY=1 waits for them. PostgreSQL is
# frozen, so each worker's connect waits (PGCONNECT_TIMEOUT) in its start.
on_exit pg_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
postmaster=$(pg_server_pid)
NOTIFY3="$TEST_TMP/manager3.sock"
MESSAGES3="$TEST_TMP/messages3"
listen_notify "$NOTIFY3" "$MESSAGES3"
kill -STOP "$postmaster"
on_exit "kill -CONT $postmaster"
NOTIFY_SOCKET=$NOTIFY3 PGCONNECT_TIMEOUT=30 DATABASE_URL=$PG_TEST_URL start_responder waiting --workers 2
sleep 1.5
is "$(cat "$MESSAGES3")" "" "workers still opening their store: no READY=1 yet (after 1.5 s)"
kill -CONT "$postmaster"
check "the store reachable, the workers start: READY=1" wait_for_log "$MESSAGES3" '^READY=1'
like "$(fcgi_get "$SOCKET" /)" '^Status: 200 OK' "and a request is served"
kill -TERM "$SUPERVISOR"

# MAINPID= across an upgrade, and the watchdog.
NOTIFY2="$TEST_TMP/manager2.sock"
MESSAGES2="$TEST_TMP/messages2"
listen_notify "$NOTIFY2" "$MESSAGES2"
# As systemd does: WATCHDOG_PID names the process that is to send WATCHDOG=1.
SOCKET="$TEST_TMP/upgrade.sock"
LOG="$TEST_TMP/upgrade.log"
NOTIFY_SOCKET=$NOTIFY2 WATCHDOG_USEC=1000000 perl -e '$ENV{WATCHDOG_PID} = $$; exec @ARGV' \
	"$RESPONDER" --listen "$SOCKET" --workers 1 >/dev/null 2>"$LOG" &
SUPERVISOR=$!
on_exit "kill -STOP $SUPERVISOR; pkill -KILL -P $SUPERVISOR; kill -KILL $SUPERVISOR"
wait_for_socket "$SOCKET" || bail_out "the responder did not start: $(cat "$LOG")"
check "WATCHDOG_USEC=1000000: WATCHDOG=1 comes" wait_for_log "$MESSAGES2" '^WATCHDOG=1$'
sleep 1.2
check "and comes again (every half period)" test "$(grep -c '^WATCHDOG=1$' "$MESSAGES2")" -ge 2
old=$SUPERVISOR
kill -USR2 "$old"
check "SIGUSR2: the old supervisor hands over with MAINPID=" wait_for_log "$MESSAGES2" "^MAINPID=[0-9]+ \| STATUS=handed over"
new=$(grep -m1 -oE '^MAINPID=[0-9]+ \| STATUS=handed' "$MESSAGES2" | grep -oE '[0-9]+' | head -n1)
on_exit "kill -KILL $new; pkill -KILL -P $new"
check "MAINPID= names the new supervisor, not the old ($new)" test -n "$new" -a "$new" != "$old"
like "$(grep "MAINPID=$new" "$MESSAGES2" | head -n1)" "^READY=1 \| MAINPID=$new$" "which said READY=1 itself first"
check "the old supervisor is gone" wait_until "! kill -0 $old 2>/dev/null" 10
like "$(fcgi_get "$SOCKET" /)" '^Status: 200 OK' "the new one serves the same socket"
sleep 1.2
check "and sends WATCHDOG=1 (WATCHDOG_PID is its pid now)" \
	bash -c "sed -n '/^MAINPID=$new/,\$p' '$MESSAGES2' | grep -q '^WATCHDOG=1$'"
kill -TERM "$new"
check "SIGTERM to the new one: STOPPING=1" wait_for_log "$MESSAGES2" '^STOPPING=1$'

done_testing
