/* pgsql_queue.h: the PostgreSQL store's queries in a libpq pipeline: statements, batches, results, rows. */
#ifndef WEBAPI_PGSQL_QUEUE_H
#define WEBAPI_PGSQL_QUEUE_H

#include "dsn.h"
#include "list.h"
#include "pgsql_connection.h"
#include "store.h"

struct pgsql_job;

/* The queries of one store, on whichever connection it has now. Jobs come
 * from free, so that a query costs no allocation once the worker has
 * answered as many at once before. */
struct pgsql_queue {
	struct pgsql_connection *connection; /* sends on connection->pq */
	enum db_statements statements;	     /* PG_STATEMENTS */
	struct list sent;		     /* in the pipeline, oldest first */
	struct list waiting;		     /* for the connection to be ready, or for the next batch */
	struct list free;		     /* jobs to reuse */
	/* Per connection (pgsql_queue_connected resets them). */
	unsigned statement_generation; /* names: orders_default_<n> */
	unsigned prepared_generation;  /* what this connection has prepared */
	int session_ready;	       /* DateStyle and TimeZone are right, or the query setting them is sent */
	/* PG_STATEMENTS unset, and the server lost or already had a named
	 * statement: this connection sends its queries unnamed. */
	int went_unnamed;
	int flush_pending; /* libpq holds output the socket did not take */
	/* Sync points sent and read on this connection; whether jobs were
	 * sent since the last one. */
	unsigned long batches_sent, batches_read;
	int unsynced;
	/* An error said the server is ending this session (a shutdown, a
	 * killed backend): what is in flight goes as on a lost connection. */
	int session_ending;
	/* The error that aborted the rest of the current batch, for theirs. */
	char batch_error[PGSQL_REASON_SIZE];
	/* Results come in binary (no text output on the server, no parsing
	 * here) until a column's type is one pgsql_binary.h does not read;
	 * text from then on. */
	int text_results;
	/* The problem logged last: while the database is down every request
	 * fails the same way, and one line per request would bury the cause. */
	char last_problem[PGSQL_REASON_SIZE];
	enum store_status last_problem_status;
	/* For the log line at the end: what pipelining did. */
	int in_flight, most_in_flight;
	long answered, run_again;
};

/* How reading and writing went (pgsql_queue_progress). */
enum pgsql_queue_outcome {
	PGSQL_QUEUE_OK,
	PGSQL_QUEUE_LOST, /* the connection broke or the session ends: what was sent may go again */
	PGSQL_QUEUE_HUNG, /* the oldest query's deadline passed: the server hangs */
};

void pgsql_queue_init(struct pgsql_queue *queue, struct pgsql_connection *connection, enum db_statements statements);
/* Queues an orders query for the next batch: its rows go to on_row with
 * row_context, its end to done with context. Returns 0, or -1 out of memory. */
int pgsql_queue_add(struct pgsql_queue *queue, const struct order_page *page, order_row_fn on_row, void *row_context,
		    store_done_fn done, void *context);
int pgsql_queue_has_waiting(const struct pgsql_queue *queue);
int pgsql_queue_has_sent(const struct pgsql_queue *queue);
/* A new connection is ready: statements and session settings are due. */
void pgsql_queue_connected(struct pgsql_queue *queue);
/* Sends what waits as one batch with one sync point. Returns 0, or -1
 * with a reason when the connection broke. */
int pgsql_queue_send(struct pgsql_queue *queue, char *reason, size_t reason_size);
/* Writes what libpq holds, reads what came, answers the finished queries. */
enum pgsql_queue_outcome pgsql_queue_progress(struct pgsql_queue *queue, int readable, int writable, char *reason,
					      size_t reason_size);
/* What the event loop waits for besides the socket: output to flush, the
 * oldest query's deadline. */
void pgsql_queue_wait(const struct pgsql_queue *queue, struct store_wait *wait);
/* The connection is gone: the queries sent on it go back to wait (once
 * each, when retry is set) or into failed, to be answered by
 * pgsql_queue_fail once the caller's teardown is done. */
void pgsql_queue_detach(struct pgsql_queue *queue, int retry, struct list *failed);
/* Moves every waiting query into failed. */
void pgsql_queue_detach_waiting(struct pgsql_queue *queue, struct list *failed);
/* Answers the queries in failed with STORE_UNAVAILABLE. */
void pgsql_queue_fail(struct pgsql_queue *queue, struct list *failed);
/* Logs a query's problem when it differs from the last one, and a recovery once. */
void pgsql_queue_report(struct pgsql_queue *queue, enum store_status status, const char *reason);
/* Answers what is left with STORE_UNAVAILABLE and frees every job. */
void pgsql_queue_free(struct pgsql_queue *queue);

#endif
