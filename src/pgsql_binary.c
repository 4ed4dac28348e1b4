/* pgsql_binary.c: PostgreSQL's binary result values (integers, timestamps) turned into what the store hands on. */
#include "pgsql_binary.h"

#include <endian.h>
#include <string.h>

#include "timefmt.h"

int pgsql_binary_is_integer_type(unsigned type)
{
	return type == PGSQL_INT2_OID || type == PGSQL_INT4_OID || type == PGSQL_INT8_OID;
}

int pgsql_binary_is_text_type(unsigned type)
{
	return type == PGSQL_TEXT_OID || type == PGSQL_VARCHAR_OID || type == PGSQL_BPCHAR_OID;
}

int pgsql_binary_is_timestamp_type(unsigned type)
{
	return type == PGSQL_TIMESTAMP_OID || type == PGSQL_TIMESTAMPTZ_OID;
}

int pgsql_binary_integer(unsigned type, const char *bytes, size_t length, int64_t *value)
{
	if (type == PGSQL_INT2_OID && length == 2) {
		uint16_t raw;
		memcpy(&raw, bytes, sizeof raw);
		*value = (int16_t)be16toh(raw);
		return 0;
	}
	if (type == PGSQL_INT4_OID && length == 4) {
		uint32_t raw;
		memcpy(&raw, bytes, sizeof raw);
		*value = (int32_t)be32toh(raw);
		return 0;
	}
	if (type == PGSQL_INT8_OID && length == 8) {
		uint64_t raw;
		memcpy(&raw, bytes, sizeof raw);
		*value = (int64_t)be64toh(raw);
		return 0;
	}
	return -1;
}

/* 2000-01-01 00:00:00 UTC, PostgreSQL's epoch, in Unix milliseconds. */
#define POSTGRES_EPOCH_UNIX_MS 946684800000LL

int pgsql_binary_timestamp(const char *bytes, size_t length, char *out)
{
	uint64_t raw;

	out[0] = '\0';
	if (length != 8)
		return -1;
	memcpy(&raw, bytes, sizeof raw);
	int64_t microseconds = (int64_t)be64toh(raw);
	int64_t milliseconds = microseconds / 1000 - (microseconds % 1000 < 0); /* towards the past */
	/* timefmt.c refuses 'infinity' and '-infinity' (INT64_MAX and
	 * INT64_MIN) with every year outside 1-9999. */
	return timefmt_from_unix_ms(milliseconds + POSTGRES_EPOCH_UNIX_MS, out);
}
