#!/usr/bin/env bash
# harden-valgrind.t: memcheck on the responder, supervisor and worker, for a few hundred FastCGI requests per endpoint: no memory error, no definite leak.
source "$(dirname "$0")/lib/common.sh"

command -v valgrind >/dev/null || bail_out "valgrind is not installed (scripts/install-deps test)"
REQUESTS=${VALGRIND_REQUESTS:-200}
DB=$(seeded_database)
SOCKET="$TEST_TMP/valgrind.sock"

# The worker is forked, so it stays under memcheck with its own log
# (vg.PID); --trace-children would follow an exec too.
DATABASE_URL="sqlite://$DB" valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --error-exitcode=99 --trace-children=yes --log-file="$TEST_TMP/vg.%p" \
	"$RESPONDER" --listen "$SOCKET" --workers 1 >/dev/null 2>"$TEST_TMP/responder.log" &
SUPERVISOR=$!
on_exit "kill -STOP $SUPERVISOR; pkill -KILL -P $SUPERVISOR; kill -KILL $SUPERVISOR"
wait_until '[[ -S "$SOCKET" && -n "$(pgrep -P "$SUPERVISOR")" ]]' 30
WORKER=$(pgrep -P "$SUPERVISOR")
[[ -n "$WORKER" ]] || bail_out "the responder did not start under valgrind: $(cat "$TEST_TMP/responder.log")"

# ask COUNT METHOD URI: COUNT requests; prints how many answered with each status.
ask() {
	local count=$1 method=$2 uri=$3 query=""
	[[ "$uri" == *\?* ]] && query=${uri#*\?}
	for _ in $(seq "$count"); do
		env -i REQUEST_METHOD="$method" REQUEST_URI="$uri" SCRIPT_NAME="${uri%%\?*}" QUERY_STRING="$query" \
			timeout 30 cgi-fcgi -bind -connect "$SOCKET" | head -n1 | tr -d '\r'
	done | sort | uniq -c | sed 's/^ *//' | tr '\n' ' '
}
is "$(ask "$REQUESTS" GET /)" "$REQUESTS Status: 200 OK " "$REQUESTS x GET /"
is "$(ask "$REQUESTS" GET /orders)" "$REQUESTS Status: 200 OK " "$REQUESTS x GET /orders"
is "$(ask "$REQUESTS" GET '/orders?limit=500&offset=9000')" "$REQUESTS Status: 200 OK " \
	"$REQUESTS x GET /orders?limit=500&offset=9000"
is "$(ask "$REQUESTS" GET /health)" "$REQUESTS Status: 200 OK " "$REQUESTS x GET /health"
is "$(ask 50 HEAD /orders)" "50 Status: 200 OK " "50 x HEAD /orders"
is "$(ask 50 GET '/orders?limit=0')" "50 Status: 400 Bad Request " "50 x a bad parameter"
is "$(ask 50 GET /nope)" "50 Status: 404 Not Found " "50 x an unknown path"
is "$(ask 50 DELETE /orders)" "50 Status: 405 Method Not Allowed " "50 x DELETE"
is "$(pgrep -P "$SUPERVISOR")" "$WORKER" "one worker served them all"

kill -TERM "$SUPERVISOR"
wait_until "! kill -0 $SUPERVISOR 2>/dev/null" 60
wait "$SUPERVISOR"
is "$?" 0 "the supervisor, stopped by SIGTERM, exits 0 (memcheck's error exit would be 99)"

for pid in "$SUPERVISOR" "$WORKER"; do
	log="$TEST_TMP/vg.$pid"
	role=$([[ $pid == "$SUPERVISOR" ]] && echo supervisor || echo worker)
	if [[ ! -s "$log" ]]; then
		ok 1 "$role $pid: memcheck wrote its log"
		continue
	fi
	summary=$(grep -oE 'ERROR SUMMARY: [0-9]+ errors' "$log")
	definite=$(grep -oE 'definitely lost: [0-9,]+ bytes' "$log")
	diag "$role $pid: $summary; ${definite:-definitely lost: 0 bytes (no leak possible)};$(grep -oE 'in use at exit: [0-9,]+ bytes in [0-9,]+ blocks' "$log" | sed 's/^/ /')"
	is "$summary" "ERROR SUMMARY: 0 errors" "$role $pid: no memcheck error"
	like "${definite:-definitely lost: 0 bytes}" '^definitely lost: 0 bytes$' "$role $pid: no definite leak"
	if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
		grep -E '^==[0-9]+== ' "$log" | head -n 40 | sed 's/^/#   /'
	fi
done

done_testing
