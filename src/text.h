/* text.h: a string built piece by piece, in a caller's buffer (cut at its end) or in a malloc'd one that grows. */
#ifndef WEBAPI_TEXT_H
#define WEBAPI_TEXT_H

#include <stddef.h>
#include <string.h>

/* The appends are inline: a worker builds two strings a request this way
 * (its response head, its activity label) rather than with snprintf, whose
 * format parsing costs far more than copying the pieces. */
struct text {
	char *data;
	size_t length;
	size_t size; /* data's bytes, the terminating NUL included */
	int grows;   /* realloc'd as needed; else what does not fit is cut */
	int cut;     /* something did not fit (a buffer), or memory ran out (grows) */
};

/* Text in buffer's size bytes (at least 1). */
static inline struct text text_in(char *buffer, size_t size)
{
	return (struct text){.data = buffer, .size = size};
}

/* Text in malloc'd memory, initial bytes to start with; .cut when out of
 * memory. The caller frees .data. */
struct text text_growing(size_t initial);

/* Makes room for more bytes after length in growing text: 0, or -1 (then .cut). */
int text_grow(struct text *text, size_t more);

/* Appends length bytes; in a buffer, what does not fit is cut. */
static inline void text_append(struct text *text, const char *bytes, size_t length)
{
	size_t room = text->size - 1 - text->length;

	if (length > room) {
		if (text->grows ? text_grow(text, length) != 0 : (text->cut = 1, room == 0))
			return;
		if (!text->grows)
			length = room;
	}
	memcpy(text->data + text->length, bytes, length);
	text->length += length;
}

static inline void text_append_string(struct text *text, const char *string)
{
	text_append(text, string, strlen(string));
}

/* Appends the bytes whole or, when they do not fit in a buffer, not at all
 * (an escape or a character that must not be cut): 0, or -1. */
static inline int text_append_whole(struct text *text, const char *bytes, size_t length)
{
	if (!text->grows && length > text->size - 1 - text->length) {
		text->cut = 1;
		return -1;
	}
	text_append(text, bytes, length);
	return text->cut && text->grows ? -1 : 0;
}

static inline void text_append_decimal(struct text *text, unsigned long long value)
{
	char digits[20];
	size_t count = 0;

	do
		digits[sizeof digits - ++count] = (char)('0' + value % 10);
	while ((value /= 10) != 0);
	text_append(text, digits + sizeof digits - count, count);
}

/* Appends as printf would; in a buffer, cut where it ends. */
void text_printf(struct text *text, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Writes the terminating NUL; returns the length. */
static inline size_t text_end(struct text *text)
{
	text->data[text->length] = '\0';
	return text->length;
}

#endif
