/* pgsql_connection.h: one libpq connection of the PostgreSQL store: hosts, failover, standby, back-off. */
#ifndef WEBAPI_PGSQL_CONNECTION_H
#define WEBAPI_PGSQL_CONNECTION_H

#include <stddef.h>

#include <libpq-fe.h>

/* libpq waits for a reply forever; a hung server (SIGSTOPped, stuck on I/O)
 * must cost a request no more than this, and so must a connection attempt. */
#define PGSQL_DEADLINE_MS 2000

#define PGSQL_REASON_SIZE 512

/* The hosts of a multi-host target, as libpq reads them: comma lists
 * without escapes (libpq's parse_comma_separated_list), a port list of one
 * or of one port per host. Kept so that an attempt can leave out the hosts
 * that failed. */
#define PGSQL_MAX_HOSTS 16
#define PGSQL_HOST_LIST_SIZE 1024
struct pgsql_host_list {
	int count; /* below 2: nothing to leave out */
	char host[PGSQL_HOST_LIST_SIZE], hostaddr[PGSQL_HOST_LIST_SIZE], port[PGSQL_HOST_LIST_SIZE];
};

enum pgsql_connection_state {
	PGSQL_CONNECTION_DOWN,	     /* no connection; the next attempt not before retry_at_ms */
	PGSQL_CONNECTION_CONNECTING, /* PQconnectPoll under way */
	PGSQL_CONNECTION_READY,	     /* connected, non-blocking, in pipeline mode */
};

/* How a step of connecting went (pgsql_connection_poll). */
enum pgsql_connection_step {
	PGSQL_STEP_WAITING,	/* still connecting */
	PGSQL_STEP_READY,	/* connected: the queries can go */
	PGSQL_STEP_OTHER_HOSTS, /* that host failed; the others are worth a try now */
	PGSQL_STEP_FAILED,	/* every host failed, or the one there is */
};

struct pgsql_connection {
	PGconn *pq; /* NULL while down */
	enum pgsql_connection_state state;
	const char *target;		   /* DATABASE_URL, owned by the store */
	unsigned generation;		   /* of the socket: each new connection */
	int socket_fd;			   /* PQsocket when last looked */
	PostgresPollingStatusType polling; /* while connecting: what PQconnectPoll wants */
	long long connect_deadline_ms;
	long long retry_at_ms;
	long long backoff_ms;
	int timed_out;			      /* the last attempt ran out of time, not of hosts */
	char last_failure[PGSQL_REASON_SIZE]; /* why the last attempt failed */
	/* libpq's reading of the target, password masked: how the log names it. */
	char shown[1024];
	struct pgsql_host_list hosts;
	/* Bit i: hosts[i] failed since the last connection; the next attempt
	 * goes to the others, through the lists in remaining. */
	unsigned hosts_failed;
	struct pgsql_host_list remaining;
	int wants_standby;	     /* target_session_attrs=prefer-standby */
	int on_standby;		     /* the server's in_hot_standby as last logged: -1 not yet */
	long long standby_search_ms; /* when to reconnect to look for a standby; 0: never */
	/* The outage, for one log line when it starts, a reminder now and
	 * then, and one when it ends. quiet: the first failure is the
	 * opener's to report (store_open's error). */
	long long down_since_ms;
	long long last_reminder_ms;
	long attempts_while_down;
	int quiet;
	int once; /* CGI mode: one request, no retry to announce */
};

/* Reads target (kept by pointer) and checks its syntax, so a typo is
 * reported at start-up rather than as an endless outage. Returns 0, or -1
 * with a reason in error. */
int pgsql_connection_init(struct pgsql_connection *connection, const char *target, char *error, size_t error_size);

/* Starts an attempt; a failure at once leaves the state DOWN and returns
 * PGSQL_STEP_FAILED with a reason. */
enum pgsql_connection_step pgsql_connection_start(struct pgsql_connection *connection, char *reason,
						  size_t reason_size);
/* One step of an attempt under way, when its socket is ready or its
 * deadline has come. */
enum pgsql_connection_step pgsql_connection_poll(struct pgsql_connection *connection, int readable, int writable,
						 char *reason, size_t reason_size);
/* Closes the connection, if any: the state is DOWN. */
void pgsql_connection_drop(struct pgsql_connection *connection);
/* An attempt failed on every host, or a working connection hung: logs the
 * outage and sets when the next attempt may come. */
void pgsql_connection_back_off(struct pgsql_connection *connection, const char *reason);
/* Whether a connection on the primary under prefer-standby is due to be
 * replaced, to look for a standby again. */
int pgsql_connection_standby_search_due(const struct pgsql_connection *connection);
/* A server reports in_hot_standby when it changes (a promotion). */
void pgsql_connection_note_server_kind(struct pgsql_connection *connection);
/* Whether DateStyle and TimeZone need setting for created_at's text. */
int pgsql_connection_needs_session_settings(const struct pgsql_connection *connection);

/* Copies a libpq message into one log-friendly line: newlines and tabs
 * become single spaces, and nothing else changes. */
void pgsql_connection_scrub(char *out, size_t out_size, const char *text);
/* The connection's last error, scrubbed; "connection lost" when empty. */
void pgsql_connection_error(const struct pgsql_connection *connection, char *reason, size_t reason_size);

#endif
