/* test_digits.c: digits.h's integers and pairs against printf's, at every length and both ends of int64_t. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "digits.h"
#include "tap.h"

/* digits_put_int64's text, NUL added here; the bytes after it untouched. */
static const char *as_text(int64_t number)
{
	static char out[DIGITS_INT64_ROOM + 8];

	memset(out, '#', sizeof out);
	char *end = digits_put_int64(out, number);
	if (end < out || end > out + DIGITS_INT64_ROOM || *end != '#')
		return "(overran)";
	*end = '\0';
	return out;
}

static int agrees_with_printf(int64_t number)
{
	char expected[32];

	snprintf(expected, sizeof expected, "%" PRId64, number);
	if (strcmp(as_text(number), expected) == 0)
		return 1;
	printf("# %s: got %s\n", expected, as_text(number));
	return 0;
}

/* Every power of ten, one less and one more, both signs: each length. */
static int every_length_agrees(void)
{
	int64_t power = 1;

	for (int exponent = 0; exponent <= 18; exponent++, power *= 10) {
		const int64_t values[] = {power, power - 1, power + 1, -power, -(power - 1), -(power + 1)};
		for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
			if (!agrees_with_printf(values[i]))
				return 0;
	}
	return 1;
}

static int small_numbers_agree(void)
{
	for (int64_t number = -100000; number <= 100000; number++)
		if (!agrees_with_printf(number))
			return 0;
	return 1;
}

static int every_pair_agrees(void)
{
	for (unsigned value = 0; value < 100; value++) {
		char got[3] = {0}, expected[3];
		snprintf(expected, sizeof expected, "%02u", value);
		if (digits_put_pair(got, value) != got + 2 || strcmp(got, expected) != 0)
			return 0;
	}
	return 1;
}

int main(void)
{
	IS_STRING(as_text(0), "0", "zero");
	IS_STRING(as_text(INT64_MAX), "9223372036854775807", "the largest int64_t");
	IS_STRING(as_text(INT64_MIN), "-9223372036854775808", "the smallest int64_t, whose magnitude no int64_t holds");
	OK(every_length_agrees(), "each power of ten, and one either side, of both signs, agrees with printf");
	OK(small_numbers_agree(), "every number from -100000 to 100000 agrees with printf");
	OK(every_pair_agrees(), "digits_put_pair writes 00 to 99 as printf's %%02u does");
	DONE_TESTING();
}
