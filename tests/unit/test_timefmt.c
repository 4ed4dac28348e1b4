/* test_timefmt.c: the database's timestamps become the contract's ISO form, whatever TZ says. */
#include <stdlib.h>
#include <time.h>

#include "tap.h"
#include "timefmt.h"

static const char *iso(const char *sql_text)
{
	static char out[ISO_TIMESTAMP_LENGTH + 1];
	return iso_timestamp_from_sql(sql_text, out) == 0 ? out : "(rejected)";
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
	DONE_TESTING();
}
