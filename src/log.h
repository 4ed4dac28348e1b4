/* log.h: one line per event on stderr, which lighttpd, spawn-fcgi or systemd collect. */
#ifndef WEBAPI_LOG_H
#define WEBAPI_LOG_H

/* Writes "webapi-fcgi[PID]: message\n" in one write(2), so lines from
 * several workers sharing one stderr never interleave. */
void log_line(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
