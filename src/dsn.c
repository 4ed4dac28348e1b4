/* dsn.c: reading DATABASE_URL into which store to use and how to reach it. */
#include "dsn.h"

#include "percent.h"

#include <stdio.h>
#include <string.h>

static int starts_with(const char *text, const char *prefix)
{
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

static int copy_checked(char *out, size_t out_size, const char *text, char *error, size_t error_size)
{
	if (strlen(text) >= out_size) {
		snprintf(error, error_size, "DATABASE_URL is too long (%zu bytes, at most %zu)", strlen(text),
			 out_size - 1);
		return -1;
	}
	memcpy(out, text, strlen(text) + 1);
	return 0;
}

/* Appends length bytes of text to out as far as out_size leaves room for
 * the final NUL; used counts the bytes written. */
static void emit(char *out, size_t out_size, size_t *used, const char *text, size_t length)
{
	while (length-- > 0 && *used + 1 < out_size)
		out[(*used)++] = *text++;
}

/* libpq's isspace(): it ends keywords and unquoted values. */
static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The end of the keyword-string value at value, as libpq reads it: a
 * quoted one after its closing quote, another at the first blank; a
 * backslash escapes the next character in both; an unclosed quote runs
 * to the end. */
static const char *keyword_value_end(const char *value)
{
	int quoted = *value == '\'';

	for (value += quoted; *value != '\0'; value++) {
		if (*value == '\\' && value[1] != '\0')
			value++;
		else if (quoted && *value == '\'')
			return value + 1;
		else if (!quoted && is_blank(*value))
			return value;
	}
	return value;
}

/* A libpq keyword string carries it as "password=value" or
 * "password = 'quoted value'". It is cut into name=value pairs the way
 * libpq cuts it (any blank, a pair right after a closing quote, escaped
 * blanks), so that no spelling libpq accepts shows the value. */
static void mask_keyword_string(const char *text, char *out, size_t out_size)
{
	size_t used = 0;

	for (const char *cursor = text; *cursor != '\0';) {
		if (is_blank(*cursor)) {
			emit(out, out_size, &used, cursor++, 1);
			continue;
		}
		const char *name_end = cursor;
		while (*name_end != '\0' && *name_end != '=' && !is_blank(*name_end))
			name_end++;
		const char *equals = name_end;
		while (is_blank(*equals))
			equals++;
		if (*equals != '=') {
			/* Not name=value (libpq refuses the string): no value to hide. */
			emit(out, out_size, &used, cursor, (size_t)(name_end - cursor));
			cursor = name_end;
			continue;
		}
		const char *value = equals + 1;
		while (is_blank(*value))
			value++;
		const char *value_end = keyword_value_end(value);
		if (name_end - cursor == 8 && strncmp(cursor, "password", 8) == 0)
			emit(out, out_size, &used, "password=****", 13);
		else
			emit(out, out_size, &used, cursor, (size_t)(value_end - cursor));
		cursor = value_end;
	}
	out[used] = '\0';
}

/* Whether a URI query parameter's name is "password" once its %-escapes
 * are decoded, as libpq decodes them. */
static int is_password_parameter(const char *name, size_t length)
{
	static const char password[] = "password";
	size_t matched = 0;

	for (size_t i = 0; i < length; i++, matched++) {
		char c = name[i];
		if (c == '%' && i + 2 < length && hex_digit(name[i + 1]) >= 0 && hex_digit(name[i + 2]) >= 0) {
			c = (char)(hex_digit(name[i + 1]) * 16 + hex_digit(name[i + 2]));
			i += 2;
		}
		if (matched >= sizeof password - 1 || c != password[matched])
			return 0;
	}
	return matched == sizeof password - 1;
}

/* The "://" after a URI's scheme (RFC 3986: a letter, then letters,
 * digits, '+', '-', '.'), or NULL: a keyword string may hold "://" in a
 * value, and libpq reads it as a keyword string all the same. */
static const char *find_scheme_end(const char *url)
{
	static const char scheme_characters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";
	size_t length = strspn(url, scheme_characters);

	if (length == 0 || strchr("0123456789+-.", url[0]) != NULL || strncmp(url + length, "://", 3) != 0)
		return NULL;
	return url + length;
}

/* A URI carries it as "scheme://user:password@host" or, as libpq also
 * reads it, as a query parameter "?password=..." (whose name may be
 * %-escaped). The user info ends at the last '@' before the path: libpq
 * takes the first, so what it calls the password is always inside. */
void dsn_mask_password(const char *url, char *out, size_t out_size)
{
	size_t used = 0;

	if (out_size == 0)
		return;
	const char *scheme_end = find_scheme_end(url);
	if (scheme_end == NULL) {
		mask_keyword_string(url, out, out_size);
		return;
	}
	const char *authority = scheme_end + 3;
	const char *path = authority + strcspn(authority, "/");
	const char *at = NULL;
	for (const char *c = authority; c < path; c++)
		if (*c == '@')
			at = c;
	const char *colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
	const char *cursor = url;
	if (colon != NULL) {
		emit(out, out_size, &used, url, (size_t)(colon - url));
		emit(out, out_size, &used, ":****", 5);
		cursor = at;
	}
	const char *query = strchr(at != NULL ? at : authority, '?');
	if (query == NULL)
		query = cursor + strlen(cursor);
	emit(out, out_size, &used, cursor, (size_t)(query - cursor));
	for (cursor = query; *cursor != '\0';) {
		emit(out, out_size, &used, cursor++, 1); /* the '?' or '&' */
		size_t length = strcspn(cursor, "&");
		const char *equals = memchr(cursor, '=', length);
		if (equals != NULL && is_password_parameter(cursor, (size_t)(equals - cursor))) {
			emit(out, out_size, &used, cursor, (size_t)(equals - cursor));
			emit(out, out_size, &used, "=****", 5);
		} else {
			emit(out, out_size, &used, cursor, length);
		}
		cursor += length;
	}
	out[used] = '\0';
}

int db_config_parse(const char *url, const char *default_sqlite_path, struct db_config *config, char *error,
		    size_t error_size)
{
	memset(config, 0, sizeof *config);
	if (url == NULL || *url == '\0') {
		config->kind = DB_SQLITE;
		if (copy_checked(config->target, sizeof config->target, default_sqlite_path, error, error_size) != 0)
			return -1;
		snprintf(config->masked, sizeof config->masked, "sqlite://%s", config->target);
		return 0;
	}
	if (starts_with(url, "sqlite://")) {
		/* sqlite:///abs/path keeps its leading slash; sqlite://rel/path is
		 * relative to the working directory, as in SQLAlchemy-style URLs. */
		const char *path = url + strlen("sqlite://");
		if (*path == '\0') {
			snprintf(error, error_size, "DATABASE_URL %s names no file", url);
			return -1;
		}
		config->kind = DB_SQLITE;
		if (copy_checked(config->target, sizeof config->target, path, error, error_size) != 0)
			return -1;
		snprintf(config->masked, sizeof config->masked, "%s", url);
		return 0;
	}
	if (starts_with(url, "postgresql://") || starts_with(url, "postgres://") || strchr(url, '=') != NULL) {
		config->kind = DB_POSTGRES;
		if (copy_checked(config->target, sizeof config->target, url, error, error_size) != 0)
			return -1;
		dsn_mask_password(url, config->masked, sizeof config->masked);
		return 0;
	}
	char masked[256];
	dsn_mask_password(url, masked, sizeof masked);
	snprintf(error, error_size,
		 "DATABASE_URL '%s' is not understood: use sqlite:///path, postgresql://... or a libpq "
		 "keyword string (host=... dbname=...)",
		 masked);
	return -1;
}
