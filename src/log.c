/* log.c: one line per event on stderr, prefixed with the process id. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void log_line(const char *format, ...)
{
	va_list args;
	char line[1024];
	int saved_errno = errno;
	int prefix = snprintf(line, sizeof line, "webapi-fcgi[%ld]: ", (long)getpid());

	va_start(args, format);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang 14 misreads va_start here. */
	int body = vsnprintf(line + prefix, sizeof line - (size_t)prefix - 1, format, args);
	va_end(args);

	size_t length = (size_t)prefix + (body < 0 ? 0 : (size_t)body);
	if (length > sizeof line - 2)
		length = sizeof line - 2;
	line[length++] = '\n';
	/* A failed log write has nowhere else to go; the caller's errno stays. */
	ssize_t written = write(STDERR_FILENO, line, length);
	(void)written;
	errno = saved_errno;
}
