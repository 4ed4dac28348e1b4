# pgbouncer.sh: sourced after pg.sh to put a throwaway PgBouncer (transaction pooling) in front of pg.sh's cluster, in a temp dir on a free port.
#
#   . tests/lib/pg.sh; . tests/lib/pgbouncer.sh
#   pg_start && pgbouncer_start 4 || exit 1      # default_pool_size 4
#   DATABASE_URL=$PGBOUNCER_URL PG_STATEMENTS=unnamed ...
#
# Its own configuration, never the system's (/etc/pgbouncer, the Debian
# service): it listens on 127.0.0.1 only, checks the benchmark's role's
# password itself (SCRAM, from a user list in its directory) and logs in to
# PostgreSQL with it. It refuses to run as root, so root runs it as the
# server's owner, as pg.sh runs PostgreSQL. Stopped on exit.

PGBOUNCER_DIR=
PGBOUNCER_PORT=
PGBOUNCER_URL=

pgbouncer_start() {
	local pool_size=$1
	if ! command -v pgbouncer >/dev/null; then
		echo "pgbouncer.sh: no pgbouncer (apt-get install pgbouncer)" >&2
		return 1
	fi
	PGBOUNCER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/webapi-pgbouncer.XXXXXX") || return 1
	on_exit "rm -rf '$PGBOUNCER_DIR'"
	PGBOUNCER_PORT=$(free_port) || return 1
	cat >"$PGBOUNCER_DIR/pgbouncer.ini" <<EOF
[databases]
ordersdb = host=127.0.0.1 port=$PG_TEST_PORT dbname=ordersdb

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $PGBOUNCER_DIR/userlist.txt
pool_mode = transaction
default_pool_size = $pool_size
max_client_conn = 200
logfile = $PGBOUNCER_DIR/pgbouncer.log
pidfile = $PGBOUNCER_DIR/pgbouncer.pid
EOF
	echo '"apiuser" "apipassword"' >"$PGBOUNCER_DIR/userlist.txt"
	if [[ "$(id -u)" -eq 0 ]]; then
		chown -R postgres: "$PGBOUNCER_DIR" || return 1
	fi
	_pg_as_owner pgbouncer "$PGBOUNCER_DIR/pgbouncer.ini" >>"$PGBOUNCER_DIR/stderr.log" 2>&1 &
	# Its own pid, from its pid file: $! may be runuser's.
	on_exit "kill -TERM \$(cat '$PGBOUNCER_DIR/pgbouncer.pid') $!"
	if ! wait_for_port 127.0.0.1 "$PGBOUNCER_PORT"; then
		echo "pgbouncer.sh: pgbouncer did not listen on 127.0.0.1:$PGBOUNCER_PORT:" >&2
		tail -n 5 "$PGBOUNCER_DIR/stderr.log" "$PGBOUNCER_DIR/pgbouncer.log" >&2
		return 1
	fi
	PGBOUNCER_URL="postgresql://apiuser:apipassword@127.0.0.1:$PGBOUNCER_PORT/ordersdb"
}
