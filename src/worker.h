/* worker.h: one process answering requests, over FastCGI in a loop or as a single CGI run. */
#ifndef WEBAPI_WORKER_H
#define WEBAPI_WORKER_H

#include "activity.h"
#include "options.h"
#include "status.h"

/* A worker that cannot open its store (or leave root) exits with
 * EX_CONFIG: fatal while the responder starts, retried once it serves. */
#include <sysexits.h>

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
