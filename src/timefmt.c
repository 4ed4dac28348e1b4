/* timefmt.c: the contract's ISO 8601 timestamps, from the database's text or from a point in time. */
#include "timefmt.h"

#include <string.h>

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

/* Days since 2000-03-01 to a proleptic Gregorian date, in 400-year eras
 * (after H. Hinnant's civil_from_days), in 32-bit arithmetic: PostgreSQL's
 * binary timestamps come here once a row, and 64-bit divisions cost as
 * much as the rest of the row's decoding. days is at least -730,119
 * (0001-01-01). */
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

/* value < 100; a field of a timestamp, without a loop. */
static char *put_two_digits(char *out, unsigned value)
{
	out[0] = (char)('0' + value / 10);
	out[1] = (char)('0' + value % 10);
	return out + 2;
}

#define MILLISECONDS_PER_DAY 86400000LL
/* Counted from 2000-01-01 (day 0 of civil_from_days' count), which is
 * 10,957 days after 1970-01-01: the first and last days of years 1 and 9999. */
#define DAYS_1970_TO_2000 10957
#define FIRST_DAY (-730119)
#define LAST_DAY 2921939

int timefmt_from_unix_ms(long long unix_ms, char *out)
{
	long long days = unix_ms / MILLISECONDS_PER_DAY;
	long long of_day = unix_ms % MILLISECONDS_PER_DAY;

	out[0] = '\0';
	if (of_day < 0) { /* before 1970: floor, not truncation towards zero */
		of_day += MILLISECONDS_PER_DAY;
		days--;
	}
	days -= DAYS_1970_TO_2000;
	if (days < FIRST_DAY || days > LAST_DAY)
		return -1;
	int year, month, day;
	civil_from_days((int)days, &year, &month, &day);

	/* Two digits at a time, and the time of day from seconds: a row of
	 * /orders formats one of these, and a division per digit showed. */
	unsigned milliseconds = (unsigned)of_day % 1000;
	unsigned seconds = (unsigned)of_day / 1000;
	char *cursor = put_two_digits(out, (unsigned)year / 100);
	cursor = put_two_digits(cursor, (unsigned)year % 100);
	*cursor++ = '-';
	cursor = put_two_digits(cursor, (unsigned)month);
	*cursor++ = '-';
	cursor = put_two_digits(cursor, (unsigned)day);
	*cursor++ = 'T';
	cursor = put_two_digits(cursor, seconds / 3600);
	*cursor++ = ':';
	cursor = put_two_digits(cursor, seconds / 60 % 60);
	*cursor++ = ':';
	cursor = put_two_digits(cursor, seconds % 60);
	*cursor++ = '.';
	*cursor++ = (char)('0' + milliseconds / 100);
	cursor = put_two_digits(cursor, milliseconds % 100);
	*cursor++ = 'Z';
	*cursor = '\0';
	return 0;
}
