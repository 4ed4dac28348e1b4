#!/usr/bin/env bash
# supervise.t: the prefork supervisor behind lighttpd: a killed worker is replaced at once with no failed request after it, SIGTERM leaves nothing.
source "$(dirname "$0")/lib/common.sh"

DB=$(seeded_database)
stack_up DATABASE_URL="sqlite://$DB" WORKERS=2 BACKENDS=1

check "2 workers run" wait_for_children 2 worker_pids
before=$(worker_pids | sort)
worker_user=$(ps -o user= -p "$(echo "$before" | head -n1)")
if [[ $(id -u) -ne 0 ]]; then
	skip "workers started by root run unprivileged: not run as root"
else
	check "workers started by root run unprivileged ($worker_user)" test "$worker_user" != root
fi

victim=$(echo "$before" | head -n1)
kill -KILL "$victim"
check "after SIGKILL of worker $victim, 2 workers run again" wait_for_children 2 worker_pids
after=$(worker_pids | sort)
check "the killed worker was replaced by a new process" bash -c "! grep -qx '$victim' <<<'$after'"

failures=0
for _ in $(seq 200); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/orders")
	[[ "$code" == 200 ]] || failures=$((failures + 1))
done
is "$failures" 0 "200 requests after the kill: none failed"

# Kills under load: every request after each replacement succeeds.
for round in 1 2 3; do
	kill -KILL "$(worker_pids | head -n1)"
	wait_for_children 2 worker_pids || true
	failures=0
	for _ in $(seq 30); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/")
		[[ "$code" == 200 ]] || failures=$((failures + 1))
	done
	is "$failures" 0 "kill round $round: the 30 requests after the replacement all succeeded"
done
check "the supervisor logged each death" test "$(grep -c 'killed by signal 9' "$STACK_DIR/stack.log")" -ge 4

# SIGTERM to the whole stack: nothing is left.
pids=$(stack_pids)
leader=$(cat "$STACK_DIR/stack.pid")
kill -TERM "$leader"
gone() {
	local pid
	for pid in $pids; do
		kill -0 "$pid" 2>/dev/null && [[ "$(ps -o stat= -p "$pid")" != Z* ]] && return 1
	done
	return 0
}
check "SIGTERM to lighttpd: lighttpd, the supervisor and every worker exit" wait_until gone 10

# The responder's own SIGTERM handling: in-flight requests finish.
socket="$TEST_TMP/drain.sock"
DATABASE_URL="sqlite://$DB" "$RESPONDER" --listen "$socket" --workers 2 2>"$TEST_TMP/drain.log" &
responder=$!
on_exit "kill -KILL $responder"
wait_for_socket "$socket"
children=$(pgrep -P "$responder" | tr '\n' ' ')
kill -TERM "$responder"
wait "$responder"
is "$?" 0 "the supervisor exits 0 on SIGTERM"
sleep 0.2
left=0
for pid in $children; do kill -0 "$pid" 2>/dev/null && left=$((left + 1)); done
is "$left" 0 "none of its workers ($children) is left"

done_testing
