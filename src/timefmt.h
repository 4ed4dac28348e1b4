/* timefmt.h: the contract's ISO 8601 timestamps, from the database's text or from a point in time. */
#ifndef WEBAPI_TIMEFMT_H
#define WEBAPI_TIMEFMT_H

#define ISO_TIMESTAMP_LENGTH 24 /* "2026-10-15T03:37:37.629Z" */

/* Turns "YYYY-MM-DD HH:MM:SS[.f...]" (a 'T' separator is accepted too) into
 * "YYYY-MM-DDTHH:MM:SS.mmmZ". A timestamp without time zone is taken as UTC,
 * so the result never depends on the process's TZ; digits past milliseconds
 * are truncated, as JavaScript's Date does. Returns 0, or -1 for text that is
 * not such a timestamp (out is then left empty). out holds at least
 * ISO_TIMESTAMP_LENGTH + 1 bytes. */
int timefmt_from_sql(const char *sql_text, char *out);

/* Milliseconds since 1970-01-01 00:00:00 UTC (no leap seconds, as
 * CLOCK_REALTIME counts them) into "YYYY-MM-DDTHH:MM:SS.mmmZ", in pure
 * arithmetic (no gmtime, no TZ). Returns 0, or -1 for a year outside
 * 1-9999 (out is then left empty). out holds ISO_TIMESTAMP_LENGTH + 1 bytes. */
int timefmt_from_unix_ms(long long unix_ms, char *out);

#endif
