/* store.h: the small interface every database backend (one file each) implements. */
#ifndef WEBAPI_STORE_H
#define WEBAPI_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "dsn.h"

/* One row of the contract's query, as the backend read it. The strings
 * belong to the backend and stay valid only during the row callback. */
struct order_row {
	int64_t id;
	int64_t customer_id;
	int64_t total_cents;
	const char *status;
	size_t status_len;
	/* The database's own text form, e.g. "2026-10-15 03:37:37.629232",
	 * which timefmt.h turns into the contract's ISO form; or, when
	 * created_at_is_iso, already that form, ISO_TIMESTAMP_LENGTH bytes (a
	 * store that reads binary timestamps makes it as cheaply as the text). */
	const char *created_at;
	int created_at_is_iso;
};

/* A page of orders. The contract's default page has its own fixed SQL text,
 * so it is a flag rather than a limit/offset pair. */
struct order_page {
	int is_default; /* run the contract's query text exactly */
	int64_t limit;
	int64_t offset;
};

enum store_status {
	STORE_OK = 0,
	STORE_UNAVAILABLE,  /* cannot reach the database now; retried on the next call */
	STORE_QUERY_FAILED, /* reached it, but the query or a row was wrong */
	STORE_ROW_REJECTED, /* the row callback said stop */
	STORE_PENDING,	    /* started: the answer comes through store_done_fn */
};

/* Returns 0 to go on, non-zero to stop the fetch (STORE_ROW_REJECTED). */
typedef int (*order_row_fn)(void *context, const struct order_row *row);

/* How an asynchronous fetch ended, called after its rows went to on_row. */
typedef void (*store_done_fn)(void *context, enum store_status status);

/* What an asynchronous store waits on before it can go on: the worker's
 * event loop watches the descriptor and calls store_progress. */
struct store_wait {
	int fd;		       /* -1: nothing */
	int readable;	       /* wait until fd is readable */
	int writable;	       /* or writable */
	unsigned generation;   /* changes with each new connection */
	long long deadline_ms; /* clock_monotonic_ms() to call store_progress by; 0: none */
};

/* A backend that waits for its database inside the worker's event loop
 * (PostgreSQL) instead of blocking the worker. */
struct store_async {
	/* Queues the query and returns STORE_PENDING: on_row then done are
	 * called later, from progress. Or returns a status at once (the
	 * database is known to be down) and calls neither. */
	enum store_status (*start_orders)(void *handle, const struct order_page *page, order_row_fn on_row,
					  store_done_fn done, void *context);
	void (*wait)(void *handle, struct store_wait *wait);
	void (*progress)(void *handle, int readable, int writable);
};

struct store;

/* What the status page and the slow-request log learn from a process's
 * store: kept by store.c around every call, whatever the backend. */
struct store_figures {
	long long wait_us;	       /* spent in the backend's calls, all told */
	long long down_since_ms;       /* wall clock of the first failure of an outage; 0: up */
	unsigned long long reconnects; /* outages that ended */
};

/* What a backend file exports; store.c picks one by the DSN's kind. */
struct store_backend {
	/* Opens and prepares; on failure writes a reason (never a password)
	 * into error and returns NULL. A backend that can reconnect later may
	 * instead return a handle that is not connected yet and say so in error. */
	void *(*open)(const struct db_config *config, char *error, size_t error_size);
	enum store_status (*fetch_orders)(void *handle, const struct order_page *page, order_row_fn on_row,
					  void *context);
	void (*close)(void *handle);
	const struct store_async *async; /* NULL: fetch_orders only */
};

extern const struct store_backend store_sqlite_backend;
/* store_pgsql_backend lives in the plugin build/webapi-store-pgsql.so. */
extern const struct store_backend store_pgsql_backend;

/* NULL with a reason in error when the store cannot be used at all (no
 * plugin, a malformed connection string); a handle with a reason in error
 * when it cannot be reached now but may be later (answers
 * STORE_UNAVAILABLE meanwhile); a handle and an empty error when ready. */
struct store *store_open(const struct db_config *config, char *error, size_t error_size);
/* At start-up: whether the SQLite store opens now (0), else -1 with the
 * reason, for a clear fatal error before any socket or worker exists.
 * PostgreSQL is not checked: it may come up after the responder, and its
 * plugin would cost the supervisor 3.5 MiB of PSS. */
int store_check(const struct db_config *config, char *error, size_t error_size);
enum store_status store_fetch_orders(struct store *store, const struct order_page *page, order_row_fn on_row,
				     void *context);
/* Whether the store answers asynchronously (then only in a worker's
 * event loop: CGI mode uses store_fetch_orders). */
int store_is_async(const struct store *store);
enum store_status store_start_orders(struct store *store, const struct order_page *page, order_row_fn on_row,
				     store_done_fn done, void *context);
void store_wait(struct store *store, struct store_wait *wait);
void store_progress(struct store *store, int readable, int writable);
void store_close(struct store *store);
const struct store_figures *store_figures(const struct store *store);

#endif
