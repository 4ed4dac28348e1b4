#!/usr/bin/env bash
# dual-stack-ipv4-peers.t: on a [::]:PORT listener an IPv4 front end (seen as ::ffff:a.b.c.d) is checked against FCGI_WEB_SERVER_ADDRS as IPv4 (issue 11, item 5).
source "$(dirname "$0")/lib/common.sh"

export DATABASE_URL="sqlite://$(seeded_database)"
# listen_dual_stack NAME ALLOWED: a responder on [::]:PORT; sets PORT and LOG.
listen_dual_stack() {
	PORT=$(free_port) || bail_out "no free port"
	LOG="$TEST_TMP/$1.log"
	FCGI_WEB_SERVER_ADDRS=$2 "$RESPONDER" --listen "[::]:$PORT" --workers 1 2>"$LOG" &
	on_exit "kill -KILL $!; pkill -KILL -P $!"
	wait_for_port 127.0.0.1 "$PORT" || bail_out "the responder did not start: $(cat "$LOG")"
}

listen_dual_stack allowed 127.0.0.1
like "$(fcgi_get "127.0.0.1:$PORT" /)" $'^Status: 200 OK\r' "FCGI_WEB_SERVER_ADDRS=127.0.0.1 lets 127.0.0.1 in over [::]"
listen_dual_stack mapped-entry ::ffff:127.0.0.1
like "$(fcgi_get "127.0.0.1:$PORT" /)" $'^Status: 200 OK\r' "so does the entry written ::ffff:127.0.0.1"
listen_dual_stack other 192.0.2.1
fcgi_get "127.0.0.1:$PORT" / >"$TEST_TMP/other.out" 2>&1
is "$(grep -c 'Status: 200' "$TEST_TMP/other.out")" 0 "FCGI_WEB_SERVER_ADDRS=192.0.2.1 still refuses 127.0.0.1"
wait_for_log "$LOG" 'refused a connection from 127\.0\.0\.1:'
check "and the log names the peer as 127.0.0.1" grep -q 'refused a connection from 127.0.0.1: ' "$LOG"
done_testing
