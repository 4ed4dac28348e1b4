/* timefmt.c: the contract's ISO 8601 timestamps, from the database's text or from a point in time. */
#include "timefmt.h"

#include <stdint.h>
#include <string.h>

#include "digits.h"

static int is_digits(const char *text, int count)
{
	for (int i = 0; i < count; i++)
		if (text[i] < '0' || text[i] > '9')
			return 0;
	return 1;
}

static int number(const char *text, int count)
{
	int value = 0;

	for (int i = 0; i < count; i++)
		value = value * 10 + (text[i] - '0');
	return value;
}

/* The ranges PostgreSQL's timestamp type allows (no leap second: it
 * stores 23:59:60 as the next minute): SQLite's text holds anything. */
static int is_real_date_time(const char *t)
{
	static const int days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int year = number(t, 4), month = number(t + 5, 2), day = number(t + 8, 2);
	int is_leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (month < 1 || month > 12 || day < 1)
		return 0;
	if (day > days_in_month[month - 1] + (month == 2 && is_leap))
		return 0;
	return number(t + 11, 2) <= 23 && number(t + 14, 2) <= 59 && number(t + 17, 2) <= 59;
}

/* Pure text work on purpose: converting through struct tm and mktime would
 * read TZ, and the contract's value is the stored wall-clock time as UTC. */
int timefmt_from_sql(const char *sql_text, char *out)
{
	const char *t = sql_text;

	out[0] = '\0';
	if (!is_digits(t, 4) || t[4] != '-' || !is_digits(t + 5, 2) || t[7] != '-' || !is_digits(t + 8, 2) ||
	    (t[10] != ' ' && t[10] != 'T') || !is_digits(t + 11, 2) || t[13] != ':' || !is_digits(t + 14, 2) ||
	    t[16] != ':' || !is_digits(t + 17, 2) || !is_real_date_time(t))
		return -1;

	char milliseconds[3] = {'0', '0', '0'};
	const char *rest = t + 19;
	if (*rest == '.') {
		rest++;
		int digits = 0;
		while (rest[digits] >= '0' && rest[digits] <= '9')
			digits++;
		if (digits == 0)
			return -1;
		memcpy(milliseconds, rest, digits < 3 ? (size_t)digits : 3);
		rest += digits;
	}
	/* A trailing UTC marker is harmless; any other offset would need real
	 * conversion, and the contract's column has no time zone. */
	if (!(*rest == '\0' || strcmp(rest, "Z") == 0 || strcmp(rest, "+00") == 0 || strcmp(rest, "+00:00") == 0))
		return -1;

	memcpy(out, t, 10);
	out[10] = 'T';
	memcpy(out + 11, t + 11, 8);
	out[19] = '.';
	memcpy(out + 20, milliseconds, 3);
	out[23] = 'Z';
	out[24] = '\0';
	return 0;
}

/* Days since 1970-01-01 (at least FIRST_DAY) to a proleptic Gregorian
 * date, after C. Neri and L. Schneider, "Euclidean affine functions and
 * their application to calendar algorithms" (2022): the year, month and
 * day come from multiplications and shifts in 32-bit arithmetic, with two
 * divisions by constants, where Hinnant's civil_from_days has eight.
 * PostgreSQL's binary timestamps come here once a row of /orders. */
static void civil_from_days(int days, unsigned *year, unsigned *month, unsigned *day)
{
	/* Counted from 400 * 82 years before year 0's March 1, a whole
	 * number of 400-year cycles: never negative from year 1 on. */
	enum { SHIFT_CYCLES = 82, SHIFT_DAYS = 719468 + 146097 * SHIFT_CYCLES, SHIFT_YEARS = 400 * SHIFT_CYCLES };
	uint32_t shifted = (uint32_t)(days + SHIFT_DAYS);
	uint32_t century_quarters = 4 * shifted + 3;
	uint32_t century = century_quarters / 146097;
	uint32_t day_of_century = century_quarters % 146097 / 4;
	uint64_t year_product = (uint64_t)2939745 * (4 * day_of_century + 3);
	uint32_t year_of_century = (uint32_t)(year_product >> 32);
	uint32_t day_of_year = (uint32_t)year_product / 2939745 / 4; /* from March 1 */
	uint32_t month_product = 2141 * day_of_year + 197913;
	uint32_t is_january_or_february = day_of_year >= 306;

	*year = 100 * century + year_of_century - SHIFT_YEARS + is_january_or_february;
	*month = (month_product >> 16) - 12 * is_january_or_february;
	*day = (month_product & 0xffff) / 2141 + 1;
}

#define MILLISECONDS_PER_DAY 86400000LL
/* Days since 1970-01-01 of the first and last days of years 1 and 9999. */
#define FIRST_DAY (-719162)
#define LAST_DAY 2932896

int timefmt_from_unix_ms(long long unix_ms, char *out)
{
	long long days = unix_ms / MILLISECONDS_PER_DAY;
	long long of_day = unix_ms % MILLISECONDS_PER_DAY;

	out[0] = '\0';
	if (of_day < 0) { /* before 1970: floor, not truncation towards zero */
		of_day += MILLISECONDS_PER_DAY;
		days--;
	}
	if (days < FIRST_DAY || days > LAST_DAY)
		return -1;
	unsigned year, month, day;
	civil_from_days((int)days, &year, &month, &day);

	/* A row of /orders formats one of these: two digits at a time from
	 * digits.h's table, into a fixed template whose punctuation is
	 * already in place. */
	unsigned milliseconds = (unsigned)of_day % 1000;
	unsigned seconds = (unsigned)of_day / 1000;
	unsigned minutes = seconds / 60;
	memcpy(out, "0000-00-00T00:00:00.000Z", ISO_TIMESTAMP_LENGTH + 1);
	digits_put_pair(out, year / 100);
	digits_put_pair(out + 2, year % 100);
	digits_put_pair(out + 5, month);
	digits_put_pair(out + 8, day);
	digits_put_pair(out + 11, minutes / 60);
	digits_put_pair(out + 14, minutes % 60);
	digits_put_pair(out + 17, seconds % 60);
	out[20] = (char)('0' + milliseconds / 100);
	digits_put_pair(out + 21, milliseconds % 100);
	return 0;
}
