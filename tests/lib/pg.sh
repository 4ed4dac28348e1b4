# pg.sh: sourced by test scripts to run a throwaway PostgreSQL cluster (start, stop, restart, query, destroy).
#
#   . tests/lib/pg.sh
#   trap pg_destroy EXIT
#   pg_start || exit 1
#   DATABASE_URL=$PG_TEST_URL ...
#   pg_query "SELECT calls FROM pg_stat_statements WHERE ..."
#
# The cluster uses the benchmark's own names (role apiuser, password
# apipassword, database ordersdb) and password authentication over TCP, so a
# wrong password fails as it would in production. The superuser "postgres"
# is reachable only through the unix socket inside the cluster's directory.
# Works under `set -euo pipefail`.

PG_TEST_DIR=${PG_TEST_DIR:-}
PG_TEST_PORT=${PG_TEST_PORT:-}
PG_TEST_URL=${PG_TEST_URL:-}
_pg_bindir=
_pg_owned_dir= # the directory pg_start made, the only one pg_destroy removes

# The newest installed server, unless PG_BINDIR names one.
_pg_find_bindir() {
	local candidate newest=
	if [ -n "${PG_BINDIR:-}" ]; then
		newest=$PG_BINDIR
	else
		for candidate in /usr/lib/postgresql/*/bin; do
			[ -x "$candidate/initdb" ] || continue
			if [ -z "$newest" ] || [ "$(printf '%s\n%s\n' "$newest" "$candidate" | sort -V | tail -n 1)" = "$candidate" ]; then
				newest=$candidate
			fi
		done
	fi
	if [ -z "$newest" ] || [ ! -x "$newest/initdb" ] || [ ! -x "$newest/pg_ctl" ]; then
		echo "pg.sh: no PostgreSQL server binaries (looked in ${PG_BINDIR:-/usr/lib/postgresql/*/bin})" >&2
		return 1
	fi
	_pg_bindir=$newest
}

# PostgreSQL refuses to run as root, so root runs it as "postgres".
_pg_as_owner() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u postgres -- "$@"
	else
		local quoted
		quoted=$(printf '%q ' "$@")
		su postgres -s /bin/sh -c "$quoted"
	fi
}

_pg_show_log() {
	local log=$PG_TEST_DIR/server.log
	if [ -f "$log" ]; then
		echo "pg.sh: last lines of $log:" >&2
		tail -n 20 "$log" >&2
	fi
}

_pg_ctl() {
	_pg_as_owner "$_pg_bindir/pg_ctl" -D "$PG_TEST_DIR/data" "$@"
}

_pg_psql_superuser() {
	local database=$1
	shift
	"$_pg_bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$PG_TEST_DIR" -p "$PG_TEST_PORT" -U postgres \
		-d "$database" "$@"
}

# Creates, starts and fills in the cluster; exports PG_TEST_DIR, PG_TEST_PORT, PG_TEST_URL.
pg_start() {
	if [ -n "$_pg_owned_dir" ]; then
		echo "pg.sh: pg_start: a cluster is already running in $_pg_owned_dir" >&2
		return 1
	fi
	_pg_find_bindir || return 1
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "pg.sh: pg_start: running as root needs a \"postgres\" user to run the server" >&2
		return 1
	fi
	PG_TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/webapi-pg.XXXXXX") || {
		echo "pg.sh: pg_start: mktemp failed" >&2
		return 1
	}
	_pg_owned_dir=$PG_TEST_DIR
	export PG_TEST_DIR
	if [ "$(id -u)" -eq 0 ] && ! chown postgres: "$PG_TEST_DIR"; then
		echo "pg.sh: pg_start: cannot chown $PG_TEST_DIR to postgres" >&2
		return 1
	fi
	if ! _pg_as_owner test -w "$PG_TEST_DIR"; then
		echo "pg.sh: pg_start: the server user cannot write $PG_TEST_DIR (set TMPDIR to a world-searchable directory)" >&2
		return 1
	fi
	# free_port: tests/lib/common.sh, sourced first by every test.
	PG_TEST_PORT=$(free_port) || {
		echo "pg.sh: no free TCP port found on 127.0.0.1" >&2
		return 1
	}
	export PG_TEST_PORT

	if ! _pg_as_owner "$_pg_bindir/initdb" -D "$PG_TEST_DIR/data" -U postgres -E UTF8 --no-sync \
		>"$PG_TEST_DIR/initdb.log" 2>&1; then
		echo "pg.sh: pg_start: initdb failed:" >&2
		tail -n 20 "$PG_TEST_DIR/initdb.log" >&2
		return 1
	fi
	# Trust on the socket (only this directory's owner and root reach it),
	# passwords over TCP, where the application connects. Written here, as
	# initdb --auth-host would insist on a superuser password.
	if ! cat >"$PG_TEST_DIR/data/pg_hba.conf" <<EOF
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
EOF
	then
		echo "pg.sh: pg_start: cannot write $PG_TEST_DIR/data/pg_hba.conf" >&2
		return 1
	fi
	# fsync and friends off: the data is thrown away, and the tests want speed.
	# pg_stat_statements lets tests count executions of the exact query.
	if ! cat >>"$PG_TEST_DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_TEST_PORT
unix_socket_directories = '$PG_TEST_DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
EOF
	then
		echo "pg.sh: pg_start: cannot write $PG_TEST_DIR/data/postgresql.conf" >&2
		return 1
	fi
	pg_start_server || return 1
	if ! _pg_psql_superuser postgres \
		-c "CREATE ROLE apiuser LOGIN PASSWORD 'apipassword'" \
		-c "CREATE DATABASE ordersdb OWNER apiuser" >&2; then
		echo "pg.sh: pg_start: cannot create role apiuser and database ordersdb" >&2
		_pg_show_log
		return 1
	fi
	if ! _pg_psql_superuser ordersdb -c "CREATE EXTENSION pg_stat_statements" >&2; then
		echo "pg.sh: pg_start: cannot create extension pg_stat_statements" >&2
		_pg_show_log
		return 1
	fi
	PG_TEST_URL="postgresql://apiuser:apipassword@127.0.0.1:$PG_TEST_PORT/ordersdb"
	export PG_TEST_URL
}

# Starts the existing cluster again (after pg_stop_server); waits until it accepts connections.
pg_start_server() {
	if [ -z "$_pg_owned_dir" ] || [ ! -d "$PG_TEST_DIR/data" ]; then
		echo "pg.sh: pg_start_server: no cluster (call pg_start first)" >&2
		return 1
	fi
	if ! _pg_ctl -l "$PG_TEST_DIR/server.log" -w -t 30 start >/dev/null; then
		echo "pg.sh: pg_start_server: the server did not start on 127.0.0.1:$PG_TEST_PORT" >&2
		_pg_show_log
		return 1
	fi
}

# Stops the server and keeps the data. Fast mode by default, which is what a
# restart does to connected clients; pass "immediate" to simulate a crash.
pg_stop_server() {
	local mode=${1:-fast}
	if [ -z "$_pg_owned_dir" ] || [ ! -d "$PG_TEST_DIR/data" ]; then
		echo "pg.sh: pg_stop_server: no cluster (call pg_start first)" >&2
		return 1
	fi
	if ! _pg_ctl -m "$mode" -w -t 30 stop >/dev/null; then
		echo "pg.sh: pg_stop_server: the server did not stop" >&2
		_pg_show_log
		return 1
	fi
}

# The postmaster's process id, from its pid file; empty when not running.
pg_server_pid() {
	local pid_file=$PG_TEST_DIR/data/postmaster.pid pid=
	if [ -n "$_pg_owned_dir" ] && [ -f "$pid_file" ]; then
		read -r pid <"$pid_file" || true
	fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "$pid"
	fi
}

# Stops the server whatever state it is in (even SIGSTOPped) and removes the
# directory. Safe to call twice, and after a pg_start that failed half way.
pg_destroy() {
	local pid child
	if [ -z "$_pg_owned_dir" ]; then
		return 0
	fi
	pid=$(pg_server_pid)
	if [ -n "$pid" ]; then
		# A test may have stopped the server; a stopped process cannot act on pg_ctl's signal.
		for child in $pid $(pgrep -P "$pid" 2>/dev/null); do
			kill -CONT "$child" 2>/dev/null || true
		done
		if ! _pg_ctl -m immediate -w -t 10 stop >/dev/null 2>&1; then
			for child in $(pgrep -P "$pid" 2>/dev/null) $pid; do
				kill -KILL "$child" 2>/dev/null || true
			done
		fi
	fi
	rm -rf -- "$_pg_owned_dir"
	_pg_owned_dir=
	PG_TEST_DIR=
	PG_TEST_PORT=
	PG_TEST_URL=
}

# Runs SQL as the superuser in ordersdb (or the database given second); prints rows unaligned, one per line.
pg_query() {
	if [ -z "$_pg_owned_dir" ]; then
		echo "pg.sh: pg_query: no cluster (call pg_start first)" >&2
		return 1
	fi
	if [ $# -lt 1 ]; then
		echo "pg.sh: usage: pg_query SQL [DATABASE]" >&2
		return 1
	fi
	_pg_psql_superuser "${2:-ordersdb}" -c "$1"
}
