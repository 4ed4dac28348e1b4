#!/usr/bin/env bash
# install.t: make install (DESTDIR and PREFIX) lays out the FHS tree, the installed responder serves /orders in CGI mode and through spawn-fcgi with the checkout gone, and make uninstall leaves nothing.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/fronts.sh"

SRC="$TEST_TMP/checkout"
copy_checkout "$SRC" || bail_out "cannot copy the checkout"
make -s -C "$SRC" -j2 all >"$TEST_TMP/build.log" 2>&1 || bail_out "make in the copy failed: $(tail -n 5 "$TEST_TMP/build.log")"

# relative_files DIR: every file and link under DIR, relative, sorted.
relative_files() {
	(cd "$1" && find . ! -type d | sed 's|^\./||' | sort)
}
stage="$TEST_TMP/stage"
make -s -C "$SRC" install DESTDIR="$stage" >"$TEST_TMP/install.log" 2>&1
is "$?" 0 "make install DESTDIR=... (PREFIX /usr/local)"
expected="usr/local/etc/default/webapi-fcgi
usr/local/etc/lighttpd/conf-available/15-webapi-fcgi.conf
usr/local/etc/nginx/snippets/webapi-fcgi.conf
usr/local/lib/systemd/system/webapi-fcgi.service
usr/local/lib/systemd/system/webapi-fcgi.socket
usr/local/lib/webapi-fcgi/pgsql-describe
usr/local/lib/webapi-fcgi/seed-orders
usr/local/lib/webapi-fcgi/webapi-store-pgsql.so
usr/local/sbin/webapi-fcgi
usr/local/sbin/webapi-fcgi-seed-db
usr/local/share/man/man8/webapi-fcgi-seed-db.8
usr/local/share/man/man8/webapi-fcgi.8"
is "$(relative_files "$stage")" "$expected" "the files land where the FHS puts them, under PREFIX"
check "and the database directory is there for webapi-fcgi-seed-db" test -d "$stage/usr/local/var/lib/webapi-fcgi"
is "$(cd "$stage" && stat -c '%a %n' usr/local/sbin/* usr/local/lib/webapi-fcgi/* | tr '\n' ' ')" \
	"755 usr/local/sbin/webapi-fcgi 755 usr/local/sbin/webapi-fcgi-seed-db 755 usr/local/lib/webapi-fcgi/pgsql-describe 755 usr/local/lib/webapi-fcgi/seed-orders 644 usr/local/lib/webapi-fcgi/webapi-store-pgsql.so " \
	"commands 0755, the plugin 0644"
check "no @PLACEHOLDER@ is left in an installed text file" \
	bash -c "! grep -rlE '@[A-Z]+@' '$stage/usr/local/etc' '$stage/usr/local/lib/systemd' '$stage/usr/local/share' '$stage/usr/local/sbin/webapi-fcgi-seed-db'"
check "the lighttpd snippet runs the installed responder" \
	grep -q '"bin-path" => "/usr/local/sbin/webapi-fcgi --workers 2"' "$stage/usr/local/etc/lighttpd/conf-available/15-webapi-fcgi.conf"
check "the service runs it and reads its settings from SYSCONFDIR" \
	grep -qx 'ExecStart=/usr/local/sbin/webapi-fcgi --workers ${WORKERS}' "$stage/usr/local/lib/systemd/system/webapi-fcgi.service"
like "$("$stage/usr/local/sbin/webapi-fcgi" --help)" "unset: /usr/local/var/lib/webapi-fcgi/orders.db" \
	"the installed responder's default database is under PREFIX, not in the checkout"

# The staged tree moved elsewhere still finds its plugin: it is looked for
# relative to the executable (../lib/webapi-fcgi), not at a compiled-in path.
DB=$(seeded_database)
moved="$TEST_TMP/moved"
mv "$stage/usr/local" "$moved"
out=$(env -i DATABASE_URL="sqlite://$DB" REQUEST_METHOD=GET REQUEST_URI=/orders "$moved/sbin/webapi-fcgi")
is "${out#*$'\r\n\r\n'}" "$(expected_orders_json "$DB" 100 1000)" "the moved tree: CGI GET /orders"
out=$(env -i DATABASE_URL=postgresql://apiuser:s3cret@127.0.0.1:1/ordersdb REQUEST_METHOD=GET REQUEST_URI=/health \
	"$moved/sbin/webapi-fcgi" 2>"$TEST_TMP/moved.err")
like "$out" '^Status: 503 ' "the moved tree, PostgreSQL down: 503"
check "its plugin was found in ../lib/webapi-fcgi (libpq's refusal is logged, no load error)" \
	bash -c "grep -q 'Connection refused' '$TEST_TMP/moved.err' && ! grep -q 'cannot load' '$TEST_TMP/moved.err'"
mv "$moved" "$stage/usr/local"

make -s -C "$SRC" uninstall DESTDIR="$stage" >>"$TEST_TMP/install.log" 2>&1
is "$?" 0 "make uninstall DESTDIR=..."
is "$(relative_files "$stage")" "" "make uninstall leaves no file behind"
check "nor the directories that were its own" \
	bash -c "[[ ! -e '$stage/usr/local/lib/webapi-fcgi' && ! -e '$stage/usr/local/var/lib/webapi-fcgi' ]]"

out=$(make -s -C "$SRC" install PREFIX="$TEST_TMP/with space" 2>&1)
is "$?" 2 "make install refuses a PREFIX with a space"
like "$out" "must hold no space or quote: lighttpd's bin-path and systemd's ExecStart" "and says why"

# A real PREFIX, then the checkout gone: the installed tree is all it needs.
prefix="$TEST_TMP/prefix"
make -s -C "$SRC" install PREFIX="$prefix" >>"$TEST_TMP/install.log" 2>&1
is "$?" 0 "make install PREFIX=$prefix"
"$prefix/sbin/webapi-fcgi-seed-db" >"$TEST_TMP/seed.log" 2>&1
is "$?" 0 "the installed webapi-fcgi-seed-db creates the default database"
installed_db="$prefix/var/lib/webapi-fcgi/orders.db"
is "$(cat "$TEST_TMP/seed.log")" "seed-db: $installed_db: 10000 orders" "at PREFIX/var/lib/webapi-fcgi/orders.db"
# The installed units name the installed responder, which verify wants to exist.
if command -v systemd-analyze >/dev/null; then
	out=$(cd "$prefix/lib/systemd/system" &&
		systemd-analyze verify --man=no ./webapi-fcgi.socket ./webapi-fcgi.service 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify: the installed socket and service units parse, with no warning"
else
	skip "systemd-analyze is not installed (Debian package systemd)"
fi
mv "$SRC" "$SRC.away"
on_exit "[ -d '$SRC.away' ] && mv '$SRC.away' '$SRC'"

expected_body=$(expected_orders_json "$installed_db" 100 1000)
out=$(env -i PATH="$PATH" REQUEST_METHOD=GET REQUEST_URI=/orders "$prefix/sbin/webapi-fcgi" 2>"$TEST_TMP/cgi.err")
printf -v headers 'Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' "${#expected_body}"
is "$out" "$headers$expected_body" "checkout gone, no DATABASE_URL: CGI GET /orders from the default database"

# Started as root by spawn-fcgi, the workers drop to www-data, which must
# still reach the database's directory.
chmod 711 "$TEST_TMP"
run="$TEST_TMP/run"
mkdir -m 711 "$run"
env -i PATH="$PATH" spawn-fcgi -s "$run/webapi.sock" -F 1 -P "$run/pid" -- "$prefix/sbin/webapi-fcgi" --workers 1 \
	>"$run/spawn.log" 2>&1
is "$?" 0 "spawn-fcgi starts the installed responder"
on_exit "kill -TERM \$(cat '$run/pid')"
check "on its socket" wait_for_socket "$run/webapi.sock"
out=$(env -i REQUEST_METHOD=GET REQUEST_URI=/orders SCRIPT_NAME=/orders cgi-fcgi -bind -connect "$run/webapi.sock")
is "${out#*$'\r\n\r\n'}" "$expected_body" "spawn-fcgi, checkout gone: GET /orders through FastCGI from the default database"
out=$(env -i REQUEST_METHOD=GET REQUEST_URI=/ SCRIPT_NAME=/ cgi-fcgi -bind -connect "$run/webapi.sock")
is "${out#*$'\r\n\r\n'}" '{"message":"Hello, World!"}' "and GET /"
supervisor=$(cat "$run/pid")
kill -TERM "$supervisor"
check "SIGTERM stops it" wait_until "! kill -0 $supervisor 2>/dev/null" 5

mv "$SRC.away" "$SRC"
make -s -C "$SRC" uninstall PREFIX="$prefix" >>"$TEST_TMP/install.log" 2>&1
is "$?" 0 "make uninstall PREFIX=$prefix"
is "$(relative_files "$prefix")" "var/lib/webapi-fcgi/orders.db" "only the database the user created is left"

done_testing
