# Makefile: builds the responder and its tools, and runs, checks, tests, installs and benchmarks the stack.
CC ?= cc
CFLAGS ?= -O2 -g
# -Werror only where the tree's own checks build (make check, make test,
# CI): a user's newer compiler with a new warning must not break `make`.
WERROR ?=
WARNINGS := -std=c11 -Wall -Wextra $(WERROR)
# Each object lists the headers it includes (build/obj/*.d), so a header
# change rebuilds only its users.
DEPFLAGS := -MMD -MP
CPPFLAGS += -D_GNU_SOURCE
LDLIBS := -lfcgi -ljson-c -lsqlite3 -lsystemd
# Only the plugin and the DATABASE_URL fuzzer see libpq; where its headers
# live is pkg-config's to say (Debian: /usr/include/postgresql).
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null)
PQ_LIBS := $(or $(shell pkg-config --libs libpq 2>/dev/null),-lpq)

BUILD := build
# The checkout's own default database. Make splits words on spaces, so no
# target or prerequisite below is an absolute path: a checkout at a path
# with a space builds (lighttpd's bin-path cannot run it; scripts/stack says so).
DATABASE := data/orders.db

# make install: the FHS layout, DESTDIR for staging (debian/rules).
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
# The plugin and the seed generator: private to the package, run by it only.
PKGLIBDIR ?= $(LIBDIR)/webapi-fcgi
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
# /usr keeps its configuration and data in /etc and /var (FHS); any other
# prefix keeps its own, as GNU's sysconfdir and localstatedir do.
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
UNITDIR ?= /lib/systemd/system
else
SYSCONFDIR ?= $(PREFIX)/etc
LOCALSTATEDIR ?= $(PREFIX)/var
UNITDIR ?= $(PREFIX)/lib/systemd/system
endif
STATEDIR ?= $(LOCALSTATEDIR)/lib/webapi-fcgi
INSTALL ?= install

# The PostgreSQL store is a plugin loaded only when DATABASE_URL asks for
# it: libpq brings libcrypto, gnutls and Kerberos along, 3.5 MiB of PSS in
# the supervisor alone on the default (SQLite) stack.
PLUGIN_SOURCES := src/store_pgsql.c src/pgsql_connection.c src/pgsql_queue.c src/pgsql_conninfo.c src/pgsql_binary.c
LIBRARY_SOURCES := $(filter-out src/main.c $(PLUGIN_SOURCES),$(wildcard src/*.c))
# Compiled into the plugin too: the executable exports only the log calls.
PLUGIN_SHARED_SOURCES := src/timefmt.c
LIBRARY_OBJECTS := $(LIBRARY_SOURCES:src/%.c=$(BUILD)/obj/%.o)
HEADERS := $(wildcard src/*.h)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
# Two builds of main.c: the checkout's (its data/orders.db, scripts/seed-db)
# and the installed one (STATEDIR, webapi-fcgi-seed-db).
# What --version and the status page say; make VERSION=... builds another.
VERSION ?= 0.12.0
VERSION_FLAG := -DWEBAPI_VERSION='"$(subst ','\'',$(VERSION))"'
CHECKOUT_PATHS := $(VERSION_FLAG) -DDEFAULT_DATABASE_PATH='"$(subst ','\'',$(CURDIR))/$(DATABASE)"' -DSEED_COMMAND='"scripts/seed-db"'
INSTALLED_PATHS := $(VERSION_FLAG) -DDEFAULT_DATABASE_PATH='"$(STATEDIR)/orders.db"' -DSEED_COMMAND='"webapi-fcgi-seed-db"'

.PHONY: all deps run check test unit bench sanitize clean install uninstall FORCE
all: $(BUILD)/webapi-fcgi $(BUILD)/webapi-store-pgsql.so $(BUILD)/seed-orders $(BUILD)/pgsql-describe \
	$(BUILD)/installed/webapi-fcgi

deps:
	@scripts/install-deps run

# Everything is rebuilt when what goes into the objects changes (compiler,
# flags, the compiled-in paths); -Werror is left out: it changes no object.
BUILD_LINE := $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(PQ_CFLAGS) $(CHECKOUT_PATHS) $(INSTALLED_PATHS)
$(BUILD)/flags: FORCE | $(BUILD)
	@printf '%s\n' '$(subst ','\'',$(BUILD_LINE))' | cmp -s - $@ || printf '%s\n' '$(subst ','\'',$(BUILD_LINE))' >$@

$(BUILD)/obj/%.o: src/%.c $(BUILD)/flags | $(BUILD)/obj
	$(CC) $(WARNINGS) $(DEPFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/main.o: src/main.c $(BUILD)/flags | $(BUILD)/obj
	$(CC) $(WARNINGS) $(DEPFLAGS) $(CPPFLAGS) $(CHECKOUT_PATHS) $(CFLAGS) -c $< -o $@
$(BUILD)/obj/main-installed.o: src/main.c $(BUILD)/flags | $(BUILD)/obj
	$(CC) $(WARNINGS) $(DEPFLAGS) $(CPPFLAGS) $(INSTALLED_PATHS) $(CFLAGS) -c $< -o $@

# log_line and log_limited are exported for the plugin.
EXPORTED_TO_PLUGIN := -Wl,--export-dynamic-symbol=log_line -Wl,--export-dynamic-symbol=log_limited
$(BUILD)/webapi-fcgi: $(BUILD)/obj/main.o $(LIBRARY_OBJECTS)
	$(CC) $(CFLAGS) $(LDFLAGS) $(EXPORTED_TO_PLUGIN) $^ $(LDLIBS) -o $@
$(BUILD)/installed/webapi-fcgi: $(BUILD)/obj/main-installed.o $(LIBRARY_OBJECTS) | $(BUILD)/installed
	$(CC) $(CFLAGS) $(LDFLAGS) $(EXPORTED_TO_PLUGIN) $^ $(LDLIBS) -o $@

# Two sources into one file: -MMD would keep the second one's headers only.
$(BUILD)/webapi-store-pgsql.so: $(PLUGIN_SOURCES) $(PLUGIN_SHARED_SOURCES) $(HEADERS) $(BUILD)/flags | $(BUILD)/obj
	@pkg-config --exists libpq || { echo "make: pkg-config does not find libpq: apt-get install libpq-dev pkg-config" >&2; exit 1; }
	$(CC) $(WARNINGS) $(DEPFLAGS) -MF $(BUILD)/obj/store_pgsql.d -MT $@ $(CPPFLAGS) $(PQ_CFLAGS) $(CFLAGS) -fPIC -shared $(PLUGIN_SOURCES) $(PLUGIN_SHARED_SOURCES) $(LDFLAGS) $(PQ_LIBS) -o $@

# How scripts/seed-db and scripts/bench show a PostgreSQL URL: the plugin's
# own masking (src/pgsql_conninfo.c), not a sed of their own.
$(BUILD)/pgsql-describe: src/tools/pgsql_describe.c src/pgsql_conninfo.c $(HEADERS) $(BUILD)/flags | $(BUILD)/obj
	$(CC) $(WARNINGS) $(DEPFLAGS) -MF $(BUILD)/obj/pgsql_describe.d -MT $@ $(CPPFLAGS) $(PQ_CFLAGS) $(CFLAGS) -Isrc $< src/pgsql_conninfo.c $(LDFLAGS) $(PQ_LIBS) -o $@

$(BUILD)/seed-orders: src/tools/seed_orders.c $(BUILD)/flags | $(BUILD)
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(LIBRARY_OBJECTS) | $(BUILD)/tests
	$(CC) $(WARNINGS) $(DEPFLAGS) -MF $(BUILD)/obj/$*.d -MT $@ $(CPPFLAGS) $(CFLAGS) -Isrc $< $(LIBRARY_OBJECTS) $(LDLIBS) -o $@

# The plugin's masking is tested with libpq, outside the library objects.
$(BUILD)/tests/test_pgsql_conninfo: tests/unit/test_pgsql_conninfo.c tests/unit/tap.h src/pgsql_conninfo.c $(HEADERS) $(BUILD)/flags | $(BUILD)/tests
	$(CC) $(WARNINGS) $(DEPFLAGS) -MF $(BUILD)/obj/test_pgsql_conninfo.d -MT $@ $(CPPFLAGS) $(PQ_CFLAGS) $(CFLAGS) -Isrc $< src/pgsql_conninfo.c $(PQ_LIBS) -o $@

# The plugin's binary decoding, likewise.
$(BUILD)/tests/test_pgsql_binary: tests/unit/test_pgsql_binary.c tests/unit/tap.h src/pgsql_binary.c src/timefmt.c $(HEADERS) $(BUILD)/flags | $(BUILD)/tests
	$(CC) $(WARNINGS) $(DEPFLAGS) -MF $(BUILD)/obj/test_pgsql_binary.d -MT $@ $(CPPFLAGS) $(CFLAGS) -Isrc $< src/pgsql_binary.c src/timefmt.c -o $@

$(BUILD) $(BUILD)/obj $(BUILD)/tests $(BUILD)/installed:
	mkdir -p $@

-include $(wildcard $(BUILD)/obj/*.d)

$(DATABASE): | $(BUILD)/seed-orders
	scripts/seed-db $@

# Builds, creates the embedded database if it is missing (unless
# DATABASE_URL names another store), and serves on $${PORT:-8000} in the
# foreground: scripts/stack execs lighttpd, so Ctrl-C or a SIGTERM to make
# reaches it and it stops the responders.
run: deps all $(if $(DATABASE_URL),,$(DATABASE))
	scripts/stack run

# The unit tests, built and run.
unit: $(UNIT_TESTS)
	@tests/run $(UNIT_TESTS)

# The contributor's loop: no root, no server, well under a minute. The unit
# tests, the fuzzers replaying their corpora (no fuzzing), and every
# endpoint and error in CGI mode, the man pages against --help.
check:
	@$(MAKE) --no-print-directory WERROR=-Werror all $(UNIT_TESTS) fuzzers
	@tests/run $(UNIT_TESTS) tests/corpus.t tests/cgi.t tests/manual.t

test:
	@scripts/install-deps test
	@$(MAKE) --no-print-directory WERROR=-Werror all $(UNIT_TESTS) test-tools
	@tests/run

bench:
	@scripts/install-deps bench
	@$(MAKE) --no-print-directory all
	scripts/bench

clean:
	rm -rf $(BUILD)

# --- make install / make uninstall ---
# The front snippets and units name the installed paths; lighttpd's
# bin-path and systemd's ExecStart would split one with a space.
SUBSTITUTE = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@STATEDIR@|$(STATEDIR)|g' \
	-e 's|@PKGLIBDIR@|$(PKGLIBDIR)|g'
INSTALLED_FILES := $(SBINDIR)/webapi-fcgi $(SBINDIR)/webapi-fcgi-seed-db \
	$(PKGLIBDIR)/webapi-store-pgsql.so $(PKGLIBDIR)/seed-orders $(PKGLIBDIR)/pgsql-describe \
	$(MANDIR)/man8/webapi-fcgi.8 $(MANDIR)/man8/webapi-fcgi-seed-db.8 \
	$(SYSCONFDIR)/default/webapi-fcgi $(SYSCONFDIR)/lighttpd/conf-available/15-webapi-fcgi.conf \
	$(SYSCONFDIR)/nginx/snippets/webapi-fcgi.conf $(UNITDIR)/webapi-fcgi.service $(UNITDIR)/webapi-fcgi.socket
# DESTDIR may hold anything (it is only where the files are staged).
UNSAFE_DIRS := $(strip $(foreach dir,PREFIX SBINDIR PKGLIBDIR MANDIR SYSCONFDIR STATEDIR UNITDIR,$(if $(or $(word 2,$($(dir))),$(findstring ',$($(dir))),$(findstring ",$($(dir)))),$(dir))))

install: all
	$(if $(UNSAFE_DIRS),@echo "make install: $(UNSAFE_DIRS) must hold no space or quote: lighttpd's bin-path and systemd's ExecStart would split the path" >&2; exit 1)
	$(INSTALL) -d '$(DESTDIR)$(SBINDIR)' '$(DESTDIR)$(PKGLIBDIR)' '$(DESTDIR)$(MANDIR)/man8' \
		'$(DESTDIR)$(SYSCONFDIR)/default' '$(DESTDIR)$(SYSCONFDIR)/lighttpd/conf-available' \
		'$(DESTDIR)$(SYSCONFDIR)/nginx/snippets' '$(DESTDIR)$(UNITDIR)' '$(DESTDIR)$(STATEDIR)'
	$(INSTALL) -m 0755 $(BUILD)/installed/webapi-fcgi '$(DESTDIR)$(SBINDIR)/webapi-fcgi'
	$(SUBSTITUTE) -e 's|^generator=.*|generator="$(PKGLIBDIR)/seed-orders"|' \
		-e 's|^describer=.*|describer="$(PKGLIBDIR)/pgsql-describe"|' \
		-e 's|^default_path=.*|default_path="$(STATEDIR)/orders.db"|' -e 's|^installed=.*|installed=yes|' \
		scripts/seed-db >'$(DESTDIR)$(SBINDIR)/webapi-fcgi-seed-db'
	chmod 0755 '$(DESTDIR)$(SBINDIR)/webapi-fcgi-seed-db'
	$(INSTALL) -m 0644 $(BUILD)/webapi-store-pgsql.so '$(DESTDIR)$(PKGLIBDIR)/webapi-store-pgsql.so'
	$(INSTALL) -m 0755 $(BUILD)/seed-orders '$(DESTDIR)$(PKGLIBDIR)/seed-orders'
	$(INSTALL) -m 0755 $(BUILD)/pgsql-describe '$(DESTDIR)$(PKGLIBDIR)/pgsql-describe'
	$(SUBSTITUTE) src/webapi-fcgi.8 >'$(DESTDIR)$(MANDIR)/man8/webapi-fcgi.8'
	$(SUBSTITUTE) scripts/seed-db.8 >'$(DESTDIR)$(MANDIR)/man8/webapi-fcgi-seed-db.8'
	$(SUBSTITUTE) scripts/install/default >'$(DESTDIR)$(SYSCONFDIR)/default/webapi-fcgi'
	$(SUBSTITUTE) scripts/install/lighttpd.conf >'$(DESTDIR)$(SYSCONFDIR)/lighttpd/conf-available/15-webapi-fcgi.conf'
	$(SUBSTITUTE) scripts/install/nginx.conf >'$(DESTDIR)$(SYSCONFDIR)/nginx/snippets/webapi-fcgi.conf'
	$(SUBSTITUTE) scripts/install/webapi-fcgi.service >'$(DESTDIR)$(UNITDIR)/webapi-fcgi.service'
	$(SUBSTITUTE) scripts/install/webapi-fcgi.socket >'$(DESTDIR)$(UNITDIR)/webapi-fcgi.socket'
	@[ -n '$(DESTDIR)' ] || [ -e '$(STATEDIR)/orders.db' ] || \
		echo "make install: now create the database: $(SBINDIR)/webapi-fcgi-seed-db" >&2

# Removes what install put there, and the directories that are its own
# (a database created in STATEDIR stays, and with it STATEDIR).
uninstall:
	rm -f $(foreach file,$(INSTALLED_FILES),'$(DESTDIR)$(file)')
	-rmdir '$(DESTDIR)$(PKGLIBDIR)' '$(DESTDIR)$(STATEDIR)' 2>/dev/null

# Hardening (issue 7): the instrumented build, the fuzzers and the tools
# the tests/harden-*.t scripts drive. `make test` builds them all.
SANITIZE_BUILD := $(BUILD)/sanitize
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_CC := clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZERS := $(BUILD)/fuzz/fuzz_router $(BUILD)/fuzz/fuzz_query $(BUILD)/fuzz/fuzz_dsn $(BUILD)/fuzz/fuzz_timefmt

.PHONY: test-tools sanitize-build fuzzers fuzz soak
test-tools: $(BUILD)/fcgi_records fuzzers sanitize-build

# The responder, its plugin and tools once more, built by clang with ASan
# and UBSan into build/sanitize/; the linked-in defaults make any report
# fatal and write it to build/sanitize/reports/, which tests/sanitize.t
# checks after running the HTTP suite against this build.
sanitize-build: $(SANITIZE_BUILD)/sanitizer-options.o
	@# The options object is no prerequisite of the inner make: relink by hand.
	@[ ! $< -nt $(SANITIZE_BUILD)/webapi-fcgi ] || rm -f $(SANITIZE_BUILD)/webapi-fcgi
	@$(MAKE) --no-print-directory BUILD=$(SANITIZE_BUILD) CC=clang CFLAGS="-O1 -g $(SANITIZE_FLAGS)" \
		LDFLAGS="$(SANITIZE_FLAGS) $<" all
	@mkdir -p $(SANITIZE_BUILD)/reports && chmod 1777 $(SANITIZE_BUILD)/reports

$(SANITIZE_BUILD)/sanitizer-options.o: tests/sanitize/options.c | $(SANITIZE_BUILD)
	clang $(WARNINGS) -fPIC -DSANITIZER_REPORTS='"$(subst ','\'',$(CURDIR))/$(SANITIZE_BUILD)/reports"' -c $< -o $@

sanitize: sanitize-build
	@tests/run tests/sanitize.t

# One libFuzzer target per parser, linked with that parser's file only.
$(BUILD)/fuzz/fuzz_router $(BUILD)/fuzz/fuzz_query: $(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c src/router.c src/percent.c $(HEADERS) | $(BUILD)/fuzz
	$(FUZZ_CC) $(WARNINGS) $(CPPFLAGS) $(FUZZ_FLAGS) -Isrc $< src/router.c src/percent.c -o $@
$(BUILD)/fuzz/fuzz_timefmt: tests/fuzz/fuzz_timefmt.c src/timefmt.c $(HEADERS) | $(BUILD)/fuzz
	$(FUZZ_CC) $(WARNINGS) $(CPPFLAGS) $(FUZZ_FLAGS) -Isrc $< src/timefmt.c -o $@
# libpq is the oracle: the password it reads must not survive masking.
$(BUILD)/fuzz/fuzz_dsn: tests/fuzz/fuzz_dsn.c src/dsn.c src/pgsql_conninfo.c $(HEADERS) | $(BUILD)/fuzz
	$(FUZZ_CC) $(WARNINGS) $(CPPFLAGS) $(PQ_CFLAGS) $(FUZZ_FLAGS) -Isrc $< src/dsn.c src/pgsql_conninfo.c $(PQ_LIBS) -o $@

fuzzers: $(FUZZERS)

# Each target for FUZZ_SECONDS (10) from its corpus in tests/fuzz/corpus/.
fuzz: fuzzers
	@tests/run tests/fuzz.t

# FastCGI records thrown at a live responder (tests/harden-fcgi-fuzz.t).
$(BUILD)/fcgi_records: tests/fuzz/fcgi_records.c | $(BUILD)
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) $< -o $@

# The soak alone: 1,000,000 requests, as in make test (SOAK_REQUESTS=N for another count).
soak: all
	@tests/run tests/harden-soak.t

$(SANITIZE_BUILD) $(BUILD)/fuzz:
	mkdir -p $@
