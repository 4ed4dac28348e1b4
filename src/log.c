/* log.c: one line per event on stderr, prefixed with the process id, with repeats collapsed. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "text.h"
#include "utf8.h"

#define LINE_SIZE 1024
/* Kinds of line being counted at once; a kind beyond that evicts the
 * oldest (its count is written first). A process has a handful of
 * log_limited call sites. */
#define REPEAT_KINDS 16

/* The one piece of mutable state here besides the configuration: a
 * flood's count has to outlive the call that saw it. Per process, so
 * workers count their own. */
static struct repeat_kind {
	const char *format; /* NULL: free */
	long long window_start_ms;
	long long suppressed;
	char first_line[160]; /* how the summary says what was repeated */
} repeat_kinds[REPEAT_KINDS];

/* Copies text into out (NUL-terminated, truncated to out_size) with every
 * control byte spelled out, so one event stays one line, and every byte
 * that starts no UTF-8 character too, so a line is well-formed UTF-8
 * whatever bytes a request sent (journalctl shows a line that is not as
 * "[N blob data]", and a strict reader refuses it). A character is copied
 * whole or not at all. */
static void escape_controls(struct text *line, const char *text)
{
	size_t left = strlen(text);

	while (left > 0) {
		unsigned char byte = (unsigned char)*text;
		size_t taken = utf8_character_length(text, left);
		char spelled[5];
		const char *piece = text;
		size_t length = taken;
		if (taken == 0 || byte < 0x20 || byte == 0x7f) {
			if (byte == '\n' || byte == '\r' || byte == '\t')
				snprintf(spelled, sizeof spelled, "\\%c",
					 byte == '\n'	? 'n'
					 : byte == '\r' ? 'r'
							: 't');
			else
				snprintf(spelled, sizeof spelled, "\\x%02x", byte);
			piece = spelled;
			length = strlen(spelled);
			taken = 1;
		}
		if (text_append_whole(line, piece, length) != 0)
			break;
		text += taken;
		left -= taken;
	}
}

static void write_line(const char *message)
{
	char buffer[LINE_SIZE];
	int saved_errno = errno;
	struct text line = text_in(buffer, sizeof buffer - 1); /* and room for the '\n' */

	text_printf(&line, "webapi-fcgi[%ld]: ", (long)getpid());
	escape_controls(&line, message);
	buffer[line.length] = '\n';
	/* A failed log write has nowhere else to go; the caller's errno stays. */
	ssize_t written = write(STDERR_FILENO, buffer, line.length + 1);
	(void)written;
	errno = saved_errno;
}

/* Adds "; " and what the line is about to message. */
static void append_subject(char *message, size_t size, const struct log_subject *about)
{
	int saved_errno = errno;
	size_t length = strlen(message);

	if (about == NULL || about->describe == NULL || length + 3 >= size)
		return;
	memcpy(message + length, "; ", 3);
	about->describe(about->subject, message + length + 2, size - length - 2);
	errno = saved_errno;
}

static void vlog_line(const struct log_subject *about, const char *format, va_list args)
{
	char message[LINE_SIZE];
	int saved_errno = errno;

	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 misreads va_start here. */
	vsnprintf(message, sizeof message, format, args);
	errno = saved_errno;
	append_subject(message, sizeof message, about);
	write_line(message);
}

void log_line(const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vlog_line(NULL, format, args);
	va_end(args);
}

void log_line_about(const struct log_subject *about, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vlog_line(about, format, args);
	va_end(args);
}

/* 19999 as "19,999": a flood's size is read at a glance. */
static void format_count(long long count, char *out, size_t out_size)
{
	char digits[32];
	int length = snprintf(digits, sizeof digits, "%lld", count);
	size_t used = 0;

	for (int i = 0; i < length && used + 2 < out_size; i++) {
		if (i > 0 && (length - i) % 3 == 0)
			out[used++] = ',';
		out[used++] = digits[i];
	}
	out[used] = '\0';
}

static void write_summary(struct repeat_kind *kind, long long now)
{
	char count[32];
	char summary[LINE_SIZE];
	long long seconds = (now - kind->window_start_ms + 999) / 1000;

	/* Every line counted came inside the window, however late the summary. */
	if (seconds > LOG_REPEAT_WINDOW_S)
		seconds = LOG_REPEAT_WINDOW_S;

	if (kind->suppressed == 0)
		return;
	format_count(kind->suppressed, count, sizeof count);
	snprintf(summary, sizeof summary, "%s ... and %s more like it in the last %lld s", kind->first_line, count,
		 seconds < 1 ? 1 : seconds);
	write_line(summary);
	kind->suppressed = 0;
}

static struct repeat_kind *find_kind(const char *format, long long now)
{
	struct repeat_kind *oldest = &repeat_kinds[0];

	for (int i = 0; i < REPEAT_KINDS; i++) {
		struct repeat_kind *kind = &repeat_kinds[i];
		if (kind->format == format)
			return kind;
		if (kind->format == NULL) {
			oldest = kind;
			break;
		}
		if (kind->window_start_ms < oldest->window_start_ms)
			oldest = kind;
	}
	write_summary(oldest, now);
	oldest->format = format;
	oldest->window_start_ms = now - LOG_REPEAT_WINDOW_S * 1000LL; /* its first line is written */
	oldest->suppressed = 0;
	return oldest;
}

static void vlog_limited(const struct log_subject *about, const char *format, va_list args)
{
	char message[LINE_SIZE];
	long long now = clock_monotonic_ms();
	struct repeat_kind *kind = find_kind(format, now);

	if (now - kind->window_start_ms < LOG_REPEAT_WINDOW_S * 1000LL) {
		kind->suppressed++;
		return;
	}
	write_summary(kind, now);
	int saved_errno = errno;
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 misreads va_start here. */
	vsnprintf(message, sizeof message, format, args);
	errno = saved_errno;
	/* The summary quotes it, not its subject: the lines it counts were
	 * about others. A character cut at the end is left out. */
	size_t kept = strnlen(message, sizeof kind->first_line - 1);
	kept = utf8_whole_length(message, kept);
	memcpy(kind->first_line, message, kept);
	kind->first_line[kept] = '\0';
	kind->window_start_ms = now;
	append_subject(message, sizeof message, about);
	write_line(message);
}

void log_limited(const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vlog_limited(NULL, format, args);
	va_end(args);
}

void log_limited_about(const struct log_subject *about, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	vlog_limited(about, format, args);
	va_end(args);
}

void log_flush_repeats(void)
{
	long long now = clock_monotonic_ms();

	for (int i = 0; i < REPEAT_KINDS; i++)
		if (repeat_kinds[i].format != NULL)
			write_summary(&repeat_kinds[i], now);
}
