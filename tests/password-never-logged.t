#!/usr/bin/env bash
# password-never-logged.t: no byte of a PostgreSQL password reaches a log line, an error body or scripts/seed-db's output, however DATABASE_URL spells it ('/', '@', '?', '#', '%' in it; libpq accepting or refusing it) (issue 11, item 4); a password that is a common word or one letter is masked only where it stands, and libpq's messages are logged as they are (issue 20, item 10).
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/pg.sh"

# exercise URL OUT: what a user sees with DATABASE_URL=URL, into OUT: two
# CGI requests, a FastCGI responder answering two, and scripts/seed-db.
exercise() {
	local url=$1 out=$2 socket="$TEST_TMP/pw.sock" responder
	env -i DATABASE_URL="$url" REQUEST_METHOD=GET REQUEST_URI=/orders "$RESPONDER" >"$out" 2>&1
	env -i DATABASE_URL="$url" REQUEST_METHOD=GET REQUEST_URI=/health "$RESPONDER" >>"$out" 2>&1
	DATABASE_URL="$url" timeout -s KILL 10 "$RESPONDER" --listen "$socket" --workers 1 >>"$out" 2>&1 &
	responder=$!
	on_exit "kill -KILL $responder"
	if wait_for_socket "$socket"; then
		fcgi_get "$socket" /orders >>"$out" 2>&1
		fcgi_get "$socket" /health >>"$out" 2>&1
		kill -TERM "$responder"
	fi
	wait "$responder" 2>/dev/null
	"$ROOT/scripts/seed-db" --postgres "$url" >>"$out" 2>&1
	rm -f "$socket"
}

# Nothing listens there: every connection attempt fails and is logged.
port=$(free_port) || bail_out "no free port"
# URL|what|fragments of the password that must appear nowhere (space-separated)
while IFS='|' read -r url what fragments; do
	url=${url//PORT/$port}
	out="$TEST_TMP/out"
	exercise "$url" "$out"
	leaked=""
	for fragment in $fragments; do
		grep -qF -- "$fragment" "$out" && leaked+=" $fragment"
	done
	is "$leaked" "" "$what: no piece of the password in $(wc -l <"$out") lines of log, answers and seed-db output"
	[[ -n "$leaked" ]] && grep -F -- "${leaked# }" "$out" | head -n 3 | sed 's/^/#   /'
done <<'URLS'
postgresql://apiuser:Zm9v/YmFy+S3CRET==@127.0.0.1:PORT/ordersdb|a base64 password with '/'|Zm9v YmFy S3CRET
postgresql://apiuser:pa@S3CRET@127.0.0.1:PORT/ordersdb|an unencoded '@' in the password|S3CRET pa@
postgresql://apiuser:S3CRET?x#y@127.0.0.1:PORT/ordersdb|'?' and '#' in the password|S3CRET ?x#y
postgresql://apiuser:S3CRET%zz@127.0.0.1:PORT/ordersdb|a malformed '%' escape, which libpq refuses|S3CRET %zz
postgresql://127.0.0.1:PORT/ordersdb?user=apiuser&password=S3CRET|a password query parameter|S3CRET
host=127.0.0.1 port=PORT dbname=ordersdb password='S3CRET with spaces'|a quoted keyword password|S3CRET spaces
URLS

# A password that is a common word or a letter is in libpq's messages by
# chance ("connection to server", "port", "failed"): searching them for it
# and masking what is found tells the password ("connection to **** at",
# "****ort"). It is masked where it stands, the password field of the
# target as the log names it, and nowhere else.
on_exit pg_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
for password in server p e postgres connection a; do
	# URL|what|a message libpq writes for it, which must be logged as it is
	while IFS='|' read -r url what message; do
		url=${url//PASSWORD/$password}
		url=${url//PG_PORT/$PG_TEST_PORT}
		url=${url//PORT/$port}
		message=${message//PG_PORT/$PG_TEST_PORT}
		message=${message//PORT/$port}
		out="$TEST_TMP/out"
		exercise "$url" "$out"
		lines=$(wc -l <"$out")
		# In the responder's own lines: psql's, through seed-db, hold it too.
		check "'$password', $what: the responder logs libpq's message as it is ($message)" \
			grep -qF -- "$message" <<<"$(grep '^webapi-fcgi\[' "$out")"
		# Every "****" is a password field's value, and every password
		# field's value is "****".
		is "$(sed 's/password=\*\*\*\*//g' "$out" | grep -F -- '****')" "" \
			"'$password', $what: no '****' but in 'password=****' in $lines lines"
		is "$(grep -o 'password=[^ ]*' "$out" | grep -vx 'password=\*\*\*\*')" "" \
			"'$password', $what: the password field shows '****' only"
		is "$(grep -F -e "$url" -e ":$password@" "$out")" "" "'$password', $what: DATABASE_URL is never quoted"
		[[ $what == malformed* ]] ||
			check "'$password', $what: the target is named, its password masked" grep -qF 'password=****' "$out"
	done <<-'URLS'
		postgresql://apiuser:PASSWORD@127.0.0.1:PG_PORT/ordersdb|a server that refuses the password|connection to server at "127.0.0.1", port PG_PORT failed: FATAL:  password authentication failed for user "apiuser"
		postgresql://apiuser:PASSWORD@127.0.0.1:PORT/ordersdb|nothing listening|connection to server at "127.0.0.1", port PORT failed: Connection refused Is the server running on that host and accepting TCP/IP connections?
		postgresql://apiuser:PASSWORD@[::1/ordersdb|malformed (an IPv6 host without its ']')|DATABASE_URL is not a connection string libpq accepts: end of string reached
	URLS
done
done_testing
