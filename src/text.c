/* text.c: a string built piece by piece, in a caller's buffer (cut at its end) or in a malloc'd one that grows. */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct text text_growing(size_t initial)
{
	struct text text = {.data = malloc(initial), .size = initial, .grows = 1};

	text.cut = text.data == NULL;
	return text;
}

int text_grow(struct text *text, size_t more)
{
	if (text->cut)
		return -1;
	if (more <= text->size - 1 - text->length)
		return 0;
	size_t size = text->size * 2 + more;
	char *data = realloc(text->data, size);
	if (data == NULL) {
		text->cut = 1;
		return -1;
	}
	text->data = data;
	text->size = size;
	return 0;
}

void text_printf(struct text *text, const char *format, ...)
{
	va_list arguments;

	for (int attempt = 0; attempt < 2 && !(text->grows && text->cut); attempt++) {
		size_t room = text->size - text->length;
		va_start(arguments, format);
		int written = vsnprintf(text->data + text->length, room, format, arguments);
		va_end(arguments);
		if (written < 0) {
			text->cut = 1;
			return;
		}
		if ((size_t)written < room) {
			text->length += (size_t)written;
			return;
		}
		if (!text->grows) {
			text->length = text->size - 1; /* vsnprintf wrote what fits */
			text->cut = 1;
			return;
		}
		if (text_grow(text, (size_t)written) != 0)
			return;
	}
}
