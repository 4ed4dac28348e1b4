/* pgsql_conninfo.h: a PostgreSQL DATABASE_URL as libpq reads it, described for the log without its password. */
#ifndef WEBAPI_PGSQL_CONNINFO_H
#define WEBAPI_PGSQL_CONNINFO_H

#include <stddef.h>

/* Reads target (a postgresql:// or postgres:// URI, or a keyword string)
 * with libpq's own parser and writes into shown what libpq will use, as
 * "host=h port=5432 dbname=d user=u password=****". Returns 0, with
 * libpq's password in *password (malloc'd; NULL when there is none) when
 * password is not NULL. Returns -1 with a reason in shown when libpq
 * refuses target, or would read a password as something else: an
 * unencoded '/' or '@' in a URI's password makes libpq take part of it for
 * the host, port or database (it ends the user info at the first '@' or
 * '/'). shown never holds a byte of the password, however it is spelled. */
int pgsql_conninfo_describe(const char *target, char *shown, size_t shown_size, char **password);

#endif
