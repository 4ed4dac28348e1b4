#!/usr/bin/env bash
# listen-port-range.t: --listen refuses a port outside 1-65535 instead of binding another one (issue 11, item 6).
source "$(dirname "$0")/lib/common.sh"

export DATABASE_URL="sqlite://$(seeded_database)"
for address in 127.0.0.1:99999 127.0.0.1:65536 :0 '[::1]:70000'; do
	# Before the fix it bound port 99999 % 65536 and served: the timeout ends it (124).
	timeout -s KILL 5 "$RESPONDER" --listen "$address" --workers 1 >/dev/null 2>"$TEST_TMP/out.log"
	status=$?
	is "$status" 1 "--listen $address exits with status 1"
	like "$(cat "$TEST_TMP/out.log")" "listen address .*: the port must be a number from 1 to 65535" \
		"and says which ports are valid"
done
port=$(free_port) || bail_out "no free port"
"$RESPONDER" --listen "127.0.0.1:$port" --workers 1 2>"$TEST_TMP/valid.log" &
on_exit "kill -KILL $!; pkill -KILL -P $!"
check "a port in range still serves" wait_for_port 127.0.0.1 "$port"
done_testing
