/* dsn.c: reading DATABASE_URL into which store to use and how to reach it. */
#include "dsn.h"

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

/* A libpq keyword string carries it as "password=value" or
 * "password = 'quoted value'". */
static void mask_keyword_string(const char *text, char *out, size_t out_size)
{
	size_t used = 0;
	const char *cursor = text;

	while (*cursor != '\0' && used + 1 < out_size) {
		int at_keyword_start = cursor == text || cursor[-1] == ' ' || cursor[-1] == '\t';
		if (at_keyword_start && starts_with(cursor, "password")) {
			const char *value = cursor + strlen("password");
			value += strspn(value, " \t");
			if (*value == '=') {
				value++;
				value += strspn(value, " \t");
				if (*value == '\'') {
					for (value++; *value != '\0' && *value != '\''; value++)
						if (*value == '\\' && value[1] != '\0')
							value++;
					if (*value == '\'')
						value++;
				} else {
					value += strcspn(value, " \t");
				}
				used += (size_t)snprintf(out + used, out_size - used, "password=****");
				cursor = value;
				continue;
			}
		}
		out[used++] = *cursor++;
	}
	out[used < out_size ? used : out_size - 1] = '\0';
}

/* A URI carries it as "scheme://user:password@host". */
void dsn_mask_password(const char *url, char *out, size_t out_size)
{
	if (out_size == 0)
		return;
	const char *scheme_end = strstr(url, "://");
	if (scheme_end == NULL) {
		mask_keyword_string(url, out, out_size);
		return;
	}
	const char *authority = scheme_end + 3;
	const char *authority_end = authority + strcspn(authority, "/?#");
	const char *at = NULL;
	for (const char *c = authority; c < authority_end; c++)
		if (*c == '@')
			at = c;
	const char *colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
	if (colon != NULL)
		snprintf(out, out_size, "%.*s:****%s", (int)(colon - url), url, at);
	else
		snprintf(out, out_size, "%s", url);
}

int db_config_parse(const char *url, const char *default_sqlite_path, struct db_config *config,
		    char *error, size_t error_size)
{
	memset(config, 0, sizeof *config);
	if (url == NULL || *url == '\0') {
		config->kind = DB_SQLITE;
		if (copy_checked(config->target, sizeof config->target, default_sqlite_path, error,
				 error_size) != 0)
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
