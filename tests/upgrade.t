#!/usr/bin/env bash
# upgrade.t: SIGUSR2 under wrk load through nginx (0 non-2xx, 0 socket errors, the new version in every worker, the old supervisor gone, the socket path unchanged), and the same hand-over under systemd socket activation and under spawn-fcgi.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/fronts.sh"

command -v wrk >/dev/null || bail_out "wrk is missing: scripts/install-deps test"
DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"

# The upgrade: a second build with another --version, put in place of the
# running executable the way a package manager does (rename over it).
NEW_BUILD="$TEST_TMP/new-build"
make -s -C "$ROOT" -j2 BUILD="$NEW_BUILD" VERSION=test-upgraded "$NEW_BUILD/webapi-fcgi" >"$TEST_TMP/make.log" 2>&1 ||
	bail_out "building the second version failed: $(tail -n 5 "$TEST_TMP/make.log")"
OLD_VERSION=$("$RESPONDER" --version)
is "$("$NEW_BUILD/webapi-fcgi" --version)" "webapi-fcgi test-upgraded" "the second build says its own --version"
check "and the first another ($OLD_VERSION)" test "$OLD_VERSION" != "webapi-fcgi test-upgraded"

# install_binary DIR: the current build at DIR/webapi-fcgi; replace_binary DIR: the new one over it.
install_binary() {
	mkdir -p "$1" && cp "$RESPONDER" "$1/webapi-fcgi"
}
replace_binary() {
	cp "$NEW_BUILD/webapi-fcgi" "$1/webapi-fcgi.new" && mv "$1/webapi-fcgi.new" "$1/webapi-fcgi"
}
# status_of ADDRESS: the status page's JSON.
status_of() {
	fcgi_get "$1" '/status?full' | sed '1,/^\r$/d'
}
# upgraded OLD-PID ADDRESS BIN-DIR WHAT: waits for OLD-PID to exit, then checks
# what serves ADDRESS: the new version, in every worker, under a new supervisor.
upgraded() {
	local old=$1 address=$2 dir=$3 what=$4 json new workers exes
	check "$what: the old supervisor is gone" wait_until "! kill -0 $old 2>/dev/null" 15
	json=$(status_of "$address")
	new=$(field "$json" 'd["pid"]')
	on_exit "kill -KILL $new; pkill -KILL -P $new"
	is "$(field "$json" 'd["version"]')" test-upgraded "$what: the status page says the new version"
	check "$what: a new supervisor ($new) serves" test -n "$new" -a "$new" != "$old"
	workers=$(field "$json" '" ".join(str(p["pid"]) for p in d["processes"])')
	is "$workers" "$(pgrep -P "$new" | sort -n | tr '\n' ' ' | sed 's/ $//')" "$what: every worker listed is the new supervisor's"
	exes=$(for pid in $new $workers; do readlink "/proc/$pid/exe"; done | sort -u)
	is "$exes" "$dir/webapi-fcgi" "$what: it and every worker run the new file (not a deleted one)"
	like "$(fcgi_get "$address" /)" '^Status: 200 OK' "$what: GET / on the same address"
	NEW_SUPERVISOR=$new
}

# --- --listen, under load through nginx ---
BIN="$TEST_TMP/bin"
install_binary "$BIN"
SOCKET="$TEST_TMP/upgrade.sock"
LOG="$TEST_TMP/upgrade.log"
"$BIN/webapi-fcgi" --listen "$SOCKET" --workers 2 --status-path /status >/dev/null 2>"$LOG" &
SUPERVISOR=$!
on_exit "kill -KILL $SUPERVISOR; pkill -KILL -P $SUPERVISOR"
wait_for_socket "$SOCKET" || bail_out "the responder did not start: $(cat "$LOG")"
is "$(field "$(status_of "$SOCKET")" 'd["version"]')" "${OLD_VERSION#webapi-fcgi }" "before: the first version serves"

# nginx's workers run as www-data, the socket's group: they must reach it.
chmod o+x "$TEST_TMP"
NGINX_DIR="$TEST_TMP/nginx"
mkdir -p "$NGINX_DIR"
HTTP_PORT=$(free_port) || bail_out "no free port"
cat >"$NGINX_DIR/site.conf" <<NGINX
server {
	listen 127.0.0.1:$HTTP_PORT;
	location / {
		include "$NGINX_DIR/fastcgi_params";
		fastcgi_param REQUEST_URI \$request_uri;
		fastcgi_pass unix:$SOCKET;
	}
}
NGINX
start_nginx "$NGINX_DIR" "$HTTP_PORT" www-data
is "$(http GET "http://127.0.0.1:$HTTP_PORT/")" 200 "nginx in front answers"

wrk -t 2 -c 16 -d 6s "http://127.0.0.1:$HTTP_PORT/" >"$TEST_TMP/wrk.out" 2>&1 &
load=$!
sleep 2
replace_binary "$BIN"
kill -USR2 "$SUPERVISOR"
wait "$load"
wrk_out=$(cat "$TEST_TMP/wrk.out")
check "wrk ran ($(grep -m1 'requests in' <<<"$wrk_out"))" grep -qE '^ +[0-9]+ requests in' <<<"$wrk_out"
check "0 non-2xx responses during the upgrade" bash -c "! grep -q 'Non-2xx' <<<'$wrk_out'"
check "0 socket errors during the upgrade" bash -c "! grep -q 'Socket errors' <<<'$wrk_out'"
check "the log tells the hand-over" grep -q 'SIGUSR2: the new copy (pid [0-9]*) serves' "$LOG"
upgraded "$SUPERVISOR" "$SOCKET" "$BIN" "--listen"
check "--listen: the socket path is unchanged" test -S "$SOCKET"
kill -TERM "$NEW_SUPERVISOR"
check "the new supervisor, stopped, removes the socket it now owns" wait_until '[[ ! -e "$SOCKET" ]]' 10

# --- systemd socket activation (LISTEN_FDS, fd 3) ---
BIN="$TEST_TMP/bin-systemd"
install_binary "$BIN"
ACTIVATED="$TEST_TMP/activated.sock"
(activate self "$ACTIVATED" "$BIN/webapi-fcgi" --workers 1 --status-path /status) 2>"$TEST_TMP/activated.log" </dev/null &
activated=$!
on_exit "kill -KILL $activated; pkill -KILL -P $activated"
wait_for_log "$TEST_TMP/activated.log" "serving on fd 3" || bail_out "the activated responder did not start"
replace_binary "$BIN"
kill -USR2 "$activated"
upgraded "$activated" "$ACTIVATED" "$BIN" "systemd socket activation"

# --- spawn-fcgi (the socket on fd 0) ---
BIN="$TEST_TMP/bin-spawn"
install_binary "$BIN"
SPAWNED="$TEST_TMP/spawned.sock"
# -n: spawn-fcgi execs the responder itself, so $! is the supervisor.
spawn-fcgi -n -s "$SPAWNED" -- "$BIN/webapi-fcgi" --workers 1 --status-path /status 2>"$TEST_TMP/spawned.log" &
spawned=$!
on_exit "kill -KILL $spawned; pkill -KILL -P $spawned"
wait_for_log "$TEST_TMP/spawned.log" "serving on fd 0" || bail_out "the spawn-fcgi responder did not start: $(cat "$TEST_TMP/spawned.log")"
replace_binary "$BIN"
kill -USR2 "$spawned"
upgraded "$spawned" "$SPAWNED" "$BIN" "spawn-fcgi"

# --- lighttpd's bin-path: lighttpd owns the process, the upgrade is refused ---
stack_up WORKERS=1
bin_path_supervisor=$(pgrep -P "$(cat "$STACK_DIR/stack.pid")" -x webapi-fcgi)
kill -USR2 "$bin_path_supervisor"
check "under lighttpd's bin-path SIGUSR2 is refused, and the log says why" \
	wait_for_log "$STACK_DIR/stack.log" 'lighttpd started this process \(bin-path\) and owns it: restart lighttpd'
is "$(pgrep -P "$(cat "$STACK_DIR/stack.pid")" -x webapi-fcgi)" "$bin_path_supervisor" "the same supervisor serves on"
is "$(http GET "$BASE_URL/")" 200 "and answers"

done_testing
