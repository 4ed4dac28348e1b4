#!/usr/bin/env bash
# deploy-addrs.t: who may talk to a TCP responder: FCGI_WEB_SERVER_ADDRS refuses other peers, and --listen :PORT binds the loopback only.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/fronts.sh"

DB=$(seeded_database)
export DATABASE_URL="sqlite://$DB"
HELLO=$'Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"message":"Hello, World!"}'

# fcgi_from SOURCE HOST:PORT URI: a FastCGI GET sent from address SOURCE
# (cgi-fcgi cannot choose it); prints the FCGI_STDOUT bytes; exit 3 when
# the connection ends without FCGI_END_REQUEST.
fcgi_from() {
	perl -MIO::Socket::INET -e '
		my ($source, $peer, $uri) = @ARGV;
		my $socket = IO::Socket::INET->new(LocalAddr => $source, PeerAddr => $peer, Proto => "tcp", Timeout => 5)
			or die "fcgi_from: connect $peer from $source: $!\n";
		# version 1, request id 1; names and values here are under 128 bytes
		sub record { pack("CCnnCx", 1, $_[0], 1, length $_[1], 0) . $_[1] }
		sub pair { pack("CC", length $_[0], length $_[1]) . $_[0] . $_[1] }
		print $socket record(1, pack("nCx5", 1, 0)),
			record(4, pair("REQUEST_METHOD", "GET") . pair("REQUEST_URI", $uri)), record(4, ""), record(5, "");
		local $SIG{ALRM} = sub { die "fcgi_from: no answer within 5 s\n" };
		alarm 5;
		my ($input, $stdout, $ended) = ("", "", 0);
		while (sysread($socket, my $chunk, 65536)) { $input .= $chunk }
		while (length $input >= 8) {
			my (undef, $type, undef, $length, $padding) = unpack("CCnnC", $input);
			last if length $input < 8 + $length + $padding;
			$stdout .= substr($input, 8, $length) if $type == 6;
			$ended = 1 if $type == 3;
			substr($input, 0, 8 + $length + $padding, "");
		}
		print $stdout;
		exit($ended ? 0 : 3);
	' "$@"
}
# responder NAME ADDRS LISTEN: starts one in the background; its log is $TEST_TMP/NAME.log.
responder() {
	FCGI_WEB_SERVER_ADDRS=$2 "$RESPONDER" --listen "$3" --workers 1 2>"$TEST_TMP/$1.log" &
	on_exit "kill -TERM $!"
}

# Only the front end named in FCGI_WEB_SERVER_ADDRS may connect.
port=$(free_port) || bail_out "no free port"
responder strict 127.0.0.9 "127.0.0.1:$port"
wait_for_port 127.0.0.1 "$port" || bail_out "the responder did not start: $(cat "$TEST_TMP/strict.log")"
out=$(fcgi_get "127.0.0.1:$port" / 2>/dev/null)
is "$out" "" "FCGI_WEB_SERVER_ADDRS=127.0.0.9: cgi-fcgi from 127.0.0.1 gets no answer"
like "$(cat "$TEST_TMP/strict.log")" "refused a connection from 127.0.0.1: not in FCGI_WEB_SERVER_ADDRS" \
	"and the log says it refused 127.0.0.1"
out=$(fcgi_from 127.0.0.1 "127.0.0.1:$port" /)
status=$?
is "$status:$out" "3:" "a FastCGI client from 127.0.0.1 sees the connection closed without an answer"
out=$(fcgi_from 127.0.0.9 "127.0.0.1:$port" /)
is "$out" "$HELLO" "the same client from 127.0.0.9, the address named, is served"
out=$(fcgi_from 127.0.0.9 "127.0.0.1:$port" /orders)
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 100 1000)" "including /orders"

port=$(free_port) || bail_out "no free port"
responder open 127.0.0.1 "127.0.0.1:$port"
wait_for_port 127.0.0.1 "$port" || bail_out "the responder did not start: $(cat "$TEST_TMP/open.log")"
is "$(fcgi_get "127.0.0.1:$port" /)" "$HELLO" "FCGI_WEB_SERVER_ADDRS=127.0.0.1: cgi-fcgi from 127.0.0.1 is served"
out=$(fcgi_from 127.0.0.9 "127.0.0.1:$port" /)
is "$?:$out" "3:" "and a client from 127.0.0.9 is not"

port=$(free_port) || bail_out "no free port"
responder list " 127.0.0.9, 127.0.0.1 " "127.0.0.1:$port"
wait_for_port 127.0.0.1 "$port" || bail_out "the responder did not start: $(cat "$TEST_TMP/list.log")"
is "$(fcgi_get "127.0.0.1:$port" /)" "$HELLO" "a list with spaces (' 127.0.0.9, 127.0.0.1 '): 127.0.0.1 is served"
check "and nothing was refused" bash -c "! grep -q refused '$TEST_TMP/list.log'"

# A unix socket is guarded by its mode instead: the list does not apply.
responder unix 127.0.0.9 "$TEST_TMP/webapi.sock"
wait_for_socket "$TEST_TMP/webapi.sock"
is "$(fcgi_get "$TEST_TMP/webapi.sock" /)" "$HELLO" "FCGI_WEB_SERVER_ADDRS=127.0.0.9 on a unix socket: served (the socket's mode guards it)"

err=$(FCGI_WEB_SERVER_ADDRS=front.example "$RESPONDER" --listen "127.0.0.1:$(free_port)" 2>&1 >/dev/null)
is "$?" 2 "FCGI_WEB_SERVER_ADDRS with a host name: refused at startup (exit 2)"
like "$err" "FCGI_WEB_SERVER_ADDRS: 'front.example' is not an IP address" "naming the entry"

# --listen :PORT is the loopback, never every interface.
port=$(free_port) || bail_out "no free port"
responder default "" ":$port"
wait_for_port 127.0.0.1 "$port" || bail_out "the responder did not start: $(cat "$TEST_TMP/default.log")"
is "$(ss -Hltn "sport = :$port" | awk '{print $4}' | tr '\n' ' ')" "127.0.0.1:$port " \
	"--listen :$port: ss -ltn shows one listener, on 127.0.0.1"
check "a connection to 127.0.0.2:$port is refused" bash -c "! (exec 3<>/dev/tcp/127.0.0.2/$port) 2>/dev/null"
is "$(fcgi_get "127.0.0.1:$port" /)" "$HELLO" "127.0.0.1:$port is served"

done_testing
