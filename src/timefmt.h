/* timefmt.h: the database's timestamp text to the contract's ISO 8601 form. */
#ifndef WEBAPI_TIMEFMT_H
#define WEBAPI_TIMEFMT_H

#define ISO_TIMESTAMP_LENGTH 24 /* "2026-10-15T03:37:37.629Z" */

/* Turns "YYYY-MM-DD HH:MM:SS[.f...]" (a 'T' separator is accepted too) into
 * "YYYY-MM-DDTHH:MM:SS.mmmZ". A timestamp without time zone is taken as UTC,
 * so the result never depends on the process's TZ; digits past milliseconds
 * are truncated, as JavaScript's Date does. Returns 0, or -1 for text that is
 * not such a timestamp (out is then left empty). out holds at least
 * ISO_TIMESTAMP_LENGTH + 1 bytes. */
int iso_timestamp_from_sql(const char *sql_text, char *out);

#endif
