/* worker.h: one process answering requests, over FastCGI in a loop or as a single CGI run. */
#ifndef WEBAPI_WORKER_H
#define WEBAPI_WORKER_H

#include "options.h"
#include "status.h"

/* A worker that cannot open its store (or leave root) exits with
 * EX_CONFIG: fatal while the responder starts, retried once it serves. */
#include <sysexits.h>

/* What a worker is doing, in memory shared with its supervisor, so the
 * supervisor's watchdog can replace a worker stuck in a request or one
 * that stopped running, without the worker paying a timer system call per
 * request. Times are monotonic_ms() (clock.h). */
struct worker_activity {
	volatile long long busy_since_ms; /* answering a request since; 0 between requests */
	volatile long long heartbeat_ms;  /* the event loop's last turn; 0 before the first */
	char request[240];		  /* "METHOD URI" of the current request, for the log */
	volatile int ready;		  /* set once the store is open and privileges dropped */
	volatile pid_t pid;		  /* set by the supervisor; 0: the slot is free */
	volatile int retiring;		  /* told to finish and exit (SIGHUP, an upgrade) */
	/* Set with retiring when the web server goes on (SIGHUP, an upgrade):
	 * kept connections stay open (loop.h). */
	volatile int linger;
	struct status_counters counters; /* the status page's figures, this slot's */
};

/* Opens the store, drops privileges, then serves FastCGI connections from
 * listen_fd in an event loop (loop.h) until told to stop (SIGTERM,
 * SIGINT, SIGHUP) or until --max-requests, reporting into activity; the
 * status page reads every worker's record through board. Returns the
 * exit code. */
int worker_run_fastcgi(int listen_fd, const struct options *options, struct worker_activity *activity,
		       const struct status_board *board);

/* Answers the one request described by the CGI environment on stdout. */
int worker_run_cgi(const struct options *options);

#endif
