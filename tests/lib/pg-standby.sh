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
	wait_until "[[ \"\$(standby_query \"SELECT pg_last_wal_replay_lsn() >= '$wanted'\" postgres 2>/dev/null)\" == t ]]" 10 &&
		return 0
	echo "pg-standby.sh: the standby did not catch up with the primary in 10 s" >&2
	_pg_show_log "$STANDBY_DIR"
	return 1
}

standby_start_server() {
	_pg_server_start "$STANDBY_DIR" "the standby on 127.0.0.1:$STANDBY_PORT"
}

# Fast mode by default, as a restart or a failed machine's orderly stop.
standby_stop_server() {
	_pg_ctl_in "$STANDBY_DIR" -m "${1:-fast}" -w -t 30 stop >/dev/null
}

# standby_query SQL [DATABASE]: as pg_query, on the standby.
standby_query() {
	_pg_psql_at "$STANDBY_DIR" "$STANDBY_PORT" "${2:-ordersdb}" -c "$1"
}

# Stops the standby whatever its state and removes its directory; safe twice.
standby_destroy() {
	[[ -n "$STANDBY_DIR" ]] || return 0
	_pg_server_kill "$STANDBY_DIR"
	rm -rf -- "$STANDBY_DIR"
	STANDBY_DIR=
	STANDBY_PORT=
}
