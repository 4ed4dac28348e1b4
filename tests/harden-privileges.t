#!/usr/bin/env bash
# harden-privileges.t: started as root, workers run as the unprivileged --user (read from /proc), root is refused, the socket is 0660 and theirs, the database is open read-only.
source "$(dirname "$0")/lib/common.sh"

if [[ $(id -u) -ne 0 ]]; then
	echo "1..0 # SKIP these checks need to start the responder as root"
	exit 0
fi

DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"

# proc_field PID FIELD: the values of a /proc/PID/status line, tabs as spaces.
proc_field() {
	awk -v field="$2:" '$1 == field { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}
# open_mode PID FILE: how PID has FILE open (O_RDONLY, O_WRONLY, O_RDWR), from /proc.
open_mode() {
	local fd flags
	for fd in /proc/"$1"/fd/*; do
		[[ "$(readlink "$fd")" == "$2" ]] || continue
		flags=$(awk '$1 == "flags:" { print $2 }' "/proc/$1/fdinfo/${fd##*/}")
		case $((8#$flags & 3)) in
		0) echo O_RDONLY ;;
		1) echo O_WRONLY ;;
		*) echo O_RDWR ;;
		esac
		return 0
	done
	echo "not open"
}

www_uid=$(id -u www-data)
www_gid=$(id -g www-data)
start_responder default --workers 2
wait_for_children 2 || bail_out "no workers started: $(cat "$LOG")"
workers=$(pgrep -P "$SUPERVISOR" | tr '\n' ' ')
is "$(wc -w <<<"$workers")" 2 "the supervisor, started as root, forked 2 workers ($workers)"
for worker in $workers; do
	is "$(proc_field "$worker" Uid)" "$www_uid $www_uid $www_uid $www_uid" \
		"worker $worker: real, effective, saved and filesystem uid are www-data's"
	is "$(proc_field "$worker" Gid)" "$www_gid $www_gid $www_gid $www_gid" "worker $worker: all four gids are www-data's"
	is "$(proc_field "$worker" Groups)" "$www_gid" "worker $worker: no supplementary group is left (root's 0 gone)"
	is "$(proc_field "$worker" CapEff) $(proc_field "$worker" CapPrm)" "0000000000000000 0000000000000000" \
		"worker $worker: no capability, effective or permitted"
	is "$(open_mode "$worker" "$DB")" O_RDONLY "worker $worker: the SQLite file is open read-only"
done
is "$(proc_field "$SUPERVISOR" Uid)" "0 0 0 0" "the supervisor itself stays root: it only forks and reaps"
is "$(stat -c '%a %U %G' "$SOCKET")" "660 www-data www-data" "the unix socket is 0660 and owned by the workers' user"
answer=$(env -i REQUEST_METHOD=GET REQUEST_URI=/orders SCRIPT_NAME=/orders timeout 10 cgi-fcgi -bind -connect "$SOCKET")
like "$answer" '^Status: 200 OK' "the unprivileged workers serve /orders"

start_responder nobody --workers 1 --user nobody
wait_for_children 1 || bail_out "no workers started: $(cat "$LOG")"
worker=$(pgrep -P "$SUPERVISOR")
nobody_uid=$(id -u nobody)
is "$(proc_field "$worker" Uid)" "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" "--user nobody: the worker runs as nobody"
is "$(stat -c '%a %U' "$SOCKET")" "660 nobody" "and the socket is nobody's"

err=$("$RESPONDER" --listen "$TEST_TMP/root.sock" --user root 2>&1 >/dev/null)
is "$?" 1 "--user root is refused (exit 1)"
like "$err" 'refusing to serve as root \(--user root\)' "with a message that says why"
check "and before any socket is made" test ! -e "$TEST_TMP/root.sock"
err=$("$RESPONDER" --listen "$TEST_TMP/none.sock" --user nosuchuser 2>&1 >/dev/null)
is "$?" 1 "--user nosuchuser is refused (exit 1)"
like "$err" 'user nosuchuser does not exist' "naming the user"

# A worker must not outlive its supervisor, even one killed with SIGKILL
# (the parent-death signal), also after it dropped root.
start_responder orphan --workers 2
wait_for_children 2 || bail_out "no workers started: $(cat "$LOG")"
workers=$(pgrep -P "$SUPERVISOR" | tr '\n' ' ')
on_exit "kill -KILL $workers"
{ kill -KILL "$SUPERVISOR" && wait "$SUPERVISOR"; } 2>/dev/null
gone() {
	local pid
	for pid in $workers; do
		[[ -e /proc/$pid && "$(proc_field "$pid" State)" != Z* ]] && return 1
	done
	return 0
}
check "SIGKILL to a supervisor started as root: its unprivileged workers ($workers) exit too" wait_until gone 5

# The same through lighttpd, which starts the responder on an inherited socket.
stack_up DATABASE_URL="sqlite://$DB" WORKERS=2
for worker in $(worker_pids); do
	is "$(proc_field "$worker" Uid)" "$www_uid $www_uid $www_uid $www_uid" "behind lighttpd: worker $worker runs as www-data"
done

done_testing
