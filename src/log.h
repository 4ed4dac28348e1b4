/* log.h: one line per event on stderr, which lighttpd, spawn-fcgi or systemd collect. */
#ifndef WEBAPI_LOG_H
#define WEBAPI_LOG_H

#include <stddef.h>

/* How long log_limited collapses repeats of one kind of line. */
#define LOG_REPEAT_WINDOW_S 10

/* Writes "webapi-fcgi[PID]: message\n" in one write(2), so lines from
 * several workers sharing one stderr never interleave. Control characters
 * in the message are written escaped ("\n", "\x1b"): text from a request
 * or DATABASE_URL cannot forge a line of its own. */
void log_line(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* For events a peer or a broken database can repeat at will (a refused
 * peer, a failing query, a bad row): lines with the same format are one
 * kind. The first of a kind is written; the rest in the next
 * LOG_REPEAT_WINDOW_S seconds are only counted, and the count is written
 * as "... and 19,999 more like it in the last 10 s" with the next line of
 * that kind after the window, or by log_flush_repeats. */
void log_limited(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Who a line about a connection or a request is about, said at its end
 * as nginx's connection log and lighttpd's errh do: "...; peer
 * 127.0.0.1:40312, request GET /orders". describe writes it into out,
 * NUL-terminated, and is called only for a line that is written: a flood
 * that log_limited counts formats none. */
struct log_subject {
	void (*describe)(void *subject, char *out, size_t out_size);
	void *subject;
};

/* log_line and log_limited about a subject (NULL, or one with no
 * describe: none). */
void log_line_about(const struct log_subject *about, const char *format, ...) __attribute__((format(printf, 2, 3)));
void log_limited_about(const struct log_subject *about, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Writes the counts log_limited is holding back (for a process about to
 * exit, or a loop that wakes up anyway). */
void log_flush_repeats(void);

#endif
