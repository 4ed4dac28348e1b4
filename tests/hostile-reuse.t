#!/usr/bin/env bash
# hostile-reuse.t: kept FastCGI connections that must not lose requests (issue 20): requests over 16 KiB on a kept connection, and workers replaced (SIGHUP) or the responder upgraded (SIGUSR2) under a front that reuses connections and never retries (h2o), and a raw keep-alive client that sends right after each signal; over a unix socket and TCP.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/hostile.sh"

FRONT="$ROOT/scripts/front"
for tool in wrk h2o; do
	command -v "$tool" >/dev/null || bail_out "$tool is missing (scripts/install-deps test installs it)"
done
# h2o's workers run as www-data: they must reach the sockets and write the logs in here.
chmod 711 "$TEST_TMP"
DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"
LOAD_SECONDS=${HOSTILE_LOAD_SECONDS:-6}
CONNECTIONS=16
STATUS_PATH=/responder-status

# The front: h2o with fastcgi.timeout.keepalive keeps its FastCGI connections
# and, when one fails under a request, answers 503 and logs "fastcgi
# connection closed unexpectedly" (lib/handler/fastcgi.c: errorclose): no
# retry, so every request the responder drops shows in its access log. nginx
# retries a request whose kept connection failed (it would hide the loss);
# Apache's mod_proxy_fcgi with enablereuse=on reuses too, but checks a kept
# connection before it sends and may open a new one.
front_up() { # BACKEND LABEL: starts h2o on a free port; sets URL and FRONT_DIR
	FRONT_DIR="$TEST_TMP/h2o-$2"
	local port
	port=$(free_port) || bail_out "no free port"
	"$FRONT" start h2o "$FRONT_DIR" "$port" "$1" reuse || bail_out "$2: h2o did not start"
	on_exit "'$FRONT' stop '$FRONT_DIR'"
	URL="http://127.0.0.1:$port"
}
# log_counts FROM-LINE: "LINES OK OTHER" among h2o's access-log lines after
# FROM-LINE: OK the 200s and 405s (a POST's answer), OTHER any other status.
# wrk ends by closing its connections whatever they are receiving: the last
# CONNECTIONS lines may be cut short and are not counted as failures.
log_counts() {
	tail -n "+$(($1 + 1))" "$FRONT_DIR/access.log" | awk -v connections=$CONNECTIONS '
		{ status[NR] = $1 }
		END {
			for (n = 1; n <= NR; n++) {
				if (status[n] == 200 || status[n] == 405) good++
				else if (n <= NR - connections) other++
			}
			printf "%d %d %d\n", NR, good, other
		}'
}
front_errors() {
	grep -ciE 'fastcgi|error|fail|reset|timed out' "$FRONT_DIR/error.log" || true
}
# load_report LABEL FROM ERRORS-BEFORE: the checks after a wrk run through h2o.
load_report() {
	local label=$1 from=$2 errors_before=$3 counts log requests socket_errors lines other
	counts=$(wrk_counts "$TEST_TMP/wrk.out")
	log=$(log_counts "$from")
	read -r requests _ socket_errors <<<"$counts"
	read -r lines _ other <<<"$log"
	diag "$label: wrk requests non-2xx socket-errors = $counts; h2o access log lines 200-or-405 other = $log"
	grep -E 'Socket errors' "$TEST_TMP/wrk.out" | while read -r line; do diag "$label: wrk: $line"; done
	tail -n "+$((from + 1))" "$FRONT_DIR/access.log" | awk '$1 != 200 && $1 != 405 { print $1 }' | sort | uniq -c |
		while read -r line; do diag "$label: h2o access log: $line"; done
	check "$label: requests were served ($requests)" test "${requests:-0}" -gt 100
	is "${socket_errors:-?}" 0 "$label: 0 socket errors (wrk)"
	is "${other:-?}" 0 "$label: 0 failed requests in h2o's access log (a 502/503 is a request the responder dropped; $lines lines)"
	is "$(front_errors)" "$errors_before" "$label: no new line in h2o's error log"
	grep -iE 'fastcgi|error' "$FRONT_DIR/error.log" | tail -n +"$((errors_before + 1))" | head -n 3 |
		while read -r line; do diag "$label: h2o: $line"; done
}

# Item 6: a 20 KB POST and a GET /, in turn on each of wrk's connections.
cat >"$TEST_TMP/alternate.lua" <<'LUA'
local body = string.rep("x", 20000)
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local turn = 0
request = function()
	turn = turn + 1
	if turn % 2 == 1 then
		return wrk.format("POST", "/orders", headers, body)
	end
	return wrk.format("GET", "/")
end
LUA
large_then_small() { # ADDRESS LABEL
	local address=$1 label=$2 out size status
	for size in 20000 70000 500000; do
		out=$(timeout 30 "$PEER" "$address" keep post /orders "$size" send answer 10 "$TEST_TMP/post" \
			get / send answer 5 "$TEST_TMP/get" closed 0.5)
		status=$?
		like "$out" $'^end id=1 protocol=0 status=405 [^\n]*\nend id=1 protocol=0 status=200 ' \
			"$label: a kept connection: a POST of $size bytes, then GET / on it: both answered"
		is "$(grep -c '^end id=1 protocol=0 ' <<<"$out") $status" "2 4" \
			"$label: ... and the connection stays open after both (fcgi-peer exits 4: still open at the deadline)"
	done
	is "$(body_of "$TEST_TMP/get")" "$HELLO" "$label: ... the GET with its body"

	front_up "$address" "$label"
	local from errors_before
	from=$(wc -l <"$FRONT_DIR/access.log")
	errors_before=$(front_errors)
	wrk -t 2 -c $CONNECTIONS -d "${LOAD_SECONDS}s" -s "$TEST_TMP/alternate.lua" "$URL/" >"$TEST_TMP/wrk.out" 2>&1
	load_report "$label: h2o, 20 KB POSTs and GET / in turn for $LOAD_SECONDS s" "$from" "$errors_before"
	local posts
	posts=$(tail -n "+$((from + 1))" "$FRONT_DIR/access.log" | grep -c '^405 ')
	check "$label: ... POSTs were among them ($posts answered 405)" test "$posts" -gt 50
	"$FRONT" stop "$FRONT_DIR"
}

# Item 7: SIGHUP three times and SIGUSR2 once under load through h2o.
status_pid() { # ADDRESS: the supervisor's pid from the status page
	fcgi_get "$1" "$STATUS_PATH" | sed -n 's/.*"pid":\([0-9]*\),.*/\1/p' | head -n1
}
signals_under_load() { # ADDRESS LABEL
	local address=$1 label=$2 from errors_before load old new
	front_up "$address" "$label"
	from=$(wc -l <"$FRONT_DIR/access.log")
	errors_before=$(front_errors)
	wrk -t 2 -c $CONNECTIONS -d "$((LOAD_SECONDS + 4))s" "$URL/" >"$TEST_TMP/wrk.out" 2>&1 &
	load=$!
	on_exit "kill $load"
	sleep 1.5
	for _ in 1 2 3; do
		kill -HUP "$SUPERVISOR"
		sleep 1.5
	done
	old=$SUPERVISOR
	kill -USR2 "$SUPERVISOR"
	wait "$load"
	wait_until "! kill -0 $old 2>/dev/null" 10
	new=$(status_pid "$address")
	if [[ -n "$new" ]]; then
		on_exit "kill -KILL $new; pkill -KILL -P $new"
		SUPERVISOR=$new
	fi
	check "$label: after SIGUSR2 a new supervisor serves (${new:-none}, was $old)" test -n "$new" -a "$new" != "$old"
	load_report "$label: h2o under load across 3 SIGHUPs and a SIGUSR2" "$from" "$errors_before"
	"$FRONT" stop "$FRONT_DIR"
}

# Item 7, raw: PEERS kept connections each answered once (so idle in a
# worker), then the signal, then one more request on each: right after it,
# and (as many more) 1 s after it. All must be answered.
PEERS=4
raw_signal() { # ADDRESS LABEL SIGNAL
	local address=$1 label=$2 signal=$3 dir pids=() i answered=0 out old
	dir="$TEST_TMP/raw-$label-$signal-$RANDOM"
	mkdir -p "$dir"
	for i in $(seq $((2 * PEERS))); do
		local go="$dir/go-now"
		((i > PEERS)) && go="$dir/go-later"
		"$PEER" "$address" keep get / send answer 5 "$dir/a$i" touch "$dir/ready$i" wait-for "$go" \
			get / send answer 5 "$dir/b$i" >"$dir/out$i" 2>&1 &
		pids+=($!)
		on_exit "kill $!"
	done
	wait_until '[[ $(find "$dir" -name "ready*" | wc -l) -eq $((2 * PEERS)) ]]' 5
	old=$SUPERVISOR
	kill "-$signal" "$SUPERVISOR"
	touch "$dir/go-now"
	sleep 1
	touch "$dir/go-later"
	wait "${pids[@]}"
	for i in $(seq $((2 * PEERS))); do
		[[ "$(grep -c '^end id=1 protocol=0 status=200 ' "$dir/out$i")" -eq 2 ]] && answered=$((answered + 1))
	done
	is "$answered" $((2 * PEERS)) \
		"$label: SIG$signal: $PEERS kept connections sending right after it and $PEERS sending 1 s after it: every request answered"
	for i in $(seq $((2 * PEERS))); do
		out=$(tail -n1 "$dir/out$i")
		[[ "$(grep -c '^end id=1 protocol=0 status=200 ' "$dir/out$i")" -eq 2 ]] || diag "$label: SIG$signal: peer $i: ${out:-nothing}"
	done
	if [[ "$signal" == USR2 ]]; then
		wait_until "! kill -0 $old 2>/dev/null" 10
		local new
		new=$(status_pid "$address")
		[[ -n "$new" ]] && on_exit "kill -KILL $new; pkill -KILL -P $new" && SUPERVISOR=$new
	else
		wait_for_children 2 || true
		sleep 0.5
	fi
}

# The responder runs from a copy: SIGUSR2 starts the file at that path again.
BIN="$TEST_TMP/bin"
if ! mkdir -p "$BIN" || ! cp "$RESPONDER" "$BIN/webapi-fcgi"; then
	bail_out "cannot copy the responder to $BIN"
fi
RESPONDER="$BIN/webapi-fcgi"
FLAGS=(--workers 2 --status-path "$STATUS_PATH" --keepalive-timeout 10)
for kind in unix tcp; do
	starter=start_responder
	[[ $kind == tcp ]] && starter=start_tcp_responder
	$starter "reuse-$kind" "${FLAGS[@]}"
	wait_for_children 2 || bail_out "$kind: no workers started"
	address=$SOCKET
	[[ $kind == tcp ]] && address=$ADDRESS
	large_then_small "$address" "$kind"
	for signal in HUP HUP HUP USR2; do
		raw_signal "$address" "$kind" "$signal"
	done
	signals_under_load "$address" "$kind"
	deaths=$(grep -cE 'killed by signal|exited with status [1-9]|replacing it' "$LOG")
	is "$deaths" 0 "$kind: no worker died or was killed along the way (log of the first supervisor)"
	kill -TERM "$SUPERVISOR"
done

done_testing
