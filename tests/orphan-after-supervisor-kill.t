#!/usr/bin/env bash
# orphan-after-supervisor-kill.t: a supervisor killed with SIGKILL takes its workers along, even one held by a silent peer, and a new responder can take the socket path (issue 11, item 2).
source "$(dirname "$0")/lib/common.sh"

export DATABASE_URL="sqlite://$(seeded_database)"
start_responder first --workers 1 --request-timeout 3
wait_for_children 1 || bail_out "no worker started: $(cat "$LOG")"
worker=$(children)
on_exit "kill -KILL $worker"
# A peer that connects and sends nothing: the worker blocks reading it.
perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!"; sleep 30' "$SOCKET" &
on_exit "kill -KILL $!"
sleep 0.5
kill -KILL "$SUPERVISOR"
check "the worker is gone within 2 s of its supervisor's SIGKILL" wait_until "! kill -0 $worker 2>/dev/null" 2
# The socket file is still there: start_responder's wait would not tell.
"$RESPONDER" --listen "$SOCKET" --workers 1 2>"$TEST_TMP/second.log" &
second=$!
on_exit "kill -KILL $second; pkill -KILL -P $second"
wait_for_log "$TEST_TMP/second.log" 'serving on|in use|bind'
like "$(cat "$TEST_TMP/second.log")" "serving on fd" "a new responder takes the path: $(head -n 1 "$TEST_TMP/second.log")"
check "and is still running" kill -0 "$second"
like "$(fcgi_get "$SOCKET" /)" $'^Status: 200 OK\r' "and answers on it"
done_testing
