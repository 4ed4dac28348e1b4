#!/usr/bin/env bash
# run-signal.t: `make run` stopped by a SIGTERM to make (a process manager, timeout) leaves no lighttpd or responder behind and frees the port.
source "$(dirname "$0")/lib/common.sh"

DB=$(seeded_database)
port=$(free_port) || bail_out "no free port"
# descendants PID: every process under PID, at any depth.
descendants() {
	local child
	for child in $(pgrep -P "$1"); do
		echo "$child"
		descendants "$child"
	done
}

# setsid: its own process group, as under a process manager; the terminal's
# Ctrl-C is not what stops it here.
DATABASE_URL="sqlite://$DB" PORT=$port WORKERS=2 STACK_DIR="$TEST_TMP/stack" \
	setsid make -s -C "$ROOT" run >"$TEST_TMP/run.log" 2>&1 </dev/null &
make_pid=$!
on_exit "kill -KILL -- -$make_pid"
wait_until 'curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null' 10
is "$(curl -s --max-time 5 "http://127.0.0.1:$port/")" '{"message":"Hello, World!"}' "make run serves GET /"
mapfile -t started < <(descendants "$make_pid")
names=$(for pid in "${started[@]}"; do ps -o comm= -p "$pid"; done | sort | uniq -c | awk '{print $2 " x" $1}' | tr '\n' ' ')
like "$names" "lighttpd x1 .*webapi-fcgi x3" "under make: lighttpd and the responder with its 2 workers ($names)"
check "lighttpd took the place of scripts/stack (exec): it is make's own child" \
	bash -c "[[ \"\$(ps -o comm= -p \$(pgrep -P $make_pid | head -n1))\" == lighttpd ]]"

kill -TERM "$make_pid"
wait_until '[[ -z "$(alive "$make_pid" "${started[@]}")" ]]' 10
is "$(alive "$make_pid" "${started[@]}" | tr '\n' ' ')" "" "SIGTERM to make: make, lighttpd and every responder are gone within 10 s"
check "the port is free again" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"
is "$(ss -Hltn "sport = :$port")" "" "and nothing listens on it"

done_testing
