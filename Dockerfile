# Dockerfile: webapi-fcgi as one entry of the benchmark's suite: lighttpd + the responder on port 8000.
#
# Built on Debian with the -dev packages; the image keeps only the runtime
# libraries, lighttpd, the installed responder (its PostgreSQL plugin
# beside it in /usr/lib/webapi-fcgi/) and the embedded SQLite database,
# seeded here. Without DATABASE_URL it serves that database; with a
# postgresql:// DATABASE_URL it loads the plugin and serves PostgreSQL.
#
#   docker build -t webapi-fcgi . && docker run --rm -p 8000:8000 webapi-fcgi
#
# The `build` stage doubles as the seeding tool of compose.yaml (it has
# psql and scripts/seed-db).

FROM debian:bookworm-slim AS build
RUN apt-get update \
	&& apt-get install -y --no-install-recommends gcc libc6-dev make pkg-config libfcgi-dev libjson-c-dev \
		libsqlite3-dev libpq-dev libsystemd-dev sqlite3 postgresql-client \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The installed build: /var/lib/webapi-fcgi/orders.db compiled in, the
# plugin looked for in ../lib/webapi-fcgi/ from /usr/sbin.
RUN make -j"$(nproc)" PREFIX=/usr build/installed/webapi-fcgi build/webapi-store-pgsql.so build/seed-orders \
		build/pgsql-describe \
	&& mkdir -p /out/usr/sbin /out/usr/lib/webapi-fcgi /out/var/lib/webapi-fcgi /out/etc/webapi-fcgi \
	&& install -s -m 0755 build/installed/webapi-fcgi /out/usr/sbin/webapi-fcgi \
	&& install -s -m 0644 build/webapi-store-pgsql.so /out/usr/lib/webapi-fcgi/webapi-store-pgsql.so \
	&& install -m 0755 scripts/container-start /out/usr/sbin/webapi-fcgi-container \
	&& install -m 0644 lighttpd.conf /out/etc/webapi-fcgi/lighttpd.conf \
	&& scripts/seed-db /out/var/lib/webapi-fcgi/orders.db

FROM debian:bookworm-slim
# libfcgi before 2.4.2-2+deb12u1 has CVE-2025-23016 (scripts/install-deps
# refuses it too). Everything apt leaves behind goes in the same layer.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends lighttpd libfcgi0ldbl libjson-c5 libsqlite3-0 libpq5 \
	&& dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libfcgi0ldbl)" ge 2.4.2-2+deb12u1 \
	&& apt-get clean \
	&& rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
		/var/www/html /usr/share/doc/* /usr/share/man/*
COPY --from=build /out/ /
# Nothing in the container runs as root: lighttpd, the responder's
# supervisor and its workers all run as www-data, which may read the
# database and write only the run directory (sockets, pid file).
RUN install -d -o www-data -g www-data /run/webapi-fcgi
USER www-data
ENV PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
	CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$PORT && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
CMD ["/usr/sbin/webapi-fcgi-container"]
