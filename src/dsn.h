/* dsn.h: reading DATABASE_URL into which store to use and how to reach it. */
#ifndef WEBAPI_DSN_H
#define WEBAPI_DSN_H

#include <stddef.h>
#include <string.h>

enum db_kind { DB_SQLITE, DB_POSTGRES };

/* How the PostgreSQL store sends its queries (PG_STATEMENTS). Named
 * statements are prepared once per connection; a pooler in transaction
 * mode (PgBouncer 1.18) hands each transaction to any server connection,
 * where they do not exist, so "unnamed" parses each query with its
 * request, self-contained. Unset (auto): named, until the server lacks
 * one or has one already; then that connection goes on unnamed. */
enum db_statements { DB_STATEMENTS_AUTO, DB_STATEMENTS_NAMED, DB_STATEMENTS_UNNAMED };

/* Whether text begins with prefix: how a DATABASE_URL's scheme is told,
 * here and by the plugin's pgsql_conninfo.c. */
static inline int dsn_starts_with(const char *text, const char *prefix)
{
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

struct db_config {
	enum db_kind kind;
	/* SQLite: the file path. PostgreSQL: the string handed to libpq as is
	 * (a postgresql:// URI or a keyword/value string). */
	char target[4096];
	/* Safe to log: the SQLite path, or for PostgreSQL only the word
	 * (the plugin logs libpq's reading of target, password masked). */
	char masked[4096 + 64];
	enum db_statements statements;
};

/* Parses url (NULL or empty: the embedded default file default_sqlite_path).
 * Returns 0, or -1 with a reason in error. */
int dsn_parse(const char *url, const char *default_sqlite_path, struct db_config *config, char *error,
	      size_t error_size);

/* Reads PG_STATEMENTS into config (NULL or empty: auto). Returns 0, or
 * -1 with a reason in error. */
int dsn_parse_statements(const char *value, struct db_config *config, char *error, size_t error_size);

#endif
