#!/usr/bin/env bash
# container.t: the Dockerfile and compose.yaml with podman: the image from a clean clone answers as the checkout's stack does on SQLite and PostgreSQL, stops cleanly under load, stays small; compose brings up the benchmark's setup.
#
# No image registry here: debian:bookworm-slim is made once per machine
# from Debian's packages (debootstrap) and kept for the next run, and so
# is the stand-in for postgres:15-alpine (the same base with Debian's
# PostgreSQL 15). The podman settings this machine needs (runc, cgroupfs,
# no default rlimits) live in a containers.conf of this test's own; the
# Dockerfile builds unchanged with Docker.
source "$(dirname "$0")/lib/common.sh"
source "$ROOT/tests/lib/pg.sh"

BASE_IMAGE=docker.io/library/debian:bookworm-slim
PG_IMAGE=localhost/webapi-fcgi-test-postgres:15
RUN_ID=$$-$RANDOM
IMAGE=localhost/webapi-fcgi-test:$RUN_ID
SEED_IMAGE=localhost/webapi-fcgi-test-seed:$RUN_ID
MAX_ADDED_BYTES=$((20 * 1000 * 1000))

[[ $(id -u) -eq 0 ]] || {
	skip "rootful podman needs root"
	done_testing
	exit
}

# --- podman, as this machine can run it ---
packages=(podman runc debootstrap podman-compose iptables wrk git)
missing=()
for package in "${packages[@]}"; do
	[[ $(dpkg-query -W -f='${Status}' "$package" 2>/dev/null) == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
	diag "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
		"${missing[@]}" >"$TEST_TMP/apt.log" 2>&1 || bail_out "apt-get install ${missing[*]} failed: $(tail -n 3 "$TEST_TMP/apt.log")"
fi
# crun refuses this machine's hybrid cgroup setup; the default rlimits
# ask for more than the sandbox grants.
export CONTAINERS_CONF="$TEST_TMP/containers.conf"
cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF

CONTAINERS=()
remove_containers() {
	local name
	for name in "${CONTAINERS[@]}"; do
		podman rm -f -t 0 "$name" >/dev/null 2>&1
	done
}
# The images this run leaves untagged (each build's build stage) go too;
# the intermediate ones stay as the next run's cache (apt's layers).
dangling() {
	podman images -q --no-trunc --filter dangling=true | sort
}
DANGLING_BEFORE="$TEST_TMP/dangling-before"
dangling >"$DANGLING_BEFORE"
remove_new_dangling() {
	dangling | comm -13 "$DANGLING_BEFORE" - | xargs -r podman rmi -f
}
on_exit remove_new_dangling
on_exit "podman rmi -f '$IMAGE' '$SEED_IMAGE' >/dev/null 2>&1"
on_exit remove_containers

# The Debian mirror this machine uses, for debootstrap.
debian_mirror() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -oE '(https?|file)://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' '
}

# make_base_image: debian:bookworm-slim from debootstrap, made as the
# official slim image is (no documentation, no apt caches, the three
# suites in debian.sources), so that the size the Dockerfile adds to it
# means the same here as on Docker Hub's.
make_base_image() {
	local dir="$TEST_TMP/rootfs" mirror
	mirror=$(debian_mirror)
	[[ -n $mirror ]] || return 1
	diag "making $BASE_IMAGE with debootstrap from $mirror (once per machine)"
	debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$TEST_TMP/debootstrap.log" 2>&1 || {
		tail -n 5 "$TEST_TMP/debootstrap.log"
		return 1
	}
	rm -f "$dir/etc/apt/sources.list"
	cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror%/}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/}-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	mkdir -p "$dir/etc/dpkg/dpkg.cfg.d"
	printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
		'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' \
		'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' \
		>"$dir/etc/dpkg/dpkg.cfg.d/docker"
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/* "$dir"/usr/share/doc/* \
		"$dir"/usr/share/man/* "$dir"/usr/share/locale/*
	tar -C "$dir" -c . | podman import -q - "$BASE_IMAGE" >/dev/null
	local status=$?
	rm -rf "$dir"
	return $status
}

if ! podman image exists "$BASE_IMAGE"; then
	started=$SECONDS
	make_base_image || bail_out "cannot make $BASE_IMAGE"
	diag "$BASE_IMAGE made in $((SECONDS - started)) s"
fi

# --- the image, built from a clean clone ---
git clone -q "$ROOT" "$TEST_TMP/clone" || bail_out "git clone of the checkout failed"
started=$SECONDS
podman build --format docker --network host -q -t "$IMAGE" "$TEST_TMP/clone" >"$TEST_TMP/build.log" 2>&1
status=$?
is "$status" 0 "the image builds from a clean clone ($((SECONDS - started)) s)"
((status == 0)) || bail_out "podman build failed: $(tail -n 10 "$TEST_TMP/build.log" | tr '\n' ' ')"

base_size=$(podman image inspect -f '{{.Size}}' "$BASE_IMAGE")
image_size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
added=$((image_size - base_size))
check "it adds $((added / 1000)) kB to $BASE_IMAGE (at most $((MAX_ADDED_BYTES / 1000)) kB)" test "$added" -le "$MAX_ADDED_BYTES"
# What the image must hold, and what must stay in the build stage or in apt's caches.
wanted="/usr/sbin/webapi-fcgi /usr/lib/webapi-fcgi/webapi-store-pgsql.so /var/lib/webapi-fcgi/orders.db /etc/webapi-fcgi/lighttpd.conf"
present=$(podman run --rm --network none --no-healthcheck "$IMAGE" sh -c "for f in $wanted"' /src /build /data /.git \
	/usr/include/fcgiapp.h /usr/bin/gcc /var/lib/apt/lists/*_Packages /var/cache/apt/archives/*.deb /var/cache/apt/*.bin
	do [ -e "$f" ] && echo "$f"; done' 2>&1 | tr '\n' ' ')
is "$present" "$wanted " "the image holds the responder, its plugin, the database and lighttpd.conf; no sources, compiler or apt caches"

# run_container NAME PODMAN-RUN-ARGS...: detached, removed on exit.
run_container() {
	local name=$1
	shift
	CONTAINERS+=("$name")
	podman run -d --name "$name" "$@" >"$TEST_TMP/$name.id" 2>"$TEST_TMP/$name.err" ||
		bail_out "podman run $name failed: $(cat "$TEST_TMP/$name.err")"
}
# wait_http URL SECONDS: until URL answers 200.
wait_http() {
	local url=$1
	wait_until '[[ $(curl -s -o /dev/null -w "%{http_code}" --max-time 2 "$url") == 200 ]]' "$2"
}
# answer URL: status line, headers but Date, and body, as bytes to compare.
answer() {
	curl -si --max-time 10 "$1" | grep -av '^Date: '
}
# same_answers LABEL URL-A URL-B: the paths answer byte for byte alike.
same_answers() {
	local path
	for path in / /orders '/orders?limit=900' '/orders?limit=3&offset=0' '/orders?limit=2&offset=9999' /health /nope; do
		answer "$2$path" >"$TEST_TMP/a"
		answer "$3$path" >"$TEST_TMP/b"
		if cmp -s "$TEST_TMP/a" "$TEST_TMP/b" && [[ -s "$TEST_TMP/a" ]]; then
			ok 0 "$1: GET $path is byte-identical to the checkout's stack"
		else
			ok 1 "$1: GET $path is byte-identical to the checkout's stack"
			diff <(head -c 600 "$TEST_TMP/a") <(head -c 600 "$TEST_TMP/b") | head -n 8 | sed 's/^/#   /'
		fi
	done
}

# --- the embedded store, with the benchmark's port mapping ---
SQLITE_NAME=webapi-fcgi-test-sqlite-$RUN_ID
port=$(free_port) || bail_out "no free port"
run_container "$SQLITE_NAME" -p "$port:8000" --cpus 2 --memory 1g "$IMAGE"
CONTAINER_URL=http://127.0.0.1:$port
check "the container answers GET / on host port $port (-p $port:8000)" wait_http "$CONTAINER_URL/" 30

DB=$(seeded_database)
stack_up DATABASE_URL="sqlite://$DB" WORKERS=1
same_answers "embedded SQLite" "$CONTAINER_URL" "$BASE_URL"

# The workers: children of the responder's supervisor, itself a child of lighttpd.
podman top "$SQLITE_NAME" pid ppid user comm >"$TEST_TMP/top" 2>&1
supervisors=$(awk '$4 == "webapi-fcgi" { print $1 }' "$TEST_TMP/top" | tr '\n' ' ')
workers=$(awk -v s=" $supervisors" '$4 == "webapi-fcgi" && index(s, " " $2 " ") { print $3 }' "$TEST_TMP/top")
like "$(wc -l <<<"$workers") $(sort -u <<<"$workers" | tr '\n' ' ')" '^[1-9][0-9]* www-data $' \
	"the workers run as www-data, not root"
# Every process, lighttpd and the supervisor too, and podman exec's own.
podman exec "$SQLITE_NAME" sh -c 'for s in /proc/[0-9]*/status; do sed -n "s/^Uid:\t\([0-9]*\).*/\1/p" "$s"; done' \
	>"$TEST_TMP/uids" 2>&1
like "$(sort -u "$TEST_TMP/uids" | tr '\n' ' ')" '^[1-9][0-9]* $' \
	"no process in the container runs as root (uids: $(sort -u "$TEST_TMP/uids" | tr '\n' ' '))"

check "the image's HEALTHCHECK passes (GET /health)" podman healthcheck run "$SQLITE_NAME"

# podman stop in the middle of the benchmark's load (wrk -t2 -c120): under
# 5 s, status 0, and every answer wrk got is a 200. wrk's socket errors
# are shown, not counted: connections refused once lighttpd has closed its
# listener show up as write errors, and lighttpd's graceful stop closes the
# keep-alive connections that wait for their next request, so a request
# sent at that very moment (which lighttpd never read; a client may send
# it again, RFC 9112 9.3.1) is a read error for wrk, which never retries.
# That requests lighttpd has read are answered is checked below, with
# requests held in flight on PostgreSQL.
wrk -t 2 -c 120 -d 8s --timeout 5s "$CONTAINER_URL/orders" >"$TEST_TMP/stop.wrk" 2>&1 &
wrk_pid=$!
on_exit "kill $wrk_pid"
sleep 3
started=$(date +%s%N)
podman stop -t 10 "$SQLITE_NAME" >/dev/null 2>"$TEST_TMP/stop.err"
stop_ms=$((($(date +%s%N) - started) / 1000000))
wait "$wrk_pid"
check "podman stop under wrk -t2 -c120 takes under 5 s (${stop_ms} ms)" test "$stop_ms" -lt 5000
is "$(podman inspect -f '{{.State.ExitCode}}' "$SQLITE_NAME")" 0 "the container exits with 0"
diag "wrk: $(grep -E 'requests in|Non-2xx|Socket errors' "$TEST_TMP/stop.wrk" | sed 's/^ *//' | tr '\n' ';')"
answered=$(awk '/requests in/ { print $1 }' "$TEST_TMP/stop.wrk")
check "wrk had answers for 3 s before the stop (${answered:-0} requests)" test "${answered:-0}" -gt 100
timeouts=$(awk '/Socket errors:/ { gsub(",", ""); print $10 }' "$TEST_TMP/stop.wrk")
non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$TEST_TMP/stop.wrk")
is "${non2xx:-0} ${timeouts:-0}" "0 0" "every answer is a 200, none timed out"

# --- PostgreSQL through DATABASE_URL, the container on the host's network ---
on_exit pg_destroy
pg_start >/dev/null || bail_out "cannot start a throwaway PostgreSQL"
"$ROOT/scripts/seed-db" --postgres "$PG_TEST_URL" >/dev/null || bail_out "scripts/seed-db --postgres failed"
stack_up DATABASE_URL="$PG_TEST_URL" WORKERS=1
PG_NAME=webapi-fcgi-test-pg-$RUN_ID
port=$(free_port) || bail_out "no free port"
run_container "$PG_NAME" --network host -e PORT="$port" -e DATABASE_URL="$PG_TEST_URL" "$IMAGE"
check "the container on PostgreSQL answers GET /orders" wait_http "http://127.0.0.1:$port/orders" 30
same_answers "PostgreSQL" "http://127.0.0.1:$port" "$BASE_URL"

# Requests in flight when podman stop comes: the orders table is locked,
# 20 requests wait in the query, podman stop begins (lighttpd closes its
# listener), and only then is the lock released. Each must get its full
# answer, and the container stop only after that. The responder gives a
# query 2 s: the lock is released within 1.5 s of the first request.
curl -s "$BASE_URL/orders" >"$TEST_TMP/orders.expected"
held_sql() { # SQL: a count from the test's cluster, as its superuser
	psql -X -q -At -h "$PG_TEST_DIR" -p "$PG_TEST_PORT" -U postgres -d ordersdb -c "$1" 2>/dev/null
}
mkfifo "$TEST_TMP/lock.sql"
psql -X -q -h "$PG_TEST_DIR" -p "$PG_TEST_PORT" -U postgres -d ordersdb <"$TEST_TMP/lock.sql" >/dev/null 2>&1 &
exec 7>"$TEST_TMP/lock.sql"
echo "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;" >&7
wait_until '[[ $(held_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE c.relname = '"'orders'"' AND l.mode = '"'AccessExclusiveLock'"' AND l.granted") == 1 ]]' 10
first_request=$(date +%s%N)
for i in $(seq 20); do
	curl -s --max-time 10 -o "$TEST_TMP/held.$i" -w '%{http_code}' "http://127.0.0.1:$port/orders" >"$TEST_TMP/held.$i.status" &
done
wait_until "[[ \$(held_sql \"SELECT count(*) FROM pg_stat_activity WHERE usename = 'apiuser' AND wait_event_type = 'Lock'\") -ge 1 ]]" 3
(
	podman stop -t 10 "$PG_NAME" >/dev/null 2>"$TEST_TMP/stop-pg.err"
	date +%s%N >"$TEST_TMP/stopped"
) &
started=$(date +%s%N)
listener=open
while (($(date +%s%N) - first_request < 1500000000)); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		listener=closed
		break
	fi
	sleep 0.02
done
echo "COMMIT;" >&7
exec 7>&-
released=$(date +%s%N)
wait
is "$listener" closed "lighttpd closed its listener (the stop began) while the requests were held"
check "podman stop returned after the lock went ($((($(cat "$TEST_TMP/stopped") - released) / 1000000)) ms after)" \
	test "$(cat "$TEST_TMP/stopped")" -gt "$released"
stop_ms=$((($(cat "$TEST_TMP/stopped") - started) / 1000000))
complete=0
for i in $(seq 20); do
	[[ $(cat "$TEST_TMP/held.$i.status") == 200 ]] && cmp -s "$TEST_TMP/held.$i" "$TEST_TMP/orders.expected" &&
		complete=$((complete + 1))
done
is "$complete" 20 "the 20 requests held in flight get their full 200 answer"
check "podman stop with requests in flight takes under 5 s (${stop_ms} ms)" test "$stop_ms" -lt 5000
is "$(podman inspect -f '{{.State.ExitCode}}' "$PG_NAME")" 0 "and the container exits with 0"

# --- compose.yaml with podman-compose ---
make_postgres_image() {
	local dir="$TEST_TMP/postgres-image"
	mkdir -p "$dir"
	# What the compose file asks of postgres:15-alpine: POSTGRES_USER,
	# _PASSWORD and _DB at the first start, the command's -c flags,
	# pg_isready, password authentication from the network.
	cat >"$dir/entrypoint" <<'EOF'
#!/bin/sh
set -eu
if [ "$1" = postgres ]; then
	mkdir -p "$PGDATA" /run/postgresql
	chown postgres: "$PGDATA" /run/postgresql
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		echo "$POSTGRES_PASSWORD" >/tmp/password
		chown postgres /tmp/password
		runuser -u postgres -- initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/password \
			--auth-local=trust --auth-host=scram-sha-256 >/dev/null
		rm /tmp/password
		echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
		echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
		runuser -u postgres -- pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
		runuser -u postgres -- psql -q -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
		runuser -u postgres -- pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	fi
	exec runuser -u postgres -- "$@"
fi
exec "$@"
EOF
	cat >"$dir/Containerfile" <<'EOF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 && rm -rf /var/lib/apt/lists/*
COPY entrypoint /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
	podman build --network host -q -t "$PG_IMAGE" "$dir" >"$TEST_TMP/postgres-build.log" 2>&1
}
if ! podman image exists "$PG_IMAGE"; then
	started=$SECONDS
	make_postgres_image || bail_out "cannot build $PG_IMAGE: $(tail -n 5 "$TEST_TMP/postgres-build.log" | tr '\n' ' ')"
	diag "$PG_IMAGE made in $((SECONDS - started)) s (once per machine)"
fi

PROJECT=webapi-fcgi-test-$RUN_ID
port=$(free_port) || bail_out "no free port"
# The clone's compose.yaml unchanged; the override names the images: the
# stand-in for postgres:15-alpine, the app's image built above, and a tag
# of this run's own for the seed service, which podman-compose builds
# (the Dockerfile's build stage). APP_PORT is the free host port.
cat >"$TEST_TMP/override.yaml" <<EOF
services:
  db:
    image: $PG_IMAGE
  seed:
    image: $SEED_IMAGE
  app:
    image: $IMAGE
EOF
compose() {
	(cd "$TEST_TMP/clone" && podman-compose -p "$PROJECT" -f compose.yaml -f "$TEST_TMP/override.yaml" "$@")
}
on_exit "podman network rm -f '${PROJECT}_default'"
on_exit "compose down -t 5"
APP_PORT=$port compose up -d >"$TEST_TMP/compose.log" 2>&1
status=$?
is "$status" 0 "podman-compose up -d builds the seed service and starts db, seed and app"
((status == 0)) || tail -n 10 "$TEST_TMP/compose.log" | sed 's/^/#   /'
COMPOSE_URL=http://127.0.0.1:$port
check "the app answers GET /orders from the db service (host port $port)" wait_http "$COMPOSE_URL/orders" 120
cmp -s <(curl -s "$COMPOSE_URL/orders") <(curl -s "$BASE_URL/orders")
is "$?" 0 "its /orders is byte-identical to the checkout's stack on the seeded PostgreSQL"
# service_container SERVICE: the name of the project's container for SERVICE.
service_container() {
	podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1" \
		--format '{{.Names}}' | head -n 1
}
seed=$(service_container seed)
# The rows are in as soon as its transaction commits; it counts them before it exits.
is "$(timeout 60 podman wait "$seed" 2>&1)" 0 "the seed service loaded the rows and exited with 0"
db=$(service_container db)
is "$(podman exec "$db" psql -U apiuser -d ordersdb -Atc 'SELECT count(*) FROM orders' 2>&1)" 10000 "the db service holds the 10,000 seeded rows"
is "$(podman exec "$db" psql -U apiuser -d ordersdb -Atc 'SHOW max_connections' 2>&1)" 300 "with max_connections=300, as in the benchmark"
app=$(service_container app)
is "$(podman inspect -f '{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}' "$app")" "2000000000 1073741824" \
	"the app runs with the benchmark's limits: 2 CPUs, 1 GiB"

done_testing
