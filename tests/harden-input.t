#!/usr/bin/env bash
# harden-input.t: hostile HTTP through lighttpd, and hostile CGI parameters straight over FastCGI: each gets a deliberate 4xx (ours as JSON, or lighttpd's own), never our 5xx, a hang or a crash.
source "$(dirname "$0")/lib/common.sh"

DB=$(seeded_database)
stack_up DATABASE_URL="sqlite://$DB" WORKERS=2
PORT=${BASE_URL##*:}
WORKERS_AT_START=$(worker_pids | sort | tr '\n' ' ')
RECORD=()
OUR_5XX=0

# judge DESCRIPTION WANT-STATUS WANT-SOURCE STATUS CONTENT-TYPE BODY-FILE:
# the answer is ours when it is JSON, else lighttpd's. Ours must be a
# JSON error object (or the endpoint's JSON on 200), printable.
judge() {
	local description=$1 want="$2 $3" status=$4 type=$5 body=$6 source=lighttpd
	[[ "$type" == application/json* ]] && source=us
	RECORD+=("$(printf '%-3s %-8s %s' "$status" "$source" "$description")")
	[[ $source == us && $status == 5* ]] && OUR_5XX=$((OUR_5XX + 1))
	local body_ok=0
	if [[ $source == us && $status == 4* ]]; then
		LC_ALL=C grep -qE '^\{"error":"[ -~]*"\}$' "$body" || body_ok=1
	elif [[ $source == us && $status == 200 ]]; then
		LC_ALL=C grep -qE '^[[{]' "$body" || body_ok=1
	fi
	if [[ "$status $source" == "$want" && $body_ok -eq 0 ]]; then
		ok 0 "$description: $status from $source"
	else
		ok 1 "$description: $status from $source"
		diag "  expected $want; body: $(head -c 200 "$body" | tr '\n' ' ')"
	fi
}

# hostile DESCRIPTION STATUS SOURCE CURL-ARGS...: one request with curl,
# taken as given (--path-as-is, no globbing), bounded by 10 s.
hostile() {
	local description=$1 status=$2 source=$3
	shift 3
	local got
	got=$(curl -s --path-as-is -g -D "$TEST_TMP/headers" -o "$TEST_TMP/body" -w '%{http_code}' --max-time 10 "$@")
	judge "$description" "$status" "$source" "$got" "$(header Content-Type)" "$TEST_TMP/body"
}

# raw DESCRIPTION STATUS SOURCE PRINTF-FORMAT: bytes curl would not send,
# written as they are; lighttpd closes after its answer (or 10 s pass).
raw() {
	local description=$1 status=$2 source=$3
	printf "$4" | timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && cat >&3 && cat <&3" \
		>"$TEST_TMP/raw" 2>/dev/null
	local got type
	got=$(head -n1 "$TEST_TMP/raw" | tr -d '\r' | awk '{ print $2 }')
	type=$(grep -ai -m1 '^content-type:' "$TEST_TMP/raw" | cut -d' ' -f2 | tr -d '\r')
	sed '1,/^\r$/d' "$TEST_TMP/raw" >"$TEST_TMP/raw-body"
	judge "$description" "$status" "$source" "${got:-none}" "$type" "$TEST_TMP/raw-body"
}

# After each batch: the stack still answers, and no worker was replaced.
still_serving() {
	is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE_URL/")" 200 "after $1: GET / still 200"
	is "$(worker_pids | sort | tr '\n' ' ')" "$WORKERS_AT_START" "after $1: the same workers (none crashed)"
}

a() { head -c "$1" /dev/zero | tr '\0' a; }

# Methods. lighttpd itself answers 501 to a method it does not know (the
# HTTP rule for an unrecognised method); every method it knows reaches us.
hostile "POST /orders without a body (no Content-Length)" 411 lighttpd -X POST "$BASE_URL/orders"
hostile "POST /orders with an empty body" 405 us --data '' "$BASE_URL/orders"
for method in PUT DELETE PATCH OPTIONS TRACE CONNECT PROPFIND MKCOL LOCK; do
	hostile "$method /orders" 405 us -X "$method" "$BASE_URL/orders"
done
hostile "POST / with a 1 MB body" 405 us --data-binary @<(a 1000000) "$BASE_URL/"
hostile "FOO /orders (a method lighttpd does not know)" 501 lighttpd -X FOO "$BASE_URL/orders"
hostile "get /orders (methods are case-sensitive)" 501 lighttpd -X get "$BASE_URL/orders"
hostile "OPTIONS * (lighttpd's own)" 200 lighttpd --request-target '*' -X OPTIONS "$BASE_URL/"
still_serving "the methods"

# A body on GET or HEAD: lighttpd refuses it before us (it reaches us
# over FastCGI below).
hostile "GET /orders with a body" 400 lighttpd -X GET --data 'x=1' "$BASE_URL/orders"
hostile "GET /orders with a 1 MB body" 400 lighttpd -X GET --data-binary @<(a 1000000) "$BASE_URL/orders"
hostile "HEAD / with a body" 400 lighttpd -X HEAD --data 'x' "$BASE_URL/"
hostile "GET /orders with a chunked body" 400 lighttpd -X GET -H 'Transfer-Encoding: chunked' --data 'x' "$BASE_URL/orders"
still_serving "the bodies"

# Query strings: huge, malformed, escaped, NUL.
hostile "a 1 KB unknown parameter" 400 us "$BASE_URL/orders?$(a 1000)"
hostile "an 8 KB query, just under lighttpd's limit" 400 us "$BASE_URL/orders?$(a 8100)"
hostile "a 100 KB query" 431 lighttpd "$BASE_URL/orders?$(a 102400)"
hostile "limit=%zz" 400 us "$BASE_URL/orders?limit=%zz"
hostile "%%%" 400 us "$BASE_URL/orders?%%%"
hostile "limit=1%00 (an escaped NUL)" 400 lighttpd "$BASE_URL/orders?limit=1%00"
hostile "limit=%C3%A9" 400 us "$BASE_URL/orders?limit=%C3%A9"
hostile "limit=+1" 400 us "$BASE_URL/orders?limit=+1"
hostile "limit=1e3" 400 us "$BASE_URL/orders?limit=1e3"
hostile "offset=99999999999999999999" 400 us "$BASE_URL/orders?offset=99999999999999999999"
hostile "limit=&offset=" 400 us "$BASE_URL/orders?limit=&offset="
hostile "a lone =" 400 us "$BASE_URL/orders?="
hostile "limit repeated" 400 us "$BASE_URL/orders?limit=1&offset=2&limit=3"
hostile "limit=1;offset=2" 400 us "$BASE_URL/orders?limit=1;offset=2"
hostile "&&& (empty parameters: the default page)" 200 us "$BASE_URL/orders?&&&"
hostile "limit=%31 (lighttpd decodes the unreserved escape)" 200 us "$BASE_URL/orders?limit=%31"
raw "raw bytes 0xff 0xfe in the query" 400 lighttpd 'GET /orders?limit=\xff\xfe HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
raw "a control byte in the query" 400 lighttpd 'GET /orders?\001 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
still_serving "the query strings"

# Paths: escapes and dot segments are taken literally by the router: only
# the three exact paths exist (%6F is decoded to o, as RFC 3986 allows).
hostile "/%6Frders" 200 us "$BASE_URL/%6Frders"
hostile "/./orders" 404 us "$BASE_URL/./orders"
hostile "//orders" 404 us "$BASE_URL//orders"
hostile "/orders/.." 404 us "$BASE_URL/orders/.."
hostile "/orders/../orders" 404 us "$BASE_URL/orders/../orders"
hostile "/orders%2F" 404 us "$BASE_URL/orders%2F"
hostile "/%2Forders" 404 us "$BASE_URL/%2Forders"
hostile "/..%2Forders" 404 us "$BASE_URL/..%2Forders"
hostile "/%2e/orders" 404 us "$BASE_URL/%2e/orders"
hostile "/orders/" 404 us "$BASE_URL/orders/"
hostile "/ORDERS" 404 us "$BASE_URL/ORDERS"
hostile "/orders%3F (an escaped ?)" 404 us "$BASE_URL/orders%3F"
hostile "/orders%20" 404 us "$BASE_URL/orders%20"
hostile "/orders%zz (a bad escape)" 400 us "$BASE_URL/orders%zz"
hostile "/orders% (a cut escape)" 400 us "$BASE_URL/orders%"
hostile "/orders%00 (an escaped NUL)" 400 lighttpd "$BASE_URL/orders%00"
hostile "/orders%0A (an escaped newline)" 400 lighttpd "$BASE_URL/orders%0A"
hostile "/orders%FF" 400 lighttpd "$BASE_URL/orders%FF"
hostile "/%C0%AE%C0%AE/orders (overlong UTF-8 dots)" 400 lighttpd "$BASE_URL/%C0%AE%C0%AE/orders"
hostile "a 2,048-byte path: 404 like any unknown path" 404 us "$BASE_URL/$(a 2047)"
hostile "a 3 KB path" 404 us "$BASE_URL/$(a 3000)"
hostile "a 7 KB path" 404 us "$BASE_URL/$(a 7000)"
hostile "a 7 KB path with a bad escape at its end" 400 us "$BASE_URL/$(a 7000)%zz"
hostile "a 20 KB path" 431 lighttpd "$BASE_URL/$(a 20000)"
hostile "a 100 KB path" 431 lighttpd "$BASE_URL/$(a 102400)"
raw "a raw NUL in the path" 400 lighttpd 'GET /ord\0ers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
raw "a relative path" 400 lighttpd 'GET orders HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
raw "the absolute form" 200 us 'GET http://127.0.0.1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
still_serving "the paths"

# Headers and the request line.
hostile "a 7 KB header" 200 us -H "X-Big: $(a 7000)" "$BASE_URL/orders"
hostile "a 9 KB header" 431 lighttpd -H "X-Big: $(a 9000)" "$BASE_URL/orders"
hostile "a 70 KB header" 431 lighttpd -H "X-Big: $(a 70000)" "$BASE_URL/orders"
many=()
for i in $(seq 300); do many+=(-H "X-H$i: $i"); done
hostile "300 headers" 200 us "${many[@]}" "$BASE_URL/"
for i in $(seq 301 2000); do many+=(-H "X-H$i: $i"); done
hostile "2000 headers" 431 lighttpd "${many[@]}" "$BASE_URL/"
raw "HTTP/1.1 without Host" 400 lighttpd 'GET /orders HTTP/1.1\r\nConnection: close\r\n\r\n'
raw "a control byte in a header" 400 lighttpd 'GET /orders HTTP/1.1\r\nHost: a\r\nX: \001\r\nConnection: close\r\n\r\n'
raw "a folded header" 400 lighttpd 'GET /orders HTTP/1.1\r\nHost: a\r\n folded: x\r\nConnection: close\r\n\r\n'
raw "two spaces in the request line" 400 lighttpd 'GET  /orders HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
raw "two Content-Lengths" 400 lighttpd 'GET /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab'
raw "a negative Content-Length" 400 lighttpd 'GET /orders HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\nConnection: close\r\n\r\n'
raw "a broken chunk" 400 lighttpd 'GET /orders HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n'
raw "an HTTP/0.9 request line" 400 lighttpd 'GET /orders\r\n\r\n'
raw "an empty request" 400 lighttpd '\r\n\r\n'
still_serving "the headers"

# The same kinds of input straight to the responder over FastCGI, where
# no web server filters them first.
SOCKET="$TEST_TMP/direct.sock"
DATABASE_URL="sqlite://$DB" "$RESPONDER" --listen "$SOCKET" --workers 1 >/dev/null 2>"$TEST_TMP/direct.log" &
direct_pid=$!
on_exit "kill -STOP $direct_pid; pkill -KILL -P $direct_pid; kill -KILL $direct_pid"
wait_until '[[ -S "$SOCKET" && -n "$(pgrep -P $direct_pid)" ]]' 5
direct_worker=$(pgrep -P "$direct_pid") || bail_out "the responder on $SOCKET did not start: $(cat "$TEST_TMP/direct.log")"
# direct DESCRIPTION STATUS [STDIN-FILE] -- VAR=VALUE...: one request made of
# exactly these CGI parameters (plus DATABASE_URL), through cgi-fcgi.
direct() {
	local description=$1 status=$2 input=/dev/null
	shift 2
	if [[ $1 != -- ]]; then
		input=$1
		shift
	fi
	shift
	env -i "$@" timeout 10 cgi-fcgi -bind -connect "$SOCKET" <"$input" >"$TEST_TMP/direct.out"
	local got type
	got=$(head -n1 "$TEST_TMP/direct.out" | tr -d '\r' | awk '{ print $2 }')
	type=$(grep -ai -m1 '^content-type:' "$TEST_TMP/direct.out" | cut -d' ' -f2 | tr -d '\r')
	sed '1,/^\r$/d' "$TEST_TMP/direct.out" >"$TEST_TMP/direct.body"
	judge "FastCGI: $description" "$status" us "${got:-none}" "$type" "$TEST_TMP/direct.body"
}
a 1000000 >"$TEST_TMP/megabyte"
direct "GET /orders with a 1 MB body (read and ignored)" 200 "$TEST_TMP/megabyte" -- \
	REQUEST_METHOD=GET REQUEST_URI=/orders CONTENT_LENGTH=1000000
direct "a 100 KB QUERY_STRING" 400 -- REQUEST_METHOD=GET REQUEST_URI=/orders QUERY_STRING="$(a 102400)"
direct "a 100 KB REQUEST_URI" 404 -- REQUEST_METHOD=GET REQUEST_URI="/$(a 102400)"
direct "a 100 KB SCRIPT_NAME" 404 -- REQUEST_METHOD=GET SCRIPT_NAME="/$(a 102400)"
direct "QUERY_STRING with limit=1%00" 400 -- REQUEST_METHOD=GET REQUEST_URI=/orders QUERY_STRING='limit=1%00'
direct "QUERY_STRING of control and high bytes" 400 -- REQUEST_METHOD=GET REQUEST_URI=/orders \
	QUERY_STRING=$'\x01\x02\x7f\xff\xfe=1'
direct "REQUEST_URI /orders%00" 400 -- REQUEST_METHOD=GET REQUEST_URI='/orders%00'
direct "REQUEST_URI with raw control bytes" 404 -- REQUEST_METHOD=GET REQUEST_URI=$'/orders\x01\x7f'
direct "no REQUEST_METHOD" 405 -- REQUEST_URI=/orders
direct "an empty REQUEST_METHOD" 405 -- REQUEST_METHOD= REQUEST_URI=/orders
direct "a 100 KB REQUEST_METHOD" 405 -- REQUEST_METHOD="$(a 102400)" REQUEST_URI=/orders
direct "no path at all (/)" 200 -- REQUEST_METHOD=GET
is "$(pgrep -P "$direct_pid")" "$direct_worker" "FastCGI: the same worker answered all of them (none crashed)"

is "$OUR_5XX" 0 "not one 5xx came from the responder"
diag "status, who answered, request:"
for line in "${RECORD[@]}"; do diag "  $line"; done

done_testing
