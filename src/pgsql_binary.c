/* pgsql_binary.c: PostgreSQL's binary result values (integers, timestamps) turned into what the store hands on. */
#include "pgsql_binary.h"

#include <endian.h>
#include <string.h>

#define MICROSECONDS_PER_DAY 86400000000LL

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

/* Days since 2000-03-01 to a proleptic Gregorian date, in 400-year eras
 * (after H. Hinnant's civil_from_days), in 32-bit arithmetic: a row's
 * timestamp cost about 320 instructions in 64-bit, as much as the rest of
 * the row's decoding. days is at least -730,119 (0001-01-01). */
static void civil_from_days(int days, int *year, int *month, int *day)
{
	/* Shifted into eras counted from 0000-03-01: never negative here. */
	unsigned shifted = (unsigned)(days + 730425);
	unsigned era = shifted / 146097;
	unsigned day_of_era = shifted - era * 146097;
	unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
	unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
	unsigned month_index = (5 * day_of_year + 2) / 153;

	*day = (int)(day_of_year - (153 * month_index + 2) / 5 + 1);
	*month = (int)(month_index < 10 ? month_index + 3 : month_index - 9);
	*year = (int)(year_of_era + era * 400) + (*month <= 2);
}

static char *put_digits(char *out, unsigned value, int count)
{
	for (int i = count - 1; i >= 0; i--) {
		out[i] = (char)('0' + value % 10);
		value /= 10;
	}
	return out + count;
}

/* value < 100; a field of a timestamp, without a loop. */
static char *put_two_digits(char *out, unsigned value)
{
	out[0] = (char)('0' + value / 10);
	out[1] = (char)('0' + value % 10);
	return out + 2;
}

/* 2000-01-01 is day 0: the first and last days of years 1 and 9999. */
#define FIRST_DAY (-730119)
#define LAST_DAY 2921939

int pgsql_binary_timestamp(const char *bytes, size_t length, char *out)
{
	uint64_t raw;

	out[0] = '\0';
	if (length != 8)
		return -1;
	memcpy(&raw, bytes, sizeof raw);
	int64_t microseconds = (int64_t)be64toh(raw);
	int64_t days = microseconds / MICROSECONDS_PER_DAY;
	int64_t of_day = microseconds % MICROSECONDS_PER_DAY;
	if (of_day < 0) { /* before 2000: floor, not truncation towards zero */
		of_day += MICROSECONDS_PER_DAY;
		days--;
	}
	/* Also refuses 'infinity' and '-infinity' (INT64_MAX and INT64_MIN). */
	if (days < FIRST_DAY || days > LAST_DAY)
		return -1;
	int year, month, day;
	civil_from_days((int)days, &year, &month, &day);

	unsigned milliseconds = (unsigned)(of_day / 1000);
	char *cursor = put_digits(out, (unsigned)year, 4);
	*cursor++ = '-';
	cursor = put_two_digits(cursor, (unsigned)month);
	*cursor++ = '-';
	cursor = put_two_digits(cursor, (unsigned)day);
	*cursor++ = 'T';
	cursor = put_two_digits(cursor, milliseconds / 3600000);
	*cursor++ = ':';
	cursor = put_two_digits(cursor, milliseconds / 60000 % 60);
	*cursor++ = ':';
	cursor = put_two_digits(cursor, milliseconds / 1000 % 60);
	*cursor++ = '.';
	cursor = put_digits(cursor, milliseconds % 1000, 3);
	*cursor++ = 'Z';
	*cursor = '\0';
	return 0;
}
