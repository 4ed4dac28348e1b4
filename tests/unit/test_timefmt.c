/* test_timefmt.c: the database's timestamps and points in time become the contract's ISO form, whatever TZ says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "timefmt.h"

static const char *iso(const char *sql_text)
{
	static char out[ISO_TIMESTAMP_LENGTH + 1];
	return timefmt_from_sql(sql_text, out) == 0 ? out : "(rejected)";
}

static const char *iso_ms(long long unix_ms)
{
	static char out[ISO_TIMESTAMP_LENGTH + 1];
	return timefmt_from_unix_ms(unix_ms, out) == 0 ? out : "(rejected)";
}

/* Whether timefmt_from_unix_ms writes unix_ms as gmtime_r, the formatter
 * the status page used before, and printf would; says so on stderr if not. */
static int agrees_with_gmtime_at(long long unix_ms)
{
	long long milliseconds = (unix_ms % 1000 + 1000) % 1000;
	time_t seconds = (time_t)((unix_ms - milliseconds) / 1000);
	struct tm utc;
	char expected[64];

	gmtime_r(&seconds, &utc);
	snprintf(expected, sizeof expected, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
		 utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, (int)milliseconds);
	if (strcmp(iso_ms(unix_ms), expected) == 0)
		return 1;
	fprintf(stderr, "# %lld ms: %s, gmtime says %s\n", unix_ms, iso_ms(unix_ms), expected);
	return 0;
}

/* Every day of years 1 to 9999, at one time of day. */
static int agrees_with_gmtime(void)
{
	for (long long day = -719162; day <= 2932896; day++)
		if (!agrees_with_gmtime_at(day * 86400000LL + 3723456))
			return 0;
	return 1;
}

/* Every second of one day, each with its own milliseconds: the time of day
 * is written apart from the date. */
static int every_second_agrees_with_gmtime(void)
{
	long long midnight = 1700000000000LL - 1700000000000LL % 86400000;

	for (long long second = 0; second < 86400; second++)
		if (!agrees_with_gmtime_at(midnight + second * 1000 + second * 7 % 1000))
			return 0;
	return 1;
}

int main(void)
{
	static const char *zones[] = {"UTC", "America/Los_Angeles", "Asia/Kathmandu", "Pacific/Kiritimati"};

	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		setenv("TZ", zones[i], 1);
		tzset();
		IS_STRING(iso("2026-10-15 03:37:37.629232"), "2026-10-15T03:37:37.629Z",
			  "microseconds are truncated, not rounded, under TZ=%s", zones[i]);
	}
	IS_STRING(iso("2026-10-15 03:37:37.9999"), "2026-10-15T03:37:37.999Z", ".9999 truncates to .999, not up");
	IS_STRING(iso("2026-10-15 03:37:37.62"), "2026-10-15T03:37:37.620Z",
		  "PostgreSQL drops trailing zeros: .62 is .620");
	IS_STRING(iso("2026-10-15 03:37:37.6"), "2026-10-15T03:37:37.600Z", "one fractional digit");
	IS_STRING(iso("2026-10-15 03:37:37"), "2026-10-15T03:37:37.000Z", "whole seconds get .000");
	IS_STRING(iso("2025-12-31T23:59:59.999999"), "2025-12-31T23:59:59.999Z", "a T separator is accepted");
	IS_STRING(iso("2026-10-15 03:37:37.629+00"), "2026-10-15T03:37:37.629Z", "an explicit UTC offset");
	IS_STRING(iso("2026-10-15 03:37:37.629+02"), "(rejected)", "another offset is refused, not mis-shifted");
	IS_STRING(iso("2026-10-15"), "(rejected)", "a date alone is refused");
	IS_STRING(iso("2026-10-15 03:37:37."), "(rejected)", "a dot without digits is refused");
	IS_STRING(iso(""), "(rejected)", "empty text is refused");
	IS_STRING(iso("1700000000"), "(rejected)", "epoch numbers are refused");
	IS_STRING(iso("2026-1O-15 03:37:37"), "(rejected)", "a letter among the digits is refused");
	IS_STRING(iso("2026-13-45 99:99:99"), "(rejected)", "a month, day and time out of range are refused");
	IS_STRING(iso("2026-02-29 00:00:00"), "(rejected)", "February 29 of a common year is refused");
	IS_STRING(iso("2028-02-29 23:59:59"), "2028-02-29T23:59:59.000Z", "February 29 of a leap year is served");
	IS_STRING(iso("2026-04-31 00:00:00"), "(rejected)", "April 31 is refused");
	IS_STRING(iso("2026-04-30 24:00:00"), "(rejected)", "hour 24 is refused");
	IS_STRING(iso("2026-04-30 23:59:60"), "(rejected)", "second 60 is refused");
	IS_STRING(iso_ms(0), "1970-01-01T00:00:00.000Z", "Unix time 0");
	IS_STRING(iso_ms(1792035457629LL), "2026-10-15T03:37:37.629Z", "a point in time, to the millisecond");
	IS_STRING(iso_ms(-1), "1969-12-31T23:59:59.999Z", "before 1970 counts back, not towards zero");
	IS_STRING(iso_ms(951782400000LL), "2000-02-29T00:00:00.000Z", "February 29 of 2000 (a leap century)");
	IS_STRING(iso_ms(-62135596800000LL), "0001-01-01T00:00:00.000Z", "the first day of year 1");
	IS_STRING(iso_ms(253402300799999LL), "9999-12-31T23:59:59.999Z", "the last millisecond of year 9999");
	IS_STRING(iso_ms(253402300800000LL), "(rejected)", "year 10000 is refused");
	IS_STRING(iso_ms(-62135596800001LL), "(rejected)", "year 0 is refused");
	OK(agrees_with_gmtime(), "every day of years 1 to 9999 agrees with gmtime_r");
	OK(every_second_agrees_with_gmtime(), "every second of a day in 2023 agrees with gmtime_r");
	DONE_TESTING();
}
