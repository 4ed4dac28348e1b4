/* dsn.c: reading DATABASE_URL into which store to use and how to reach it. */
#include "dsn.h"

#include <stdio.h>
#include <string.h>

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

/* The scheme of a URI ("mysql" of "mysql://..."), for an error message
 * that must not quote the rest, where a password may be. Empty when url
 * has no "scheme://" prefix. */
static void scheme_of(const char *url, char *out, size_t out_size)
{
	static const char scheme_characters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";
	size_t length = strspn(url, scheme_characters);

	if (length == 0 || length >= out_size || strncmp(url + length, "://", 3) != 0)
		length = 0;
	memcpy(out, url, length);
	out[length] = '\0';
}

int dsn_parse(const char *url, const char *default_sqlite_path, struct db_config *config, char *error,
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
	if (dsn_starts_with(url, "sqlite://")) {
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
	if (dsn_starts_with(url, "postgresql://") || dsn_starts_with(url, "postgres://") || strchr(url, '=') != NULL) {
		config->kind = DB_POSTGRES;
		if (copy_checked(config->target, sizeof config->target, url, error, error_size) != 0)
			return -1;
		/* Only libpq reads the string, in the plugin, which logs it masked
		 * from libpq's own reading (pgsql_conninfo.c): a second parser
		 * here read "user:pa/ss@host" otherwise and showed the password. */
		snprintf(config->masked, sizeof config->masked, "PostgreSQL (DATABASE_URL)");
		return 0;
	}
	char scheme[32];
	scheme_of(url, scheme, sizeof scheme);
	snprintf(error, error_size,
		 "DATABASE_URL%s%s%s is not understood: use sqlite:///path, postgresql://... or a libpq keyword string "
		 "(host=... dbname=...)",
		 scheme[0] != '\0' ? " with scheme '" : "", scheme, scheme[0] != '\0' ? "'" : "");
	return -1;
}

int dsn_parse_statements(const char *value, struct db_config *config, char *error, size_t error_size)
{
	if (value == NULL || *value == '\0') {
		config->statements = DB_STATEMENTS_AUTO;
		return 0;
	}
	if (strcmp(value, "named") == 0) {
		config->statements = DB_STATEMENTS_NAMED;
		return 0;
	}
	if (strcmp(value, "unnamed") == 0) {
		config->statements = DB_STATEMENTS_UNNAMED;
		return 0;
	}
	snprintf(error, error_size,
		 "PG_STATEMENTS is '%.40s': use named or unnamed, or leave it unset (named until a pooler loses them)",
		 value);
	return -1;
}
