#!/usr/bin/env bash
# bench.t: scripts/bench end to end with 1-second runs on the embedded store: its files parse, ratios are sane, failures are clear, nothing is left running; no timing is asserted.
# The Perl snippets are in single quotes on purpose: Perl, not the shell, expands them.
# shellcheck disable=SC2016
source "$(dirname "$0")/lib/common.sh"

BENCH="$ROOT/scripts/bench"
DB=$(seeded_database)
# scripts/bench puts its own temporary files under TMPDIR.
export TMPDIR="$TEST_TMP"

# json_check FILE PERL [ARG...]: runs PERL with $j the decoded FILE and @ARGV
# the ARGs, printing what it prints ("invalid JSON: ..." when FILE does not parse).
json_check() {
	local file=$1 code=$2
	shift 2
	perl -MJSON::PP -e 'my $path = shift; open(my $f, "<", $path) or die "$path: $!\n";
		my $j = eval { JSON::PP->new->decode(do { local $/; <$f> }) } or do { print "invalid JSON: $@"; exit 1 };' \
		-e "$code" "$file" "$@"
}

# fails COMMAND...: succeeds when COMMAND fails.
fails() {
	! "$@"
}

# left_behind DIR: processes started with a STATIC_DIR or STACK_DIR under DIR
# (the stack's lighttpd, the static lighttpd).
left_behind() {
	grep -lszE "^(STATIC|STACK)_DIR=$1/" /proc/[0-9]*/environ | cut -d/ -f3 | tr '\n' ' '
}

# The static ceiling is only this server's ceiling with this server's settings.
for setting in server.max-fds server.max-connections server.max-keep-alive-requests server.max-keep-alive-idle server.tag; do
	is "$(grep "^$setting " "$ROOT/scripts/bench.d/static.conf")" "$(grep "^$setting " "$ROOT/lighttpd.conf")" \
		"static.conf has lighttpd.conf's $setting"
done
check "static.conf has no access log, like lighttpd.conf" \
	fails grep -q '^[^#]*accesslog' "$ROOT/scripts/bench.d/static.conf" "$ROOT/lighttpd.conf"

# ---- one run, as the issue asks for it
out="$TEST_TMP/results"
"$BENCH" --duration 1s --connections 20 --workers 2 --database-url "sqlite://$DB" --out "$out" --json \
	>"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr"
status=$?
is "$status" 0 "scripts/bench --duration 1s --connections 20 exits 0"
[[ $status -eq 0 ]] || sed 's/^/# /' "$TEST_TMP/stderr"
for file in HelloWorld.md Orders.md bench.json; do
	check "it wrote $file" test -s "$out/$file"
done
check "--json prints bench.json on stdout, and nothing else" cmp -s "$TEST_TMP/stdout" "$out/bench.json"

keys='rps static_rps ratio avg_ms p99_ms max_ms errors pss_kib rss_kib workers database'
is "$(json_check "$out/bench.json" '
	for my $e (qw(hello orders)) {
		ref $j->{$e} eq "HASH" or print "no $e object. ";
		for my $k (split " ", $ARGV[0]) { exists $j->{$e}{$k} or print "$e has no $k. " }
	}' "$keys")" "" "bench.json is valid JSON with $keys for hello and orders"
for endpoint in hello orders; do
	is "$(json_check "$out/bench.json" '
		my $e = $j->{$ARGV[0]};
		for my $k (qw(ratio rps static_rps avg_ms p99_ms max_ms)) {
			$e->{$k} =~ /^[0-9]+(\.[0-9]+)?$/ or print "$k is not a number: $e->{$k}. ";
		}
		$e->{ratio} > 0 && $e->{ratio} < 2 or print "ratio $e->{ratio} is not in (0, 2). ";
		$e->{pss_kib} > 0 && $e->{rss_kib} >= $e->{pss_kib} or print "memory: PSS $e->{pss_kib}, RSS $e->{rss_kib}. ";' "$endpoint")" "" \
		"$endpoint: figures are numbers, ratio in (0, 2), 0 < PSS <= RSS"
	is "$(json_check "$out/bench.json" 'print "$j->{$ARGV[0]}{errors} $j->{$ARGV[0]}{static_errors}"' "$endpoint")" "0 0" \
		"$endpoint: no errors on the stack nor on the static server"
	is "$(json_check "$out/bench.json" 'print "$j->{$ARGV[0]}{workers} $j->{$ARGV[0]}{database}"' "$endpoint")" "2 sqlite" \
		"$endpoint: workers and database say what ran"
	is "$(json_check "$out/bench.json" '
		my $per = $j->{$ARGV[0]}{cpu_us_per_request};
		ref $per eq "HASH" or do { print "no cpu_us_per_request"; exit };
		for my $k (qw(front responder load)) {
			defined $per->{$k} && $per->{$k} =~ /^[0-9]+(\.[0-9]+)?$/ && $per->{$k} > 0 or print "$k: ", $per->{$k} // "null", ". ";
		}
		exists $per->{database} && !defined $per->{database} or print "database: $per->{database} (no server here). ";' "$endpoint")" "" \
		"$endpoint: CPU per request of the front, the responder and wrk, positive; null for a database with no server"
done
check "the summary table has the CPU-per-request columns" grep -q 'responder us/req' "$TEST_TMP/stderr"
like "$(sed -n '/^## Resource Usage$/,/^## /p' "$out/Orders.md")" '\| CPU per request, µs \| front [0-9.]+, responder [0-9.]+, database -, wrk [0-9.]+ ' \
	"Orders.md gives the CPU per request of each class"

for file in HelloWorld Orders; do
	md="$out/$file.md"
	title=Orders
	[[ $file == HelloWorld ]] && title="Hello World"
	like "$(head -n1 "$md")" "^# .+ — $title Benchmark$" "$file.md has the benchmark's title line"
	like "$(cat "$md")" $'\n\\*\\*Tested\\*\\*: [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC\n\\*\\*Command\\*\\*: `wrk -t 2 -c 20 -d 1s --latency http://127\\.0\\.0\\.1:[0-9]+/' \
		"$file.md has the tested date and the command"
	summary=$(sed -n '/^## Summary$/,/^## /p' "$md")
	for metric in "Requests/sec" "Avg Latency" "Max Latency" "Total Requests" "Transfer/sec" "Port"; do
		like "$summary" $'\n'"\\| $metric \\| [^|]*[0-9][^|]* \\|"$'\n' "$file.md Summary table has $metric"
	done
	for section in "## Thread Stats" "## Resource Usage" "## Static Ceiling" "## Raw Output"; do
		check "$file.md has $section" grep -qx "$section" "$md"
	done
	check "$file.md carries wrk's raw output" grep -q '^Requests/sec: ' "$md"
done
row='^\| C FastCGI lighttpd +\| [0-9]+ +\| [0-9,]+\.[0-9]{2} +\| [0-9.]+(us|ms|s) +\| [0-9.]+(us|ms|s) +\| [0-9,]+ +\| [0-9.]+[KMG]?B +\| [0-9.]+[MG]iB +\|$'
is "$(grep -cE "$row" "$TEST_TMP/stderr")" 2 "one summary row per endpoint in the benchmark's table format"
is "$(left_behind "$TEST_TMP")" "" "no process of the run is left (the stack's lighttpd, the static lighttpd)"
check "its temporary directory is gone" fails compgen -G "$TEST_TMP/webapi-bench.*"

# ---- a sweep, drawn
sweep_out="$TEST_TMP/sweep"
"$BENCH" --sweep workers=1,2 --duration 1s --connections 20 --warmup 0 --database-url "sqlite://$DB" --out "$sweep_out" --plot \
	>"$TEST_TMP/sweep-stdout" 2>"$TEST_TMP/sweep-stderr"
status=$?
is "$status" 0 "--sweep workers=1,2 --plot exits 0"
[[ $status -eq 0 ]] || sed 's/^/# /' "$TEST_TMP/sweep-stderr"
is "$(cut -f1 "$sweep_out/sweep.tsv" | tr '\n' ' ')" "workers 1 2 " "sweep.tsv has a header and one row per value"
is "$(grep -cE '^\| [12] \| [0-9,]+ \| [0-9,]+ \| 0\.[0-9]{3} \|' "$sweep_out/sweep.md")" 2 "sweep.md has one table row per value"
is "$(json_check "$sweep_out/sweep.json" 'print join(" ", map { "$_->{value}:$_->{bench}{workers}" } @{$j->{runs}})')" "1:1 2:2" \
	"sweep.json has each run with its own worker count"
check "the table on stdout has a row per value" grep -qE '^2 +[0-9,]+ ' "$TEST_TMP/sweep-stdout"
is "$(head -n1 "$sweep_out/sweep.tsv" | tr '\t' '\n' | grep -c '_cpu_us$')" 8 "sweep.tsv has the 4 classes' CPU per request for both endpoints"
is "$(grep -cE '\| [0-9.]+ / [0-9.]+ / - / [0-9.]+ \| [0-9.]+ / [0-9.]+ / - / [0-9.]+ \|$' "$sweep_out/sweep.md")" 2 \
	"sweep.md gives them per run (front / responder / database / wrk)"
is "$(head -c 8 "$sweep_out/sweep.png" | od -An -tx1 | tr -d ' \n')" "89504e470d0a1a0a" "--plot wrote a PNG"

# ---- failures are clear and non-zero
# PostgreSQL on a port nothing listens on: the stack starts, GET /orders is a 503.
closed=$(free_port)
"$BENCH" --duration 1s --database-url "postgresql://apiuser:apipassword@127.0.0.1:$closed/ordersdb" --out "$TEST_TMP/bad" \
	>/dev/null 2>"$TEST_TMP/bad-stderr"
status=$?
check "a store that does not answer: non-zero exit (got $status)" test "$status" -ne 0
like "$(cat "$TEST_TMP/bad-stderr")" "bench: GET http://127\\.0\\.0\\.1:[0-9]+/orders answered '503" "... saying which request failed and how"
check "... and the password is not printed" fails grep -q apipassword "$TEST_TMP/bad-stderr"
# A port already taken: lighttpd cannot listen, the stack does not start.
taken=$(free_port)
perl -MIO::Socket::INET -e 'my $listener = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 1)
	or die "listen: $!\n"; sleep 30' "$taken" &
on_exit "kill $!"
sleep 0.3
"$BENCH" --duration 1s --port "$taken" --database-url "sqlite://$DB" --out "$TEST_TMP/bad" >/dev/null 2>"$TEST_TMP/bad-stderr"
status=$?
check "a stack that cannot start: non-zero exit (got $status)" test "$status" -ne 0
like "$(cat "$TEST_TMP/bad-stderr")" "bench: the stack did not start" "... saying so"
"$BENCH" --sweep threads=1,2 >/dev/null 2>"$TEST_TMP/usage-stderr"
is "$?" 1 "an unknown sweep parameter is refused"
like "$(cat "$TEST_TMP/usage-stderr")" "--sweep takes workers=, backends= or connections=" "... naming the ones it takes"

# report.pl: errors above 1% of the requests fail the run, even when wrk itself succeeded.
fake="$TEST_TMP/fake-run"
mkdir -p "$fake" "$TEST_TMP/fake-out"
cat >"$fake/meta" <<'META'
name=test
tested=2026-01-01 00:00:00 UTC
threads=2
connections=20
duration=1s
warmup=0
workers=1
backends=1
database_url=sqlite:///x.db
port=8000
static_port=8001
cpus=2
cpu_model=test
mem_total_kib=1048576
clk_tck=100
lighttpd=lighttpd/1.4.69
wrk=4.1.0
META
wrk_output() { # REQUESTS NON2XX
	cat <<WRK
Running 1s test @ http://127.0.0.1:8000/
  2 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.05ms    1.40ms  17.94ms   87.58%
    Req/Sec     4.96k     0.98k    6.97k    80.00%
  Latency Distribution
     50%    1.80ms
     75%    2.40ms
     90%    3.10ms
     99%    7.50ms
  $1 requests in 1.00s, 1.66MB read
  Non-2xx or 3xx responses: $2
Requests/sec:   $1.00
Transfer/sec:      1.64MB
WRK
}
for endpoint in hello orders; do
	wrk_output 1000 0 >"$fake/$endpoint.static.wrk"
	# During the stack's run (1 s, 100 ticks a second), process 900 took 0.3 s
	# and the benchmark's own processes (10 = the script, 20 = the target) the
	# rest of the busy time; 901 is a child of the script (ours), 902 reaped
	# a child that ran for 5 s (bounded by the busy time). During the static
	# run only 902's child ran, for 0.05 s, in the machine's 0.15 s to spare.
	printf '%s\n' pss_kib=100 rss_kib=200 cpu_ticks=0 pids=1 busy_ticks=1000 self_ticks=20 self=10 target=20 \
		'proc 10 1 5 20' 'proc 20 1 6 0' 'proc 900 1 7 40' 'proc 902 1 8 0' >"$fake/$endpoint.stack.before"
	printf '%s\n' pss_kib=100 rss_kib=200 cpu_ticks=50 pids=4 elapsed=1.0 busy_ticks=1130 self_ticks=70 self=10 target=20 \
		'proc 10 1 5 70' 'proc 20 1 6 50' 'proc 900 1 7 70' 'proc 901 10 9 500' 'proc 902 1 8 0' >"$fake/$endpoint.stack.after"
	printf '%s\n' pss_kib=100 rss_kib=200 cpu_ticks=0 pids=1 busy_ticks=2000 self_ticks=100 self=10 target=30 \
		'proc 10 1 5 100' 'proc 30 1 11 0' 'proc 902 1 8 0' >"$fake/$endpoint.static.before"
	printf '%s\n' pss_kib=100 rss_kib=200 cpu_ticks=100 pids=1 elapsed=1.0 busy_ticks=2200 self_ticks=185 self=10 target=30 \
		'proc 10 1 5 185' 'proc 30 1 11 100' 'proc 902 1 8 500' >"$fake/$endpoint.static.after"
done
wrk_output 1000 10 >"$fake/hello.stack.wrk"
wrk_output 1000 11 >"$fake/orders.stack.wrk"
perl "$ROOT/scripts/bench.d/report.pl" run "$fake" "$TEST_TMP/fake-out" >"$TEST_TMP/fake-stdout" 2>"$TEST_TMP/fake-stderr"
is "$?" 3 "11 non-2xx in 1000 requests (1.1%) fail the run"
like "$(cat "$TEST_TMP/fake-stderr")" "GET /orders on the stack: 11 errors in 1000 requests" "... naming the endpoint and the count"
check "... while 10 in 1000 (1%) do not" fails grep -q "GET / on the stack: [0-9]* errors" "$TEST_TMP/fake-stderr"
is "$(json_check "$TEST_TMP/fake-out/bench.json" 'print "$j->{hello}{errors} $j->{orders}{errors} $j->{hello}{cpu_percent}"')" "10 11 50" \
	"the errors and the CPU share are reported in bench.json"
is "$(json_check "$TEST_TMP/fake-out/bench.json" 'print "$j->{orders}{other_cpu_percent} $j->{orders}{static_other_cpu_percent}"')" "30 15" \
	"the CPU share of other processes is reported too, bounded by what the machine had to spare"
like "$(cat "$TEST_TMP/fake-stderr")" "warning: other processes kept 30% of a core busy during GET /orders on the stack" \
	"... with a warning when it passes 15%"
like "$(grep -F '| test ' "$TEST_TMP/fake-stdout" | head -n1)" '\| 1,000\.00\\\* +\|' "a row with errors is starred, as in the benchmark's tables"

# report.pl: CPU per request of each class, from the processes' ticks around
# the run (100 a second, 1000 requests: a tick is 10 us a request).
# lighttpd 20 took 60 ticks; webapi-fcgi: worker 22 ended (its 250 ticks
# went to its supervisor 21, 200 of them before the run) and worker 23
# began (30): 80; postgres 30 and its backends: 32 ended (70, 40 before),
# 31 began (25): 55; wrk 0.3 s of CPU; 99, another process, is nobody's.
classes="$TEST_TMP/classes-run"
mkdir -p "$classes" "$TEST_TMP/classes-out"
cp "$fake/meta" "$classes/meta"
for endpoint in hello orders; do
	for side in stack static; do
		wrk_output 1000 0 >"$classes/$endpoint.$side.wrk"
	done
	printf '%s\n' pss_kib=100 rss_kib=200 cpu_ticks=350 pids=3 busy_ticks=1000 self_ticks=20 self=10 target=20,21,22 \
		database_pid=30 'proc 10 1 5 20 bash' 'proc 20 10 6 100 lighttpd' 'proc 21 20 7 50 webapi-fcgi' \
		'proc 22 21 8 200 webapi-fcgi' 'proc 30 1 2 500 postgres' 'proc 32 30 3 40 postgres' 'proc 99 1 4 10 other' \
		>"$classes/$endpoint.stack.before"
	printf '%s\n' pss_kib=100 rss_kib=200 cpu_ticks=490 pids=3 elapsed=1.0 busy_ticks=1300 self_ticks=90 self=10 \
		target=20,21,23 database_pid=30 'proc 10 1 5 90 bash' 'proc 20 10 6 160 lighttpd' 'proc 21 20 7 300 webapi-fcgi' \
		'proc 23 21 9 30 webapi-fcgi' 'proc 30 1 2 570 postgres' 'proc 31 30 10 25 postgres' 'proc 99 1 4 15 other' \
		>"$classes/$endpoint.stack.after"
	printf '0m0.010s 0m0.000s\n0m0.200s 0m0.100s\n' >"$classes/$endpoint.stack.wrk.times"
	cp "$fake/$endpoint.static.before" "$fake/$endpoint.static.after" "$classes/"
done
perl "$ROOT/scripts/bench.d/report.pl" run "$classes" "$TEST_TMP/classes-out" >"$TEST_TMP/classes-stdout" 2>&1
is "$?" 0 "report.pl on samples with command names"
is "$(json_check "$TEST_TMP/classes-out/bench.json" 'my $c = $j->{orders}{cpu_us_per_request};
	print join(" ", map { "$_=$c->{$_}" } qw(front responder database load))')" "front=600 responder=800 database=550 load=300" \
	"CPU per request of the front, the responder (workers that came and went), the database (backends too) and wrk"
is "$(json_check "$TEST_TMP/classes-out/bench.json" 'print $j->{orders}{other_cpu_percent}')" 5 \
	"... and the database server's processes are not counted as other processes"

# ---- an interrupted run stops everything it started
export TMPDIR="$TEST_TMP/interrupted"
mkdir -p "$TMPDIR"
"$BENCH" --duration 30s --connections 20 --database-url "sqlite://$DB" --out "$TEST_TMP/interrupted-out" >/dev/null 2>&1 &
bench_pid=$!
on_exit "kill $bench_pid"
static_pidfile=
wait_until 'static_pidfile=$(compgen -G "$TMPDIR/webapi-bench.*/run.*/static/lighttpd.pid" | head -n1)
	[[ -n "$static_pidfile" && -s "$static_pidfile" ]]' 15
check "the run got to its static server" test -s "$static_pidfile"
stack_leader=$(cat "$(dirname "$(dirname "$static_pidfile")")/stack/stack.pid" 2>/dev/null)
static_server=$(cat "$static_pidfile" 2>/dev/null)
sleep 1 # into the first wrk run
kill -TERM "$bench_pid"
wait "$bench_pid"
is "$?" 130 "SIGTERM ends scripts/bench with 130"
is "$(pgrep -s "${stack_leader:-0}" | wc -l)" 0 "no process of the stack's session is left"
check "the static lighttpd is gone" fails kill -0 "${static_server:-0}" 2>/dev/null
is "$(left_behind "$TMPDIR")" "" "no process with its run directories in the environment"
check "no wrk of the run is left" fails pgrep -f "^wrk .*-d 30s"
check "the temporary directory is removed" fails compgen -G "$TMPDIR/webapi-bench.*"

done_testing
