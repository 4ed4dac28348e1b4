/* store_sqlite.c: the embedded store, a read-only SQLite file read with libsqlite3. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "log.h"
#include "orders_query.h"

/* A writer that holds the file locked when a worker opens it: waiting a
 * little is better than failing the request, but the worker waits
 * synchronously, and every other connection it holds waits with it: a
 * locked file costs a request at most this before a 503. */
#define BUSY_TIMEOUT_MS 100

/* After start-up the file may vanish or break (moved, replaced, its
 * disk unmounted) while the worker must keep answering GET /: the store
 * then stays closed, answers STORE_UNAVAILABLE, and tries to open the file
 * again at most this often. */
#define REOPEN_INTERVAL_MS 1000

struct sqlite_store {
	sqlite3 *db; /* NULL while the file cannot be opened */
	sqlite3_stmt *contract_query;
	sqlite3_stmt *page_query;
	long long next_open_ms;
	char path[4096];
};

static void close_database(struct sqlite_store *store)
{
	sqlite3_finalize(store->contract_query);
	sqlite3_finalize(store->page_query);
	sqlite3_close(store->db);
	store->contract_query = store->page_query = NULL;
	store->db = NULL;
}

static void sqlite_close(void *handle)
{
	struct sqlite_store *store = handle;

	if (store == NULL)
		return;
	close_database(store);
	free(store);
}

/* sqlite3_open_v2 says only "unable to open database file" or "disk I/O
 * error"; stat(2) and access(2) tell the user what is actually wrong, and
 * a FIFO would block the open forever. */
static int check_file(const char *path, char *error, size_t error_size)
{
	struct stat status;

	if (stat(path, &status) != 0 || access(path, R_OK) != 0) {
		snprintf(error, error_size, "cannot read database %s: %s%s", path, strerror(errno),
			 errno == ENOENT ? " (create it with scripts/seed-db)" : "");
		return -1;
	}
	if (!S_ISREG(status.st_mode)) {
		snprintf(error, error_size, "database %s is not a regular file but a %s", path,
			 S_ISDIR(status.st_mode)    ? "directory"
			 : S_ISFIFO(status.st_mode) ? "FIFO"
			 : S_ISSOCK(status.st_mode) ? "socket"
						    : "device");
		return -1;
	}
	return 0;
}

/* Whether the file's header says WAL mode (read and write versions 2). */
static int is_wal_file(const char *path)
{
	unsigned char versions[2] = {0, 0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	ssize_t got = pread(fd, versions, sizeof versions, 18);
	close(fd);
	return got == (ssize_t)sizeof versions && versions[0] == 2 && versions[1] == 2;
}

static void describe_prepare_failure(const struct sqlite_store *store, char *error, size_t error_size)
{
	/* A WAL-mode file needs its -wal and -shm files, which SQLite creates
	 * beside it even to read: in a read-only directory every statement
	 * fails with "attempt to write a readonly database". */
	if ((sqlite3_extended_errcode(store->db) & 0xff) == SQLITE_READONLY)
		snprintf(
		    error, error_size,
		    "database %s cannot be read: it is in WAL mode and SQLite cannot create %s-wal and %s-shm "
		    "beside it (make the directory writable for this user, or run PRAGMA journal_mode=DELETE on it)",
		    store->path, store->path, store->path);
	else
		snprintf(error, error_size, "database %s is not an orders database: %s", store->path,
			 sqlite3_errmsg(store->db));
}

static int open_database(struct sqlite_store *store, char *error, size_t error_size)
{
	if (check_file(store->path, error, error_size) != 0)
		return -1;
	/* Read-only: the responder never writes, and a compromised worker
	 * must not be able to either. NOMUTEX: one handle per process. */
	if (sqlite3_open_v2(store->path, &store->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(error, error_size, "cannot open database %s: %s", store->path,
			 store->db ? sqlite3_errmsg(store->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(store->db, BUSY_TIMEOUT_MS);
	/* The shared lock the first read takes is kept (a read-only handle
	 * never takes more): each query used to take and drop it and check
	 * for a hot journal and a changed file, 8 system calls (4 fcntl, 3
	 * stat, 1 pread), and nothing else can change the file under a held
	 * lock. A writer in place is refused ("database is locked") while the
	 * file is served; scripts/seed-db --force moves a new file into place
	 * instead, which the workers open at SIGHUP, reading the old one,
	 * whole and unchanged, until then. (immutable=1 would also drop the
	 * lock, and let a writer in place change pages under a reader.) A
	 * WAL-mode file keeps SQLite's normal locking: a read-only handle in
	 * EXCLUSIVE mode cannot create its -wal file. */
	if (!is_wal_file(store->path) &&
	    sqlite3_exec(store->db, "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(error, error_size, "database %s: locking_mode: %s", store->path, sqlite3_errmsg(store->db));
		goto fail;
	}
	if (sqlite3_prepare_v3(store->db, ORDERS_QUERY_DEFAULT_SQL, -1, SQLITE_PREPARE_PERSISTENT,
			       &store->contract_query, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(store->db, ORDERS_QUERY_PAGE_SQL, -1, SQLITE_PREPARE_PERSISTENT, &store->page_query,
			       NULL) != SQLITE_OK) {
		describe_prepare_failure(store, error, error_size);
		goto fail;
	}
	return 0;
fail:
	close_database(store);
	return -1;
}

/* A file that cannot be opened yields a closed handle and the reason in
 * error, as store.h allows: the worker comes up, answers GET /, and the
 * store opens the file when it is back. At start-up store_check makes
 * the same reason a fatal error instead. */
static void *sqlite_open(const struct db_config *config, char *error, size_t error_size)
{
	struct sqlite_store *store = calloc(1, sizeof *store);

	if (error_size > 0)
		error[0] = '\0';
	if (store == NULL) {
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	snprintf(store->path, sizeof store->path, "%s", config->target);
	if (open_database(store, error, error_size) != 0)
		store->next_open_ms = clock_monotonic_ms() + REOPEN_INTERVAL_MS;
	return store;
}

/* 0 when the database is open (again), -1 while it cannot be. This runs
 * as --user, after the worker left root: a file only root can read opens
 * at a worker's start but not here ("Permission denied" in the log). */
static int ensure_open(struct sqlite_store *store)
{
	char reason[512];
	long long now;

	if (store->db != NULL)
		return 0;
	now = clock_monotonic_ms();
	if (now < store->next_open_ms)
		return -1;
	store->next_open_ms = now + REOPEN_INTERVAL_MS;
	if (open_database(store, reason, sizeof reason) != 0) {
		log_limited("sqlite: %s; answering 503 until it can be opened", reason);
		return -1;
	}
	log_line("sqlite %s: opened again", store->path);
	return 0;
}

static const char *type_name(int type)
{
	switch (type) {
	case SQLITE_INTEGER:
		return "an integer";
	case SQLITE_FLOAT:
		return "a real";
	case SQLITE_TEXT:
		return "text";
	case SQLITE_BLOB:
		return "a blob";
	default:
		return "NULL";
	}
}

/* SQLite keeps whatever a column was given ('12abc', 1.9e30, NULL in a
 * table without constraints) and its column_int64 would turn that into 12,
 * INT64_MAX or 0 without a word. The contract's columns are integers and
 * text, as PostgreSQL enforces: anything else is a bad row, refused.
 * Each value is fetched once with sqlite3_column_value and read with the
 * sqlite3_value_* calls: every sqlite3_column_* call takes the handle's
 * mutex and checks the statement again, a cost the type check would
 * otherwise double. The values are "unprotected",
 * which only matters to a handle shared between threads; this one is
 * opened NOMUTEX and used by one. */
static int read_row(sqlite3_stmt *query, struct order_row *row, char *reason, size_t reason_size)
{
	static const int types[ORDERS_COLUMN_COUNT] = {SQLITE_INTEGER, SQLITE_INTEGER, SQLITE_INTEGER, SQLITE_TEXT,
						       SQLITE_TEXT};
	sqlite3_value *values[ORDERS_COLUMN_COUNT];

	for (int column = 0; column < ORDERS_COLUMN_COUNT; column++) {
		values[column] = sqlite3_column_value(query, column);
		int type = sqlite3_value_type(values[column]);
		if (type != types[column]) {
			snprintf(reason, reason_size, "%s is %s, not %s", orders_query_column_name(column),
				 type_name(type), type_name(types[column]));
			return -1;
		}
	}
	row->id = sqlite3_value_int64(values[ORDERS_COLUMN_ID]);
	row->customer_id = sqlite3_value_int64(values[ORDERS_COLUMN_CUSTOMER_ID]);
	row->total_cents = sqlite3_value_int64(values[ORDERS_COLUMN_TOTAL_CENTS]);
	row->status = (const char *)sqlite3_value_text(values[ORDERS_COLUMN_STATUS]);
	row->status_len = (size_t)sqlite3_value_bytes(values[ORDERS_COLUMN_STATUS]);
	row->created_at = (const char *)sqlite3_value_text(values[ORDERS_COLUMN_CREATED_AT]);
	row->created_at_is_iso = 0; /* SQLite's text, as stored */
	if (row->status == NULL || row->created_at == NULL) {
		snprintf(reason, reason_size, "out of memory reading the row");
		return -1;
	}
	return 0;
}

static enum store_status sqlite_fetch_orders(void *handle, const struct order_page *page, order_row_fn on_row,
					     void *context)
{
	struct sqlite_store *store = handle;
	sqlite3_stmt *query;
	enum store_status status = STORE_OK;
	int step;

	if (ensure_open(store) != 0)
		return STORE_UNAVAILABLE;
	query = page->is_default ? store->contract_query : store->page_query;
	if (!page->is_default && (sqlite3_bind_int64(query, 1, page->limit) != SQLITE_OK ||
				  sqlite3_bind_int64(query, 2, page->offset) != SQLITE_OK)) {
		log_limited("sqlite %s: bind: %s", store->path, sqlite3_errmsg(store->db));
		status = STORE_QUERY_FAILED;
		goto done;
	}
	while ((step = sqlite3_step(query)) == SQLITE_ROW) {
		struct order_row row;
		char reason[128];
		if (read_row(query, &row, reason, sizeof reason) != 0) {
			log_limited("sqlite %s: order %lld: %s", store->path, (long long)sqlite3_column_int64(query, 0),
				    reason);
			status = STORE_QUERY_FAILED;
			goto done;
		}
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

const struct store_backend store_sqlite_backend = {
    .open = sqlite_open,
    .fetch_orders = sqlite_fetch_orders,
    .close = sqlite_close,
};
