#!/usr/bin/env bash
# modes.t: the responder run as CGI from a shell, and on its own --listen socket (unix and TCP) driven by cgi-fcgi.
source "$(dirname "$0")/lib/common.sh"

DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"

# CGI: one request from the environment, answered on stdout.
out=$(env -i DATABASE_URL="$DATABASE_URL" REQUEST_METHOD=GET REQUEST_URI=/ "$RESPONDER")
is "$out" $'Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"message":"Hello, World!"}' \
	"CGI: GET / from the shell"
out=$(env -i DATABASE_URL="$DATABASE_URL" REQUEST_METHOD=GET REQUEST_URI=/orders "$RESPONDER")
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 100 1000)" "CGI: GET /orders from the shell"
out=$(env -i DATABASE_URL="$DATABASE_URL" REQUEST_METHOD=GET SCRIPT_NAME=/orders QUERY_STRING='limit=2&offset=5' "$RESPONDER")
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 2 5)" "CGI: SCRIPT_NAME and QUERY_STRING"
out=$(env -i DATABASE_URL="$DATABASE_URL" REQUEST_METHOD=GET REQUEST_URI='/orders?limit=x' "$RESPONDER")
like "$out" '^Status: 400 Bad Request' "CGI: a bad parameter in REQUEST_URI is a 400"
out=$(env -i DATABASE_URL="$DATABASE_URL" REQUEST_METHOD=PUT REQUEST_URI=/orders "$RESPONDER")
like "$out" $'^Status: 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: 30\r\nAllow: GET, HEAD\r\n' \
	"CGI: 405 with Allow"
out=$(env -i DATABASE_URL="$DATABASE_URL" REQUEST_METHOD=HEAD REQUEST_URI=/ "$RESPONDER")
is "$out" $'Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r' "CGI: HEAD has the headers only"

# Startup errors are clear and name the file.
err=$(env -i DATABASE_URL="sqlite://$TEST_TMP/missing.db" REQUEST_METHOD=GET REQUEST_URI=/ "$RESPONDER" 2>&1 >/dev/null)
status=$?
check "a missing database file fails with status 1 ($status)" test "$status" -eq 1
like "$err" "cannot read database $TEST_TMP/missing.db: No such file or directory" "the error names the path"
printf 'not a database' >"$TEST_TMP/garbage.db"
err=$(env -i DATABASE_URL="sqlite://$TEST_TMP/garbage.db" REQUEST_METHOD=GET REQUEST_URI=/ "$RESPONDER" 2>&1 >/dev/null)
like "$err" "garbage.db.*(not a database|file is not)" "a file that is not a database is named too"
err=$(env -i DATABASE_URL="mysql://u:secret@h/d" "$RESPONDER" 2>&1 >/dev/null)
like "$err" "is not understood" "an unknown DATABASE_URL scheme is refused"
check "and its password is not echoed" test "${err/secret/}" == "$err"
"$RESPONDER" --workers 0 2>/dev/null
is "$?" 2 "--workers 0 is refused"
like "$("$RESPONDER" --help)" "--listen ADDR" "--help lists the flags"

# --listen: the responder binds its own socket; cgi-fcgi plays the web server.
socket="$TEST_TMP/webapi.sock"
"$RESPONDER" --listen "$socket" --workers 2 2>"$TEST_TMP/unix.log" &
unix_pid=$!
on_exit "kill -KILL $unix_pid"
wait_for_socket "$socket"
is "$(stat -c %a "$socket")" 660 "the unix socket is mode 0660"
out=$(fcgi_get "$socket" /)
like "$out" $'Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n\\{"message":"Hello, World!"\\}$' \
	"cgi-fcgi over the unix socket: GET /"
out=$(fcgi_get "$socket" /orders)
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 100 1000)" "cgi-fcgi over the unix socket: GET /orders"
"$RESPONDER" --listen "$socket" 2>"$TEST_TMP/second.log"
is "$?" 1 "a second responder on a socket in use refuses to start"
like "$(cat "$TEST_TMP/second.log")" "in use" "and says the socket is in use"
printf 'precious' >"$TEST_TMP/regular-file"
"$RESPONDER" --listen "$TEST_TMP/regular-file" 2>/dev/null
is "$(cat "$TEST_TMP/regular-file")" precious "--listen never deletes a file that is not a socket"
kill -TERM "$unix_pid"
wait "$unix_pid"
is "$?" 0 "SIGTERM: the responder exits 0"
check "and removes its socket" test ! -e "$socket"

port=$(free_port)
"$RESPONDER" --listen ":$port" --workers 2 2>"$TEST_TMP/tcp.log" &
tcp_pid=$!
on_exit "kill -KILL $tcp_pid"
wait_for_port 127.0.0.1 "$port"
out=$(fcgi_get "127.0.0.1:$port" '/orders?limit=1&offset=0')
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 1 0)" "cgi-fcgi over TCP: a page of /orders"
check ":PORT binds the loopback only" grep -q "127.0.0.1:$port" <(ss -Hltn "sport = :$port")
kill -TERM "$tcp_pid"
wait "$tcp_pid"
is "$?" 0 "SIGTERM: the TCP responder exits 0"
check "no worker is left behind" bash -c "! pgrep -f '^$RESPONDER --listen :$port' >/dev/null"

done_testing
