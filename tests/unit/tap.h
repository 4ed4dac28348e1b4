/* tap.h: a few macros that make a C unit test speak TAP, so prove runs it beside the shell tests. */
#ifndef WEBAPI_TAP_H
#define WEBAPI_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

#define OK(condition, ...)                                                                   \
	do {                                                                                 \
		int tap_passed = (condition) ? 1 : 0;                                        \
		printf("%sok %d - ", tap_passed ? "" : "not ", ++tap_count);                 \
		printf(__VA_ARGS__);                                                         \
		printf("\n");                                                                \
		if (!tap_passed) {                                                           \
			tap_failed++;                                                        \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
		}                                                                            \
	} while (0)

#define IS_STRING(got, expected, ...)                                                                        \
	do {                                                                                                 \
		const char *tap_got = (got), *tap_expected = (expected);                                     \
		OK(tap_got != NULL && strcmp(tap_got, tap_expected) == 0, __VA_ARGS__);                      \
		if (tap_got == NULL || strcmp(tap_got, tap_expected) != 0)                                   \
			printf("#   got '%s', expected '%s'\n", tap_got ? tap_got : "(null)", tap_expected); \
	} while (0)

#define DONE_TESTING()                        \
	do {                                  \
		printf("1..%d\n", tap_count); \
		return tap_failed ? 1 : 0;    \
	} while (0)

#endif
