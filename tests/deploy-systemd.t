#!/usr/bin/env bash
# deploy-systemd.t: socket activation as systemd does it (LISTEN_FDS/LISTEN_PID, fd 3), and the unit files in scripts/deploy checked by systemd's own tools.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/fronts.sh"
source "$ROOT/tests/lib/pg.sh"

DEPLOY="$ROOT/scripts/deploy"
DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"



# --- the responder takes the socket systemd's way ---
SOCKET="$TEST_TMP/activated.sock"
activate self "$SOCKET" "$RESPONDER" --workers 2 2>"$TEST_TMP/activated.log" </dev/null &
activated=$!
on_exit "kill -TERM $activated"
check "LISTEN_PID = its own pid: the responder serves the inherited socket" \
	wait_for_log "$TEST_TMP/activated.log" "serving on fd 3 with 2 workers"
like "$(cat "$TEST_TMP/activated.log")" "serving an inherited socket, store sqlite://$DB" "and says where the socket and the store are"
out=$(fcgi_get "$SOCKET" /)
is "$out" $'Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"message":"Hello, World!"}' \
	"cgi-fcgi through the activated socket: GET /"
out=$(fcgi_get "$SOCKET" /orders)
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 100 1000)" "GET /orders"
out=$(fcgi_get "$SOCKET" /health)
is "${out#*$'\r\n\r\n'}" '{"status":"ok"}' "GET /health"
failures=0
for _ in $(seq 50); do
	fcgi_get "$SOCKET" / | grep -q '^Status: 200 OK' || failures=$((failures + 1))
done
is "$failures" 0 "50 more requests, none failed"
kill -TERM "$activated"
wait "$activated"
is "$?" 0 "SIGTERM: it exits 0"
check "and leaves the socket file to whoever made it (systemd)" test -S "$SOCKET"

# LISTEN_PID names another process: the variables are not for this one.
OTHER="$TEST_TMP/other.sock"
(activate 1 "$OTHER" timeout 10 "$RESPONDER" --workers 2) >"$TEST_TMP/other.out" 2>"$TEST_TMP/other.log" </dev/null
status=$?
check "LISTEN_PID of another process: the responder does not serve fd 3, it answers once as CGI and exits ($status)" \
	test "$status" -ne 124 -a "$(head -c 7 "$TEST_TMP/other.out")" == "Status:"
check "and never said it serves a socket" bash -c "! grep -q 'serving' '$TEST_TMP/other.log'"
check "a FastCGI connection to that socket finds nobody" \
	bash -c "! env -i REQUEST_METHOD=GET REQUEST_URI=/ cgi-fcgi -bind -connect '$OTHER' 2>/dev/null | grep -q Status"

# LISTEN_FDS for this process, but fd 3 is no listening socket: said plainly.
timeout 10 bash -c "export LISTEN_FDS=1; exec perl -e '\$ENV{LISTEN_PID} = \$\$; exec @ARGV' '$RESPONDER'" \
	3<"$DB" >/dev/null 2>"$TEST_TMP/notsocket.log" </dev/null
like "$(cat "$TEST_TMP/notsocket.log")" "LISTEN_FDS is set but fd 3 is not a listening socket" \
	"LISTEN_FDS with a file on fd 3: the log says fd 3 is not a listening socket"

# --- the same with systemd's own tool, when it is installed ---
if command -v systemd-socket-activate >/dev/null; then
	SA_SOCKET="$TEST_TMP/systemd.sock"
	systemd-socket-activate -l "$SA_SOCKET" -E DATABASE_URL="$DATABASE_URL" "$RESPONDER" --workers 2 \
		2>"$TEST_TMP/systemd.log" </dev/null &
	sa=$!
	on_exit "kill -TERM $sa"
	wait_for_log "$TEST_TMP/systemd.log" "Listening on $SA_SOCKET" || bail_out "systemd-socket-activate did not start"
	sleep 0.2
	check "systemd-socket-activate: no responder runs before the first connection" \
		bash -c "! grep -q serving '$TEST_TMP/systemd.log'"
	# The connection waits in the backlog while the responder starts.
	out=$(fcgi_get "$SA_SOCKET" /orders)
	is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 100 1000)" \
		"the first connection starts it, and is answered: GET /orders"
	like "$(cat "$TEST_TMP/systemd.log")" "serving an inherited socket" "the responder took the socket it was passed"
	kill -TERM "$sa"
	wait "$sa"
	is "$?" 0 "SIGTERM: it exits 0"
else
	skip "systemd-socket-activate is not installed (Debian package systemd)"
	skip "systemd-socket-activate: GET /orders"
	skip "systemd-socket-activate: the inherited socket"
	skip "systemd-socket-activate: SIGTERM"
fi

# --- the unit files, checked by systemd-analyze ---
if command -v systemd-analyze >/dev/null; then
	units="$TEST_TMP/units"
	mkdir -p "$units"
	# The units name /opt/webapi-fcgi; verify wants the executable to exist.
	sed "s|/opt/webapi-fcgi/build/webapi-fcgi|$RESPONDER|" "$DEPLOY/webapi-fcgi.service" >"$units/webapi-fcgi.service"
	cp "$DEPLOY/webapi-fcgi.socket" "$units/"
	grep -q "^ExecStart=$RESPONDER " "$units/webapi-fcgi.service" ||
		bail_out "scripts/deploy/webapi-fcgi.service no longer starts /opt/webapi-fcgi/build/webapi-fcgi"
	out=$(cd "$units" && systemd-analyze verify --man=no ./webapi-fcgi.socket ./webapi-fcgi.service 2>&1)
	status=$?
	is "$status:$out" "0:" "systemd-analyze verify: both units parse, with no warning"
	exposure=$(cd "$units" && systemd-analyze security --offline=yes ./webapi-fcgi.service 2>&1 |
		sed -n 's/.*Overall exposure level for webapi-fcgi.service: \([0-9.]*\).*/\1/p')
	check "systemd-analyze security: exposure ${exposure:-unknown} of 10 is at most 2.0" \
		awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'
else
	skip "systemd-analyze is not installed (Debian package systemd)"
	skip "systemd-analyze security"
fi
# Only the web server's group may connect; the service never runs as root.
for setting in 'SocketMode=0660' 'SocketUser=www-data' 'SocketGroup=www-data'; do
	check "webapi-fcgi.socket sets $setting" grep -qx "$setting" "$DEPLOY/webapi-fcgi.socket"
done
check "webapi-fcgi.service runs as an unprivileged user (DynamicUser=yes or User=)" \
	grep -qE '^(DynamicUser=yes|User=[a-z-]+)$' "$DEPLOY/webapi-fcgi.service"

# --- the unit's SystemCallFilter allows every system call the responder makes ---
# expand_filter ITEM...: the system calls in these names and @groups.
expand_filter() {
	local item
	for item in "$@"; do
		if [[ "$item" == @* ]]; then
			# shellcheck disable=SC2046
			expand_filter $(systemd-analyze syscall-filter "$item" | sed 1d | grep -E '^    [-@a-z0-9_]+$')
		else
			echo "$item"
		fi
	done
}
# traced_calls STORE_URL URI...: the system calls of a responder that runs
# unprivileged (as the unit's DynamicUser would) under systemd-socket-activate
# and answers URI..., one name a line.
traced_calls() {
	local url=$1 dir
	shift
	dir=$(mktemp -d "$TEST_TMP/trace.XXXXXX")
	chown www-data: "$dir"
	(cd "$dir" && exec runuser -u www-data -- strace -f -qq -o "$dir/trace" systemd-socket-activate -l "$dir/s.sock" \
		-E DATABASE_URL="$url" "$RESPONDER" --workers 1 >/dev/null 2>"$dir/log" </dev/null) &
	local tracer=$! uri responder
	if wait_for_log "$dir/log" "Listening on"; then
		# The first connection starts the responder, as systemd would.
		for uri in "$@"; do
			fcgi_get "$dir/s.sock" "$uri" 2>&1
			echo
		done >"$dir/answers"
	fi
	responder=$(sed -n 's/^webapi-fcgi\[\([0-9]*\)\]: serving on fd 3.*/\1/p' "$dir/log")
	if [[ -n "$responder" ]]; then
		kill -TERM "$responder"
	else
		# It never started: end whatever runs under strace.
		kill -TERM $(pgrep -P "$(pgrep -P "$tracer")") 2>/dev/null
	fi
	wait "$tracer"
	[[ $(grep -c '^Status: 200 OK' "$dir/answers" 2>/dev/null) -eq $# ]] || {
		sed 's/^/# /' "$dir/log" >&2
		return 1
	}
	sed -E 's/^[0-9]+ +//' "$dir/trace" | grep -oE '^[a-z0-9_]+\(' | tr -d '(' | sort -u
}
if command -v strace >/dev/null && command -v systemd-analyze >/dev/null && command -v runuser >/dev/null; then
	filter_lines=$(sed -n 's/^SystemCallFilter=//p' "$DEPLOY/webapi-fcgi.service")
	# shellcheck disable=SC2046
	allowed=$(comm -23 <(expand_filter $(grep -v '^~' <<<"$filter_lines") | sort -u) \
		<(expand_filter $(grep '^~' <<<"$filter_lines" | tr -d '~') | sort -u))
	check "the filter allows a sensible number of calls ($(wc -l <<<"$allowed"))" test "$(wc -l <<<"$allowed")" -gt 100
	# The unprivileged user must reach the database (seed-db makes it 0644).
	chmod 711 "$TEST_TMP"
	for store in sqlite postgresql; do
		if [[ $store == postgresql ]]; then
			on_exit pg_destroy
			pg_start >/dev/null && "$ROOT/scripts/seed-db" --postgres "$PG_TEST_URL" >/dev/null ||
				bail_out "cannot start a throwaway PostgreSQL"
			url=$PG_TEST_URL
		else
			url=$DATABASE_URL
		fi
		calls=$(traced_calls "$url" / /orders /health)
		status=$?
		check "strace: a responder on $store answered /, /orders and /health unprivileged ($(wc -l <<<"$calls") distinct calls)" \
			test "$status" -eq 0 -a -n "$calls"
		outside=$(comm -23 <(echo "$calls") <(echo "$allowed") | tr '\n' ' ')
		is "$outside" "" "on $store, every one of its system calls is in the unit's SystemCallFilter"
	done
else
	skip "strace, systemd-analyze or runuser is missing: the SystemCallFilter is not checked"
fi

done_testing
