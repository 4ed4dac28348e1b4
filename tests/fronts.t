#!/usr/bin/env bash
# fronts.t: lighttpd, nginx, Apache httpd and h2o in front of the responder, with the FastCGI connection reuse each offers turned on, over a unix socket and TCP: the stack's bytes, clean bounded loads counted from the fronts' own logs, and a worker killed under load.
source "$(dirname "$0")/lib/common.sh"

FRONT="$ROOT/scripts/front"
# The fronts' workers run as www-data, as on a real host: they must reach
# the sockets and write the logs in here.
chmod 711 "$TEST_TMP"
DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"
LOAD_SECONDS=${FRONT_LOAD_SECONDS:-5}

for tool in wrk ab nginx apache2 h2o lighttpd; do
	command -v "$tool" >/dev/null || bail_out "$tool is missing (scripts/install-deps test installs it)"
done

# What the lighttpd stack answers: the status and a digest of the body of
# each case (HEAD: the status, and that no body came).
CASES=("GET /" "GET /orders" "GET /orders?limit=3&offset=7" "GET /nope" "POST /orders" "GET /orders?limit=0"
	"HEAD /orders")
answer() { # BASE-URL METHOD PATH
	local request=(-X "$2")
	case "$2" in
	HEAD) request=(--head -D /dev/null) ;;
	POST) request=(--data 'name=value') ;;
	esac
	curl -s "${request[@]}" -o "$TEST_TMP/answer.body" -w '%{http_code}' --max-time 10 "$1$3"
	if [[ "$2" == HEAD ]]; then
		# --head writes the headers where the body would go.
		grep -qv $'^[A-Za-z-]*:\|^HTTP/\|^\r$' "$TEST_TMP/answer.body" && printf ' a body' || printf ' no body'
	else
		printf ' %s' "$(sha256sum <"$TEST_TMP/answer.body" | cut -c1-16)"
	fi
}
stack_up
declare -A EXPECTED
for case in "${CASES[@]}"; do
	EXPECTED[$case]=$(answer "$BASE_URL" $case)
done
HELLO_BYTES=27
ORDERS_BYTES=$(curl -s "$BASE_URL/orders" | wc -c)

# log_counts FILE FROM-LINE BYTES: "LINES NON2XX TRUNCATED" among access-log
# lines after FROM-LINE; a 200 whose body is not BYTES long is truncated.
# wrk ends its run by closing its 50 connections whatever they are
# receiving: the fronts log those as 499 (nginx) or as a 200 cut short,
# so the last 50 lines may be cut; any other is the front's or ours.
log_counts() {
	tail -n "+$(($2 + 1))" "$1" | awk -v bytes="$3" -v connections=50 '
		{ status[NR] = $1; sent[NR] = $2 }
		END {
			for (n = 1; n <= NR; n++) {
				at_the_end = n > NR - connections
				if (status[n] == 499 && at_the_end) continue
				lines++
				if (status[n] !~ /^2/) non2xx++
				if (status[n] == 200 && sent[n] != bytes && !at_the_end) truncated++
			}
			printf "%d %d %d\n", lines, non2xx, truncated
		}'
}
error_lines() { # DIR: lines of the front's error log that report a failure
	grep -ciE 'error|fail|reset|broken pipe|closed unexpectedly|timed out|AH0' "$1/error.log" || true
}
# The responder's workers and, for one of them, its open connections.
held_connections() { # PID: sockets less the listening one
	echo $(($(find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l) - 1))
}

# served_and_accepted URL: "REQUESTS ACCEPTED" so far, from the responder's
# status page (all its workers) through the front.
served_and_accepted() {
	curl -s --max-time 5 "$1$STATUS_PATH" |
		sed -nE 's/.*"accepted_connections":([0-9]+),"requests":([0-9]+).*/\2 \1/p'
}
# reuse_checks KIND LABEL BEFORE AFTER: with reuse on, most requests come on
# a connection the front kept, not on one it opened for them; lighttpd 1.4
# opens one per request.
reuse_checks() {
	local requests_before accepted_before requests accepted
	read -r requests_before accepted_before <<<"$3"
	read -r requests accepted <<<"$4"
	requests=$((requests - requests_before)) accepted=$((accepted - accepted_before))
	diag "$2: the responder served $requests requests on $accepted new connections"
	if [[ "$1" == lighttpd ]]; then
		check "$2: lighttpd opened a connection per request" test "$accepted" -ge "$requests"
	else
		check "$2: at least 9 in 10 requests came on a kept connection" test $((accepted * 10)) -le "$requests"
	fi
}

front_checks() { # KIND TRANSPORT BACKEND MODE
	local kind=$1 transport=$2 backend=$3 mode=$4 label="$1 $2" dir port url
	dir="$TEST_TMP/$kind-$transport"
	port=$(free_port) || bail_out "no free port"
	"$FRONT" start "$kind" "$dir" "$port" "$backend" "$mode" || bail_out "$label: the front did not start"
	on_exit "'$FRONT' stop '$dir'"
	url="http://127.0.0.1:$port"

	local case differing=()
	for case in "${CASES[@]}"; do
		[[ "$(answer "$url" $case)" == "${EXPECTED[$case]}" ]] || differing+=("$case")
	done
	is "${differing[*]}" "" "$label ($mode): status and body of ${#CASES[@]} cases as the lighttpd stack's"
	for case in "${differing[@]}"; do
		diag "$label: $case: stack '${EXPECTED[$case]}', here '$(answer "$url" $case)'"
	done

	local path bytes from counts log errors_before before
	for path in / /orders; do
		bytes=$HELLO_BYTES
		[[ "$path" == /orders ]] && bytes=$ORDERS_BYTES
		# Before the flush: the status request's own log line is not the load's.
		before=$(served_and_accepted "$url")
		"$FRONT" flush "$dir"
		from=$(wc -l <"$dir/access.log")
		errors_before=$(error_lines "$dir")
		wrk -t 2 -c 50 -d "${LOAD_SECONDS}s" "$url$path" >"$TEST_TMP/wrk.out" 2>&1
		counts=$(wrk_counts "$TEST_TMP/wrk.out")
		"$FRONT" flush "$dir"
		log=$(log_counts "$dir/access.log" "$from" "$bytes")
		diag "$label: wrk $path: requests non-2xx socket-errors = $counts; access log lines non-2xx truncated = $log"
		grep -E 'Socket errors' "$TEST_TMP/wrk.out" | while read -r line; do diag "$label: wrk: $line"; done
		read -r requests non2xx socket_errors <<<"$counts"
		read -r lines log_non2xx truncated <<<"$log"
		check "$label: GET $path under load: requests were served ($requests)" test "$requests" -gt 0
		is "$non2xx $socket_errors" "0 0" "$label: GET $path under load: 0 non-2xx, 0 socket errors (wrk)"
		is "$log_non2xx $truncated" "0 0" "$label: GET $path under load: 0 non-2xx, 0 truncated bodies in the access log ($lines lines)"
		is "$(error_lines "$dir")" "$errors_before" "$label: GET $path under load: no error in the front's error log"
		reuse_checks "$kind" "$label: GET $path under load" "$before" "$(served_and_accepted "$url")"
	done

	if [[ "$kind" == nginx || "$kind" == apache ]]; then
		printf 'name=value&other=%0500d' 0 >"$TEST_TMP/post.body"
		"$FRONT" flush "$dir"
		from=$(wc -l <"$dir/access.log")
		ab -q -n 2000 -c 20 -p "$TEST_TMP/post.body" -T application/x-www-form-urlencoded "$url/orders" \
			>"$TEST_TMP/ab.out" 2>&1
		local complete failed answered_405
		complete=$(awk '/^Complete requests/ { print $3 }' "$TEST_TMP/ab.out")
		failed=$(awk '/^Failed requests/ { print $3 }' "$TEST_TMP/ab.out")
		"$FRONT" flush "$dir"
		answered_405=$(tail -n "+$((from + 1))" "$dir/access.log" | grep -c '^405 30$')
		is "${complete:-0} ${failed:-?}" "2000 0" "$label: ab, 2,000 POSTs with a body: all complete, none failed"
		is "$answered_405" 2000 "$label: ... each answered by the responder's own 405 (none by the front: no 502, no 503)"
	fi

	# A worker killed under load: frozen first, so that the connections it
	# holds can be counted, then killed. Only those may fail.
	"$FRONT" flush "$dir"
	from=$(wc -l <"$dir/access.log")
	wrk -t 2 -c 50 -d "${LOAD_SECONDS}s" "$url/orders" >"$TEST_TMP/wrk.out" 2>&1 &
	local load=$! victim held
	sleep 2
	victim=$(children | head -n1)
	kill -STOP "$victim"
	held=$(held_connections "$victim")
	kill -KILL "$victim"
	wait "$load"
	"$FRONT" flush "$dir"
	counts=$(wrk_counts "$TEST_TMP/wrk.out")
	log=$(log_counts "$dir/access.log" "$from" "$ORDERS_BYTES")
	read -r requests non2xx socket_errors <<<"$counts"
	read -r lines log_non2xx truncated <<<"$log"
	# A request cut off shows in both views; the larger count is taken.
	local lost=$((non2xx + socket_errors))
	((log_non2xx + truncated > lost)) && lost=$((log_non2xx + truncated))
	diag "$label: worker $victim killed holding $held connections: wrk $counts; access log $log"
	check "$label: a worker killed under load: failed requests ($lost) at most the connections it held ($held)" \
		test "$lost" -le "$held"
	wait_for_children 2 || true
	local after=0
	for _ in $(seq 20); do
		[[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/orders")" == 200 ]] && after=$((after + 1))
	done
	is "$after" 20 "$label: ... and the front keeps serving: 20 of 20 afterwards"
	"$FRONT" stop "$dir"
}

# One responder per transport, two workers each, shared by the fronts.
STATUS_PATH=/responder-status
start_responder fronts-unix --workers 2 --status-path "$STATUS_PATH"
wait_for_children 2 || bail_out "no workers started"
FRONTS=${FRONTS:-lighttpd nginx apache h2o}
for kind in $FRONTS; do
	front_checks "$kind" unix "$SOCKET" reuse
done
kill -TERM "$SUPERVISOR"

start_tcp_responder fronts-tcp --workers 2 --status-path "$STATUS_PATH"
wait_for_children 2 || bail_out "no TCP workers started"
for kind in $FRONTS; do
	front_checks "$kind" tcp "$ADDRESS" reuse
done

done_testing
