/* timefmt.c: the database's timestamp text to the contract's ISO 8601 form. */
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
int iso_timestamp_from_sql(const char *sql_text, char *out)
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
