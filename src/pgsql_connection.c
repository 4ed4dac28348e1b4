/* pgsql_connection.c: one libpq connection of the PostgreSQL store: hosts, failover, standby, back-off. */
#include "pgsql_connection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "pgsql_conninfo.h"

/* libpq's own bound on each connection attempt (per host of a multi-host
 * string); a connect_timeout in the string or PGCONNECT_TIMEOUT wins. */
#define DEFAULT_CONNECT_TIMEOUT "2"

/* The back-off between failed attempts: the first wait, doubling up to the
 * last. Shorter than the supervisor's for its workers: a request waits on
 * this one. */
#define PGSQL_FIRST_BACKOFF_MS 100
#define PGSQL_MAX_BACKOFF_MS 5000
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

/* The password is masked where it stands, in the target as the log names
 * it (shown), never by searching messages for it: that masked the "p" of
 * "port" and the "server" of "connection to server", which told the
 * password. libpq's messages do not hold it: only its parse errors quote
 * the connection string, and pgsql_conninfo_describe reports those without
 * the quote at start-up; it also refuses a target whose password libpq
 * would read in part as a host, port or database name, which connection
 * errors quote. The server's messages name the user, never the password. */
void pgsql_connection_scrub(char *out, size_t out_size, const char *text)
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

void pgsql_connection_error(const struct pgsql_connection *connection, char *reason, size_t reason_size)
{
	pgsql_connection_scrub(reason, reason_size, connection->pq != NULL ? PQerrorMessage(connection->pq) : "");
	if (reason[0] == '\0')
		snprintf(reason, reason_size, "connection lost");
}

/* libpq prints server notices (a WARNING as the server shuts down) raw on
 * stderr; they go through log_line like everything else. */
static void log_notice(void *context, const char *message)
{
	const struct pgsql_connection *connection = context;
	char line[PGSQL_REASON_SIZE];

	pgsql_connection_scrub(line, sizeof line, message);
	log_limited("PostgreSQL %s: %s", connection->shown, line);
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
static void read_hosts(struct pgsql_connection *connection)
{
	struct pgsql_host_list *hosts = &connection->hosts;
	PQconninfoOption *options = PQconninfoParse(connection->target, NULL);

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
		if (strlen(option->val) >= PGSQL_HOST_LIST_SIZE)
			goto done;
		strcpy(list, option->val);
	}
	int count = list_count(hosts->host) > list_count(hosts->hostaddr) ? list_count(hosts->host)
									  : list_count(hosts->hostaddr);
	int ports = list_count(hosts->port);
	if (count <= PGSQL_MAX_HOSTS && (ports <= 1 || ports == count))
		hosts->count = count;
done:
	PQconninfoFree(options);
}

int pgsql_connection_init(struct pgsql_connection *connection, const char *target, char *error, size_t error_size)
{
	memset(connection, 0, sizeof *connection);
	connection->target = target;
	connection->socket_fd = -1;
	connection->on_standby = -1;
	if (pgsql_conninfo_describe(target, connection->shown, sizeof connection->shown, NULL) != 0) {
		snprintf(error, error_size, "%s", connection->shown);
		return -1;
	}
	read_hosts(connection);
	return 0;
}

/* The keywords every connection is opened with. Earlier ones are defaults
 * the expanded target overrides; later ones win over it. Multi-host
 * strings reach libpq unchanged. No "options": PgBouncer refuses a
 * connection that sends that startup parameter ("unsupported startup
 * parameter: options"), so DateStyle and TimeZone are set by a query
 * once connected, when the server's own are not already right. */
#define CONNECTION_KEYWORDS 8
static void connection_parameters(const struct pgsql_connection *connection, const char **keywords, const char **values)
{
	size_t count = 0;

	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		keywords[count] = "connect_timeout";
		values[count++] = DEFAULT_CONNECT_TIMEOUT;
	}
	keywords[count] = "fallback_application_name";
	values[count++] = "webapi-fcgi";
	keywords[count] = "dbname";
	values[count++] = connection->target;
	/* The rows end up in JSON, which is UTF-8 whatever the database's encoding. */
	keywords[count] = "client_encoding";
	values[count++] = "UTF8";
	/* After dbname, so that they replace the target's lists. */
	if (connection->hosts_failed != 0) {
		keywords[count] = "host";
		values[count++] = connection->remaining.host;
		if (connection->remaining.hostaddr[0] != '\0') {
			keywords[count] = "hostaddr";
			values[count++] = connection->remaining.hostaddr;
		}
		keywords[count] = "port";
		values[count++] = connection->remaining.port;
	}
	keywords[count] = NULL;
	values[count] = NULL;
}

/* The server reports both settings at start-up (and PgBouncer its pool's). */
int pgsql_connection_needs_session_settings(const struct pgsql_connection *connection)
{
	const char *date_style = PQparameterStatus(connection->pq, "DateStyle");
	const char *time_zone = PQparameterStatus(connection->pq, "TimeZone");

	return date_style == NULL || strncmp(date_style, "ISO", 3) != 0 || time_zone == NULL ||
	       (strcmp(time_zone, "UTC") != 0 && strcmp(time_zone, "Etc/UTC") != 0);
}

void pgsql_connection_drop(struct pgsql_connection *connection)
{
	PQfinish(connection->pq);
	connection->pq = NULL;
	connection->state = PGSQL_CONNECTION_DOWN;
	connection->standby_search_ms = 0;
}

/* The host a failed attempt ended on, as PQhost and PQport name it
 * (the host, else the address; the port), among those not failed yet; -1
 * when it is not in the list. */
static int failed_host(const struct pgsql_connection *connection)
{
	const struct pgsql_host_list *hosts = &connection->hosts;
	const char *host = PQhost(connection->pq);
	const char *port = PQport(connection->pq);
	int ports = list_count(hosts->port);

	for (int index = 0; index < hosts->count; index++) {
		size_t name_length, port_length;
		const char *name = list_item(hosts->host, index, &name_length);
		if (name_length == 0)
			name = list_item(hosts->hostaddr, index, &name_length);
		const char *its_port = list_item(hosts->port, ports == hosts->count ? index : 0, &port_length);
		if ((connection->hosts_failed & 1u << index) == 0 && item_is(name, name_length, host) &&
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

/* An attempt failed. libpq gives up the rest of the list when a server
 * closes the connection while the session starts, as one shutting down
 * does ("server closed the connection unexpectedly", tests/pg-standby.t);
 * under prefer-standby its first pass has refused the primary by then, and
 * its second pass never comes. So the host it ended on is left out and the
 * others are worth a try at once. A back-off only once every host of the
 * list has failed. */
static enum pgsql_connection_step attempt_failed(struct pgsql_connection *connection, const char *reason, int timed_out)
{
	struct pgsql_host_list *remaining = &connection->remaining;
	const struct pgsql_host_list *hosts = &connection->hosts;
	int failed = connection->pq != NULL ? failed_host(connection) : -1;
	unsigned all = (1u << hosts->count) - 1;

	connection->timed_out = timed_out;
	snprintf(connection->last_failure, sizeof connection->last_failure, "%s", reason);
	if (hosts->count < 2 || failed < 0 || (connection->hosts_failed | 1u << failed) == all) {
		connection->hosts_failed = 0;
		pgsql_connection_drop(connection);
		return PGSQL_STEP_FAILED;
	}
	log_limited("PostgreSQL %s: %s:%s failed, trying the other hosts now: %s", connection->shown,
		    PQhost(connection->pq), PQport(connection->pq), reason);
	connection->hosts_failed |= 1u << failed;
	list_without(hosts->host, hosts->count, connection->hosts_failed, remaining->host);
	list_without(hosts->hostaddr, list_count(hosts->hostaddr) == hosts->count ? hosts->count : 0,
		     connection->hosts_failed, remaining->hostaddr);
	if (list_count(hosts->port) == hosts->count)
		list_without(hosts->port, hosts->count, connection->hosts_failed, remaining->port);
	else
		strcpy(remaining->port, hosts->port);
	pgsql_connection_drop(connection);
	connection->retry_at_ms = 0;
	return PGSQL_STEP_OTHER_HOSTS;
}

enum pgsql_connection_step pgsql_connection_start(struct pgsql_connection *connection, char *reason, size_t reason_size)
{
	const char *keywords[CONNECTION_KEYWORDS];
	const char *values[CONNECTION_KEYWORDS];

	connection_parameters(connection, keywords, values);
	connection->pq = PQconnectStartParams(keywords, values, 1);
	connection->generation++;
	connection->socket_fd = -1;
	if (connection->pq == NULL || PQstatus(connection->pq) == CONNECTION_BAD) {
		if (connection->pq != NULL)
			pgsql_connection_scrub(reason, reason_size, PQerrorMessage(connection->pq));
		else
			snprintf(reason, reason_size, "out of memory");
		snprintf(connection->last_failure, sizeof connection->last_failure, "%s", reason);
		pgsql_connection_drop(connection);
		return PGSQL_STEP_FAILED;
	}
	connection->state = PGSQL_CONNECTION_CONNECTING;
	connection->polling = PGRES_POLLING_WRITING;
	connection->connect_deadline_ms = clock_monotonic_ms() + PGSQL_DEADLINE_MS;
	return PGSQL_STEP_WAITING;
}

/* Whether the connection was opened with target_session_attrs=prefer-standby
 * (in DATABASE_URL or PGTARGETSESSIONATTRS: libpq's reading of both). */
static int prefers_standby(PGconn *pq)
{
	PQconninfoOption *options = PQconninfo(pq);
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
void pgsql_connection_note_server_kind(struct pgsql_connection *connection)
{
	const char *in_hot_standby =
	    connection->wants_standby ? PQparameterStatus(connection->pq, "in_hot_standby") : NULL;

	if (in_hot_standby == NULL)
		return;
	int on_standby = strcmp(in_hot_standby, "on") == 0;
	if (on_standby != connection->on_standby) {
		if (on_standby)
			log_line("PostgreSQL %s: reading from the standby at %s:%s", connection->shown,
				 PQhost(connection->pq), PQport(connection->pq));
		else
			log_line("PostgreSQL %s: reading from the primary at %s:%s, no standby answered; looking "
				 "for one every %d s",
				 connection->shown, PQhost(connection->pq), PQport(connection->pq),
				 STANDBY_SEARCH_MS / 1000);
		connection->on_standby = on_standby;
	}
	if (!on_standby && connection->standby_search_ms == 0)
		connection->standby_search_ms = clock_monotonic_ms() + STANDBY_SEARCH_MS;
}

int pgsql_connection_standby_search_due(const struct pgsql_connection *connection)
{
	return connection->state == PGSQL_CONNECTION_READY && connection->standby_search_ms != 0 &&
	       clock_monotonic_ms() >= connection->standby_search_ms;
}

static void note_working(struct pgsql_connection *connection)
{
	connection->backoff_ms = 0;
	if (connection->down_since_ms == 0)
		return;
	log_line("PostgreSQL %s: working again after %lld ms", connection->shown,
		 clock_monotonic_ms() - connection->down_since_ms);
	connection->down_since_ms = 0;
	connection->attempts_while_down = 0;
}

/* Non-blocking sends keep a hung server's full socket buffer under the
 * deadline too; pipeline mode (libpq 14) lets several queries be in flight. */
static enum pgsql_connection_step become_ready(struct pgsql_connection *connection, char *reason, size_t reason_size)
{
	PQsetNoticeProcessor(connection->pq, log_notice, connection);
	if (PQsetnonblocking(connection->pq, 1) != 0 || !PQenterPipelineMode(connection->pq)) {
		pgsql_connection_error(connection, reason, reason_size);
		snprintf(connection->last_failure, sizeof connection->last_failure, "%s", reason);
		pgsql_connection_drop(connection);
		return PGSQL_STEP_FAILED;
	}
	connection->state = PGSQL_CONNECTION_READY;
	connection->hosts_failed = 0;
	connection->wants_standby = prefers_standby(connection->pq);
	note_working(connection);
	pgsql_connection_note_server_kind(connection);
	return PGSQL_STEP_READY;
}

enum pgsql_connection_step pgsql_connection_poll(struct pgsql_connection *connection, int readable, int writable,
						 char *reason, size_t reason_size)
{
	if (clock_monotonic_ms() >= connection->connect_deadline_ms) {
		snprintf(reason, reason_size, "no connection within %d ms", PGSQL_DEADLINE_MS);
		return attempt_failed(connection, reason, 1);
	}
	if (!readable && !writable)
		return PGSQL_STEP_WAITING;
	connection->polling = PQconnectPoll(connection->pq);
	/* A step may have closed the socket and opened the next host's,
	 * usually under the same number, and with the same wish (to write):
	 * only a new generation makes the loop register it. */
	connection->generation++;
	if (connection->polling == PGRES_POLLING_OK)
		return become_ready(connection, reason, reason_size);
	if (connection->polling == PGRES_POLLING_FAILED) {
		pgsql_connection_error(connection, reason, reason_size);
		return attempt_failed(connection, reason, 0);
	}
	return PGSQL_STEP_WAITING;
}

/* The next attempt waits PGSQL_FIRST_BACKOFF_MS, doubling to
 * PGSQL_MAX_BACKOFF_MS, with a quarter of jitter so that the workers do
 * not all knock at once. */
void pgsql_connection_back_off(struct pgsql_connection *connection, const char *reason)
{
	long long now = clock_monotonic_ms();

	connection->attempts_while_down++;
	if (connection->quiet) {
		/* The opener reports this one. */
	} else if (connection->down_since_ms == 0) {
		connection->down_since_ms = now;
		connection->last_reminder_ms = now;
		if (connection->once)
			log_line("PostgreSQL %s: unavailable: %s", connection->shown, reason);
		else
			log_line("PostgreSQL %s: unavailable: %s; retrying with back-off up to %d ms",
				 connection->shown, reason, PGSQL_MAX_BACKOFF_MS);
	} else if (now - connection->last_reminder_ms >= DOWN_REMINDER_MS) {
		connection->last_reminder_ms = now;
		log_line("PostgreSQL %s: still unavailable after %lld s and %ld attempts: %s", connection->shown,
			 (now - connection->down_since_ms) / 1000, connection->attempts_while_down, reason);
	}
	connection->backoff_ms = connection->backoff_ms == 0 ? PGSQL_FIRST_BACKOFF_MS : connection->backoff_ms * 2;
	if (connection->backoff_ms > PGSQL_MAX_BACKOFF_MS)
		connection->backoff_ms = PGSQL_MAX_BACKOFF_MS;
	long long jitter = connection->backoff_ms / 4;
	connection->retry_at_ms =
	    now + connection->backoff_ms - jitter + (jitter > 0 ? random() % (2 * jitter + 1) : 0);
}
