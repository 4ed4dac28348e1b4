/* test_text.c: text built in a fixed buffer is cut at its end, and growing text grows. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "text.h"

int main(void)
{
	char buffer[16];
	struct text text = text_in(buffer, sizeof buffer);

	text_append_string(&text, "Status: ");
	text_append_decimal(&text, 404);
	text_end(&text);
	IS_STRING(buffer, "Status: 404", "pieces and a decimal, in order");
	OK(!text.cut, "nothing was cut");
	text_append_string(&text, " Not Found");
	IS_STRING((text_end(&text), buffer), "Status: 404 Not", "a buffer cuts what does not fit");
	OK(text.cut && text.length == sizeof buffer - 1, "and says so, with the NUL's byte left");
	text_append_string(&text, "more");
	OK(text.length == sizeof buffer - 1, "a full buffer takes nothing more");

	text = text_in(buffer, 8);
	text_append_string(&text, "abc");
	OK(text_append_whole(&text, "defgh", 5) == -1 && text.length == 3, "a piece that must not be cut is left out");
	OK(text_append_whole(&text, "defg", 4) == 0 && text.length == 7, "one that fits is appended");
	text = text_in(buffer, sizeof buffer);
	text_append_decimal(&text, 0);
	text_append_string(&text, "/");
	text_append_decimal(&text, 18446744073709551615ULL);
	IS_STRING((text_end(&text), buffer), "0/1844674407370", "0, and the largest decimal, cut");
	text = text_in(buffer, sizeof buffer);
	text_printf(&text, "[%d] %s", 12345, "a long line of text");
	IS_STRING((text_end(&text), buffer), "[12345] a long ", "printf cuts as append does");
	OK(text.cut, "and says so");

	struct text grown = text_growing(4);
	for (int i = 0; i < 1000; i++)
		text_printf(&grown, "%d,", i % 10);
	text_append_string(&grown, "end");
	text_end(&grown);
	OK(!grown.cut && grown.length == 2003 && strcmp(grown.data + 1996, "8,9,end") == 0,
	   "growing text takes 2,003 bytes from a start of 4");
	free(grown.data);
	DONE_TESTING();
}
