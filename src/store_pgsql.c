/* store_pgsql.c: the PostgreSQL store: one pipelined connection, driven by the event loop, or by poll in CGI mode. */
#include "store.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "pgsql_connection.h"
#include "pgsql_queue.h"

/* The connection (pgsql_connection.c) and its queries (pgsql_queue.c):
 * this file decides what one's events mean for the other. */
struct pgsql_store {
	struct db_config config; /* connection.target points into it */
	struct pgsql_connection connection;
	struct pgsql_queue queue;
};

static void send_queries(struct pgsql_store *store);
static void start_connecting(struct pgsql_store *store);

/* The connection is gone (or hangs): every query in flight ends. One that
 * was sent on a connection that had worked (the server restarted) is sent
 * again, once, on a new one at once, and an idle one that had worked is
 * replaced with the next query; otherwise the next attempt waits. The
 * callers of the failed queries hear of it last, once the teardown and the
 * back-off are decided: a callback may queue a query, and start a
 * connection, which nothing here must undo. */
static void lose_connection(struct pgsql_store *store, const char *reason, int retry_in_flight)
{
	struct pgsql_connection *connection = &store->connection;
	struct list failed = {NULL, NULL};
	int reconnect = 0;

	pgsql_connection_drop(connection);
	pgsql_queue_detach(&store->queue, retry_in_flight, &failed);
	if (retry_in_flight && pgsql_queue_has_waiting(&store->queue)) {
		connection->retry_at_ms = 0;
		reconnect = 1;
	} else if (retry_in_flight) {
		/* A working connection ended while idle (the server it was on
		 * stopped): the next query connects at once, perhaps to another
		 * host of the list; only a failed attempt starts the back-off. */
		log_line("PostgreSQL %s: connection ended: %s; connecting again with the next query", connection->shown,
			 reason);
		connection->retry_at_ms = 0;
	} else {
		pgsql_connection_back_off(connection, reason);
		pgsql_queue_detach_waiting(&store->queue, &failed);
	}
	pgsql_queue_fail(&store->queue, &failed);
	if (reconnect)
		send_queries(store);
}

/* What a step of connecting means for the queries. After a timeout on one
 * host the queries have waited enough and are answered now; the other
 * hosts are tried with the next one. */
static void connection_stepped(struct pgsql_store *store, enum pgsql_connection_step step, const char *reason)
{
	struct list failed = {NULL, NULL};

	switch (step) {
	case PGSQL_STEP_WAITING:
		return;
	case PGSQL_STEP_READY:
		pgsql_queue_connected(&store->queue);
		send_queries(store);
		return;
	case PGSQL_STEP_OTHER_HOSTS:
		if (!store->connection.timed_out) {
			start_connecting(store);
			return;
		}
		pgsql_queue_detach_waiting(&store->queue, &failed);
		pgsql_queue_fail(&store->queue, &failed);
		return;
	case PGSQL_STEP_FAILED:
		lose_connection(store, reason, 0);
		return;
	}
}

static void start_connecting(struct pgsql_store *store)
{
	char reason[PGSQL_REASON_SIZE];

	connection_stepped(store, pgsql_connection_start(&store->connection, reason, sizeof reason), reason);
}

/* Sends what waits; connects when down. */
static void send_queries(struct pgsql_store *store)
{
	struct pgsql_connection *connection = &store->connection;
	char reason[PGSQL_REASON_SIZE];

	if (!pgsql_queue_has_waiting(&store->queue))
		return;
	if (pgsql_connection_standby_search_due(connection)) {
		/* The answers in flight come on this connection; the rest wait
		 * for the next one. */
		if (pgsql_queue_has_sent(&store->queue))
			return;
		struct list none = {NULL, NULL};
		pgsql_connection_drop(connection);
		pgsql_queue_detach(&store->queue, 0, &none);
	}
	if (connection->state == PGSQL_CONNECTION_DOWN)
		start_connecting(store);
	if (connection->state != PGSQL_CONNECTION_READY)
		return;
	if (pgsql_queue_send(&store->queue, reason, sizeof reason) != 0)
		lose_connection(store, reason, 1);
}

static void pgsql_progress(void *handle, int readable, int writable)
{
	struct pgsql_store *store = handle;
	struct pgsql_connection *connection = &store->connection;
	char reason[PGSQL_REASON_SIZE];

	if (connection->state == PGSQL_CONNECTION_CONNECTING) {
		connection_stepped(store, pgsql_connection_poll(connection, readable, writable, reason, sizeof reason),
				   reason);
		return;
	}
	if (connection->state != PGSQL_CONNECTION_READY)
		return;
	switch (pgsql_queue_progress(&store->queue, readable, writable, reason, sizeof reason)) {
	case PGSQL_QUEUE_OK:
		pgsql_connection_note_server_kind(connection); /* a standby promoted says so */
		return;
	case PGSQL_QUEUE_LOST:
		lose_connection(store, reason, 1);
		return;
	case PGSQL_QUEUE_HUNG:
		/* What waits on it is answered now, and the next connection
		 * only after a back-off. */
		lose_connection(store, reason, 0);
		return;
	}
}

static void pgsql_wait(void *handle, struct store_wait *wait)
{
	struct pgsql_store *store = handle;
	struct pgsql_connection *connection = &store->connection;

	memset(wait, 0, sizeof *wait);
	wait->fd = -1;
	/* The event loop is about to wait: what this turn queued goes now. */
	if (connection->state == PGSQL_CONNECTION_READY)
		send_queries(store);
	if (connection->state == PGSQL_CONNECTION_DOWN)
		return;
	int fd = PQsocket(connection->pq);
	/* libpq may open another socket while connecting (the next host). */
	if (fd != connection->socket_fd) {
		connection->socket_fd = fd;
		connection->generation++;
	}
	wait->fd = fd;
	wait->generation = connection->generation;
	if (connection->state == PGSQL_CONNECTION_CONNECTING) {
		wait->readable = connection->polling == PGRES_POLLING_READING;
		wait->writable = connection->polling != PGRES_POLLING_READING;
		wait->deadline_ms = connection->connect_deadline_ms;
		return;
	}
	/* Always readable: a server that closes an idle connection is seen. */
	wait->readable = 1;
	pgsql_queue_wait(&store->queue, wait);
}

/* Rows to on_row with row_context, the end to done with context. */
static enum store_status queue_orders(struct pgsql_store *store, const struct order_page *page, order_row_fn on_row,
				      void *row_context, store_done_fn done, void *context)
{
	struct pgsql_connection *connection = &store->connection;

	if (connection->state == PGSQL_CONNECTION_DOWN) {
		/* Backing off: no attempt, an answer at once. */
		if (clock_monotonic_ms() < connection->retry_at_ms)
			return STORE_UNAVAILABLE;
		start_connecting(store);
		if (connection->state == PGSQL_CONNECTION_DOWN)
			return STORE_UNAVAILABLE;
	}
	/* Connected, it goes with this turn's batch (pgsql_wait). */
	if (pgsql_queue_add(&store->queue, page, on_row, row_context, done, context) != 0)
		return STORE_UNAVAILABLE;
	return STORE_PENDING;
}

static enum store_status pgsql_start_orders(void *handle, const struct order_page *page, order_row_fn on_row,
					    store_done_fn done, void *context)
{
	struct pgsql_store *store = handle;

	store->queue.in_loop = 1;
	return queue_orders(handle, page, on_row, context, done, context);
}

/* Without an event loop (CGI mode, and at open) this process polls the
 * socket itself, as the loop would, until *finished is set (NULL: until
 * the connection attempt has ended). */
static void run_until(struct pgsql_store *store, const int *finished)
{
	for (;;) {
		struct store_wait wait;
		pgsql_wait(store, &wait);
		if (finished != NULL ? *finished : store->connection.state != PGSQL_CONNECTION_CONNECTING)
			return;
		if (wait.fd < 0) {
			struct list failed = {NULL, NULL};
			pgsql_queue_detach_waiting(&store->queue, &failed);
			pgsql_queue_fail(&store->queue, &failed);
			return;
		}
		long long timeout_ms =
		    wait.deadline_ms != 0 ? wait.deadline_ms - clock_monotonic_ms() : PGSQL_DEADLINE_MS;
		struct pollfd entry = {.fd = wait.fd,
				       .events = (short)((wait.readable ? POLLIN : 0) | (wait.writable ? POLLOUT : 0))};
		int ready = poll(&entry, 1, timeout_ms > 0 ? (int)timeout_ms : 0);
		if (ready < 0 && errno != EINTR) {
			char reason[PGSQL_REASON_SIZE];
			snprintf(reason, sizeof reason, "poll: %s", strerror(errno));
			lose_connection(store, reason, 0);
			continue;
		}
		int broken = ready > 0 && (entry.revents & (POLLERR | POLLHUP)) != 0;
		pgsql_progress(store, ready > 0 && ((entry.revents & POLLIN) || broken),
			       ready > 0 && ((entry.revents & POLLOUT) || broken));
	}
}

/* How a query ended. */
struct blocking_fetch {
	int finished;
	enum store_status status;
};

static void blocking_fetch_done(void *context, enum store_status status)
{
	struct blocking_fetch *fetch = context;

	fetch->finished = 1;
	fetch->status = status;
}

/* CGI mode: the same queue and connection, run to the query's end. */
static enum store_status pgsql_fetch_orders(void *handle, const struct order_page *page, order_row_fn on_row,
					    void *context)
{
	struct pgsql_store *store = handle;
	struct blocking_fetch fetch = {0, STORE_UNAVAILABLE};

	store->connection.once = 1;
	enum store_status status = queue_orders(store, page, on_row, context, blocking_fetch_done, &fetch);

	if (status != STORE_PENDING)
		return status;
	run_until(store, &fetch.finished);
	return fetch.status;
}

static const struct store_async pgsql_async = {
    .start_orders = pgsql_start_orders,
    .wait = pgsql_wait,
    .progress = pgsql_progress,
};

static void pgsql_close(void *handle)
{
	struct pgsql_store *store = handle;

	if (store == NULL)
		return;
	pgsql_queue_free(&store->queue);
	pgsql_connection_drop(&store->connection);
	free(store);
}

/* The worker must come up, and answer GET /, while the database is down:
 * an unreachable database yields a handle that connects later, and says
 * so in error. Statements are prepared with the first query, once per
 * connection. */
static void *pgsql_open(const struct db_config *config, char *error, size_t error_size)
{
	struct pgsql_store *store = calloc(1, sizeof *store);
	struct pgsql_connection *connection;

	if (error_size > 0)
		error[0] = '\0';
	if (store == NULL) {
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	store->config = *config;
	connection = &store->connection;
	if (pgsql_connection_init(connection, store->config.target, error, error_size) != 0) {
		free(store);
		return NULL;
	}
	pgsql_queue_init(&store->queue, connection, config->statements);
	/* The back-off's jitter differs from worker to worker. */
	srandom((unsigned)getpid() ^ (unsigned)clock_monotonic_ms());
	connection->quiet = 1;
	start_connecting(store);
	run_until(store, NULL);
	connection->quiet = 0;
	if (connection->state != PGSQL_CONNECTION_READY) {
		/* Not logged as an outage: the first failing request logs it,
		 * in case the caller does not log error for a live handle. */
		snprintf(error, error_size, "PostgreSQL %s unreachable, retrying on each request: %s",
			 connection->shown, connection->last_failure);
		connection->backoff_ms = 0;
		connection->retry_at_ms = 0;
		connection->attempts_while_down = 0;
	}
	return store;
}

const struct store_backend store_pgsql_backend = {
    .open = pgsql_open,
    .fetch_orders = pgsql_fetch_orders,
    .close = pgsql_close,
    .async = &pgsql_async,
};
