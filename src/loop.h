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
	/* Called once a request's response is finished (FCGI_END_REQUEST
	 * written), with the serve function's context: where a request's
	 * duration ends. NULL: nothing to call. */
	void (*request_finished)(void *context);
};

/* Answers one request that libfcgi has read (its parameters in
 * request->envp, its body in request->in) by writing to request->out.
 * The loop ends the request (FCGI_END_REQUEST) and keeps or closes the
 * connection. Returns 0 when the worker should stop taking connections
 * (--max-requests), 1 otherwise. */
typedef int (*loop_serve_fn)(void *context, FCGX_Request *request);

struct loop;

struct loop *loop_create(const struct loop_settings *settings, char *error, size_t error_size);
void loop_destroy(struct loop *loop);

/* Serves until *settings->stop or the serve function says so, then stops
 * accepting, closes the connections that hold no request, finishes the
 * ones that do, and returns 0 (1 when the event loop itself failed). */
int loop_run(struct loop *loop, loop_serve_fn serve, void *context);

#endif
