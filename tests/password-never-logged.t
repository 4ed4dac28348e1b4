#!/usr/bin/env bash
# password-never-logged.t: no byte of a PostgreSQL password reaches a log line, an error body or scripts/seed-db's output, however DATABASE_URL spells it ('/', '@', '?', '#', '%' in it; libpq accepting or refusing it) (issue 11, item 4).
source "$(dirname "$0")/lib/common.sh"

# Nothing listens there: every connection attempt fails and is logged.
port=$(free_port) || bail_out "no free port"
# URL|what|fragments of the password that must appear nowhere (space-separated)
while IFS='|' read -r url what fragments; do
	url=${url//PORT/$port}
	out="$TEST_TMP/out"
	env -i DATABASE_URL="$url" REQUEST_METHOD=GET REQUEST_URI=/orders "$RESPONDER" >"$out" 2>&1
	env -i DATABASE_URL="$url" REQUEST_METHOD=GET REQUEST_URI=/health "$RESPONDER" >>"$out" 2>&1
	socket="$TEST_TMP/pw.sock"
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
	leaked=""
	for fragment in $fragments; do
		grep -qF -- "$fragment" "$out" && leaked+=" $fragment"
	done
	is "$leaked" "" "$what: no piece of the password in $(wc -l <"$out") lines of log, answers and seed-db output"
	[[ -n "$leaked" ]] && grep -F -- "${leaked# }" "$out" | head -n 3 | sed 's/^/#   /'
	rm -f "$socket"
done <<'URLS'
postgresql://apiuser:Zm9v/YmFy+S3CRET==@127.0.0.1:PORT/ordersdb|a base64 password with '/'|Zm9v YmFy S3CRET
postgresql://apiuser:pa@S3CRET@127.0.0.1:PORT/ordersdb|an unencoded '@' in the password|S3CRET pa@
postgresql://apiuser:S3CRET?x#y@127.0.0.1:PORT/ordersdb|'?' and '#' in the password|S3CRET ?x#y
postgresql://apiuser:S3CRET%zz@127.0.0.1:PORT/ordersdb|a malformed '%' escape, which libpq refuses|S3CRET %zz
postgresql://127.0.0.1:PORT/ordersdb?user=apiuser&password=S3CRET|a password query parameter|S3CRET
host=127.0.0.1 port=PORT dbname=ordersdb password='S3CRET with spaces'|a quoted keyword password|S3CRET spaces
URLS
done_testing
