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
PLUGIN_SOURCES := src/store_pgsql.c
LIBRARY_SOURCES := $(filter-out src/main.c $(PLUGIN_SOURCES),$(wildcard src/*.c))
LIBRARY_OBJECTS := $(LIBRARY_SOURCES:src/%.c=$(BUILD)/obj/%.o)
HEADERS := $(wildcard src/*.h)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps run test unit bench sanitize clean
all: $(BUILD)/webapi-fcgi $(BUILD)/webapi-store-pgsql.so $(BUILD)/seed-orders

deps:
	@scripts/install-deps run

$(BUILD)/obj/%.o: src/%.c $(HEADERS) | $(BUILD)/obj
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# log_line is exported for the plugin.
$(BUILD)/webapi-fcgi: $(BUILD)/obj/main.o $(LIBRARY_OBJECTS)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,--export-dynamic-symbol=log_line $^ $(LDLIBS) -o $@

$(BUILD)/webapi-store-pgsql.so: src/store_pgsql.c $(HEADERS) | $(BUILD)
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) -fPIC -shared $< $(LDFLAGS) -lpq -o $@

$(BUILD)/seed-orders: src/tools/seed_orders.c | $(BUILD)
	$(CC) $(WARNINGS) $(CFLAGS) $< -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(LIBRARY_OBJECTS) | $(BUILD)/tests
	$(CC) $(WARNINGS) $(CPPFLAGS) $(CFLAGS) -Isrc $< $(LIBRARY_OBJECTS) $(LDLIBS) -o $@

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
	@$(MAKE) --no-print-directory all unit
	@tests/run

bench:
	@scripts/install-deps bench
	@$(MAKE) --no-print-directory all
	scripts/bench

clean:
	rm -rf $(BUILD)
