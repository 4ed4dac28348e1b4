/* digits.h: decimal digits written two at a time, for the integers and timestamps of every /orders row. */
#ifndef WEBAPI_DIGITS_H
#define WEBAPI_DIGITS_H

#include <stdint.h>
#include <string.h>

/* "00" to "99": one table look-up and one two-byte copy write a pair,
 * where a division and a remainder by 10 wrote each digit. An /orders
 * page writes 300 integers and 100 timestamps, and the divisions showed
 * in callgrind. */
static const char digits_pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				   "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				   "8081828384858687888990919293949596979899";

/* Writes value (below 100) as two digits at out; returns the end. */
static inline char *digits_put_pair(char *out, unsigned value)
{
	memcpy(out, digits_pairs + 2 * value, 2);
	return out + 2;
}

/* How many digits magnitude has: comparisons, not a division per digit. */
static inline int digits_count(uint64_t magnitude)
{
	int count = 1;

	for (;;) {
		if (magnitude < 10)
			return count;
		if (magnitude < 100)
			return count + 1;
		if (magnitude < 1000)
			return count + 2;
		if (magnitude < 10000)
			return count + 3;
		magnitude /= 10000;
		count += 4;
	}
}

/* The most characters an int64_t takes, its sign included. */
#define DIGITS_INT64_ROOM 20

/* Writes number in decimal at out (DIGITS_INT64_ROOM bytes at most, no
 * NUL); returns the end. The digits go straight to their places, the
 * last pair first, with no copy from a scratch buffer. */
static inline char *digits_put_int64(char *out, int64_t number)
{
	uint64_t magnitude = number < 0 ? 0 - (uint64_t)number : (uint64_t)number;

	if (number < 0)
		*out++ = '-';
	char *end = out + digits_count(magnitude);
	char *at = end;
	while (magnitude >= 100) {
		at -= 2;
		memcpy(at, digits_pairs + 2 * (magnitude % 100), 2);
		magnitude /= 100;
	}
	if (magnitude >= 10)
		memcpy(at - 2, digits_pairs + 2 * magnitude, 2);
	else
		at[-1] = (char)('0' + magnitude);
	return end;
}

#endif
