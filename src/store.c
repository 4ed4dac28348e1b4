/* store.c: picks the backend for the configured database and forwards to it. */
#include "store.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "list.h"

struct store {
	const struct store_backend *backend;
	void *handle;
	struct store_figures figures;
	/* Asynchronous fetches' records to reuse: a query costs no malloc
	 * once as many were in flight at once before. */
	struct list spare_fetches;
};

static long long wall_ms(void)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (long long)now.tv_sec * 1000 + now.tv_usec / 1000;
}

/* Times a call to the backend and follows the store's outages from what
 * the calls return: two clock reads a query. */
static enum store_status observed(struct store *store, long long started_us, enum store_status status)
{
	store->figures.wait_us += clock_monotonic_us() - started_us;
	if (status == STORE_UNAVAILABLE && store->figures.down_since_ms == 0)
		store->figures.down_since_ms = wall_ms();
	else if (status != STORE_UNAVAILABLE && store->figures.down_since_ms != 0) {
		store->figures.down_since_ms = 0;
		store->figures.reconnects++;
	}
	return status;
}

/* A backend built as a plugin, loaded only by a process that uses it (see
 * PLUGIN_SOURCES in the Makefile). It is looked for relative to the
 * executable, so neither a checkout nor an installed tree (make install,
 * DESTDIR, the Debian package) depends on a path compiled in: beside it in
 * build/, then in ../lib/webapi-fcgi/ from sbin/. */
static const char *const plugin_directories[] = {"", "../lib/webapi-fcgi/"};

static const struct store_backend *load_plugin(const char *file, const char *symbol, char *error, size_t error_size)
{
	char executable[PATH_MAX];
	char path[PATH_MAX];
	ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);

	if (length < 0) {
		snprintf(error, error_size, "cannot find the executable's directory: readlink /proc/self/exe: %s",
			 strerror(errno));
		return NULL;
	}
	executable[length] = '\0';
	char *slash = strrchr(executable, '/');
	if (slash == NULL) {
		snprintf(error, error_size, "cannot place %s beside %s", file, executable);
		return NULL;
	}
	slash[1] = '\0';
	path[0] = '\0';
	for (size_t i = 0; i < sizeof plugin_directories / sizeof plugin_directories[0]; i++) {
		int written = snprintf(path, sizeof path, "%s%s%s", executable, plugin_directories[i], file);
		if (written < 0 || (size_t)written >= sizeof path) {
			snprintf(error, error_size, "cannot place %s beside %s", file, executable);
			return NULL;
		}
		if (access(path, F_OK) == 0)
			break;
	}
	/* Never closed: the backend lives as long as the process. The last
	 * candidate's path, when none exists, makes dlerror() name it. */
	void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (library == NULL) {
		snprintf(error, error_size, "cannot load the store plugin: %s", dlerror());
		return NULL;
	}
	const struct store_backend *backend = dlsym(library, symbol);
	if (backend == NULL)
		snprintf(error, error_size, "%s has no %s", path, symbol);
	return backend;
}

static const struct store_backend *backend_for(enum db_kind kind, char *error, size_t error_size)
{
	switch (kind) {
	case DB_SQLITE:
		return &store_sqlite_backend;
	case DB_POSTGRES:
		return load_plugin("webapi-store-pgsql.so", "store_pgsql_backend", error, error_size);
	}
	snprintf(error, error_size, "no backend for store kind %d", (int)kind);
	return NULL;
}

struct store *store_open(const struct db_config *config, char *error, size_t error_size)
{
	struct store *store = calloc(1, sizeof *store);

	if (error_size > 0)
		error[0] = '\0';
	if (store == NULL) {
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	store->backend = backend_for(config->kind, error, error_size);
	if (store->backend == NULL) {
		free(store);
		return NULL;
	}
	store->handle = store->backend->open(config, error, error_size);
	if (store->handle == NULL) {
		free(store);
		return NULL;
	}
	if (error_size > 0 && error[0] != '\0')
		store->figures.down_since_ms = wall_ms(); /* opened, not reachable yet */
	return store;
}

int store_check(const struct db_config *config, char *error, size_t error_size)
{
	if (config->kind != DB_SQLITE)
		return 0;
	struct store *store = store_open(config, error, error_size);
	if (store == NULL)
		return -1;
	int usable = error[0] == '\0';
	store_close(store);
	return usable ? 0 : -1;
}

enum store_status store_fetch_orders(struct store *store, const struct order_page *page, order_row_fn on_row,
				     void *context)
{
	long long started_us = clock_monotonic_us();

	return observed(store, started_us, store->backend->fetch_orders(store->handle, page, on_row, context));
}

int store_is_async(const struct store *store)
{
	return store->backend->async != NULL;
}

/* What an asynchronous fetch's caller gave, kept to observe its end the
 * way a synchronous call is observed. */
struct observed_fetch {
	struct list_link link; /* in spare_fetches while not in use */
	struct store *store;
	order_row_fn on_row;
	store_done_fn done;
	void *context;
	long long started_us;
};

static int observe_row(void *context, const struct order_row *row)
{
	const struct observed_fetch *fetch = context;

	return fetch->on_row(fetch->context, row);
}

static void observe_done(void *context, enum store_status status)
{
	struct observed_fetch *fetch = context;
	store_done_fn done = fetch->done;
	void *done_context = fetch->context;

	observed(fetch->store, fetch->started_us, status);
	/* Spare before the call, which may start the caller's next fetch. */
	list_append(&fetch->store->spare_fetches, &fetch->link);
	done(done_context, status);
}

/* The rows go to the caller as they come; the end is observed first. */
enum store_status store_start_orders(struct store *store, const struct order_page *page, order_row_fn on_row,
				     store_done_fn done, void *context)
{
	struct list_link *spare = list_take_first(&store->spare_fetches);
	struct observed_fetch *fetch =
	    spare != NULL ? list_entry(spare, struct observed_fetch, link) : malloc(sizeof *fetch);

	if (fetch == NULL)
		return STORE_UNAVAILABLE;
	*fetch = (struct observed_fetch){{NULL, NULL}, store, on_row, done, context, clock_monotonic_us()};
	enum store_status status =
	    store->backend->async->start_orders(store->handle, page, observe_row, observe_done, fetch);
	if (status != STORE_PENDING) {
		list_append(&store->spare_fetches, &fetch->link);
		return observed(store, clock_monotonic_us(), status);
	}
	return STORE_PENDING;
}

void store_wait(struct store *store, struct store_wait *wait)
{
	store->backend->async->wait(store->handle, wait);
}

void store_progress(struct store *store, int readable, int writable)
{
	store->backend->async->progress(store->handle, readable, writable);
}

const struct store_figures *store_figures(const struct store *store)
{
	return &store->figures;
}

void store_close(struct store *store)
{
	if (store == NULL)
		return;
	store->backend->close(store->handle);
	struct list_link *spare;
	while ((spare = list_take_first(&store->spare_fetches)) != NULL)
		free(list_entry(spare, struct observed_fetch, link));
	free(store);
}
