/* pgsql_binary.h: PostgreSQL's binary result values (integers, timestamps) turned into what the store hands on. */
#ifndef WEBAPI_PGSQL_BINARY_H
#define WEBAPI_PGSQL_BINARY_H

#include <stddef.h>
#include <stdint.h>

/* pg_type.h's OIDs: the server headers are not part of libpq-dev. */
#define PGSQL_INT8_OID 20
#define PGSQL_INT2_OID 21
#define PGSQL_INT4_OID 23
#define PGSQL_TEXT_OID 25
#define PGSQL_BPCHAR_OID 1042
#define PGSQL_VARCHAR_OID 1043
#define PGSQL_TIMESTAMP_OID 1114
#define PGSQL_TIMESTAMPTZ_OID 1184

/* The contract's "2026-10-15T03:37:37.629Z" and its terminating NUL. */
#define PGSQL_ISO_TIMESTAMP_SIZE 25

/* A binary int2, int4 or int8 (network byte order, length 2, 4 or 8) into
 * value. Returns 0, or -1 when length does not fit the type. */
int pgsql_binary_integer(unsigned type, const char *bytes, size_t length, int64_t *value);

/* A binary timestamp or timestamptz (microseconds since 2000-01-01 00:00:00
 * UTC, 8 bytes) straight into the contract's ISO 8601 form in UTC,
 * "YYYY-MM-DDTHH:MM:SS.mmmZ", cut to milliseconds towards the past as
 * JavaScript's Date does. Returns 0, or -1 for infinity, a year outside
 * 1-9999 or a wrong length (out is then empty). out holds
 * PGSQL_ISO_TIMESTAMP_SIZE bytes. */
int pgsql_binary_timestamp(const char *bytes, size_t length, char *out);

/* Whether the binary form of a column of this type is one of the above, or
 * text as it is (text, varchar, bpchar): what binary results can carry. */
int pgsql_binary_is_integer_type(unsigned type);
int pgsql_binary_is_text_type(unsigned type);
int pgsql_binary_is_timestamp_type(unsigned type);

#endif
