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

/* Pure text work on purpose: converting through struct tm and mktime would
 * read TZ, and the contract's value is the stored wall-clock time as UTC. */
int iso_timestamp_from_sql(const char *sql_text, char *out)
{
	const char *t = sql_text;

	out[0] = '\0';
	if (!is_digits(t, 4) || t[4] != '-' || !is_digits(t + 5, 2) || t[7] != '-' || !is_digits(t + 8, 2) ||
	    (t[10] != ' ' && t[10] != 'T') || !is_digits(t + 11, 2) || t[13] != ':' || !is_digits(t + 14, 2) ||
	    t[16] != ':' || !is_digits(t + 17, 2))
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
