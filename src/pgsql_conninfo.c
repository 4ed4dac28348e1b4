/* pgsql_conninfo.c: a PostgreSQL DATABASE_URL as libpq reads it, described for the log without its password. */
#include "pgsql_conninfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "dsn.h"

/* Whether an entry of a URI's host list ("h", "h:5432", "[::1]:5432")
 * has a port that is not a number. */
static int has_bad_port(const char *entry, size_t length)
{
	const char *end = entry + length;
	const char *port = NULL;

	if (length > 0 && entry[0] == '[') {
		const char *bracket = memchr(entry, ']', length);
		if (bracket != NULL && bracket + 1 < end && bracket[1] == ':')
			port = bracket + 2;
	} else {
		for (const char *c = entry; c < end; c++)
			if (*c == ':')
				port = c + 1;
	}
	return port != NULL && strspn(port, "0123456789") < (size_t)(end - port);
}

/* libpq ends a URI's user info at the first '@' or '/' after the scheme,
 * so "user:pa@ss@host" or "user:a/b@host" (a base64 password) put the
 * rest of the password into the host, port or database name, which its
 * errors quote. Such a password shows as another '@' after the user info
 * (before the query, where "?user=me@corp" is fine), or as a port that is
 * no number: both are refused, and %40 and %2F spell them. */
static int has_misread_password(const char *target)
{
	const char *authority;

	if (dsn_starts_with(target, "postgresql://"))
		authority = target + strlen("postgresql://");
	else if (dsn_starts_with(target, "postgres://"))
		authority = target + strlen("postgres://");
	else
		return 0; /* a keyword string: libpq reads password=... as written */
	const char *user_info_end = authority + strcspn(authority, "@/");
	const char *rest = *user_info_end == '@' ? user_info_end + 1 : authority;
	const char *query = strchr(rest, '?');
	const char *other_at = strchr(rest, '@');
	if (other_at != NULL && (query == NULL || other_at < query))
		return 1;
	size_t hosts_length = strcspn(rest, "/?");
	for (size_t start = 0; start < hosts_length;) {
		size_t entry_length = strcspn(rest + start, ",/?");
		if (entry_length > hosts_length - start)
			entry_length = hosts_length - start;
		if (has_bad_port(rest + start, entry_length))
			return 1;
		start += entry_length + 1;
	}
	return 0;
}

/* Appends text to out as far as it fits; used counts what was written. */
static void append(char *out, size_t out_size, size_t *used, const char *text)
{
	size_t length = strlen(text);

	if (*used + 1 >= out_size)
		return;
	if (length > out_size - *used - 1)
		length = out_size - *used - 1;
	memcpy(out + *used, text, length);
	*used += length;
	out[*used] = '\0';
}

/* A value as a keyword string writes it: quoted when empty or holding a
 * blank, a quote or a backslash. */
static void append_value(char *out, size_t out_size, size_t *used, const char *value)
{
	if (value[0] != '\0' && strpbrk(value, " \t\n\r\f\v'\\") == NULL) {
		append(out, out_size, used, value);
		return;
	}
	append(out, out_size, used, "'");
	for (const char *c = value; *c != '\0'; c++) {
		char piece[3] = {*c, '\0', '\0'};
		if (*c == '\'' || *c == '\\') {
			piece[0] = '\\';
			piece[1] = *c;
		}
		append(out, out_size, used, piece);
	}
	append(out, out_size, used, "'");
}

int pgsql_conninfo_describe(const char *target, char *shown, size_t shown_size, char **password)
{
	char *parse_error = NULL;
	size_t used = 0;

	if (password != NULL)
		*password = NULL;
	if (shown_size == 0)
		return -1;
	shown[0] = '\0';
	if (has_misread_password(target)) {
		snprintf(shown, shown_size,
			 "DATABASE_URL has an '@' after its user info or a port that is not a number: libpq would read "
			 "part of the password as host, port or database; percent-encode '@' as %%40 and '/' as %%2F "
			 "in the user name and password");
		return -1;
	}
	PQconninfoOption *options = PQconninfoParse(target, &parse_error);
	if (options == NULL) {
		/* libpq's reason quotes the piece it stopped at, which may be the
		 * password: only the reason's first words are kept. */
		const char *reason = parse_error != NULL ? parse_error : "out of memory";
		snprintf(shown, shown_size, "DATABASE_URL is not a connection string libpq accepts: %.*s",
			 (int)strcspn(reason, ":\"\n"), reason);
		PQfreemem(parse_error);
		return -1;
	}
	for (const PQconninfoOption *option = options; option->keyword != NULL; option++) {
		if (option->val == NULL)
			continue;
		if (used > 0)
			append(shown, shown_size, &used, " ");
		append(shown, shown_size, &used, option->keyword);
		append(shown, shown_size, &used, "=");
		if (strcmp(option->keyword, "password") == 0) {
			append(shown, shown_size, &used, "****");
			if (password != NULL && option->val[0] != '\0')
				*password = strdup(option->val);
		} else {
			append_value(shown, shown_size, &used, option->val);
		}
	}
	PQconninfoFree(options);
	return 0;
}
