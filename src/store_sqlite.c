/* store_sqlite.c: the embedded store, a read-only SQLite file read with libsqlite3. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"

#define CONTRACT_SQL "SELECT id, customer_id, total_cents, status, created_at FROM orders LIMIT 100 OFFSET 1000"
#define PAGE_SQL "SELECT id, customer_id, total_cents, status, created_at FROM orders LIMIT ?1 OFFSET ?2"

/* Touches the file and the table, so a health check sees a broken file. */
#define PING_SQL "SELECT 1 FROM orders LIMIT 1"

/* A writer (scripts/seed-db --force, a user's update) briefly locks the
 * file; waiting a little is better than failing the request. */
#define BUSY_TIMEOUT_MS 2000

struct sqlite_store {
	sqlite3 *db;
	sqlite3_stmt *contract_query;
	sqlite3_stmt *page_query;
	sqlite3_stmt *ping_query;
	char path[4096];
};

static void sqlite_close(void *handle)
{
	struct sqlite_store *store = handle;

	if (store == NULL)
		return;
	sqlite3_finalize(store->contract_query);
	sqlite3_finalize(store->page_query);
	sqlite3_finalize(store->ping_query);
	sqlite3_close(store->db);
	free(store);
}

static void *sqlite_open(const struct db_config *config, char *error, size_t error_size)
{
	struct sqlite_store *store = calloc(1, sizeof *store);

	if (store == NULL) {
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	snprintf(store->path, sizeof store->path, "%s", config->target);
	/* sqlite3_open_v2 only says "unable to open database file"; the
	 * errno of access(2) tells the user what is actually wrong. */
	if (access(store->path, R_OK) != 0) {
		snprintf(error, error_size, "cannot read database %s: %s%s", store->path, strerror(errno),
			 errno == ENOENT ? " (create it with scripts/seed-db)" : "");
		goto fail;
	}
	/* Read-only: the responder never writes, and a compromised worker
	 * must not be able to either. NOMUTEX: one handle per process. */
	if (sqlite3_open_v2(store->path, &store->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(error, error_size, "cannot open database %s: %s", store->path,
			 store->db ? sqlite3_errmsg(store->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(store->db, BUSY_TIMEOUT_MS);
	if (sqlite3_prepare_v3(store->db, CONTRACT_SQL, -1, SQLITE_PREPARE_PERSISTENT, &store->contract_query, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v3(store->db, PAGE_SQL, -1, SQLITE_PREPARE_PERSISTENT, &store->page_query, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v3(store->db, PING_SQL, -1, SQLITE_PREPARE_PERSISTENT, &store->ping_query, NULL) !=
		SQLITE_OK) {
		snprintf(error, error_size, "database %s is not an orders database: %s", store->path,
			 sqlite3_errmsg(store->db));
		goto fail;
	}
	return store;
fail:
	sqlite_close(store);
	return NULL;
}

static enum store_status sqlite_fetch_orders(void *handle, const struct order_page *page, order_row_fn on_row,
					     void *context)
{
	struct sqlite_store *store = handle;
	sqlite3_stmt *query = page->is_default ? store->contract_query : store->page_query;
	enum store_status status = STORE_OK;
	int step;

	if (!page->is_default && (sqlite3_bind_int64(query, 1, page->limit) != SQLITE_OK ||
				  sqlite3_bind_int64(query, 2, page->offset) != SQLITE_OK)) {
		log_limited("sqlite %s: bind: %s", store->path, sqlite3_errmsg(store->db));
		status = STORE_QUERY_FAILED;
		goto done;
	}
	while ((step = sqlite3_step(query)) == SQLITE_ROW) {
		struct order_row row;
		const unsigned char *status_text = sqlite3_column_text(query, 3);
		row.status_len = (size_t)sqlite3_column_bytes(query, 3);
		const unsigned char *created_at = sqlite3_column_text(query, 4);
		if (status_text == NULL || created_at == NULL) {
			log_limited("sqlite %s: order %lld has a NULL status or created_at", store->path,
				 (long long)sqlite3_column_int64(query, 0));
			status = STORE_QUERY_FAILED;
			goto done;
		}
		row.id = sqlite3_column_int64(query, 0);
		row.customer_id = sqlite3_column_int64(query, 1);
		row.total_cents = sqlite3_column_int64(query, 2);
		row.status = (const char *)status_text;
		row.created_at = (const char *)created_at;
		if (on_row(context, &row) != 0) {
			status = STORE_ROW_REJECTED;
			goto done;
		}
	}
	if (step != SQLITE_DONE) {
		log_limited("sqlite %s: query: %s", store->path, sqlite3_errmsg(store->db));
		status = step == SQLITE_BUSY ? STORE_UNAVAILABLE : STORE_QUERY_FAILED;
	}
done:
	sqlite3_reset(query);
	return status;
}

static enum store_status sqlite_ping(void *handle)
{
	struct sqlite_store *store = handle;
	int step = sqlite3_step(store->ping_query);

	sqlite3_reset(store->ping_query);
	return step == SQLITE_ROW || step == SQLITE_DONE ? STORE_OK : STORE_UNAVAILABLE;
}

const struct store_backend sqlite_backend = {
    .name = "sqlite",
    .open = sqlite_open,
    .fetch_orders = sqlite_fetch_orders,
    .ping = sqlite_ping,
    .close = sqlite_close,
};
