#!/usr/bin/env bash
# stale-socket-probe-full-backlog.t: a socket path whose listener has a full backlog is reported as in use at once; the probe does not hang start-up (issue 11, item 3).
source "$(dirname "$0")/lib/common.sh"

export DATABASE_URL="sqlite://$(seeded_database)"
socket="$TEST_TMP/busy.sock"
# A listener that never accepts, with its backlog filled by non-blocking
# connections until the kernel refuses more (EAGAIN).
perl -MSocket -MIO::Socket::UNIX -MFcntl -e '
	my ($path, $ready) = @ARGV;
	my $listener = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path, Listen => 1) or die "listen: $!";
	my @held;
	for (1 .. 100) {
		socket(my $client, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
		fcntl($client, F_SETFL, O_NONBLOCK);
		last unless connect($client, pack_sockaddr_un($path));
		push @held, $client;
	}
	open(my $flag, ">", $ready); close($flag);
	sleep 60;' "$socket" "$TEST_TMP/ready" &
on_exit "kill -KILL $!"
wait_until '[[ -e "$TEST_TMP/ready" ]]' 5 || bail_out "the busy listener did not start"

started=$(date +%s%N)
timeout -s KILL 6 "$RESPONDER" --listen "$socket" --workers 1 >/dev/null 2>"$TEST_TMP/out.log"
status=$?
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
diag "start-up against the full backlog ended after $elapsed_ms ms with status $status"
is "$status" 1 "the responder exits with status 1 (6 s allowed)"
like "$(cat "$TEST_TMP/out.log")" "busy\.sock is in use by another process, which is not accepting connections" \
	"and says the path is in use by a listener that does not accept"
check "the socket file is left alone" test -S "$socket"
done_testing
