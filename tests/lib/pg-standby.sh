# pg-standby.sh: sourced after pg.sh to add a streaming standby (pg_basebackup -R) of pg.sh's cluster, in a temp dir on a free port.
#
#   . tests/lib/pg.sh; . tests/lib/pg-standby.sh
#   on_exit pg_destroy; on_exit standby_destroy
#   pg_start && standby_start || exit 1
#   standby_query "SELECT pg_is_in_recovery()"     # t
#   standby_stop_server; standby_start_server
#
# It uses pg.sh's server binaries and its way of running them as the
# server's owner; the standby streams from the primary over the primary's
# unix socket, as the superuser, which the primary's pg_hba.conf is made to
# allow for replication (trust on the socket, as for everything else there).

STANDBY_DIR=
STANDBY_PORT=

_standby_ctl() {
	_pg_as_owner "$_pg_bindir/pg_ctl" -D "$STANDBY_DIR/data" "$@"
}

_standby_show_log() {
	[[ -f "$STANDBY_DIR/server.log" ]] && tail -n 20 "$STANDBY_DIR/server.log" >&2
}

# Makes and starts the standby; waits until it has replayed what the
# primary had written when it was called. Sets STANDBY_DIR and STANDBY_PORT.
standby_start() {
	if [[ -n "$STANDBY_DIR" ]]; then
		echo "pg-standby.sh: a standby already runs in $STANDBY_DIR" >&2
		return 1
	fi
	STANDBY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/webapi-standby.XXXXXX") || return 1
	if [[ "$(id -u)" -eq 0 ]]; then
		chown postgres: "$STANDBY_DIR" || return 1
	fi
	STANDBY_PORT=$(free_port) || return 1
	# Replication connections match only "replication" lines of pg_hba.conf.
	echo "local replication all trust" >>"$PG_TEST_DIR/data/pg_hba.conf" &&
		_pg_ctl reload >/dev/null || return 1
	if ! _pg_as_owner "$_pg_bindir/pg_basebackup" -h "$PG_TEST_DIR" -p "$PG_TEST_PORT" -U postgres \
		-D "$STANDBY_DIR/data" -R -X stream -c fast >"$STANDBY_DIR/basebackup.log" 2>&1; then
		echo "pg-standby.sh: pg_basebackup failed:" >&2
		tail -n 20 "$STANDBY_DIR/basebackup.log" >&2
		return 1
	fi
	# The copied postgresql.conf names the primary's port and socket
	# directory; the last setting in the file wins.
	_pg_as_owner sh -c "printf '%s\n' \"port = $STANDBY_PORT\" \"unix_socket_directories = '$STANDBY_DIR'\" \
		>>'$STANDBY_DIR/data/postgresql.conf'" || return 1
	standby_start_server || return 1
	local wanted
	wanted=$(pg_query "SELECT pg_current_wal_lsn()" postgres) || return 1
	for _ in $(seq 100); do
		[[ "$(standby_query "SELECT pg_last_wal_replay_lsn() >= '$wanted'" postgres 2>/dev/null)" == t ]] && return 0
		sleep 0.1
	done
	echo "pg-standby.sh: the standby did not catch up with the primary in 10 s" >&2
	_standby_show_log
	return 1
}

standby_start_server() {
	if ! _standby_ctl -l "$STANDBY_DIR/server.log" -w -t 30 start >/dev/null; then
		echo "pg-standby.sh: the standby did not start on 127.0.0.1:$STANDBY_PORT" >&2
		_standby_show_log
		return 1
	fi
}

# Fast mode by default, as a restart or a failed machine's orderly stop.
standby_stop_server() {
	_standby_ctl -m "${1:-fast}" -w -t 30 stop >/dev/null
}

standby_query() {
	"$_pg_bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$STANDBY_DIR" -p "$STANDBY_PORT" -U postgres \
		-d "${2:-ordersdb}" -c "$1"
}

# Stops the standby whatever its state and removes its directory; safe twice.
standby_destroy() {
	[[ -n "$STANDBY_DIR" ]] || return 0
	if [[ -f "$STANDBY_DIR/data/postmaster.pid" ]]; then
		_standby_ctl -m immediate -w -t 10 stop >/dev/null 2>&1 ||
			kill -KILL "$(head -n 1 "$STANDBY_DIR/data/postmaster.pid")" 2>/dev/null
	fi
	rm -rf -- "$STANDBY_DIR"
	STANDBY_DIR=
	STANDBY_PORT=
}
