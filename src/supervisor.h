/* supervisor.h: the parent that preforks workers on one listening socket and keeps them running. */
#ifndef WEBAPI_SUPERVISOR_H
#define WEBAPI_SUPERVISOR_H

#include "options.h"

/* Holds the signals the supervisor takes (SIGCHLD, SIGTERM, SIGINT,
 * SIGHUP, SIGUSR2) for supervisor_run() to collect: called before binding a socket, so a
 * SIGTERM that arrives while starting up stops it cleanly instead of
 * killing it with the socket file left behind. */
void supervisor_block_signals(void);

/* Forks options->workers workers on listen_fd and replaces any that exit;
 * SIGHUP replaces them one by one, SIGTERM/SIGINT drain and stop them,
 * SIGUSR2 starts a new copy of the executable on the same socket and,
 * once its workers accept, drains and stops these (*handed_over is then
 * 1: the socket is the new copy's, not to be removed). Tells systemd
 * (NOTIFY_SOCKET) READY=1, STATUS=, RELOADING=1, STOPPING=1, MAINPID= and
 * WATCHDOG=1. Returns the process's exit code. */
int supervisor_run(int listen_fd, const struct options *options, int *handed_over);

#endif
