#!/usr/bin/env bash
# startup-refusals.t: what used to start and then misbehave is refused at start-up with a clear line (a FIFO or directory as the database, a WAL file in a read-only directory, too few descriptors), and a newline in DATABASE_URL cannot forge a log line (issue 11, item 10).
source "$(dirname "$0")/lib/common.sh"

# start_and_report NAME DATABASE_URL [SHELL-SETUP [WRAPPER]]: runs the
# responder (under WRAPPER) on a socket for at most 5 s; sets STATUS and
# OUTPUT (its log).
start_and_report() {
	local log="$TEST_TMP/$1.log"
	DATABASE_URL=$2 timeout -s KILL 5 bash -c "${3:-} exec ${4:-} \"\$0\" --listen \"\$1\" --workers 1" \
		"$RESPONDER" "$TEST_TMP/$1.sock" >/dev/null 2>"$log"
	STATUS=$?
	OUTPUT=$(cat "$log")
}

start_and_report forged $'sqlite:///nowhere/x.db\nwebapi-fcgi[1]: forged line'
is "$STATUS" 1 "a missing file with a newline in its name: status 1"
is "$(wc -l <"$TEST_TMP/forged.log")" 1 "and one log line, the newline spelled out: $OUTPUT"
check "no line starts with the forged prefix" bash -c "! grep -q '^webapi-fcgi\[1\]' '$TEST_TMP/forged.log'"

mkfifo "$TEST_TMP/orders.fifo"
start_and_report fifo "sqlite://$TEST_TMP/orders.fifo"
is "$STATUS" 1 "a FIFO as the database: status 1, no hang"
like "$OUTPUT" "database .*orders.fifo is not a regular file but a FIFO" "and says so"

mkdir "$TEST_TMP/orders-dir.db"
start_and_report directory "sqlite://$TEST_TMP/orders-dir.db"
is "$STATUS" 1 "a directory as the database: status 1"
like "$OUTPUT" "is not a regular file but a directory" "and says so (not \"disk I/O error\")"

# A WAL-mode file in a directory its reader cannot write to.
wal_dir="$TEST_TMP/read-only"
mkdir "$wal_dir"
db=$(seeded_database)
sqlite3 "$db" "PRAGMA journal_mode=WAL" >/dev/null
mv "$db" "$wal_dir/orders.db"
chmod o+x "$TEST_TMP" && chmod 555 "$wal_dir" && chmod 444 "$wal_dir/orders.db"
if [[ $(id -u) -eq 0 ]]; then
	start_and_report wal "sqlite://$wal_dir/orders.db" "" "setpriv --reuid=nobody --regid=nogroup --clear-groups"
else
	start_and_report wal "sqlite://$wal_dir/orders.db"
fi
is "$STATUS" 1 "a WAL-mode file in a read-only directory: status 1"
like "$OUTPUT" "in WAL mode and SQLite cannot create .*-wal and .*-shm" \
	"and says why (not \"not an orders database\")"

start_and_report descriptors "sqlite://$(seeded_database)" "ulimit -n 5;"
is "$STATUS" 1 "ulimit -n 5: status 1 at start-up"
like "$OUTPUT" "the open-file limit is 5 \(ulimit -n\); webapi-fcgi needs at least [0-9]+" "and says what it needs"
done_testing
