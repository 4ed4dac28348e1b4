/* loop.h: a worker's event loop: the shared listening socket and every FastCGI connection it holds, with their deadlines. */
#ifndef WEBAPI_LOOP_H
#define WEBAPI_LOOP_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include <fcgiapp.h>

struct allowed_peers;

/* What the loop publishes for the status page (in shared memory): one
 * writer, this worker's loop. All three are required. */
struct loop_gauges {
	volatile unsigned long long *accepted; /* connections accepted, ever */
	volatile int *held;		       /* connections open now */
	volatile int *kept;		       /* of them, kept ones waiting for their next request */
};

struct loop_settings {
	int listen_fd;
	const struct allowed_peers *allowed_peers;
	long long request_timeout_ms;	/* a request's records, once they start coming */
	long long keepalive_timeout_ms; /* a connection with no request started: kept or new */
	int max_connections;		/* held at once by this worker */
	long advertised_connections;	/* FCGI_MAX_CONNS: what all workers together take */
	pid_t supervisor;		/* a worker whose supervisor is gone stops at once */
	volatile sig_atomic_t *stop;	/* set by a signal: finish what has started, then return */
	/* Shared with the supervisor's watchdog: refreshed on every turn of
	 * the loop, and set while a request is being answered. */
	volatile long long *heartbeat_ms;
	volatile long long *busy_since_ms;
	struct loop_gauges gauges;
};

struct connection;

enum loop_answer {
	LOOP_ANSWERED, /* the whole answer is written */
	LOOP_PENDING,  /* it will be, later: loop_finish_request(connection) then */
};

/* Answers one request that libfcgi has read (its parameters in
 * request->envp, its body in request->in) by writing to request->out, now
 * or, when it waits for the database, later. The loop then ends the
 * request (FCGI_END_REQUEST) and keeps or closes the connection. A worker
 * that should stop taking connections (--max-requests) sets *stop. */
typedef enum loop_answer (*loop_serve_fn)(void *context, FCGX_Request *request, struct connection *connection);

/* Something else the worker waits on: the database's socket. Before each
 * wait the loop asks what it wants (want), and calls ready with the epoll
 * events that came, or with 0 once deadline_ms has passed. */
struct loop_source_wants {
	int fd;			 /* -1: nothing to wait on */
	unsigned events;	 /* EPOLLIN, EPOLLOUT */
	unsigned generation;	 /* changes with each new connection */
	long long deadline_ms;	 /* monotonic_ms(); 0: none */
};
struct loop_source {
	void (*want)(void *context, struct loop_source_wants *wants);
	void (*ready)(void *context, unsigned events);
	void *context;
};

struct loop;

struct loop *loop_create(const struct loop_settings *settings, char *error, size_t error_size);
void loop_destroy(struct loop *loop);

/* Serves until *settings->stop, then stops accepting, closes the kept
 * connections that hold no request, finishes the ones that do, and
 * returns 0 (1 when the event loop itself failed). */
int loop_run(struct loop *loop, loop_serve_fn serve, void *context);

/* Ends a request the serve function left pending, its answer written. */
void loop_finish_request(struct loop *loop, struct connection *connection);

/* Puts this worker last among those the kernel wakes for a new
 * connection: one that cannot reach its database leaves new requests to
 * the workers that can. */
void loop_step_back(struct loop *loop);

/* Watches source too (one at most). */
void loop_set_source(struct loop *loop, const struct loop_source *source);

#endif
