/* utf8.c: well-formed UTF-8 (RFC 3629) out of any bytes, for text a strict JSON parser or log reader must accept. */
#include "utf8.h"

#include <string.h>

/* U+FFFD REPLACEMENT CHARACTER, which the Unicode standard gives for a byte
 * that is no part of a character. */
#define REPLACEMENT "\xef\xbf\xbd"

/* How many bytes the character a lead byte starts has; 0 for a byte no
 * character starts with (a continuation byte, overlong C0 and C1, F5 and
 * above). */
static size_t sequence_length(unsigned char lead)
{
	if (lead < 0x80)
		return 1;
	if (lead >= 0xc2 && lead <= 0xdf)
		return 2;
	if (lead >= 0xe0 && lead <= 0xef)
		return 3;
	if (lead >= 0xf0 && lead <= 0xf4)
		return 4;
	return 0;
}

/* How many of the first length bytes of a character's sequence are well
 * formed so far: the second byte's range depends on the lead (RFC 3629,
 * section 4), which rules out the overlong forms, the surrogates and what
 * lies past U+10FFFF. */
static size_t well_formed_prefix(const unsigned char *text, size_t length)
{
	size_t expected = sequence_length(text[0]);
	size_t good = 1;

	if (expected == 0)
		return 0;
	for (; good < expected && good < length; good++) {
		unsigned char byte = text[good];
		unsigned char low = 0x80, high = 0xbf;
		if (good == 1 && text[0] == 0xe0)
			low = 0xa0;
		else if (good == 1 && text[0] == 0xed)
			high = 0x9f;
		else if (good == 1 && text[0] == 0xf0)
			low = 0x90;
		else if (good == 1 && text[0] == 0xf4)
			high = 0x8f;
		if (byte < low || byte > high)
			break;
	}
	return good;
}

size_t utf8_character_length(const char *text, size_t length)
{
	const unsigned char *bytes = (const unsigned char *)text;

	if (length == 0)
		return 0;
	size_t expected = sequence_length(bytes[0]);
	return expected != 0 && expected <= length && well_formed_prefix(bytes, expected) == expected ? expected : 0;
}

size_t utf8_whole_length(const char *text, size_t length)
{
	const unsigned char *bytes = (const unsigned char *)text;

	/* The last lead byte is at most 3 bytes from the end of a cut character. */
	for (size_t back = 1; back <= 3 && back <= length; back++) {
		const unsigned char *lead = bytes + length - back;
		if ((*lead & 0xc0) == 0x80)
			continue;
		if (sequence_length(*lead) > back && well_formed_prefix(lead, back) == back)
			return length - back;
		break;
	}
	return length;
}

size_t utf8_copy_valid(char *out, size_t out_size, const char *text, size_t length)
{
	size_t used = 0;

	if (out_size == 0)
		return 0;
	for (size_t at = 0; at < length;) {
		size_t taken = utf8_character_length(text + at, length - at);
		const char *piece = text + at;
		size_t piece_length = taken;
		if (taken == 0) {
			piece = REPLACEMENT;
			piece_length = sizeof REPLACEMENT - 1;
			taken = 1;
		}
		if (used + piece_length >= out_size)
			break;
		memcpy(out + used, piece, piece_length);
		used += piece_length;
		at += taken;
	}
	out[used] = '\0';
	return used;
}
