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

# _pg_error MESSAGE: says it on stderr and fails, for `|| { _pg_error ...; return; }`.
_pg_error() {
	echo "pg.sh: $*" >&2
	return 1
}

# _pg_show_log [DIR]: the last lines of the server log in DIR (the cluster's by default; a standby's).
_pg_show_log() {
	local log=${1:-$PG_TEST_DIR}/server.log
	if [ -f "$log" ]; then
		echo "pg.sh: last lines of $log:" >&2
		tail -n 20 "$log" >&2
	fi
}

# _pg_ctl_in DIR ARGS...: pg_ctl on DIR/data as the server's owner; _pg_ctl on the cluster's.
_pg_ctl_in() {
	local dir=$1
	shift
	_pg_as_owner "$_pg_bindir/pg_ctl" -D "$dir/data" "$@"
}
_pg_ctl() {
	_pg_ctl_in "$PG_TEST_DIR" "$@"
}

# _pg_psql_at DIR PORT DATABASE ARGS...: psql as the superuser through the
# unix socket in DIR, rows unaligned; _pg_psql_superuser for the cluster's.
_pg_psql_at() {
	local dir=$1 port=$2 database=$3
	shift 3
	"$_pg_bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d "$database" "$@"
}
_pg_psql_superuser() {
	local database=$1
	shift
	_pg_psql_at "$PG_TEST_DIR" "$PG_TEST_PORT" "$database" "$@"
}

# _pg_server_start DIR WHAT: starts the server on DIR/data and waits until it
# accepts connections; if not, says WHAT did not start and shows its log.
_pg_server_start() {
	_pg_ctl_in "$1" -l "$1/server.log" -w -t 30 start >/dev/null && return 0
	_pg_error "$2 did not start"
	_pg_show_log "$1"
	return 1
}

# _pg_server_kill DIR: stops the server on DIR/data whatever state it is in
# (even SIGSTOPped: a stopped process cannot act on pg_ctl's signal).
_pg_server_kill() {
	local pid='' child
	[ -f "$1/data/postmaster.pid" ] && read -r pid <"$1/data/postmaster.pid"
	{ [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || return 0
	for child in $pid $(pgrep -P "$pid" 2>/dev/null); do
		kill -CONT "$child" 2>/dev/null || true
	done
	if ! _pg_ctl_in "$1" -m immediate -w -t 10 stop >/dev/null 2>&1; then
		for child in $(pgrep -P "$pid" 2>/dev/null) $pid; do
			kill -KILL "$child" 2>/dev/null || true
		done
	fi
}

# _pg_need_cluster FUNCTION: fails, naming FUNCTION, unless pg_start made a cluster.
_pg_need_cluster() {
	[ -n "$_pg_owned_dir" ] && [ -d "$PG_TEST_DIR/data" ] && return 0
	_pg_error "$1: no cluster (call pg_start first)"
}

# _pg_setup WHAT DATABASE ARGS...: psql ARGS as the superuser, for pg_start;
# if that fails, says it cannot WHAT and shows the server's log.
_pg_setup() {
	local what=$1 database=$2
	shift 2
	_pg_psql_superuser "$database" "$@" >&2 && return 0
	_pg_error "pg_start: cannot $what"
	_pg_show_log
	return 1
}

# Creates, starts and fills in the cluster; exports PG_TEST_DIR, PG_TEST_PORT, PG_TEST_URL.
pg_start() {
	[ -z "$_pg_owned_dir" ] || { _pg_error "pg_start: a cluster is already running in $_pg_owned_dir"; return; }
	_pg_find_bindir || return 1
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		_pg_error 'pg_start: running as root needs a "postgres" user to run the server'
		return
	fi
	PG_TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/webapi-pg.XXXXXX") || { _pg_error "pg_start: mktemp failed"; return; }
	_pg_owned_dir=$PG_TEST_DIR
	export PG_TEST_DIR
	if [ "$(id -u)" -eq 0 ] && ! chown postgres: "$PG_TEST_DIR"; then
		_pg_error "pg_start: cannot chown $PG_TEST_DIR to postgres"
		return
	fi
	if ! _pg_as_owner test -w "$PG_TEST_DIR"; then
		_pg_error "pg_start: the server user cannot write $PG_TEST_DIR (set TMPDIR to a world-searchable directory)"
		return
	fi
	# free_port: tests/lib/common.sh, sourced first by every test.
	PG_TEST_PORT=$(free_port) || { _pg_error "no free TCP port found on 127.0.0.1"; return; }
	export PG_TEST_PORT

	if ! _pg_as_owner "$_pg_bindir/initdb" -D "$PG_TEST_DIR/data" -U postgres -E UTF8 --no-sync \
		>"$PG_TEST_DIR/initdb.log" 2>&1; then
		_pg_error "pg_start: initdb failed:"
		tail -n 20 "$PG_TEST_DIR/initdb.log" >&2
		return 1
	fi
	# Trust on the socket (only this directory's owner and root reach it),
	# passwords over TCP, where the application connects. Written here, as
	# initdb --auth-host would insist on a superuser password.
	# fsync and friends off: the data is thrown away, and the tests want speed.
	# pg_stat_statements lets tests count executions of the exact query.
	if ! printf '%s\n' "local all all trust" "host all all 127.0.0.1/32 scram-sha-256" \
		"host all all ::1/128 scram-sha-256" >"$PG_TEST_DIR/data/pg_hba.conf" ||
		! cat >>"$PG_TEST_DIR/data/postgresql.conf" <<EOF; then
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
		_pg_error "pg_start: cannot write the configuration in $PG_TEST_DIR/data"
		return
	fi
	pg_start_server || return 1
	_pg_setup "create role apiuser and database ordersdb" postgres \
		-c "CREATE ROLE apiuser LOGIN PASSWORD 'apipassword'" \
		-c "CREATE DATABASE ordersdb OWNER apiuser" || return 1
	_pg_setup "create extension pg_stat_statements" ordersdb -c "CREATE EXTENSION pg_stat_statements" || return 1
	PG_TEST_URL="postgresql://apiuser:apipassword@127.0.0.1:$PG_TEST_PORT/ordersdb"
	export PG_TEST_URL
}

# Starts the existing cluster again (after pg_stop_server); waits until it accepts connections.
pg_start_server() {
	_pg_need_cluster pg_start_server || return 1
	_pg_server_start "$PG_TEST_DIR" "pg_start_server: the server on 127.0.0.1:$PG_TEST_PORT"
}

# Stops the server and keeps the data. Fast mode by default, which is what a
# restart does to connected clients; pass "immediate" to simulate a crash.
pg_stop_server() {
	_pg_need_cluster pg_stop_server || return 1
	_pg_ctl -m "${1:-fast}" -w -t 30 stop >/dev/null && return 0
	_pg_error "pg_stop_server: the server did not stop"
	_pg_show_log
	return 1
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
	[ -n "$_pg_owned_dir" ] || return 0
	_pg_server_kill "$_pg_owned_dir"
	rm -rf -- "$_pg_owned_dir"
	_pg_owned_dir=
	PG_TEST_DIR=
	PG_TEST_PORT=
	PG_TEST_URL=
}

# Runs SQL as the superuser in ordersdb (or the database given second); prints rows unaligned, one per line.
pg_query() {
	_pg_need_cluster pg_query || return 1
	[ $# -ge 1 ] || { _pg_error "usage: pg_query SQL [DATABASE]"; return; }
	_pg_psql_superuser "${2:-ordersdb}" -c "$1"
}
