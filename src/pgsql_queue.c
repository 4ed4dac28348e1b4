/* pgsql_queue.c: the PostgreSQL store's queries in a libpq pipeline: statements, batches, results, rows.
 *
 * A job is one statement (the session settings, a PREPARE or an orders
 * query), queued in the order sent. The queries that came during one turn
 * of the event loop go out together before it waits again, as one batch
 * with one sync point: one write and one transaction on the server for all
 * of them, where a sync point per query cost a write and a commit each. A
 * query's results come back in order: its result and libpq's NULL that ends
 * it (none after an error); the batch ends with PGRES_PIPELINE_SYNC. An
 * error aborts the rest of its batch (PGRES_PIPELINE_ABORTED): those
 * queries never ran, and are sent once more. */
#include "pgsql_queue.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "orders_query.h"
#include "pgsql_binary.h"
#include "timefmt.h"

_Static_assert(PGSQL_ISO_TIMESTAMP_SIZE == ISO_TIMESTAMP_LENGTH + 1, "binary timestamps are the contract's ISO form");

/* created_at is read as the server's ISO text in UTC: a timestamptz column
 * prints in the session's time zone, which a role or database may have set
 * to anything. One statement, so that it can go into a pipeline; the server
 * reports both back (ParameterStatus), which is how PgBouncer carries them
 * to whichever server connection serves the next transaction. */
#define SESSION_SQL "SELECT set_config('DateStyle', 'ISO', false), set_config('TimeZone', 'UTC', false)"

enum { ORDERS_DEFAULT, ORDERS_PAGE, PREPARED_COUNT };

struct prepared_query {
	const char *name;
	const char *sql;
	int param_count;
	const Oid *param_types;
};

static const Oid page_param_types[] = {PGSQL_INT8_OID, PGSQL_INT8_OID};

static const struct prepared_query prepared_queries[PREPARED_COUNT] = {
    [ORDERS_DEFAULT] = {"orders_default", ORDERS_QUERY_DEFAULT_SQL, 0, NULL},
    [ORDERS_PAGE] = {"orders_page", ORDERS_QUERY_PAGE_SQL, 2, page_param_types},
};

enum job_kind { JOB_SESSION, JOB_PREPARE, JOB_ORDERS };

struct pgsql_job {
	struct list_link link; /* in sent, waiting or free */
	enum job_kind kind;
	int prepared_index;
	unsigned statement_generation; /* the statement names it was sent with */
	char limit_text[24], offset_text[24];
	order_row_fn on_row;
	void *row_context;
	store_done_fn done; /* NULL: answered by a retry of it, or not a query of the caller's */
	void *context;
	long long deadline_ms;
	int retried;
	int sent_named;	     /* by the name of a prepared statement */
	int got_result;	     /* its result has come */
	unsigned long batch; /* ended by this connection's batch-th sync point */
	enum store_status status;
	char reason[PGSQL_REASON_SIZE];
};

void pgsql_queue_init(struct pgsql_queue *queue, struct pgsql_connection *connection, enum db_statements statements)
{
	memset(queue, 0, sizeof *queue);
	queue->connection = connection;
	queue->statements = statements;
}

static struct pgsql_job *take_job(struct pgsql_queue *queue)
{
	struct list_link *link = list_take_first(&queue->free);
	struct pgsql_job *job = link != NULL ? list_entry(link, struct pgsql_job, link) : malloc(sizeof *job);

	/* All but the reason, which only an error fills. */
	if (job != NULL) {
		memset(job, 0, offsetof(struct pgsql_job, reason));
		job->reason[0] = '\0';
	}
	return job;
}

static void release_job(struct pgsql_queue *queue, struct pgsql_job *job)
{
	list_append(&queue->free, &job->link);
}

static struct pgsql_job *first_job(const struct list *list)
{
	return list->head != NULL ? list_entry(list->head, struct pgsql_job, link) : NULL;
}

static struct pgsql_job *take_first_job(struct list *list)
{
	struct list_link *link = list_take_first(list);

	return link != NULL ? list_entry(link, struct pgsql_job, link) : NULL;
}

/* The job's answer goes to its caller, and the job back to the free list
 * first, so that the caller may queue its next query with it. */
static void complete_job(struct pgsql_queue *queue, struct pgsql_job *job)
{
	store_done_fn done = job->done;
	void *context = job->context;
	enum store_status status = job->status;

	release_job(queue, job);
	if (done != NULL)
		done(context, status);
}

int pgsql_queue_add(struct pgsql_queue *queue, const struct order_page *page, order_row_fn on_row, void *row_context,
		    store_done_fn done, void *context)
{
	struct pgsql_job *job = take_job(queue);

	if (job == NULL)
		return -1;
	job->kind = JOB_ORDERS;
	job->prepared_index = page->is_default ? ORDERS_DEFAULT : ORDERS_PAGE;
	if (!page->is_default) {
		snprintf(job->limit_text, sizeof job->limit_text, "%" PRId64, page->limit);
		snprintf(job->offset_text, sizeof job->offset_text, "%" PRId64, page->offset);
	}
	job->on_row = on_row;
	job->row_context = row_context;
	job->done = done;
	job->context = context;
	job->deadline_ms = clock_monotonic_ms() + PGSQL_DEADLINE_MS;
	list_append(&queue->waiting, &job->link);
	return 0;
}

int pgsql_queue_has_waiting(const struct pgsql_queue *queue)
{
	return !list_is_empty(&queue->waiting);
}

int pgsql_queue_has_sent(const struct pgsql_queue *queue)
{
	return !list_is_empty(&queue->sent);
}

void pgsql_queue_connected(struct pgsql_queue *queue)
{
	queue->statement_generation++;
	queue->prepared_generation = 0;
	queue->went_unnamed = 0;
	queue->session_ready = !pgsql_connection_needs_session_settings(queue->connection);
}

void pgsql_queue_report(struct pgsql_queue *queue, enum store_status status, const char *reason)
{
	const char *shown = queue->connection->shown;

	switch (status) {
	case STORE_PENDING:
		return;
	case STORE_OK:
	case STORE_ROW_REJECTED: /* the caller's decision, not the database's */
		if (queue->last_problem[0] == '\0')
			return;
		log_line("PostgreSQL %s: working again", shown);
		queue->last_problem[0] = '\0';
		return;
	case STORE_UNAVAILABLE:
	case STORE_QUERY_FAILED:
		break;
	}
	if (status == queue->last_problem_status && strcmp(queue->last_problem, reason) == 0)
		return;
	log_limited("PostgreSQL %s: %s: %s", shown, status == STORE_UNAVAILABLE ? "unavailable" : "query failed",
		    reason);
	snprintf(queue->last_problem, sizeof queue->last_problem, "%s", reason);
	queue->last_problem_status = status;
}

/* Whether this connection's queries go unnamed (PQsendQueryParams). */
static int sends_unnamed(const struct pgsql_queue *queue)
{
	return queue->statements == DB_STATEMENTS_UNNAMED || queue->went_unnamed;
}

/* PG_STATEMENTS unset: a named statement the server does not have
 * (26000) or has already (42P05) means that a pooler in transaction mode
 * (PgBouncer) hands this connection's transactions to server connections
 * of its own, each with other statements or none. The connection goes on
 * with unnamed statements, as PG_STATEMENTS=unnamed sends them; returns 1
 * when it did so now, and the caller runs the query again. */
static int go_unnamed(struct pgsql_queue *queue, const char *sqlstate, const char *reason)
{
	if (queue->statements != DB_STATEMENTS_AUTO || queue->went_unnamed || sqlstate == NULL ||
	    (strcmp(sqlstate, "26000") != 0 && strcmp(sqlstate, "42P05") != 0))
		return 0;
	queue->went_unnamed = 1;
	log_line("PostgreSQL %s: %s (SQLSTATE %s): a pooler in transaction mode? Queries go unnamed on this "
		 "connection from now on (PG_STATEMENTS=named or unnamed decides for every connection)",
		 queue->connection->shown, reason, sqlstate);
	return 1;
}

/* An error answer that ends the session: the socket closed, SQLSTATE class
 * 08 (connection exception) or 57P (the server shuts down or restarts). */
static int ends_session(PGconn *pq, const PGresult *result)
{
	const char *sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);

	if (PQstatus(pq) == CONNECTION_BAD)
		return 1;
	return sqlstate != NULL && (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P", 3) == 0);
}

static int parse_int64(const char *text, int64_t *value)
{
	char *end = NULL;

	errno = 0;
	long long parsed = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return -1;
	*value = (int64_t)parsed;
	return 0;
}

/* Whether a binary result's columns are of types pgsql_binary.h reads; a
 * table changed to, say, numeric or an enum is read as text instead. */
static int binary_columns_readable(const PGresult *result)
{
	for (int column = ORDERS_COLUMN_ID; column <= ORDERS_COLUMN_TOTAL_CENTS; column++)
		if (!pgsql_binary_is_integer_type(PQftype(result, column)))
			return 0;
	return pgsql_binary_is_text_type(PQftype(result, ORDERS_COLUMN_STATUS)) &&
	       pgsql_binary_is_timestamp_type(PQftype(result, ORDERS_COLUMN_CREATED_AT));
}

/* Says which column of the row is NULL, if one is. */
static int has_null(const PGresult *result, int row_index, char *reason, size_t reason_size)
{
	for (int column = 0; column < ORDERS_COLUMN_COUNT; column++) {
		if (PQgetisnull(result, row_index, column)) {
			snprintf(reason, reason_size, "row %d: %s is NULL", row_index,
				 orders_query_column_name(column));
			return 1;
		}
	}
	return 0;
}

/* One row's values, text or binary; the strings point into result or into
 * timestamp_text (binary: already the contract's ISO form). types are the
 * result's column types, read once a result. A binary NULL has length 0,
 * which no binary integer or timestamp has: a binary row asks PQgetisnull
 * only when a length is wrong or the status is empty, not five times. */
static int read_row(const PGresult *result, int row_index, int binary, const Oid *types, struct order_row *row,
		    char timestamp_text[PGSQL_ISO_TIMESTAMP_SIZE], char *reason, size_t reason_size)
{
	int64_t integers[ORDERS_COLUMN_TOTAL_CENTS + 1];

	if (!binary && has_null(result, row_index, reason, reason_size))
		return -1;
	for (int column = ORDERS_COLUMN_ID; column <= ORDERS_COLUMN_TOTAL_CENTS; column++) {
		const char *value = PQgetvalue(result, row_index, column);
		int failed =
		    binary ? pgsql_binary_integer(types[column], value, (size_t)PQgetlength(result, row_index, column),
						  &integers[column])
			   : parse_int64(value, &integers[column]);
		if (failed) {
			if (binary && has_null(result, row_index, reason, reason_size))
				return -1;
			snprintf(reason, reason_size, "row %d: %s is not an integer: %.40s", row_index,
				 orders_query_column_name(column), binary ? "(binary)" : value);
			return -1;
		}
	}
	const char *created_at = PQgetvalue(result, row_index, ORDERS_COLUMN_CREATED_AT);
	if (binary) {
		if (pgsql_binary_timestamp(created_at, (size_t)PQgetlength(result, row_index, ORDERS_COLUMN_CREATED_AT),
					   timestamp_text) != 0) {
			if (has_null(result, row_index, reason, reason_size))
				return -1;
			snprintf(reason, reason_size, "row %d: created_at is infinite or outside years 1-9999",
				 row_index);
			return -1;
		}
		created_at = timestamp_text;
	}
	size_t status_len = (size_t)PQgetlength(result, row_index, ORDERS_COLUMN_STATUS);
	if (binary && status_len == 0 && has_null(result, row_index, reason, reason_size))
		return -1;
	*row = (struct order_row){
	    .id = integers[ORDERS_COLUMN_ID],
	    .customer_id = integers[ORDERS_COLUMN_CUSTOMER_ID],
	    .total_cents = integers[ORDERS_COLUMN_TOTAL_CENTS],
	    .status = PQgetvalue(result, row_index, ORDERS_COLUMN_STATUS),
	    .status_len = status_len,
	    .created_at = created_at,
	    .created_at_is_iso = binary,
	};
	return 0;
}

/* Hands each row to on_row; the strings point into result, valid for the
 * callback only. A binary result whose column types binary_columns_readable
 * rejects delivers nothing and sets *needs_text. */
static enum store_status deliver_rows(const PGresult *result, order_row_fn on_row, void *context, int *needs_text,
				      char *reason, size_t reason_size)
{
	int row_count = PQntuples(result);
	int binary = PQnfields(result) > 0 && PQfformat(result, 0) == 1;
	char timestamp_text[PGSQL_ISO_TIMESTAMP_SIZE];
	Oid types[ORDERS_COLUMN_COUNT];

	if (PQnfields(result) != ORDERS_COLUMN_COUNT) {
		snprintf(reason, reason_size, "expected %d columns, got %d", ORDERS_COLUMN_COUNT, PQnfields(result));
		return STORE_QUERY_FAILED;
	}
	if (binary && !binary_columns_readable(result)) {
		snprintf(reason, reason_size, "column types the binary format does not cover");
		*needs_text = 1;
		return STORE_QUERY_FAILED;
	}
	for (int column = 0; column < ORDERS_COLUMN_COUNT; column++)
		types[column] = PQftype(result, column);
	for (int row_index = 0; row_index < row_count; row_index++) {
		struct order_row row;
		if (read_row(result, row_index, binary, types, &row, timestamp_text, reason, reason_size) != 0)
			return STORE_QUERY_FAILED;
		if (on_row(context, &row) != 0)
			return STORE_ROW_REJECTED;
	}
	return STORE_OK;
}

static int send_job(struct pgsql_queue *queue, struct pgsql_job *job)
{
	PGconn *pq = queue->connection->pq;
	const struct prepared_query *query = &prepared_queries[job->prepared_index];
	const char *const page_values[] = {job->limit_text, job->offset_text};
	char name[64];
	int sent;

	job->statement_generation = queue->statement_generation;
	snprintf(name, sizeof name, "%s_%u", query->name, job->statement_generation);
	if (job->kind == JOB_SESSION)
		sent = PQsendQueryParams(pq, SESSION_SQL, 0, NULL, NULL, NULL, NULL, 0);
	else if (job->kind == JOB_PREPARE)
		sent = PQsendPrepare(pq, name, query->sql, query->param_count, query->param_types);
	else if (sends_unnamed(queue))
		sent = PQsendQueryParams(pq, query->sql, query->param_count, query->param_types,
					 query->param_count ? page_values : NULL, NULL, NULL, !queue->text_results);
	else
		sent = PQsendQueryPrepared(pq, name, query->param_count, query->param_count ? page_values : NULL, NULL,
					   NULL, !queue->text_results);
	if (!sent)
		return -1;
	job->sent_named = job->kind == JOB_ORDERS && !sends_unnamed(queue);
	if (job->deadline_ms == 0)
		job->deadline_ms = clock_monotonic_ms() + PGSQL_DEADLINE_MS;
	job->batch = queue->batches_sent + 1;
	queue->unsynced = 1;
	list_append(&queue->sent, &job->link);
	if (job->kind == JOB_ORDERS && ++queue->in_flight > queue->most_in_flight)
		queue->most_in_flight = queue->in_flight;
	return 0;
}

/* A statement of the queue's own (session settings, PREPARE). */
static int send_own(struct pgsql_queue *queue, enum job_kind kind, int prepared_index)
{
	struct pgsql_job *job = take_job(queue);

	if (job == NULL)
		return -1;
	job->kind = kind;
	job->prepared_index = prepared_index;
	if (send_job(queue, job) != 0) {
		release_job(queue, job);
		return -1;
	}
	return 0;
}

/* Prepares the statements first on a new connection (or after a schema
 * change gave them new names): once per connection. */
int pgsql_queue_send(struct pgsql_queue *queue, char *reason, size_t reason_size)
{
	PGconn *pq = queue->connection->pq;
	struct pgsql_job *job;

	if (list_is_empty(&queue->waiting))
		return 0;
	if (!queue->session_ready) {
		if (send_own(queue, JOB_SESSION, 0) != 0)
			goto lost;
		queue->session_ready = 1;
	}
	if (!sends_unnamed(queue) && queue->prepared_generation != queue->statement_generation) {
		for (int index = 0; index < PREPARED_COUNT; index++)
			if (send_own(queue, JOB_PREPARE, index) != 0)
				goto lost;
		queue->prepared_generation = queue->statement_generation;
	}
	while ((job = first_job(&queue->waiting)) != NULL) {
		list_remove(&queue->waiting, &job->link);
		if (send_job(queue, job) != 0) {
			list_append(&queue->waiting, &job->link);
			goto lost;
		}
	}
	if (queue->unsynced) {
		if (!PQpipelineSync(pq))
			goto lost;
		queue->batches_sent++;
		queue->unsynced = 0;
	}
	int flushed = PQflush(pq);
	if (flushed < 0)
		goto lost;
	queue->flush_pending = flushed == 1;
	return 0;
lost:
	pgsql_connection_error(queue->connection, reason, reason_size);
	return -1;
}

/* A plan cached before the table changed ("cached plan must not change
 * result type") or a statement gone: prepare anew, under new names, and
 * run the query once more. */
static int needs_new_statements(const PGresult *result)
{
	const char *sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);

	return sqlstate != NULL && (strcmp(sqlstate, "0A000") == 0 || strcmp(sqlstate, "26000") == 0);
}

/* Runs a failed query once more, answered by the retry; with new
 * statement names when the old ones no longer fit the table. */
static void retry_job(struct pgsql_queue *queue, struct pgsql_job *failed, int new_statements)
{
	struct pgsql_job *again = take_job(queue);

	if (again == NULL)
		return;
	*again = *failed;
	again->retried = 1;
	again->got_result = 0;
	again->deadline_ms = 0;
	failed->done = NULL; /* answered by the retry */
	queue->run_again++;
	if (new_statements && failed->statement_generation == queue->statement_generation)
		queue->statement_generation++;
	/* Sent with the next batch, once this one's results are read. */
	list_append(&queue->waiting, &again->link);
}

/* An error answer: the query's, its batch's, or the session's end. */
static void take_error(struct pgsql_queue *queue, struct pgsql_job *job, const PGresult *result)
{
	int aborted = PQresultStatus(result) == PGRES_PIPELINE_ABORTED;

	if (!aborted)
		pgsql_connection_scrub(queue->batch_error, sizeof queue->batch_error, PQresultErrorMessage(result));
	if (!aborted && ends_session(queue->connection->pq, result)) {
		/* Not the query's fault: it is sent again once on the next
		 * connection, as when the connection breaks (a 503 if none). */
		job->got_result = 0;
		queue->session_ending = 1;
		return;
	}
	if (!aborted && go_unnamed(queue, PQresultErrorField(result, PG_DIAG_SQLSTATE), queue->batch_error)) {
		if (job->kind == JOB_ORDERS)
			retry_job(queue, job, 0);
		return;
	}
	/* Once; and once more if it went by name and the connection has gone
	 * unnamed since (it never ran, and the next try goes unnamed). */
	int may_retry = job->kind == JOB_ORDERS && (!job->retried || (job->sent_named && sends_unnamed(queue)));
	if (may_retry && (aborted || needs_new_statements(result))) {
		retry_job(queue, job, !aborted);
		return;
	}
	snprintf(job->reason, sizeof job->reason, "%s%.470s", aborted ? "not run after an error in its batch: " : "",
		 queue->batch_error);
	job->status = STORE_QUERY_FAILED;
	/* A statement that could not be prepared (no orders table yet) is
	 * prepared again with the next query, and so are session settings. */
	if (job->kind == JOB_PREPARE)
		queue->prepared_generation = 0;
	if (job->kind == JOB_SESSION) {
		queue->session_ready = 0;
		pgsql_queue_report(queue, STORE_QUERY_FAILED, job->reason);
	}
}

/* One job's result: rows go to its caller now; its status goes with the
 * sync point that ends it. */
static void take_result(struct pgsql_queue *queue, struct pgsql_job *job, const PGresult *result)
{
	ExecStatusType expected = job->kind == JOB_PREPARE ? PGRES_COMMAND_OK : PGRES_TUPLES_OK;

	job->got_result = 1;
	if (PQresultStatus(result) != expected) {
		take_error(queue, job, result);
		return;
	}
	int needs_text = 0;
	job->status =
	    job->kind == JOB_ORDERS && job->done != NULL
		? deliver_rows(result, job->on_row, job->row_context, &needs_text, job->reason, sizeof job->reason)
		: STORE_OK;
	/* Once only: from now on every result comes as text. */
	if (needs_text) {
		queue->text_results = 1;
		retry_job(queue, job, 0);
	}
}

/* The oldest job's results are all in: its caller gets its answer. */
static void finish_job(struct pgsql_queue *queue)
{
	struct pgsql_job *job = take_first_job(&queue->sent);

	if (job->kind == JOB_ORDERS) {
		queue->in_flight--;
		queue->answered++;
		if (job->done != NULL)
			pgsql_queue_report(queue, job->got_result ? job->status : STORE_QUERY_FAILED, job->reason);
	}
	if (!job->got_result)
		job->status = STORE_QUERY_FAILED;
	complete_job(queue, job);
}

/* Results in the order the jobs were sent; see the comment atop the file
 * for what ends a job. */
static void read_results(struct pgsql_queue *queue)
{
	PGconn *pq = queue->connection->pq;

	while (!queue->session_ending && !list_is_empty(&queue->sent) && !PQisBusy(pq)) {
		struct pgsql_job *job = first_job(&queue->sent);
		PGresult *result = PQgetResult(pq);
		if (result == NULL) {
			if (!job->got_result)
				break; /* nothing more yet */
			finish_job(queue);
			continue;
		}
		if (PQresultStatus(result) == PGRES_PIPELINE_SYNC) {
			/* Ends its batch, with a job an error ended (no NULL). */
			queue->batches_read++;
			while ((job = first_job(&queue->sent)) != NULL && job->batch <= queue->batches_read)
				finish_job(queue);
			PQclear(result);
			continue;
		}
		if (job->got_result) {
			/* An error ended that job without a NULL: this is the next one's. */
			finish_job(queue);
			job = first_job(&queue->sent);
		}
		if (job != NULL)
			take_result(queue, job, result);
		PQclear(result);
	}
}

enum pgsql_queue_outcome pgsql_queue_progress(struct pgsql_queue *queue, int readable, int writable, char *reason,
					      size_t reason_size)
{
	PGconn *pq = queue->connection->pq;

	if (writable || queue->flush_pending) {
		int flushed = PQflush(pq);
		if (flushed < 0)
			goto lost;
		queue->flush_pending = flushed == 1;
	}
	if (readable && !PQconsumeInput(pq))
		goto lost;
	read_results(queue);
	if (queue->session_ending) {
		snprintf(reason, reason_size, "%s", queue->batch_error);
		return PGSQL_QUEUE_LOST;
	}
	if (PQstatus(pq) == CONNECTION_BAD)
		goto lost;
	struct pgsql_job *oldest = first_job(&queue->sent);
	if (oldest != NULL && clock_monotonic_ms() >= oldest->deadline_ms) {
		snprintf(reason, reason_size, "no answer within %d ms, connection dropped", PGSQL_DEADLINE_MS);
		return PGSQL_QUEUE_HUNG;
	}
	return PGSQL_QUEUE_OK;
lost:
	pgsql_connection_error(queue->connection, reason, reason_size);
	return PGSQL_QUEUE_LOST;
}

void pgsql_queue_wait(const struct pgsql_queue *queue, struct store_wait *wait)
{
	const struct pgsql_job *oldest = first_job(&queue->sent);

	wait->writable = queue->flush_pending;
	if (oldest != NULL)
		wait->deadline_ms = oldest->deadline_ms;
}

/* One that was sent on a connection that had worked (the server
 * restarted) goes again, once; the queue's own statements are sent anew
 * with the next connection anyway. */
void pgsql_queue_detach(struct pgsql_queue *queue, int retry, struct list *failed)
{
	struct list again = {NULL, NULL};
	struct pgsql_job *job;

	queue->flush_pending = 0;
	queue->in_flight = 0;
	queue->batches_sent = queue->batches_read = 0;
	queue->unsynced = 0;
	queue->session_ending = 0;
	queue->prepared_generation = 0;
	queue->went_unnamed = 0;
	while ((job = take_first_job(&queue->sent)) != NULL) {
		if (job->kind == JOB_ORDERS && job->done != NULL && retry && !job->retried) {
			job->retried = 1;
			job->got_result = 0;
			list_append(&again, &job->link);
		} else if (job->kind == JOB_ORDERS && job->done != NULL) {
			list_append(failed, &job->link);
		} else {
			release_job(queue, job);
		}
	}
	while ((job = take_first_job(&queue->waiting)) != NULL)
		list_append(&again, &job->link);
	queue->waiting = again;
}

void pgsql_queue_detach_waiting(struct pgsql_queue *queue, struct list *failed)
{
	struct pgsql_job *job;

	while ((job = take_first_job(&queue->waiting)) != NULL)
		list_append(failed, &job->link);
}

void pgsql_queue_fail(struct pgsql_queue *queue, struct list *failed)
{
	struct pgsql_job *job;

	while ((job = take_first_job(failed)) != NULL) {
		job->status = STORE_UNAVAILABLE;
		complete_job(queue, job);
	}
}

void pgsql_queue_free(struct pgsql_queue *queue)
{
	struct list failed = {NULL, NULL};
	struct pgsql_job *job;

	if (queue->in_loop && queue->answered > 0)
		log_line(
		    "PostgreSQL %s: %ld queries answered on this worker's connections, at most %d in flight at once, "
		    "%ld run again",
		    queue->connection->shown, queue->answered, queue->most_in_flight, queue->run_again);
	pgsql_queue_detach(queue, 0, &failed);
	pgsql_queue_detach_waiting(queue, &failed);
	pgsql_queue_fail(queue, &failed);
	while ((job = take_first_job(&queue->free)) != NULL)
		free(job);
}
