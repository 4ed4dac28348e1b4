/* fuzz_timefmt.c: libFuzzer target for timefmt_from_sql (timefmt.c), which reads every created_at the database
 * returns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

static int digits(const char *text, size_t count)
{
	return strspn(text, "0123456789") >= count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *out = malloc(ISO_TIMESTAMP_LENGTH + 1); /* exactly what the header asks for */

	memcpy(text, data, size);
	text[size] = '\0';
	memset(out, 'x', ISO_TIMESTAMP_LENGTH + 1);
	int result = timefmt_from_sql(text, out);
	if (result == 0) {
		/* YYYY-MM-DDTHH:MM:SS.mmmZ, the date and time copied, the
		 * milliseconds the first three fraction digits (zero-filled). */
		char milliseconds[4] = "000";
		if (text[19] == '.')
			memcpy(milliseconds, text + 20,
			       strspn(text + 20, "0123456789") < 3 ? strspn(text + 20, "0123456789") : 3);
		if (strnlen(out, ISO_TIMESTAMP_LENGTH + 1) != ISO_TIMESTAMP_LENGTH || memcmp(out, text, 10) != 0 ||
		    out[10] != 'T' || memcmp(out + 11, text + 11, 8) != 0 || out[19] != '.' ||
		    memcmp(out + 20, milliseconds, 3) != 0 || out[23] != 'Z' || !digits(out, 4) || !digits(out + 20, 3))
			abort();
	} else if (result != -1 || out[0] != '\0') {
		abort();
	}
	free(out);
	free(text);
	return 0;
}
