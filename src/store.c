/* store.c: picks the backend for the configured database and forwards to it. */
#include "store.h"

#include <stdlib.h>

struct store {
	const struct store_backend *backend;
	void *handle;
};

static const struct store_backend *backend_for(enum db_kind kind)
{
	switch (kind) {
	case DB_SQLITE:
		return &sqlite_backend;
	case DB_POSTGRES:
		return &pgsql_backend;
	}
	return NULL;
}

struct store *store_open(const struct db_config *config, char *error, size_t error_size)
{
	struct store *store = calloc(1, sizeof *store);

	if (store == NULL)
		return NULL;
	store->backend = backend_for(config->kind);
	store->handle = store->backend->open(config, error, error_size);
	if (store->handle == NULL) {
		free(store);
		return NULL;
	}
	return store;
}

enum store_status store_fetch_orders(struct store *store, const struct order_page *page,
				     order_row_fn on_row, void *context)
{
	return store->backend->fetch_orders(store->handle, page, on_row, context);
}

enum store_status store_ping(struct store *store)
{
	return store->backend->ping(store->handle);
}

const char *store_name(const struct store *store)
{
	return store->backend->name;
}

void store_close(struct store *store)
{
	if (store == NULL)
		return;
	store->backend->close(store->handle);
	free(store);
}
