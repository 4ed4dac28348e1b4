/* loop.h: a worker's event loop: the listening socket, every connection's bytes in and out, deadlines, the cap. */
#ifndef WEBAPI_LOOP_H
#define WEBAPI_LOOP_H

/*
 * The loop knows connections, not FastCGI (lighttpd's gw_backend.c keeps
 * the same split from mod_fastcgi.c): it reads every byte a connection
 * sends into memory and hands it to the protocol (loop_protocol), writes
 * what the protocol sends as the socket takes it, and keeps each
 * connection's deadline. No socket is ever read or written outside it,
 * and none blocks: a peer that stops reading or sending costs only its
 * own connection, cut at its deadline.
 */

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include "log.h"

struct allowed_peers;

/* What the loop publishes for the status page (in shared memory): one
 * writer, this worker's loop, so relaxed loads and stores (status.h). All
 * three are required. */
struct loop_gauges {
	_Atomic unsigned long long *accepted; /* connections accepted, ever */
	_Atomic int *held;		      /* connections open now */
	_Atomic int *kept;		      /* of them, kept ones waiting for their next request */
};

struct loop_settings {
	int listen_fd;
	const struct allowed_peers *allowed_peers;
	long long request_timeout_ms;	/* a request's bytes once they start, and an answer's once it stalls */
	long long keepalive_timeout_ms; /* a connection with no request started: kept or new */
	int max_connections;		/* held at once by this worker */
	size_t max_input_bytes;		/* the most a connection's unused input may take */
	pid_t supervisor;		/* a worker whose supervisor is gone stops at once */
	volatile sig_atomic_t *stop;	/* set by a signal: finish what has started, then return */
	/* Set with stop when the worker is replaced while the web server goes
	 * on (SIGHUP, an upgrade): kept connections stay open, as the web
	 * server may be sending on them, until they idle past the idle time
	 * or the web server closes them (loop.c, still_lingering). */
	_Atomic int *linger; /* read with acquire: the supervisor sets it before its signal */
	/* Shared with the supervisor's watchdog: refreshed on every turn of
	 * the loop; while requests are being answered, when the oldest one
	 * was handed over (waiting for the database included). activity.h
	 * says with which orderings. */
	_Atomic long long *heartbeat_ms;
	_Atomic long long *busy_since_ms;
	struct loop_gauges gauges;
};

struct loop;
struct loop_connection;

/* Where a connection is, for its deadline and for what the loop does
 * with it when it needs room or stops. */
enum loop_phase {
	LOOP_IDLE,	/* no request started: new, or kept after an answer */
	LOOP_RECEIVING, /* a request's bytes have started to come */
	LOOP_BUSY,	/* a request is being answered: its input waits */
};

/* The protocol spoken on every connection (fcgi.h). Its state needs
 * no cleaning when a connection closes: a request still being answered
 * ends with loop_request_done, which frees a connection closed meanwhile. */
struct loop_protocol {
	size_t state_size; /* its state per connection, zeroed at accept: loop_state */
	/* The connection's input grew (or may be used again after an
	 * answer): uses what is whole, moving bytes within input and
	 * shortening *length as it likes. Returns how many bytes at the
	 * start are done with. Not called while the connection is busy or
	 * its output is over the cap. */
	size_t (*input)(void *context, struct loop_connection *connection, unsigned char *input, size_t *length);
	/* Writes what the connection is on, for a log line that names its
	 * peer (loop_subject): ", request GET /orders", or nothing. */
	void (*describe)(void *context, struct loop_connection *connection, char *out, size_t out_size);
	void *context;
};

/* Something else the worker waits on: the database's socket. Before each
 * wait the loop asks what it wants (want), and calls ready with the epoll
 * events that came, or with 0 once deadline_ms has passed. */
struct loop_source_wants {
	int fd;		       /* -1: nothing to wait on */
	unsigned events;       /* EPOLLIN, EPOLLOUT */
	unsigned generation;   /* changes with each new connection */
	long long deadline_ms; /* clock_monotonic_ms(); 0: none */
};
struct loop_source {
	void (*want)(void *context, struct loop_source_wants *wants);
	void (*ready)(void *context, unsigned events);
	void *context;
};

struct loop *loop_create(const struct loop_settings *settings, const struct loop_protocol *protocol, char *error,
			 size_t error_size);
void loop_destroy(struct loop *loop);

/* Serves until *settings->stop, then stops accepting and returns 0 once
 * every connection is closed (-1 when the event loop itself failed). */
int loop_run(struct loop *loop);

/* The protocol's state for the connection (state_size bytes). */
void *loop_state(struct loop_connection *connection);

/* What a log line about the connection is about (log.h): its peer, and
 * what the protocol says it is on. */
struct log_subject loop_subject(struct loop_connection *connection);

/* Queues bytes to send on the connection (written at once when the
 * socket takes them). Nothing happens on a closed connection. */
void loop_send(struct loop_connection *connection, const void *bytes, size_t length);

void loop_set_phase(struct loop_connection *connection, enum loop_phase phase);

/* The request being answered has its answer queued: the connection waits
 * for its next request when keep is set and the worker is not leaving,
 * else it closes once its output is written. Frees a connection closed
 * meanwhile. */
void loop_request_done(struct loop_connection *connection, int keep);

/* Closes the connection once what is queued is written. */
void loop_close_after_send(struct loop_connection *connection);
/* Closes it now with a reset, dropping what is queued (a protocol error). */
void loop_close_now(struct loop_connection *connection);

/* Puts this worker last among those the kernel wakes for a new
 * connection: one that cannot reach its database leaves new requests to
 * the workers that can. */
void loop_step_back(struct loop *loop);

/* Watches source too (one at most). */
void loop_set_source(struct loop *loop, const struct loop_source *source);

#endif
