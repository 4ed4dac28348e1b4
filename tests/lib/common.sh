# common.sh: what every shell test shares: paths, free ports, temp dirs and a stack that is always stopped.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The responder under test: WEBAPI_BUILD names another build of it (make sanitize).
RESPONDER="${WEBAPI_BUILD:-$ROOT/build}/webapi-fcgi"
# shellcheck source=tests/lib/tap.sh
source "$ROOT/tests/lib/tap.sh"

# Cleanups run in reverse order on any exit, failed or not.
CLEANUPS=()
on_exit() {
	CLEANUPS+=("$1")
}
run_cleanups() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
}
trap run_cleanups EXIT
trap 'exit 130' INT TERM

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/webapi-test.XXXXXX")
on_exit "rm -rf '$TEST_TMP'"

# free_port [HOST]: a TCP port nothing listens on now.
free_port() {
	local host=${1:-127.0.0.1} port
	for _ in $(seq 1 200); do
		# Below the kernel's ephemeral range (32768-60999): a port there can
		# be taken by any outgoing connection, even one a client makes to that
		# very port while its server is down (TCP connects to itself).
		port=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# copy_checkout DIR: this checkout's files as a clone would have them, with
# the uncommitted changes (tracked and new files; nothing git ignores, so no
# build/ and no data/). For tests that build, install or package a copy
# and must leave the checkout as it was.
copy_checkout() {
	mkdir -p "$1" || return 1
	(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
		tar --null --ignore-failed-read -T - -cf -) | tar -C "$1" -xf -
}

# seeded_database: path of a fresh embedded database with the contract's rows.
seeded_database() {
	local path="$TEST_TMP/orders-$RANDOM.db"
	"$ROOT/scripts/seed-db" "$path" >/dev/null || bail_out "scripts/seed-db failed"
	echo "$path"
}

# stack_up [VAR=VALUE...]: starts lighttpd + responders on a free port in
# a temp dir; sets BASE_URL and STACK_DIR; stopped on exit.
stack_up() {
	local dir port attempt
	# A second attempt on another port: free_port cannot reserve the port,
	# and another test may take it between the check and lighttpd's bind.
	for attempt in 1 2; do
		dir=$(mktemp -d "$TEST_TMP/stack.XXXXXX")
		port=$(free_port) || bail_out "no free port"
		if BASE_URL=$(env "$@" STACK_DIR="$dir" PORT="$port" "$ROOT/scripts/stack" start 2>"$dir/start.err"); then
			STACK_DIR=$dir
			on_exit "STACK_DIR='$dir' '$ROOT/scripts/stack' stop"
			return 0
		fi
		diag "scripts/stack start failed (attempt $attempt): $(tail -n 5 "$dir/start.err" | tr '\n' ' ')"
		STACK_DIR=$dir "$ROOT/scripts/stack" stop >/dev/null 2>&1
	done
	bail_out "scripts/stack start failed twice"
}

# stack_pids: every process of the stack in STACK_DIR (its session).
stack_pids() {
	local leader
	leader=$(cat "$STACK_DIR/stack.pid" 2>/dev/null) || return 0
	pgrep -s "$leader" || true
}

# alive PID...: those of them still running, one a line. A zombie counts as
# gone: init may leave spawn-fcgi's orphans a moment as zombies.
alive() {
	local pid
	for pid in "$@"; do
		[[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == [^Z]* ]] && echo "$pid"
	done
}

# worker_pids: the responders' worker processes (children of a supervisor).
worker_pids() {
	local supervisor
	for supervisor in $(pgrep -s "$(cat "$STACK_DIR/stack.pid")" -x webapi-fcgi || true); do
		# A worker's parent is a webapi-fcgi process too.
		local parent
		parent=$(ps -o ppid= -p "$supervisor" | tr -d ' ')
		if [[ "$(ps -o comm= -p "$parent" 2>/dev/null)" == webapi-fcgi ]]; then
			echo "$supervisor"
		fi
	done
}

# http METHOD URL: prints "STATUS" then the headers and body to files
# $TEST_TMP/headers and $TEST_TMP/body.
http() {
	curl -s -X "$1" -D "$TEST_TMP/headers" -o "$TEST_TMP/body" -w '%{http_code}' --max-time 10 "${@:3}" "$2"
}
header() {
	grep -i "^$1:" "$TEST_TMP/headers" | head -n1 | cut -d' ' -f2- | tr -d '\r'
}

# millis: the clock in milliseconds, for timing a request.
millis() {
	date +%s%3N
}
# body_of FILE: the body of the CGI answer in FILE, after its head.
body_of() {
	local answer
	answer=$(cat "$1")
	printf '%s' "${answer#*$'\r\n\r\n'}"
}
# wrk_counts FILE: "REQUESTS NON2XX SOCKET-ERRORS" from wrk's report.
wrk_counts() {
	awk '/requests in/ { requests = $1 }
		/Non-2xx/ { non2xx = $NF }
		/Socket errors/ { gsub(/,/, ""); errors = $4 + $6 + $8 + $10 }
		END { printf "%d %d %d\n", requests, non2xx, errors }' "$1"
}
# field JSON EXPRESSION: EXPRESSION, python over the parsed JSON as d
# (d["pid"]); objects, lists and null printed as JSON.
field() {
	python3 -c 'import json, sys; d = json.loads(sys.argv[1]); v = eval(sys.argv[2]); print(json.dumps(v) if isinstance(v, (dict, list)) or v is None else v)' "$1" "$2"
}

# expected_orders_json DB LIMIT OFFSET: the contract's bytes for those rows,
# computed with the sqlite3 shell and awk, independently of the responder.
expected_orders_json() {
	sqlite3 -separator '|' "$1" \
		"SELECT id, customer_id, total_cents, status, created_at FROM orders LIMIT $2 OFFSET $3" |
		awk -F'|' 'BEGIN { printf "[" }
		{
			ts = $5; frac = "000"
			if (index(ts, ".") > 0) { frac = substr(substr(ts, index(ts, ".") + 1) "000", 1, 3); ts = substr(ts, 1, index(ts, ".") - 1) }
			sub(/ /, "T", ts)
			printf "%s{\"id\":%s,\"customer_id\":%s,\"total_cents\":%s,\"status\":\"%s\",\"created_at\":\"%s.%sZ\"}", (NR > 1 ? "," : ""), $1, $2, $3, $4, ts, frac
		}
		END { printf "]" }'
}

# start_responder NAME FLAGS...: a responder on its own unix socket;
# sets SOCKET, LOG and SUPERVISOR. It and its workers end with the test.
start_responder() {
	local name=$1
	shift
	SOCKET="$TEST_TMP/$name.sock"
	LOG="$TEST_TMP/$name.log"
	"$RESPONDER" --listen "$SOCKET" "$@" >/dev/null 2>"$LOG" &
	SUPERVISOR=$!
	# Stopped first, it cannot fork a replacement for a worker killed here.
	on_exit "kill -STOP $SUPERVISOR; pkill -KILL -P $SUPERVISOR; kill -KILL $SUPERVISOR"
	wait_for_socket "$SOCKET" && return 0
	bail_out "the responder did not create $SOCKET: $(cat "$LOG")"
}
# start_tcp_responder NAME FLAGS...: the same on a free TCP port of
# 127.0.0.1; sets PORT (and ADDRESS, 127.0.0.1:PORT), LOG and SUPERVISOR.
start_tcp_responder() {
	local name=$1
	shift
	PORT=$(free_port) || bail_out "no free port"
	ADDRESS="127.0.0.1:$PORT"
	LOG="$TEST_TMP/$name.log"
	"$RESPONDER" --listen "$ADDRESS" "$@" >/dev/null 2>"$LOG" &
	SUPERVISOR=$!
	on_exit "kill -STOP $SUPERVISOR; pkill -KILL -P $SUPERVISOR; kill -KILL $SUPERVISOR"
	wait_for_port 127.0.0.1 "$PORT" && return 0
	bail_out "the responder did not listen on $ADDRESS: $(cat "$LOG")"
}
# fcgi_get ADDRESS URI: GET URI over FastCGI with cgi-fcgi (a unix socket
# path or HOST:PORT); prints the CGI response, at most 10 s.
fcgi_get() {
	local query=""
	[[ "$2" == *\?* ]] && query=${2#*\?}
	env -i REQUEST_METHOD=GET REQUEST_URI="$2" SCRIPT_NAME="${2%%\?*}" QUERY_STRING="$query" \
		timeout 10 cgi-fcgi -bind -connect "$1"
}

# activate PID SOCKET COMMAND...: what systemd does for a .socket unit, in
# perl: listen on SOCKET, put the listener on fd 3, set LISTEN_FDS=1 and
# LISTEN_PID (PID, or "self": the pid COMMAND will have, since exec keeps
# it), then exec COMMAND. The shell becomes perl, then COMMAND: run it as
# the last command of a subshell (&, $(...)) and $! is COMMAND's pid.
activate() {
	exec perl -MIO::Socket::UNIX -MPOSIX=dup2 -e '
		my ($pid, $path, @command) = @ARGV;
		$^F = 3; # descriptors up to 3 stay open across exec
		my $listener = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $path, Listen => 64)
			or die "activate: listen on $path: $!\n";
		fileno($listener) == 3 or defined dup2(fileno($listener), 3) or die "activate: dup2: $!\n";
		$ENV{LISTEN_FDS} = 1;
		$ENV{LISTEN_PID} = $pid eq "self" ? $$ : $pid;
		exec @command or die "activate: exec $command[0]: $!\n";
	' "$@"
}

# wait_until CONDITION TIMEOUT: runs CONDITION (shell code, evaluated in the
# caller's scope: a command, a function, a [[ test ]]; $1 there is not the
# caller's $1, so copy it to a local first) every 0.05 s until it
# succeeds, and once more at the deadline. Fails after TIMEOUT seconds
# (fractions allowed), with a diagnostic naming CONDITION, so the check or
# bail_out around it says what never happened. The deadline is a clock, not
# a count of tries: a slow CONDITION (a request, a query) does not stretch it.
wait_until() {
	# Names of its own that no caller's CONDITION will mean.
	local _wu_condition=$1 _wu_timeout=$2 _wu_whole _wu_fraction='' _wu_deadline
	_wu_whole=${_wu_timeout%%.*}
	[[ $_wu_timeout == *.* ]] && _wu_fraction=${_wu_timeout#*.}
	_wu_fraction=${_wu_fraction}000000
	_wu_deadline=$((${EPOCHREALTIME/[.,]/} + 10#${_wu_whole:-0} * 1000000 + 10#${_wu_fraction:0:6}))
	while :; do
		eval "$_wu_condition" && return 0
		((${EPOCHREALTIME/[.,]/} < _wu_deadline)) || break
		sleep 0.05
	done
	diag "wait_until: still false after ${_wu_timeout}s: $_wu_condition" >&2
	return 1
}

# wait_for_socket PATH: up to 5 s for a unix socket to appear.
wait_for_socket() {
	wait_until "[[ -S $(printf %q "$1") ]]" 5
}
# can_connect HOST PORT: something accepts TCP connections there now.
can_connect() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}
# wait_for_port HOST PORT: up to 5 s for something to accept connections there.
wait_for_port() {
	wait_until "can_connect $1 $2" 5
}

# wait_for_log FILE REGEX: up to 10 s for a line matching REGEX in FILE.
wait_for_log() {
	wait_until "grep -qE $(printf %q "$2") $(printf %q "$1") 2>/dev/null" 10
}

# children: the workers of the responder start_responder started.
children() {
	pgrep -P "$SUPERVISOR" | sort
}
# wait_for_children COUNT [LISTER]: up to 10 s for exactly COUNT workers;
# LISTER prints them one a line (children, or worker_pids for a stack).
wait_for_children() {
	wait_until "[[ \$(${2:-children} | wc -l) -eq $1 ]]" 10
}
