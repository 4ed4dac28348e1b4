/* worker.h: one process answering requests, over FastCGI in a loop or as a single CGI run. */
#ifndef WEBAPI_WORKER_H
#define WEBAPI_WORKER_H

#include "options.h"

/* Exit codes a worker reports to its supervisor. */
#define WORKER_EXIT_CONFIG 78 /* EX_CONFIG: the store cannot be opened; restarting will not help */
#define WORKER_EXIT_TIMEOUT 79 /* a request ran past --request-timeout */

/* Opens the store, drops privileges, then serves FastCGI connections from
 * listen_fd until told to stop (SIGTERM, SIGINT, SIGHUP) or until
 * --max-requests. Returns the process's exit code. */
int run_fastcgi_worker(int listen_fd, const struct options *options);

/* Answers the one request described by the CGI environment on stdout. */
int run_cgi_request(const struct options *options);

/* Leaves root for options->uid/gid (a no-op when they are 0). 0 or -1. */
int drop_privileges(const struct options *options);

#endif
