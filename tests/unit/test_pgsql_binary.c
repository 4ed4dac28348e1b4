/* test_pgsql_binary.c: PostgreSQL's binary integers and timestamps read into what the store hands on, timestamps
 * checked against known dates and against gmtime_r. */
#include <endian.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgsql_binary.h"
#include "tap.h"

/* PostgreSQL's epoch, 2000-01-01, in Unix seconds. */
#define POSTGRES_EPOCH_UNIX 946684800LL

static const char *timestamp_text(int64_t microseconds)
{
	static char out[PGSQL_ISO_TIMESTAMP_SIZE];
	uint64_t wire = htobe64((uint64_t)microseconds);
	return pgsql_binary_timestamp((const char *)&wire, sizeof wire, out) == 0 ? out : "(rejected)";
}

/* The same instant through the C library, the oracle: floor to the
 * millisecond, then gmtime_r. */
static const char *oracle_text(int64_t microseconds)
{
	static char out[64];
	int64_t milliseconds = microseconds / 1000 - (microseconds % 1000 < 0);
	int64_t seconds = milliseconds / 1000 - (milliseconds % 1000 < 0);
	int64_t fraction = milliseconds - seconds * 1000;
	time_t unix_seconds = (time_t)(seconds + POSTGRES_EPOCH_UNIX);
	struct tm tm;

	if (gmtime_r(&unix_seconds, &tm) == NULL)
		return "(gmtime failed)";
	snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03" PRId64 "Z", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
	return out;
}

static int64_t integer_of(unsigned type, const void *wire, size_t length, int *failed)
{
	int64_t value = 0;
	*failed = pgsql_binary_integer(type, wire, length, &value) != 0;
	return value;
}

int main(void)
{
	IS_STRING(timestamp_text(0), "2000-01-01T00:00:00.000Z", "PostgreSQL's epoch");
	IS_STRING(timestamp_text(845350657629232LL), "2026-10-15T03:37:37.629Z",
		  "the contract's example instant, microseconds truncated");
	IS_STRING(timestamp_text(-500), "1999-12-31T23:59:59.999Z", "half a millisecond before 2000 floors into 1999");
	IS_STRING(timestamp_text(762523200001000LL), "2024-02-29T12:00:00.001Z", "a leap day");
	IS_STRING(timestamp_text(-63082281600000000LL), "0001-01-01T00:00:00.000Z", "the first instant of year 1");
	IS_STRING(timestamp_text(252455615999999999LL), "9999-12-31T23:59:59.999Z", "the last of year 9999");
	IS_STRING(timestamp_text(-63082281600000001LL), "(rejected)", "before year 1 (BC) is refused");
	IS_STRING(timestamp_text(252455616000000000LL), "(rejected)", "year 10000 is refused");
	IS_STRING(timestamp_text(INT64_MAX), "(rejected)", "'infinity' is refused");
	IS_STRING(timestamp_text(INT64_MIN), "(rejected)", "'-infinity' is refused");
	char out[PGSQL_ISO_TIMESTAMP_SIZE];
	OK(pgsql_binary_timestamp("1234", 4, out) != 0 && out[0] == '\0', "a value that is not 8 bytes is refused");

	/* 200,000 instants spread over years 1-9999 and 10,000 around 2000,
	 * each against gmtime_r. */
	srandom(20261130);
	int differing = 0;
	for (int i = 0; i < 210000; i++) {
		int64_t span = i < 200000 ? 315537897599999999LL : 10LL * 86400 * 1000000;
		int64_t base = i < 200000 ? -63082281600000000LL : -5LL * 86400 * 1000000;
		uint64_t noise = ((uint64_t)random() << 33) ^ ((uint64_t)random() << 2) ^ (uint64_t)random();
		int64_t microseconds = base + (int64_t)(noise % (uint64_t)span);
		char ours[PGSQL_ISO_TIMESTAMP_SIZE];
		snprintf(ours, sizeof ours, "%s", timestamp_text(microseconds));
		if (strcmp(ours, oracle_text(microseconds)) != 0 && differing++ < 3)
			printf("# %" PRId64 ": '%s', gmtime_r says '%s'\n", microseconds, ours,
			       oracle_text(microseconds));
	}
	OK(differing == 0, "210,000 random instants read as gmtime_r reads them (%d differ)", differing);

	uint16_t int2 = htobe16((uint16_t)-7);
	uint32_t int4 = htobe32(17607);
	uint32_t negative4 = htobe32((uint32_t)-2147483647 - 1);
	uint64_t int8 = htobe64(9007199254740993ULL);
	int failed;
	OK(integer_of(PGSQL_INT2_OID, &int2, 2, &failed) == -7 && !failed, "int2 -7");
	OK(integer_of(PGSQL_INT4_OID, &int4, 4, &failed) == 17607 && !failed, "int4 17607");
	OK(integer_of(PGSQL_INT4_OID, &negative4, 4, &failed) == INT32_MIN && !failed, "int4's smallest");
	OK(integer_of(PGSQL_INT8_OID, &int8, 8, &failed) == 9007199254740993LL && !failed, "int8 past 2^53");
	integer_of(PGSQL_INT4_OID, &int8, 8, &failed);
	OK(failed, "an int4 that is not 4 bytes is refused");
	integer_of(PGSQL_TEXT_OID, &int4, 4, &failed);
	OK(failed, "a text column is not read as an integer");
	OK(pgsql_binary_is_integer_type(PGSQL_INT8_OID) && !pgsql_binary_is_integer_type(1700),
	   "int8 is an integer type, numeric (1700) is not");
	OK(pgsql_binary_is_text_type(PGSQL_VARCHAR_OID) && pgsql_binary_is_timestamp_type(PGSQL_TIMESTAMPTZ_OID),
	   "varchar is text, timestamptz a timestamp");
	DONE_TESTING();
}
