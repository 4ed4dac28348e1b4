/* utf8.h: well-formed UTF-8 (RFC 3629) out of any bytes, for text a strict JSON parser or log reader must accept. */
#ifndef WEBAPI_UTF8_H
#define WEBAPI_UTF8_H

#include <stddef.h>

/* The length of the well-formed character text starts with (1 to 4 bytes:
 * no overlong form, surrogate or code point past U+10FFFF), reading at
 * most length bytes; 0 when it starts with none, a character cut short by
 * the end of text included. */
size_t utf8_character_length(const char *text, size_t length);

/* The length of text without a character cut short at its end, as a copy
 * into a fixed-size field leaves it when it cuts inside one: at most 3
 * bytes fewer. */
size_t utf8_whole_length(const char *text, size_t length);

/* Copies length bytes of text into out as well-formed UTF-8, NUL-terminated:
 * each byte that starts no character becomes U+FFFD, and a character that
 * does not fit in out_size is left out with everything after it. Returns
 * the bytes written. out_size of 3 * length + 1 holds any text whole. */
size_t utf8_copy_valid(char *out, size_t out_size, const char *text, size_t length);

#endif
