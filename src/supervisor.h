/* supervisor.h: the parent that preforks workers on one listening socket and keeps them running. */
#ifndef WEBAPI_SUPERVISOR_H
#define WEBAPI_SUPERVISOR_H

#include "options.h"

/* Holds the signals the supervisor takes (SIGCHLD, SIGTERM, SIGINT,
 * SIGHUP) for supervise() to collect: called before binding a socket, so a
 * SIGTERM that arrives while starting up stops it cleanly instead of
 * killing it with the socket file left behind. */
void supervisor_block_signals(void);

/* Forks options->workers workers on listen_fd and replaces any that exit;
 * SIGHUP replaces them one by one, SIGTERM/SIGINT drain and stop them.
 * Returns the process's exit code. */
int supervise(int listen_fd, const struct options *options);

#endif
