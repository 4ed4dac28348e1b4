# Makefile: builds the responder and its tools, and runs, tests and benchmarks the stack.
CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS := -std=c11 -Wall -Wextra -Werror
DATABASE := $(abspath data/orders.db)
CPPFLAGS += -D_GNU_SOURCE -I/usr/include/postgresql -DDEFAULT_DATABASE_PATH='"$(DATABASE)"'
LDLIBS := -lfcgi -ljson-c -lsqlite3

BUILD := build
# The PostgreSQL store is a plugin loaded only when DATABASE_URL asks for
# it: libpq brings libcrypto, gnutls and Kerberos along, 3.5 MiB of PSS in
# the supervisor alone on the default (SQLite) stack.
PLUGIN_SOURCES := src/store_pgsql.c src/pgsql_conninfo.c
LIBRARY_SOURCES := $(filter-out src/main.c $(PLUGIN_SOURCES),$(wildcard src/*.c))
LIBRARY_OBJECTS := $(LIBRARY_SOURCES:src/%.c=$(BUILD)/obj/%.o)
HEADERS := $(wildcard src/*.h)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps run test unit bench sanitize clean
all: $(BUILD)/webapi-fcgi $(BUILD)/webapi-store-pgsql.so $(BUILD)/seed-orders $(BUILD)/pgsql-describe

deps:
	@scripts/install-deps run

$(BUILD)/obj/%.o: src/%.c $(HEADERS) | $(BUILD)/obj
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# log_line and log_limited are exported for the plugin.
$(BUILD)/webapi-fcgi: $(BUILD)/obj/main.o $(LIBRARY_OBJECTS)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,--export-dynamic-symbol=log_line -Wl,--export-dynamic-symbol=log_limited $^ $(LDLIBS) -o $@

$(BUILD)/webapi-store-pgsql.so: $(PLUGIN_SOURCES) $(HEADERS) | $(BUILD)
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) -fPIC -shared $(PLUGIN_SOURCES) $(LDFLAGS) -lpq -o $@

# How scripts/seed-db and scripts/bench show a PostgreSQL URL: the plugin's
# own masking (src/pgsql_conninfo.c), not a sed of their own.
$(BUILD)/pgsql-describe: src/tools/pgsql_describe.c src/pgsql_conninfo.c $(HEADERS) | $(BUILD)
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) -Isrc $< src/pgsql_conninfo.c $(LDFLAGS) -lpq -o $@

$(BUILD)/seed-orders: src/tools/seed_orders.c | $(BUILD)
	$(CC) $(WARNINGS) $(CFLAGS) $< -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(LIBRARY_OBJECTS) | $(BUILD)/tests
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) -Isrc $< $(LIBRARY_OBJECTS) $(LDLIBS) -o $@

# The plugin's masking is tested with libpq, outside the library objects.
$(BUILD)/tests/test_pgsql_conninfo: tests/unit/test_pgsql_conninfo.c tests/unit/tap.h src/pgsql_conninfo.c $(HEADERS) | $(BUILD)/tests
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) -Isrc $< src/pgsql_conninfo.c -lpq -o $@

$(BUILD) $(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

$(DATABASE): | $(BUILD)/seed-orders
	scripts/seed-db $@

# Builds, creates the embedded database if it is missing, and serves on
# $${PORT:-8000} in the foreground until Ctrl-C.
run: deps all $(DATABASE)
	scripts/stack run

unit: $(UNIT_TESTS)

test:
	@scripts/install-deps test
	@$(MAKE) --no-print-directory all unit test-tools
	@tests/run

bench:
	@scripts/install-deps bench
	@$(MAKE) --no-print-directory all
	scripts/bench

clean:
	rm -rf $(BUILD)

# Hardening (issue 7): the instrumented build, the fuzzers and the tools
# the tests/harden-*.t scripts drive. `make test` builds them all.
SANITIZE_BUILD := $(BUILD)/sanitize
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SANITIZE_REPORTS := $(abspath $(SANITIZE_BUILD)/reports)
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
		LDFLAGS="$(SANITIZE_FLAGS) $(abspath $<)" all
	@mkdir -p $(SANITIZE_REPORTS) && chmod 1777 $(SANITIZE_REPORTS)

$(SANITIZE_BUILD)/sanitizer-options.o: tests/sanitize/options.c | $(SANITIZE_BUILD)
	clang $(WARNINGS) -fPIC -DSANITIZER_REPORTS='"$(SANITIZE_REPORTS)"' -c $< -o $@

sanitize: sanitize-build
	@tests/run tests/sanitize.t

# One libFuzzer target per parser, linked with that parser's file only.
$(BUILD)/fuzz/fuzz_router $(BUILD)/fuzz/fuzz_query: $(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c src/router.c src/percent.c $(HEADERS) | $(BUILD)/fuzz
	$(FUZZ_CC) $(WARNINGS) $(CPPFLAGS) $(FUZZ_FLAGS) -Isrc $< src/router.c src/percent.c -o $@
$(BUILD)/fuzz/fuzz_timefmt: tests/fuzz/fuzz_timefmt.c src/timefmt.c $(HEADERS) | $(BUILD)/fuzz
	$(FUZZ_CC) $(WARNINGS) $(CPPFLAGS) $(FUZZ_FLAGS) -Isrc $< src/timefmt.c -o $@
# libpq is the oracle: the password it reads must not survive masking.
$(BUILD)/fuzz/fuzz_dsn: tests/fuzz/fuzz_dsn.c src/dsn.c src/pgsql_conninfo.c $(HEADERS) | $(BUILD)/fuzz
	$(FUZZ_CC) $(WARNINGS) $(CPPFLAGS) $(FUZZ_FLAGS) -Isrc $< src/dsn.c src/pgsql_conninfo.c -lpq -o $@

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
