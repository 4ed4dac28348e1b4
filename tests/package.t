#!/usr/bin/env bash
# package.t: the Debian package: built by dpkg-buildpackage in a temp dir, lintian-clean, installed with dpkg -i, served by the system's lighttpd configuration through lighty-enable-mod, and purged without a trace.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/fronts.sh"

for tool in dpkg-buildpackage dh lintian lighttpd lighty-enable-mod; do
	command -v "$tool" >/dev/null || bail_out "$tool is missing: scripts/install-deps test"
done
[[ $(id -u) -eq 0 ]] || bail_out "dpkg -i needs root"
if dpkg-query -W -f='${Status}' webapi-fcgi 2>/dev/null | grep -qv 'not-installed'; then
	bail_out "a webapi-fcgi package is on this machine already; this test installs and purges its own (dpkg --purge webapi-fcgi first)"
fi

# dpkg_run ARGS...: dpkg, waiting up to 60 s for another apt or dpkg (the
# lock) rather than failing on it.
dpkg_run() {
	local attempt
	for attempt in $(seq 30); do
		DEBIAN_FRONTEND=noninteractive dpkg "$@" >>"$TEST_TMP/dpkg.log" 2>&1 && return 0
		tail -n 3 "$TEST_TMP/dpkg.log" | grep -q 'lock' || return 1
		sleep 2
	done
	return 1
}

# --- build: in a copy, so the .deb (written beside the source) and
# debian/'s build files stay in this test's temp dir ---
SRC="$TEST_TMP/deb/webapi-fcgi"
copy_checkout "$SRC" || bail_out "cannot copy the checkout"
(cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$TEST_TMP/build.log" 2>&1
status=$?
is "$status" 0 "dpkg-buildpackage -us -uc -b"
((status == 0)) || { tail -n 15 "$TEST_TMP/build.log" | sed 's/^/#   /'; bail_out "no package to test"; }
debs=("$TEST_TMP"/deb/webapi-fcgi_*.deb)
is "${#debs[@]}" 1 "one binary package: ${debs[0]##*/}"
DEB=${debs[0]}

lintian --fail-on error,warning "$DEB" >"$TEST_TMP/lintian.log" 2>&1
status=$?
findings=$(grep -E '^[EW]: ' "$TEST_TMP/lintian.log")
is "$status/$findings" "0/" "lintian: no error and no warning (overrides in debian/webapi-fcgi.lintian-overrides)"

# --- install ---
enabled_before=$(ls /etc/lighttpd/conf-enabled/)
on_exit "dpkg --purge webapi-fcgi"
on_exit "rm -f /run/lighttpd/webapi-fcgi.socket*"
check "dpkg -i" dpkg_run -i "$DEB"
mapfile -t owned < <(dpkg -L webapi-fcgi)
for path in /usr/sbin/webapi-fcgi /usr/sbin/webapi-fcgi-seed-db /usr/lib/webapi-fcgi/webapi-store-pgsql.so \
	/etc/default/webapi-fcgi /etc/lighttpd/conf-available/15-webapi-fcgi.conf /etc/nginx/snippets/webapi-fcgi.conf \
	/lib/systemd/system/webapi-fcgi.socket /lib/systemd/system/webapi-fcgi.service \
	/usr/share/man/man8/webapi-fcgi.8.gz /usr/share/doc/webapi-fcgi/copyright; do
	check "installs $path" test -e "$path"
done
DB=/var/lib/webapi-fcgi/orders.db
is "$(stat -c '%U:%G %a' "$DB" 2>&1) $(sqlite3 "$DB" 'SELECT count(*) FROM orders' 2>&1)" "root:root 644 10000" \
	"the postinst created $DB: 10,000 orders, root's, readable by www-data"
is "$(sqlite3 "$DB" 'SELECT id, customer_id, total_cents, status FROM orders WHERE id = 1001')" \
	"$(sqlite3 "$(seeded_database)" 'SELECT id, customer_id, total_cents, status FROM orders WHERE id = 1001')" \
	"with the fixed-seed rows: the same as scripts/seed-db makes"
check "the service runs as www-data" grep -qx 'User=www-data' /lib/systemd/system/webapi-fcgi.service
check "and reads /etc/default/webapi-fcgi" grep -qx 'EnvironmentFile=-/etc/default/webapi-fcgi' \
	/lib/systemd/system/webapi-fcgi.service
like "$(/usr/sbin/webapi-fcgi --help)" "unset: /var/lib/webapi-fcgi/orders.db" "the packaged responder's default database"

# --- lighttpd, the system's configuration on a free port ---
lighty-enable-mod webapi-fcgi >"$TEST_TMP/enable.log" 2>&1
status=$?
check "lighty-enable-mod webapi-fcgi (status $status)" test "$status" -eq 0
# Whatever it enabled besides (fastcgi, a dependency) goes again.
for name in $(ls /etc/lighttpd/conf-enabled/); do
	grep -qxF "$name" <<<"$enabled_before" || on_exit "rm -f '/etc/lighttpd/conf-enabled/$name'"
done
check "it links conf-enabled/15-webapi-fcgi.conf" test -L /etc/lighttpd/conf-enabled/15-webapi-fcgi.conf

# lighttpd opens its log as www-data, after dropping root.
front="$TEST_TMP/lighttpd"
mkdir -p "$front"
chmod 711 "$TEST_TMP"
chown www-data: "$front"
port=$(free_port) || bail_out "no free port"
sed -e "s|^server.port .*|server.port = $port|" -e "s|^server.pid-file .*|server.pid-file = \"$front/lighttpd.pid\"|" \
	-e "s|^server.errorlog .*|server.errorlog = \"$front/error.log\"|" /etc/lighttpd/lighttpd.conf >"$front/lighttpd.conf"
check "the copy of /etc/lighttpd/lighttpd.conf has the port changed" grep -qx "server.port = $port" "$front/lighttpd.conf"
lighttpd -tt -f "$front/lighttpd.conf" >"$front/check.log" 2>&1
is "$?" 0 "lighttpd -tt accepts it with the snippet enabled"
[[ -d /run/lighttpd ]] || { install -d -o www-data -g www-data /run/lighttpd && on_exit "rmdir /run/lighttpd"; }
lighttpd -D -f "$front/lighttpd.conf" >"$front/stderr.log" 2>&1 </dev/null &
lighttpd_pid=$!
on_exit "kill -TERM $lighttpd_pid"
wait_for_port 127.0.0.1 "$port" || bail_out "lighttpd did not start: $(tail -n 5 "$front/stderr.log" "$front/error.log")"

status=$(http GET "http://127.0.0.1:$port/")
is "$status $(cat "$TEST_TMP/body")" '200 {"message":"Hello, World!"}' "lighttpd with the snippet: GET /"
status=$(http GET "http://127.0.0.1:$port/orders")
is "$status" 200 "GET /orders: 200"
is "$(cat "$TEST_TMP/body")" "$(expected_orders_json "$DB" 100 1000)" "the contract's bytes from the packaged database"
is "$(header Content-Type)" application/json "as application/json"
users=$(ps -o user= -p "$(pgrep -d, -f '^/usr/sbin/webapi-fcgi ')" | sort -u | tr '\n' ' ')
is "$users" "www-data " "the responder lighttpd spawned runs as www-data"
responders=$(pgrep -f '^/usr/sbin/webapi-fcgi ' | tr '\n' ' ')
kill -TERM "$lighttpd_pid"
wait_until "! kill -0 $lighttpd_pid 2>/dev/null && ! pgrep -f '^/usr/sbin/webapi-fcgi ' >/dev/null" 10
check "lighttpd stopped, and with it its responders ($responders)" \
	bash -c "! kill -0 $lighttpd_pid 2>/dev/null && ! pgrep -f '^/usr/sbin/webapi-fcgi ' >/dev/null"

# --- purge ---
check "dpkg --purge webapi-fcgi" dpkg_run --purge webapi-fcgi
rm -f /run/lighttpd/webapi-fcgi.socket*
left=$(for path in "${owned[@]}"; do [[ -e "$path" && ! -d "$path" ]] && echo "$path"; done)
is "$left" "" "none of the package's files is left"
# Container storage (tests/container.t's images and their layers) holds
# files of that name that no package put there.
is "$(find /etc /lib /usr /var /run -path /var/lib/containers -prune -o -name '*webapi-fcgi*' -print 2>/dev/null)" "" \
	"nothing named webapi-fcgi anywhere in /etc, /lib, /usr, /var, /run: database, conf-enabled link, systemd links"
is "$(dpkg-query -W -f='${Status}' webapi-fcgi 2>/dev/null)" "" "dpkg has forgotten it"

done_testing
