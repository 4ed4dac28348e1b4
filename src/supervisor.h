/* supervisor.h: the parent that preforks workers on one listening socket and keeps them running. */
#ifndef WEBAPI_SUPERVISOR_H
#define WEBAPI_SUPERVISOR_H

#include "options.h"

/* Forks options->workers workers on listen_fd and replaces any that exit;
 * SIGHUP replaces them one by one, SIGTERM/SIGINT drain and stop them.
 * Returns the process's exit code. */
int supervise(int listen_fd, const struct options *options);

#endif
