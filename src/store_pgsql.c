/* store_pgsql.c: the PostgreSQL store: one libpq connection per worker, bounded waits, reconnection. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "clock.h"
#include "log.h"
#include "pgsql_binary.h"
#include "pgsql_conninfo.h"
#include "timefmt.h"

_Static_assert(PGSQL_ISO_TIMESTAMP_SIZE == ISO_TIMESTAMP_LENGTH + 1, "binary timestamps are the contract's ISO form");

#define ORDERS_DEFAULT_SQL "SELECT id, customer_id, total_cents, status, created_at FROM orders LIMIT 100 OFFSET 1000"
#define ORDERS_PAGE_SQL "SELECT id, customer_id, total_cents, status, created_at FROM orders LIMIT $1 OFFSET $2"
#define PING_SQL "SELECT 1"
/* created_at is read as the server's ISO text in UTC: a timestamptz column
 * prints in the session's time zone, which a role or database may have set
 * to anything. One statement, so that it can go into a pipeline; the server
 * reports both back (ParameterStatus), which is how PgBouncer carries them
 * to whichever server connection serves the next transaction. */
#define SESSION_SQL "SELECT set_config('DateStyle', 'ISO', false), set_config('TimeZone', 'UTC', false)"

/* libpq waits for a reply forever; a hung server (SIGSTOPped, stuck on I/O)
 * must cost a request no more than this. */
#define EXCHANGE_DEADLINE_MS 2000

/* libpq's own bound on each connection attempt (per host of a multi-host
 * string); a connect_timeout in the string or PGCONNECT_TIMEOUT wins. */
#define DEFAULT_CONNECT_TIMEOUT "2"

#define REASON_SIZE 512

struct pipeline;

enum { ORDERS_DEFAULT, ORDERS_PAGE, PREPARED_COUNT };

struct prepared_query {
	const char *name;
	const char *sql;
	int param_count;
	const Oid *param_types;
};

static const Oid page_param_types[] = {PGSQL_INT8_OID, PGSQL_INT8_OID};

static const struct prepared_query prepared_queries[PREPARED_COUNT] = {
    [ORDERS_DEFAULT] = {"orders_default", ORDERS_DEFAULT_SQL, 0, NULL},
    [ORDERS_PAGE] = {"orders_page", ORDERS_PAGE_SQL, 2, page_param_types},
};

enum { COLUMN_ID, COLUMN_CUSTOMER_ID, COLUMN_TOTAL_CENTS, COLUMN_STATUS, COLUMN_CREATED_AT, COLUMN_COUNT };

static const char *const column_names[COLUMN_COUNT] = {"id", "customer_id", "total_cents", "status", "created_at"};

/* How one attempt at a statement ended. LOST and TIMED_OUT both leave the
 * store disconnected; they differ in whether retrying at once makes sense. */
enum attempt_result {
	ATTEMPT_OK,
	ATTEMPT_QUERY_FAILED, /* the server answered with an error; the connection is fine */
	ATTEMPT_LOST,	      /* cannot connect, or the connection broke */
	ATTEMPT_TIMED_OUT,    /* no answer before the deadline: the server hangs */
};

enum exchange_outcome { EXCHANGE_ANSWERED, EXCHANGE_LOST, EXCHANGE_TIMED_OUT };

/* Either a prepared query (by index) or a one-off text query. */
struct statement {
	int prepared_index; /* into prepared_queries, or -1 */
	const char *sql;    /* when prepared_index is -1 */
	int param_count;
	const char *const *param_values;
};

/* The hosts of a multi-host target, as libpq reads them: comma lists
 * without escapes (libpq's parse_comma_separated_list), a port list of one
 * or of one port per host. Kept so that an attempt can leave out the hosts
 * that failed (skip_failed_host). */
#define MAX_HOSTS 16
#define HOST_LIST_SIZE 1024
struct host_list {
	int count; /* below 2: nothing to leave out */
	char host[HOST_LIST_SIZE], hostaddr[HOST_LIST_SIZE], port[HOST_LIST_SIZE];
};

struct pgsql_store {
	PGconn *connection;		 /* NULL while the database is unreachable */
	int is_prepared[PREPARED_COUNT]; /* on the current connection */
	/* PG_STATEMENTS unset, and the server lost or already had a named
	 * statement: this connection sends its queries unnamed (go_unnamed). */
	int went_unnamed;
	/* The SQLSTATE of the last error answer of a blocking exchange. */
	char last_sqlstate[6];
	/* libpq's reading of the target, password masked: how the log names it. */
	char shown[1024];
	/* The problem logged last: while the database is down every request
	 * fails the same way, and one line per request would bury the cause. */
	char last_problem[REASON_SIZE];
	enum store_status last_problem_status;
	struct db_config config;
	struct pipeline *pipeline; /* in a worker's event loop: the asynchronous side */
	struct host_list hosts;
	/* Bit i: hosts[i] failed since the last connection; the next attempt
	 * goes to the others, through the lists below. */
	unsigned hosts_failed;
	struct host_list remaining;
};

/* Copies a libpq message into one log-friendly line: newlines and tabs
 * become single spaces, and nothing else changes. The password is masked
 * where it stands, in the target as the log names it (store->shown), never
 * by searching messages for it: that masked the "p" of "port" and the
 * "server" of "connection to server", which told the password. libpq's
 * messages do not hold it: only its parse errors quote the connection
 * string, and pgsql_conninfo_describe reports those without the quote at
 * start-up; it also refuses a target whose password libpq would read in
 * part as a host, port or database name, which connection errors quote.
 * The server's messages name the user, never the password. */
static void copy_scrubbed(char *out, size_t out_size, const char *text)
{
	size_t used = 0;

	if (out_size == 0)
		return;
	while (*text != '\0' && used + 1 < out_size) {
		if (*text == '\n' || *text == '\t' || *text == '\r') {
			if (used > 0 && out[used - 1] != ' ')
				out[used++] = ' ';
			text++;
		} else {
			out[used++] = *text++;
		}
	}
	while (used > 0 && out[used - 1] == ' ')
		used--;
	out[used] = '\0';
}

/* Checks the target's syntax up front, so a typo is reported at start-up
 * rather than as an endless outage; keeps libpq's reading of it, password
 * masked, for the log. */
static int read_connection_string(struct pgsql_store *store, char *error, size_t error_size)
{
	if (pgsql_conninfo_describe(store->config.target, store->shown, sizeof store->shown, NULL) != 0) {
		snprintf(error, error_size, "%s", store->shown);
		return -1;
	}
	return 0;
}

/* libpq prints server notices (a WARNING as the server shuts down) raw on
 * stderr; they go through log_line like everything else. */
static void log_notice(void *context, const char *message)
{
	const struct pgsql_store *store = context;
	char line[REASON_SIZE];

	copy_scrubbed(line, sizeof line, message);
	log_limited("PostgreSQL %s: %s", store->shown, line);
}

static void drop_connection(struct pgsql_store *store)
{
	PQfinish(store->connection);
	store->connection = NULL;
	memset(store->is_prepared, 0, sizeof store->is_prepared);
	store->went_unnamed = 0;
}

/* Whether this connection's queries go unnamed (PQsendQueryParams). */
static int sends_unnamed(const struct pgsql_store *store)
{
	return store->config.statements == DB_STATEMENTS_UNNAMED || store->went_unnamed;
}

/* PG_STATEMENTS unset: a named statement the server does not have
 * (26000) or has already (42P05) means that a pooler in transaction mode
 * (PgBouncer) hands this connection's transactions to server connections
 * of its own, each with other statements or none. The connection goes on
 * with unnamed statements, as PG_STATEMENTS=unnamed sends them; returns 1
 * when it did so now, and the caller runs the query again. */
static int go_unnamed(struct pgsql_store *store, const char *sqlstate, const char *reason)
{
	if (store->config.statements != DB_STATEMENTS_AUTO || store->went_unnamed || sqlstate == NULL ||
	    (strcmp(sqlstate, "26000") != 0 && strcmp(sqlstate, "42P05") != 0))
		return 0;
	store->went_unnamed = 1;
	log_line("PostgreSQL %s: %s (SQLSTATE %s): a pooler in transaction mode? Queries go unnamed on this "
		 "connection from now on (PG_STATEMENTS=named or unnamed decides for every connection)",
		 store->shown, reason, sqlstate);
	return 1;
}

/* Returns 1 when the socket is ready, 0 at the deadline, -1 on error. */
static int wait_for_socket(PGconn *connection, short events, int64_t deadline_ms)
{
	int socket_fd = PQsocket(connection);

	if (socket_fd < 0)
		return -1;
	for (;;) {
		int64_t remaining_ms = deadline_ms - monotonic_ms();
		if (remaining_ms <= 0)
			return 0;
		struct pollfd poll_entry = {.fd = socket_fd, .events = events, .revents = 0};
		int ready = poll(&poll_entry, 1, (int)remaining_ms);
		if (ready > 0)
			return 1;
		if (ready == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Waits, at most EXCHANGE_DEADLINE_MS, for the answer to what was just sent
 * (sent is the send call's return value) and keeps its first result. */
static enum exchange_outcome exchange(PGconn *connection, int sent, PGresult **result_out)
{
	int64_t deadline_ms = monotonic_ms() + EXCHANGE_DEADLINE_MS;
	PGresult *first_result = NULL;
	int ready;

	*result_out = NULL;
	if (!sent)
		return EXCHANGE_LOST;
	/* Non-blocking mode: the request may still sit in libpq's buffer. Input
	 * is read meanwhile, as libpq asks, so a talking server cannot deadlock us. */
	for (;;) {
		int flushed = PQflush(connection);
		if (flushed == 0)
			break;
		if (flushed < 0)
			goto lost;
		ready = wait_for_socket(connection, POLLIN | POLLOUT, deadline_ms);
		if (ready == 0)
			goto timed_out;
		if (ready < 0 || !PQconsumeInput(connection))
			goto lost;
	}
	/* Reading until PQgetResult says NULL leaves the connection idle for the next statement. */
	for (;;) {
		while (PQisBusy(connection)) {
			ready = wait_for_socket(connection, POLLIN, deadline_ms);
			if (ready == 0)
				goto timed_out;
			if (ready < 0 || !PQconsumeInput(connection))
				goto lost;
		}
		PGresult *result = PQgetResult(connection);
		if (result == NULL)
			break;
		if (first_result == NULL)
			first_result = result;
		else
			PQclear(result);
	}
	*result_out = first_result;
	return first_result == NULL ? EXCHANGE_LOST : EXCHANGE_ANSWERED;
timed_out:
	PQclear(first_result);
	return EXCHANGE_TIMED_OUT;
lost:
	PQclear(first_result);
	return EXCHANGE_LOST;
}

/* An error answer that ends the session: the socket closed, SQLSTATE class
 * 08 (connection exception) or 57P (the server shuts down or restarts). */
static int ends_session(PGconn *connection, const PGresult *result)
{
	const char *sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);

	if (PQstatus(connection) == CONNECTION_BAD)
		return 1;
	return sqlstate != NULL && (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P", 3) == 0);
}

/* Finishes one exchange on the open connection and sorts out how it went.
 * ATTEMPT_OK hands the result to the caller; otherwise reason says why, and
 * a lost or hung connection has been dropped. */
static enum attempt_result finish_exchange(struct pgsql_store *store, int sent, ExecStatusType expected,
					   PGresult **result_out, char *reason, size_t reason_size)
{
	PGresult *result = NULL;
	enum exchange_outcome outcome = exchange(store->connection, sent, &result);
	enum attempt_result attempt = ATTEMPT_OK;

	*result_out = NULL;
	switch (outcome) {
	case EXCHANGE_TIMED_OUT:
		snprintf(reason, reason_size, "no answer within %d ms, connection dropped", EXCHANGE_DEADLINE_MS);
		attempt = ATTEMPT_TIMED_OUT;
		goto fail;
	case EXCHANGE_LOST:
		copy_scrubbed(reason, reason_size, PQerrorMessage(store->connection));
		if (reason[0] == '\0')
			snprintf(reason, reason_size, "connection lost");
		attempt = ATTEMPT_LOST;
		goto fail;
	case EXCHANGE_ANSWERED:
		break;
	}
	if (ends_session(store->connection, result)) {
		copy_scrubbed(reason, reason_size, PQresultErrorMessage(result));
		attempt = ATTEMPT_LOST;
		goto fail;
	}
	if (PQresultStatus(result) != expected) {
		const char *sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
		snprintf(store->last_sqlstate, sizeof store->last_sqlstate, "%s", sqlstate != NULL ? sqlstate : "");
		copy_scrubbed(reason, reason_size, PQresultErrorMessage(result));
		if (reason[0] == '\0')
			snprintf(reason, reason_size, "unexpected answer %s", PQresStatus(PQresultStatus(result)));
		attempt = ATTEMPT_QUERY_FAILED;
		goto fail;
	}
	*result_out = result;
	return ATTEMPT_OK;
fail:
	PQclear(result);
	if (attempt == ATTEMPT_LOST || attempt == ATTEMPT_TIMED_OUT)
		drop_connection(store);
	return attempt;
}

/* The keywords every connection is opened with. Earlier ones are defaults
 * the expanded target overrides; later ones win over it. Multi-host
 * strings reach libpq unchanged. No "options": PgBouncer refuses a
 * connection that sends that startup parameter ("unsupported startup
 * parameter: options"), so DateStyle and TimeZone are set by SESSION_SQL
 * once connected, when the server's own are not already right. */
#define CONNECTION_KEYWORDS 8
static void connection_parameters(const struct pgsql_store *store, const char **keywords, const char **values)
{
	size_t count = 0;

	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		keywords[count] = "connect_timeout";
		values[count++] = DEFAULT_CONNECT_TIMEOUT;
	}
	keywords[count] = "fallback_application_name";
	values[count++] = "webapi-fcgi";
	keywords[count] = "dbname";
	values[count++] = store->config.target;
	/* The rows end up in JSON, which is UTF-8 whatever the database's encoding. */
	keywords[count] = "client_encoding";
	values[count++] = "UTF8";
	/* After dbname, so that they replace the target's lists. */
	if (store->hosts_failed != 0) {
		keywords[count] = "host";
		values[count++] = store->remaining.host;
		if (store->remaining.hostaddr[0] != '\0') {
			keywords[count] = "hostaddr";
			values[count++] = store->remaining.hostaddr;
		}
		keywords[count] = "port";
		values[count++] = store->remaining.port;
	}
	keywords[count] = NULL;
	values[count] = NULL;
}

/* Whether the session needs SESSION_SQL: created_at is handed on in the
 * server's text form, which timefmt reads as ISO in UTC. The server
 * reports both settings at start-up (and PgBouncer its pool's). */
static int needs_session_settings(PGconn *connection)
{
	const char *date_style = PQparameterStatus(connection, "DateStyle");
	const char *time_zone = PQparameterStatus(connection, "TimeZone");

	return date_style == NULL || strncmp(date_style, "ISO", 3) != 0 || time_zone == NULL ||
	       (strcmp(time_zone, "UTC") != 0 && strcmp(time_zone, "Etc/UTC") != 0);
}

/* Connects with libpq's blocking call, bounded by connect_timeout (CGI
 * mode, and a worker's start). */
static enum attempt_result connect_store(struct pgsql_store *store, char *reason, size_t reason_size)
{
	const char *keywords[CONNECTION_KEYWORDS];
	const char *values[CONNECTION_KEYWORDS];
	PGresult *result = NULL;
	enum attempt_result attempt = ATTEMPT_LOST;

	connection_parameters(store, keywords, values);
	store->connection = PQconnectdbParams(keywords, values, 1);
	if (store->connection == NULL) {
		snprintf(reason, reason_size, "out of memory");
		return ATTEMPT_LOST;
	}
	if (PQstatus(store->connection) != CONNECTION_OK) {
		copy_scrubbed(reason, reason_size, PQerrorMessage(store->connection));
		goto fail;
	}
	PQsetNoticeProcessor(store->connection, log_notice, store);
	/* Non-blocking sends keep a hung server's full socket buffer under the deadline too. */
	if (PQsetnonblocking(store->connection, 1) != 0) {
		copy_scrubbed(reason, reason_size, PQerrorMessage(store->connection));
		goto fail;
	}
	if (needs_session_settings(store->connection)) {
		attempt = finish_exchange(
		    store, PQsendQueryParams(store->connection, SESSION_SQL, 0, NULL, NULL, NULL, NULL, 0),
		    PGRES_TUPLES_OK, &result, reason, reason_size);
		PQclear(result);
		if (attempt != ATTEMPT_OK)
			goto fail;
	}
	return ATTEMPT_OK;
fail:
	if (store->connection != NULL)
		drop_connection(store);
	return attempt == ATTEMPT_OK ? ATTEMPT_LOST : attempt;
}

/* Prepares, once per connection, the statements not prepared yet. A query
 * error (no orders table yet) leaves them unprepared, so the next call tries again. */
static enum attempt_result prepare_missing(struct pgsql_store *store, char *reason, size_t reason_size)
{
	for (int index = 0; index < PREPARED_COUNT; index++) {
		const struct prepared_query *query = &prepared_queries[index];
		PGresult *result = NULL;

		if (store->is_prepared[index])
			continue;
		enum attempt_result attempt = finish_exchange(
		    store,
		    PQsendPrepare(store->connection, query->name, query->sql, query->param_count, query->param_types),
		    PGRES_COMMAND_OK, &result, reason, reason_size);
		PQclear(result);
		if (attempt != ATTEMPT_OK)
			return attempt;
		store->is_prepared[index] = 1;
	}
	return ATTEMPT_OK;
}

static int send_statement(PGconn *connection, const struct statement *statement)
{
	if (statement->prepared_index < 0)
		return PQsendQueryParams(connection, statement->sql, statement->param_count, NULL,
					 statement->param_values, NULL, NULL, 0);
	return PQsendQueryPrepared(connection, prepared_queries[statement->prepared_index].name, statement->param_count,
				   statement->param_values, NULL, NULL, 0);
}

static enum attempt_result attempt_statement(struct pgsql_store *store, const struct statement *statement,
					     PGresult **result_out, char *reason, size_t reason_size)
{
	enum attempt_result attempt;

	*result_out = NULL;
	if (store->connection == NULL) {
		attempt = connect_store(store, reason, reason_size);
		if (attempt != ATTEMPT_OK)
			return attempt;
	}
	if (statement->prepared_index >= 0) {
		attempt = prepare_missing(store, reason, reason_size);
		if (attempt != ATTEMPT_OK)
			return attempt;
	}
	return finish_exchange(store, send_statement(store->connection, statement), PGRES_TUPLES_OK, result_out, reason,
			       reason_size);
}

/* Runs statement, connecting first when down. A connection that died while
 * idle (the server restarted) is only noticed now; one fresh connection and
 * one retry let the first request after the restart succeed. A timeout is
 * not retried: the server hangs, and a second try would double the wait. */
static enum store_status run_statement(struct pgsql_store *store, const struct statement *statement,
				       PGresult **result_out, char *reason, size_t reason_size)
{
	int was_connected = store->connection != NULL;
	enum attempt_result attempt = attempt_statement(store, statement, result_out, reason, reason_size);

	if (attempt == ATTEMPT_LOST && was_connected)
		attempt = attempt_statement(store, statement, result_out, reason, reason_size);
	switch (attempt) {
	case ATTEMPT_OK:
		return STORE_OK;
	case ATTEMPT_QUERY_FAILED:
		return STORE_QUERY_FAILED;
	case ATTEMPT_LOST:
	case ATTEMPT_TIMED_OUT:
		break;
	}
	return STORE_UNAVAILABLE;
}

/* Logs a problem when it differs from the last one logged, and a recovery
 * once. */
static void report_outcome(struct pgsql_store *store, enum store_status status, const char *reason)
{
	switch (status) {
	case STORE_PENDING:
		return;
	case STORE_OK:
	case STORE_ROW_REJECTED: /* the caller's decision, not the database's */
		if (store->last_problem[0] == '\0')
			return;
		log_line("PostgreSQL %s: working again", store->shown);
		store->last_problem[0] = '\0';
		return;
	case STORE_UNAVAILABLE:
	case STORE_QUERY_FAILED:
		break;
	}
	if (status == store->last_problem_status && strcmp(store->last_problem, reason) == 0)
		return;
	log_limited("PostgreSQL %s: %s: %s", store->shown, status == STORE_UNAVAILABLE ? "unavailable" : "query failed",
		    reason);
	snprintf(store->last_problem, sizeof store->last_problem, "%s", reason);
	store->last_problem_status = status;
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
	for (int column = COLUMN_ID; column <= COLUMN_TOTAL_CENTS; column++)
		if (!pgsql_binary_is_integer_type(PQftype(result, column)))
			return 0;
	return pgsql_binary_is_text_type(PQftype(result, COLUMN_STATUS)) &&
	       pgsql_binary_is_timestamp_type(PQftype(result, COLUMN_CREATED_AT));
}

/* One row's values, text or binary; the strings point into result or into
 * timestamp_text (binary: already the contract's ISO form). */
static int read_row(const PGresult *result, int row_index, int binary, struct order_row *row,
		    char timestamp_text[PGSQL_ISO_TIMESTAMP_SIZE], char *reason, size_t reason_size)
{
	int64_t integers[COLUMN_TOTAL_CENTS + 1];

	for (int column = 0; column < COLUMN_COUNT; column++) {
		if (PQgetisnull(result, row_index, column)) {
			snprintf(reason, reason_size, "row %d: %s is NULL", row_index, column_names[column]);
			return -1;
		}
	}
	for (int column = COLUMN_ID; column <= COLUMN_TOTAL_CENTS; column++) {
		const char *value = PQgetvalue(result, row_index, column);
		int failed =
		    binary ? pgsql_binary_integer(PQftype(result, column), value,
						  (size_t)PQgetlength(result, row_index, column), &integers[column])
			   : parse_int64(value, &integers[column]);
		if (failed) {
			snprintf(reason, reason_size, "row %d: %s is not an integer: %.40s", row_index,
				 column_names[column], binary ? "(binary)" : value);
			return -1;
		}
	}
	const char *created_at = PQgetvalue(result, row_index, COLUMN_CREATED_AT);
	if (binary) {
		if (pgsql_binary_timestamp(created_at, (size_t)PQgetlength(result, row_index, COLUMN_CREATED_AT),
					   timestamp_text) != 0) {
			snprintf(reason, reason_size, "row %d: created_at is infinite or outside years 1-9999",
				 row_index);
			return -1;
		}
		created_at = timestamp_text;
	}
	*row = (struct order_row){
	    .id = integers[COLUMN_ID],
	    .customer_id = integers[COLUMN_CUSTOMER_ID],
	    .total_cents = integers[COLUMN_TOTAL_CENTS],
	    .status = PQgetvalue(result, row_index, COLUMN_STATUS),
	    .status_len = (size_t)PQgetlength(result, row_index, COLUMN_STATUS),
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

	if (PQnfields(result) != COLUMN_COUNT) {
		snprintf(reason, reason_size, "expected %d columns, got %d", COLUMN_COUNT, PQnfields(result));
		return STORE_QUERY_FAILED;
	}
	if (binary && !binary_columns_readable(result)) {
		snprintf(reason, reason_size, "column types the binary format does not cover");
		*needs_text = 1;
		return STORE_QUERY_FAILED;
	}
	for (int row_index = 0; row_index < row_count; row_index++) {
		struct order_row row;
		if (read_row(result, row_index, binary, &row, timestamp_text, reason, reason_size) != 0)
			return STORE_QUERY_FAILED;
		if (on_row(context, &row) != 0)
			return STORE_ROW_REJECTED;
	}
	return STORE_OK;
}

/* ---- In a worker's event loop: the connection in pipeline mode (libpq 14
 * and later), several queries in flight at once, nothing ever waited for.
 *
 * A job is one statement (a PREPARE or an orders query), queued in the
 * order sent. The queries that came during one turn of the event loop go
 * out together before it waits again, as one batch with one sync point:
 * one write and one transaction on the server for all of them, where a
 * sync point per query cost a write and a commit each. A query's results
 * come back in order: its result and libpq's NULL that ends it (none after
 * an error); the batch ends with PGRES_PIPELINE_SYNC. An error aborts the
 * rest of its batch (PGRES_PIPELINE_ABORTED): those queries never ran, and
 * are sent once more. */

#define FIRST_BACKOFF_MS 100
#define MAX_BACKOFF_MS 5000
/* While the database stays away, one log line this often at most. */
#define DOWN_REMINDER_MS 10000
/* With target_session_attrs=prefer-standby, libpq settles for the primary
 * when no standby answers at connect time, and nothing brings the worker
 * back once one does: a worker on the primary reconnects this long after
 * it connected, at its next query (after the queries then in flight are
 * answered), to look again. Each look costs the primary two connections
 * per worker while there is no standby (libpq's first pass over the hosts
 * refuses the primary, its second takes it). */
#define STANDBY_SEARCH_MS 10000

enum link_state {
	LINK_DOWN,	 /* no connection; the next attempt not before retry_at_ms */
	LINK_CONNECTING, /* PQconnectPoll under way */
	LINK_READY,	 /* connected, in pipeline mode */
};

enum job_kind { JOB_SESSION, JOB_PREPARE, JOB_ORDERS };

struct job {
	struct job *next;
	enum job_kind kind;
	int prepared_index;
	unsigned statement_generation; /* the statement names it was sent with */
	char limit_text[24], offset_text[24];
	order_row_fn on_row;
	store_done_fn done; /* NULL: answered by a retry of it, or a PREPARE */
	void *context;
	long long deadline_ms;
	int retried;
	int sent_named;	     /* by the name of a prepared statement */
	int got_result;	     /* its result has come */
	unsigned long batch; /* ended by this connection's batch-th sync point */
	enum store_status status;
	char reason[REASON_SIZE];
};

struct job_queue {
	struct job *head, *tail;
};

struct pipeline {
	enum link_state state;
	unsigned generation;		   /* of the socket: each new connection */
	int socket_fd;			   /* PQsocket when last looked */
	PostgresPollingStatusType polling; /* while connecting: what PQconnectPoll wants */
	int flush_pending;		   /* libpq holds output the socket did not take */
	long long connect_deadline_ms;
	long long retry_at_ms;
	long long backoff_ms;
	unsigned statement_generation; /* names: orders_default_<n> */
	unsigned prepared_generation;  /* what this connection has prepared */
	/* Results come in binary (no text output on the server, no parsing
	 * here: README "Where the time goes") until a column's type is one
	 * pgsql_binary.h does not read; text from then on. */
	int text_results;
	/* Sync points sent and read on this connection; whether jobs were
	 * sent since the last one. */
	unsigned long batches_sent, batches_read;
	int unsynced;
	/* An error said the server is ending this session (a shutdown, a
	 * killed backend): what is in flight goes as on a lost connection. */
	int session_ending;
	/* The error that aborted the rest of the current batch, for theirs. */
	char batch_error[REASON_SIZE];
	int session_ready;	     /* DateStyle and TimeZone are right, or SESSION_SQL is sent */
	int wants_standby;	     /* target_session_attrs=prefer-standby */
	int on_standby;		     /* the server's in_hot_standby as last logged: -1 not yet */
	long long standby_search_ms; /* when to reconnect to look for a standby; 0: never */
	struct job_queue sent;	     /* in the pipeline, oldest first */
	struct job_queue waiting;    /* for the connection to be ready */
	/* The outage, for one log line when it starts, a reminder now and
	 * then, and one when it ends. */
	long long down_since_ms;
	long long last_reminder_ms;
	long attempts_while_down;
	/* For the log line at the end: what pipelining did. */
	int in_flight, most_in_flight;
	long answered, run_again;
};

static void queue_push(struct job_queue *queue, struct job *job)
{
	job->next = NULL;
	if (queue->tail != NULL)
		queue->tail->next = job;
	else
		queue->head = job;
	queue->tail = job;
}

static struct job *queue_pop(struct job_queue *queue)
{
	struct job *job = queue->head;

	if (job != NULL) {
		queue->head = job->next;
		if (queue->head == NULL)
			queue->tail = NULL;
		job->next = NULL;
	}
	return job;
}

static void statement_name(int index, unsigned generation, char *out, size_t size)
{
	snprintf(out, size, "%s_%u", prepared_queries[index].name, generation);
}

/* The job's answer goes to its caller, and the job away. */
static void complete_job(struct job *job)
{
	if (job->done != NULL)
		job->done(job->context, job->status);
	free(job);
}

static void note_outage(struct pgsql_store *store, const char *reason)
{
	struct pipeline *pipeline = store->pipeline;
	long long now = monotonic_ms();

	pipeline->attempts_while_down++;
	if (pipeline->down_since_ms == 0) {
		pipeline->down_since_ms = now;
		pipeline->last_reminder_ms = now;
		log_line("PostgreSQL %s: unavailable: %s; retrying with back-off up to %d ms", store->shown, reason,
			 MAX_BACKOFF_MS);
	} else if (now - pipeline->last_reminder_ms >= DOWN_REMINDER_MS) {
		pipeline->last_reminder_ms = now;
		log_line("PostgreSQL %s: still unavailable after %lld s and %ld attempts: %s", store->shown,
			 (now - pipeline->down_since_ms) / 1000, pipeline->attempts_while_down, reason);
	}
}

static void note_working(struct pgsql_store *store)
{
	struct pipeline *pipeline = store->pipeline;

	pipeline->backoff_ms = 0;
	if (pipeline->down_since_ms == 0)
		return;
	log_line("PostgreSQL %s: working again after %lld ms", store->shown, monotonic_ms() - pipeline->down_since_ms);
	pipeline->down_since_ms = 0;
	pipeline->attempts_while_down = 0;
}

/* The next attempt waits 100 ms, doubling to 5 s, with a quarter of
 * jitter so that the workers do not all knock at once. */
static void back_off(struct pipeline *pipeline)
{
	long long now = monotonic_ms();

	pipeline->backoff_ms = pipeline->backoff_ms == 0 ? FIRST_BACKOFF_MS : pipeline->backoff_ms * 2;
	if (pipeline->backoff_ms > MAX_BACKOFF_MS)
		pipeline->backoff_ms = MAX_BACKOFF_MS;
	long long jitter = pipeline->backoff_ms / 4;
	pipeline->retry_at_ms = now + pipeline->backoff_ms - jitter + (jitter > 0 ? random() % (2 * jitter + 1) : 0);
}

static void fail_queue(struct job_queue *queue, enum store_status status)
{
	struct job *job;

	while ((job = queue_pop(queue)) != NULL) {
		job->status = status;
		complete_job(job);
	}
}

static void send_jobs(struct pgsql_store *store);
static void start_connecting(struct pgsql_store *store);

/* The connection is gone (or hangs): every query in flight ends. One that
 * was sent on a connection that had worked (the server restarted) is sent
 * again, once, on a new one at once, and an idle one that had worked is
 * replaced with the next query; otherwise the next attempt waits. */
static void lose_connection(struct pgsql_store *store, const char *reason, int retry_in_flight)
{
	struct pipeline *pipeline = store->pipeline;
	struct job_queue retry = {NULL, NULL};
	struct job *job;

	if (store->connection != NULL)
		drop_connection(store);
	pipeline->state = LINK_DOWN;
	pipeline->prepared_generation = 0;
	pipeline->flush_pending = 0;
	pipeline->in_flight = 0;
	pipeline->batches_sent = pipeline->batches_read = 0;
	pipeline->unsynced = 0;
	pipeline->session_ending = 0;
	pipeline->standby_search_ms = 0;
	while ((job = queue_pop(&pipeline->sent)) != NULL) {
		if (job->kind == JOB_ORDERS && job->done != NULL && retry_in_flight && !job->retried) {
			job->retried = 1;
			job->got_result = 0;
			queue_push(&retry, job);
		} else if (job->kind == JOB_ORDERS && job->done != NULL) {
			job->status = STORE_UNAVAILABLE;
			complete_job(job);
		} else {
			free(job);
		}
	}
	while ((job = queue_pop(&pipeline->waiting)) != NULL)
		queue_push(&retry, job);
	pipeline->waiting = retry;
	if (retry.head != NULL && retry_in_flight) {
		pipeline->retry_at_ms = 0;
		send_jobs(store); /* connects */
		return;
	}
	if (retry_in_flight) {
		/* A working connection ended while idle (the server it was on
		 * stopped): the next query connects at once, perhaps to another
		 * host of the list; only a failed attempt starts the back-off. */
		log_line("PostgreSQL %s: connection ended: %s; connecting again with the next query", store->shown,
			 reason);
		pipeline->retry_at_ms = 0;
		return;
	}
	note_outage(store, reason);
	back_off(pipeline);
	fail_queue(&pipeline->waiting, STORE_UNAVAILABLE);
}

/* How many elements a comma list has (an empty list: none). */
static int list_count(const char *list)
{
	int count = list[0] != '\0';

	for (; *list != '\0'; list++)
		count += *list == ',';
	return count;
}

/* The index-th element of a comma list: its start, its length in *length. */
static const char *list_item(const char *list, int index, size_t *length)
{
	for (; index > 0 && *list != '\0'; list++)
		index -= *list == ',';
	*length = strcspn(list, ",");
	return list;
}

static int item_is(const char *start, size_t length, const char *text)
{
	return text != NULL && strlen(text) == length && strncmp(start, text, length) == 0;
}

/* The target's host lists, read once with libpq's parser. A list libpq
 * would refuse (port counts that differ) or a longer one than kept here
 * leaves count at 0: then no host is ever left out. */
static void read_hosts(struct pgsql_store *store)
{
	struct host_list *hosts = &store->hosts;
	PQconninfoOption *options = PQconninfoParse(store->config.target, NULL);

	memset(hosts, 0, sizeof *hosts);
	if (options == NULL)
		return;
	for (const PQconninfoOption *option = options; option->keyword != NULL; option++) {
		char *list = strcmp(option->keyword, "host") == 0	? hosts->host
			     : strcmp(option->keyword, "hostaddr") == 0 ? hosts->hostaddr
			     : strcmp(option->keyword, "port") == 0	? hosts->port
									: NULL;
		if (list == NULL || option->val == NULL)
			continue;
		if (strlen(option->val) >= HOST_LIST_SIZE)
			goto done;
		strcpy(list, option->val);
	}
	int count = list_count(hosts->host) > list_count(hosts->hostaddr) ? list_count(hosts->host)
									  : list_count(hosts->hostaddr);
	int ports = list_count(hosts->port);
	if (count <= MAX_HOSTS && (ports <= 1 || ports == count))
		hosts->count = count;
done:
	PQconninfoFree(options);
}

/* The host a failed attempt ended on, as PQhost and PQport name it
 * (the host, else the address; the port), among those not failed yet; -1
 * when it is not in the list. */
static int failed_host(const struct pgsql_store *store)
{
	const struct host_list *hosts = &store->hosts;
	const char *host = PQhost(store->connection);
	const char *port = PQport(store->connection);
	int ports = list_count(hosts->port);

	for (int index = 0; index < hosts->count; index++) {
		size_t name_length, port_length;
		const char *name = list_item(hosts->host, index, &name_length);
		if (name_length == 0)
			name = list_item(hosts->hostaddr, index, &name_length);
		const char *its_port = list_item(hosts->port, ports == hosts->count ? index : 0, &port_length);
		if ((store->hosts_failed & 1u << index) == 0 && item_is(name, name_length, host) &&
		    (port_length == 0 || item_is(its_port, port_length, port)))
			return index;
	}
	return -1;
}

/* Writes into out the elements of list whose bit is not set in failed. */
static void list_without(const char *list, int count, unsigned failed, char *out)
{
	size_t used = 0;
	int first = 1;

	for (int index = 0; index < count; index++) {
		size_t length;
		const char *item = list_item(list, index, &length);
		if (failed & 1u << index)
			continue;
		if (!first)
			out[used++] = ',';
		memcpy(out + used, item, length);
		used += length;
		first = 0;
	}
	out[used] = '\0';
}

/* A connection attempt failed. libpq gives up the rest of the list when a
 * server closes the connection while the session starts, as one shutting
 * down does ("server closed the connection unexpectedly", tests/pg-standby.t);
 * under prefer-standby its first pass has refused the primary by then, and
 * its second pass never comes. So the host it ended on is left out and the
 * others are tried at once, what waits going with them (after a timeout it
 * has waited enough, and is answered now). A back-off only once every host
 * of the list has failed. */
static void connect_failed(struct pgsql_store *store, const char *reason, int timed_out)
{
	struct pipeline *pipeline = store->pipeline;
	int failed = failed_host(store);
	unsigned all = (1u << store->hosts.count) - 1;

	if (store->hosts.count < 2 || failed < 0 || (store->hosts_failed | 1u << failed) == all) {
		store->hosts_failed = 0;
		lose_connection(store, reason, 0);
		return;
	}
	log_limited("PostgreSQL %s: %s:%s failed, trying the other hosts now: %s", store->shown,
		    PQhost(store->connection), PQport(store->connection), reason);
	store->hosts_failed |= 1u << failed;
	list_without(store->hosts.host, store->hosts.count, store->hosts_failed, store->remaining.host);
	list_without(store->hosts.hostaddr,
		     list_count(store->hosts.hostaddr) == store->hosts.count ? store->hosts.count : 0,
		     store->hosts_failed, store->remaining.hostaddr);
	if (list_count(store->hosts.port) == store->hosts.count)
		list_without(store->hosts.port, store->hosts.count, store->hosts_failed, store->remaining.port);
	else
		strcpy(store->remaining.port, store->hosts.port);
	drop_connection(store);
	pipeline->state = LINK_DOWN;
	pipeline->retry_at_ms = 0;
	if (timed_out)
		fail_queue(&pipeline->waiting, STORE_UNAVAILABLE);
	else if (pipeline->waiting.head != NULL)
		start_connecting(store);
}

static void start_connecting(struct pgsql_store *store)
{
	struct pipeline *pipeline = store->pipeline;
	const char *keywords[CONNECTION_KEYWORDS];
	const char *values[CONNECTION_KEYWORDS];
	char reason[REASON_SIZE];

	connection_parameters(store, keywords, values);
	store->connection = PQconnectStartParams(keywords, values, 1);
	pipeline->generation++;
	pipeline->socket_fd = -1;
	if (store->connection == NULL || PQstatus(store->connection) == CONNECTION_BAD) {
		if (store->connection != NULL)
			copy_scrubbed(reason, sizeof reason, PQerrorMessage(store->connection));
		else
			snprintf(reason, sizeof reason, "out of memory");
		lose_connection(store, reason, 0);
		return;
	}
	pipeline->state = LINK_CONNECTING;
	pipeline->polling = PGRES_POLLING_WRITING;
	pipeline->connect_deadline_ms = monotonic_ms() + EXCHANGE_DEADLINE_MS;
}

static int send_job(struct pgsql_store *store, struct job *job)
{
	struct pipeline *pipeline = store->pipeline;
	const struct prepared_query *query = &prepared_queries[job->prepared_index];
	const char *const page_values[] = {job->limit_text, job->offset_text};
	char name[64];
	int sent;

	job->statement_generation = pipeline->statement_generation;
	statement_name(job->prepared_index, job->statement_generation, name, sizeof name);
	if (job->kind == JOB_SESSION)
		sent = PQsendQueryParams(store->connection, SESSION_SQL, 0, NULL, NULL, NULL, NULL, 0);
	else if (job->kind == JOB_PREPARE)
		sent = PQsendPrepare(store->connection, name, query->sql, query->param_count, query->param_types);
	else if (sends_unnamed(store))
		sent = PQsendQueryParams(store->connection, query->sql, query->param_count, query->param_types,
					 query->param_count ? page_values : NULL, NULL, NULL, !pipeline->text_results);
	else
		sent =
		    PQsendQueryPrepared(store->connection, name, query->param_count,
					query->param_count ? page_values : NULL, NULL, NULL, !pipeline->text_results);
	if (!sent)
		return -1;
	job->sent_named = job->kind == JOB_ORDERS && !sends_unnamed(store);
	if (job->deadline_ms == 0)
		job->deadline_ms = monotonic_ms() + EXCHANGE_DEADLINE_MS;
	job->batch = pipeline->batches_sent + 1;
	pipeline->unsynced = 1;
	queue_push(&pipeline->sent, job);
	if (job->kind == JOB_ORDERS && ++pipeline->in_flight > pipeline->most_in_flight)
		pipeline->most_in_flight = pipeline->in_flight;
	return 0;
}

/* Sends what waits, preparing the statements first on a new connection
 * (or after a schema change gave them new names); connects when down. */
static void send_jobs(struct pgsql_store *store)
{
	struct pipeline *pipeline = store->pipeline;
	char reason[REASON_SIZE];

	if (pipeline->state == LINK_READY && pipeline->waiting.head != NULL && pipeline->standby_search_ms != 0 &&
	    monotonic_ms() >= pipeline->standby_search_ms) {
		/* The answers in flight come on this connection; the rest wait
		 * for the next one. */
		if (pipeline->sent.head != NULL)
			return;
		drop_connection(store);
		pipeline->state = LINK_DOWN;
		pipeline->standby_search_ms = 0;
		pipeline->batches_sent = pipeline->batches_read = 0;
	}
	if (pipeline->state == LINK_DOWN && pipeline->waiting.head != NULL)
		start_connecting(store);
	if (pipeline->state != LINK_READY)
		return;
	if (!pipeline->session_ready && pipeline->waiting.head != NULL) {
		struct job *session = calloc(1, sizeof *session);
		if (session == NULL || send_job(store, (*session = (struct job){.kind = JOB_SESSION}, session)) != 0) {
			free(session);
			goto lost;
		}
		pipeline->session_ready = 1;
	}
	if (!sends_unnamed(store) && pipeline->prepared_generation != pipeline->statement_generation &&
	    pipeline->waiting.head != NULL) {
		for (int index = 0; index < PREPARED_COUNT; index++) {
			struct job *prepare = calloc(1, sizeof *prepare);
			if (prepare == NULL ||
			    send_job(store, (*prepare = (struct job){.kind = JOB_PREPARE, .prepared_index = index},
					     prepare)) != 0) {
				free(prepare);
				goto lost;
			}
		}
		pipeline->prepared_generation = pipeline->statement_generation;
	}
	struct job *job;
	while ((job = queue_pop(&pipeline->waiting)) != NULL) {
		if (send_job(store, job) != 0) {
			queue_push(&pipeline->waiting, job);
			goto lost;
		}
	}
	if (pipeline->unsynced) {
		if (!PQpipelineSync(store->connection))
			goto lost;
		pipeline->batches_sent++;
		pipeline->unsynced = 0;
	}
	int flushed = PQflush(store->connection);
	if (flushed < 0)
		goto lost;
	pipeline->flush_pending = flushed == 1;
	return;
lost:
	copy_scrubbed(reason, sizeof reason, PQerrorMessage(store->connection));
	lose_connection(store, reason, 1);
}

/* Whether the connection was opened with target_session_attrs=prefer-standby
 * (in DATABASE_URL or PGTARGETSESSIONATTRS: libpq's reading of both). */
static int prefers_standby(PGconn *connection)
{
	PQconninfoOption *options = PQconninfo(connection);
	int prefers = 0;

	if (options == NULL)
		return 0;
	for (const PQconninfoOption *option = options; option->keyword != NULL; option++)
		if (strcmp(option->keyword, "target_session_attrs") == 0 && option->val != NULL)
			prefers = strcmp(option->val, "prefer-standby") == 0;
	PQconninfoFree(options);
	return prefers;
}

/* Under prefer-standby: says which kind of server the worker reads from
 * when that changes, and when on the primary, schedules the next look for
 * a standby. PostgreSQL 14 and later report in_hot_standby at start-up and
 * when it changes (a promotion); older servers and PgBouncer do not, and
 * then the worker stays where libpq put it. */
static void note_server_kind(struct pgsql_store *store)
{
	struct pipeline *pipeline = store->pipeline;
	const char *in_hot_standby = PQparameterStatus(store->connection, "in_hot_standby");

	if (!pipeline->wants_standby || in_hot_standby == NULL)
		return;
	int on_standby = strcmp(in_hot_standby, "on") == 0;
	if (on_standby != pipeline->on_standby) {
		if (on_standby)
			log_line("PostgreSQL %s: reading from the standby at %s:%s", store->shown,
				 PQhost(store->connection), PQport(store->connection));
		else
			log_line("PostgreSQL %s: reading from the primary at %s:%s, no standby answered; looking "
				 "for one every %d s",
				 store->shown, PQhost(store->connection), PQport(store->connection),
				 STANDBY_SEARCH_MS / 1000);
		pipeline->on_standby = on_standby;
	}
	if (!on_standby && pipeline->standby_search_ms == 0)
		pipeline->standby_search_ms = monotonic_ms() + STANDBY_SEARCH_MS;
}

static void become_ready(struct pgsql_store *store)
{
	struct pipeline *pipeline = store->pipeline;
	char reason[REASON_SIZE];

	PQsetNoticeProcessor(store->connection, log_notice, store);
	if (PQsetnonblocking(store->connection, 1) != 0 || !PQenterPipelineMode(store->connection)) {
		copy_scrubbed(reason, sizeof reason, PQerrorMessage(store->connection));
		lose_connection(store, reason, 0);
		return;
	}
	pipeline->state = LINK_READY;
	store->hosts_failed = 0;
	pipeline->prepared_generation = 0;
	pipeline->statement_generation++;
	pipeline->session_ready = !needs_session_settings(store->connection);
	pipeline->wants_standby = prefers_standby(store->connection);
	note_working(store);
	note_server_kind(store);
	send_jobs(store);
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
static void retry_job(struct pgsql_store *store, struct job *failed, int new_statements)
{
	struct pipeline *pipeline = store->pipeline;
	struct job *again = malloc(sizeof *again);

	if (again == NULL)
		return;
	*again = *failed;
	again->retried = 1;
	again->got_result = 0;
	again->deadline_ms = 0;
	failed->done = NULL; /* answered by the retry */
	pipeline->run_again++;
	if (new_statements && failed->statement_generation == pipeline->statement_generation)
		pipeline->statement_generation++;
	/* Sent with the next batch, once this one's results are read. */
	queue_push(&pipeline->waiting, again);
}

/* One job's result: rows go to its caller now; its status goes with the
 * sync point that ends it. */
static void take_result(struct pgsql_store *store, struct job *job, PGresult *result)
{
	ExecStatusType expected = job->kind == JOB_PREPARE ? PGRES_COMMAND_OK : PGRES_TUPLES_OK;

	job->got_result = 1;
	if (PQresultStatus(result) == expected) {
		int needs_text = 0;
		job->status =
		    job->kind == JOB_ORDERS && job->done != NULL
			? deliver_rows(result, job->on_row, job->context, &needs_text, job->reason, sizeof job->reason)
			: STORE_OK;
		/* Once only: from now on every result comes as text. */
		if (needs_text) {
			store->pipeline->text_results = 1;
			retry_job(store, job, 0);
		}
		return;
	}
	int aborted = PQresultStatus(result) == PGRES_PIPELINE_ABORTED;
	if (!aborted)
		copy_scrubbed(store->pipeline->batch_error, sizeof store->pipeline->batch_error,
			      PQresultErrorMessage(result));
	if (!aborted && ends_session(store->connection, result)) {
		/* Not the query's fault: it is sent again once on the next
		 * connection, as when the connection breaks (a 503 if none). */
		job->got_result = 0;
		store->pipeline->session_ending = 1;
		return;
	}
	if (!aborted && go_unnamed(store, PQresultErrorField(result, PG_DIAG_SQLSTATE), store->pipeline->batch_error)) {
		if (job->kind == JOB_ORDERS)
			retry_job(store, job, 0);
		return;
	}
	/* Once; and once more if it went by name and the connection has gone
	 * unnamed since (it never ran, and the next try goes unnamed). */
	int may_retry = job->kind == JOB_ORDERS && (!job->retried || (job->sent_named && sends_unnamed(store)));
	if (may_retry && (aborted || needs_new_statements(result))) {
		retry_job(store, job, !aborted);
		return;
	}
	snprintf(job->reason, sizeof job->reason, "%s%.470s", aborted ? "not run after an error in its batch: " : "",
		 store->pipeline->batch_error);
	job->status = STORE_QUERY_FAILED;
	/* A statement that could not be prepared (no orders table yet) is
	 * prepared again with the next query, and so are session settings. */
	if (job->kind == JOB_PREPARE)
		store->pipeline->prepared_generation = 0;
	if (job->kind == JOB_SESSION) {
		store->pipeline->session_ready = 0;
		report_outcome(store, STORE_QUERY_FAILED, job->reason);
	}
}

/* The oldest job's results are all in: its caller gets its answer. */
static void finish_job(struct pgsql_store *store)
{
	struct pipeline *pipeline = store->pipeline;
	struct job *job = queue_pop(&pipeline->sent);

	if (job->kind == JOB_ORDERS) {
		pipeline->in_flight--;
		pipeline->answered++;
		if (job->done != NULL)
			report_outcome(store, job->got_result ? job->status : STORE_QUERY_FAILED, job->reason);
	}
	if (!job->got_result)
		job->status = STORE_QUERY_FAILED;
	complete_job(job);
}

/* Results in the order the jobs were sent; see the comment atop the
 * event-loop part for what ends a job. */
static void read_results(struct pgsql_store *store)
{
	struct pipeline *pipeline = store->pipeline;

	while (pipeline->state == LINK_READY && !pipeline->session_ending && pipeline->sent.head != NULL &&
	       !PQisBusy(store->connection)) {
		struct job *job = pipeline->sent.head;
		PGresult *result = PQgetResult(store->connection);
		if (result == NULL) {
			if (!job->got_result)
				break; /* nothing more yet */
			finish_job(store);
			continue;
		}
		if (PQresultStatus(result) == PGRES_PIPELINE_SYNC) {
			/* Ends its batch, with a job an error ended (no NULL). */
			pipeline->batches_read++;
			while (pipeline->sent.head != NULL && pipeline->sent.head->batch <= pipeline->batches_read)
				finish_job(store);
			PQclear(result);
			continue;
		}
		if (job->got_result) {
			/* An error ended that job without a NULL: this is the next one's. */
			finish_job(store);
			job = pipeline->sent.head;
		}
		if (job != NULL)
			take_result(store, job, result);
		PQclear(result);
	}
}

static void pgsql_progress(void *handle, int readable, int writable)
{
	struct pgsql_store *store = handle;
	struct pipeline *pipeline = store->pipeline;
	char reason[REASON_SIZE];
	long long now = monotonic_ms();

	if (pipeline->state == LINK_CONNECTING) {
		if (now >= pipeline->connect_deadline_ms) {
			snprintf(reason, sizeof reason, "no connection within %d ms", EXCHANGE_DEADLINE_MS);
			connect_failed(store, reason, 1);
			return;
		}
		if (!readable && !writable)
			return;
		pipeline->polling = PQconnectPoll(store->connection);
		/* A step may have closed the socket and opened the next host's,
		 * usually under the same number, and with the same wish (to
		 * write): only a new generation makes the loop register it. */
		pipeline->generation++;
		if (pipeline->polling == PGRES_POLLING_OK) {
			become_ready(store);
		} else if (pipeline->polling == PGRES_POLLING_FAILED) {
			copy_scrubbed(reason, sizeof reason, PQerrorMessage(store->connection));
			connect_failed(store, reason, 0);
		}
		return;
	}
	if (pipeline->state != LINK_READY)
		return;
	if (writable || pipeline->flush_pending) {
		int flushed = PQflush(store->connection);
		if (flushed < 0)
			goto lost;
		pipeline->flush_pending = flushed == 1;
	}
	if (readable && !PQconsumeInput(store->connection))
		goto lost;
	read_results(store);
	if (pipeline->state == LINK_READY && pipeline->session_ending) {
		snprintf(reason, sizeof reason, "%s", pipeline->batch_error);
		lose_connection(store, reason, 1);
		return;
	}
	if (pipeline->state == LINK_READY && PQstatus(store->connection) == CONNECTION_BAD)
		goto lost;
	if (pipeline->state == LINK_READY)
		note_server_kind(store); /* a standby promoted says so */
	if (pipeline->state == LINK_READY && pipeline->sent.head != NULL && now >= pipeline->sent.head->deadline_ms) {
		/* The server hangs: what waits on it is answered now, and the
		 * next connection only after a back-off. */
		snprintf(reason, sizeof reason, "no answer within %d ms, connection dropped", EXCHANGE_DEADLINE_MS);
		lose_connection(store, reason, 0);
	}
	return;
lost:
	copy_scrubbed(reason, sizeof reason, PQerrorMessage(store->connection));
	if (reason[0] == '\0')
		snprintf(reason, sizeof reason, "connection lost");
	lose_connection(store, reason, 1);
}

/* The first call in a worker's loop takes over what the blocking open
 * left: a connection goes into pipeline mode, none is tried at once. */
static struct pipeline *pipeline_of(struct pgsql_store *store)
{
	if (store->pipeline != NULL)
		return store->pipeline;
	store->pipeline = calloc(1, sizeof *store->pipeline);
	if (store->pipeline == NULL)
		return NULL;
	store->pipeline->socket_fd = -1;
	store->pipeline->on_standby = -1;
	/* The back-off's jitter differs from worker to worker. */
	srandom((unsigned)getpid() ^ (unsigned)monotonic_ms());
	if (store->connection != NULL) {
		store->pipeline->generation++;
		become_ready(store);
	}
	return store->pipeline;
}

static void pgsql_wait(void *handle, struct store_wait *wait)
{
	struct pgsql_store *store = handle;
	struct pipeline *pipeline = pipeline_of(store);

	memset(wait, 0, sizeof *wait);
	wait->fd = -1;
	/* The event loop is about to wait: what this turn queued goes now. */
	if (pipeline != NULL && pipeline->state == LINK_READY && pipeline->waiting.head != NULL)
		send_jobs(store);
	if (pipeline == NULL || pipeline->state == LINK_DOWN)
		return;
	int fd = PQsocket(store->connection);
	/* libpq may open another socket while connecting (the next host). */
	if (fd != pipeline->socket_fd) {
		pipeline->socket_fd = fd;
		pipeline->generation++;
	}
	wait->fd = fd;
	wait->generation = pipeline->generation;
	if (pipeline->state == LINK_CONNECTING) {
		wait->readable = pipeline->polling == PGRES_POLLING_READING;
		wait->writable = pipeline->polling != PGRES_POLLING_READING;
		wait->deadline_ms = pipeline->connect_deadline_ms;
		return;
	}
	/* Always readable: a server that closes an idle connection is seen. */
	wait->readable = 1;
	wait->writable = pipeline->flush_pending;
	if (pipeline->sent.head != NULL)
		wait->deadline_ms = pipeline->sent.head->deadline_ms;
}

static enum store_status pgsql_start_orders(void *handle, const struct order_page *page, order_row_fn on_row,
					    store_done_fn done, void *context)
{
	struct pgsql_store *store = handle;
	struct pipeline *pipeline = pipeline_of(store);

	if (pipeline == NULL)
		return STORE_UNAVAILABLE;
	/* Backing off: no attempt, an answer at once. */
	if (pipeline->state == LINK_DOWN && monotonic_ms() < pipeline->retry_at_ms)
		return STORE_UNAVAILABLE;
	struct job *job = calloc(1, sizeof *job);
	if (job == NULL)
		return STORE_UNAVAILABLE;
	job->kind = JOB_ORDERS;
	job->prepared_index = page->is_default ? ORDERS_DEFAULT : ORDERS_PAGE;
	snprintf(job->limit_text, sizeof job->limit_text, "%" PRId64, page->limit);
	snprintf(job->offset_text, sizeof job->offset_text, "%" PRId64, page->offset);
	job->on_row = on_row;
	job->done = done;
	job->context = context;
	job->deadline_ms = monotonic_ms() + EXCHANGE_DEADLINE_MS;
	queue_push(&pipeline->waiting, job);
	/* Connected, it goes with this turn's batch (pgsql_wait); down, the
	 * attempt to connect starts now. */
	if (pipeline->state == LINK_DOWN)
		send_jobs(store);
	return STORE_PENDING;
}

static void pipeline_free(struct pgsql_store *store)
{
	struct pipeline *pipeline = store->pipeline;

	if (pipeline == NULL)
		return;
	if (pipeline->answered > 0)
		log_line(
		    "PostgreSQL %s: %ld queries answered on this worker's connections, at most %d in flight at once, "
		    "%ld run again",
		    store->shown, pipeline->answered, pipeline->most_in_flight, pipeline->run_again);
	fail_queue(&pipeline->sent, STORE_UNAVAILABLE);
	fail_queue(&pipeline->waiting, STORE_UNAVAILABLE);
	free(pipeline);
	store->pipeline = NULL;
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
	pipeline_free(store);
	if (store->connection != NULL)
		drop_connection(store);
	free(store);
}

static void *pgsql_open(const struct db_config *config, char *error, size_t error_size)
{
	struct pgsql_store *store = calloc(1, sizeof *store);
	char reason[REASON_SIZE] = "";

	if (error_size > 0)
		error[0] = '\0';
	if (store == NULL) {
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	store->config = *config;
	if (read_connection_string(store, error, error_size) != 0)
		goto fail;
	read_hosts(store);
	/* The worker must come up, and answer GET /, while the database is
	 * down: an unreachable database yields a handle that connects later. */
	enum attempt_result attempt = connect_store(store, reason, sizeof reason);
	if (attempt == ATTEMPT_OK && !sends_unnamed(store))
		attempt = prepare_missing(store, reason, sizeof reason);
	switch (attempt) {
	case ATTEMPT_OK:
		break;
	case ATTEMPT_QUERY_FAILED:
		if (!go_unnamed(store, store->last_sqlstate, reason))
			report_outcome(store, STORE_QUERY_FAILED, reason);
		break;
	case ATTEMPT_LOST:
	case ATTEMPT_TIMED_OUT:
		/* Not remembered as last_problem: the first failing request logs
		 * it again, in case the caller does not log error for a live handle. */
		snprintf(error, error_size, "PostgreSQL %s unreachable, retrying on each request: %s", store->shown,
			 reason);
		break;
	}
	return store;
fail:
	pgsql_close(store);
	return NULL;
}

static enum store_status pgsql_fetch_orders(void *handle, const struct order_page *page, order_row_fn on_row,
					    void *context)
{
	struct pgsql_store *store = handle;
	char limit_text[24];
	char offset_text[24];
	const char *const page_values[] = {limit_text, offset_text};
	struct statement statement = {ORDERS_DEFAULT, NULL, 0, NULL};
	PGresult *result = NULL;
	char reason[REASON_SIZE] = "";

	if (!page->is_default) {
		snprintf(limit_text, sizeof limit_text, "%" PRId64, page->limit);
		snprintf(offset_text, sizeof offset_text, "%" PRId64, page->offset);
		statement.prepared_index = ORDERS_PAGE;
		statement.param_count = 2;
		statement.param_values = page_values;
	}
	enum store_status status;
	for (;;) {
		if (sends_unnamed(store)) {
			statement.sql = prepared_queries[page->is_default ? ORDERS_DEFAULT : ORDERS_PAGE].sql;
			statement.prepared_index = -1;
		}
		status = run_statement(store, &statement, &result, reason, sizeof reason);
		/* Once at most: go_unnamed says yes only while the connection is named. */
		if (status != STORE_QUERY_FAILED || !go_unnamed(store, store->last_sqlstate, reason))
			break;
	}
	int needs_text = 0; /* this path asks for text */
	if (status == STORE_OK)
		status = deliver_rows(result, on_row, context, &needs_text, reason, sizeof reason);
	PQclear(result);
	report_outcome(store, status, reason);
	return status;
}

const struct store_backend pgsql_backend = {
    .open = pgsql_open,
    .fetch_orders = pgsql_fetch_orders,
    .close = pgsql_close,
    .async = &pgsql_async,
};
