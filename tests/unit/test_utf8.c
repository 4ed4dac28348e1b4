/* test_utf8.c: any bytes come out as well-formed UTF-8, with a character cut at the end of a field left out whole. */
#include <string.h>

#include "tap.h"
#include "utf8.h"

#define FFFD "\xef\xbf\xbd"

/* text (a literal) copied with utf8_copy_valid into room enough. */
static const char *copied(const char *text, size_t length)
{
	static char out[256];

	utf8_copy_valid(out, sizeof out, text, length);
	return out;
}
#define COPIED(literal) copied(literal, sizeof(literal) - 1)

/* code_point in UTF-8 as RFC 3629 writes it; returns its length. */
static size_t encode(unsigned code_point, char *out)
{
	if (code_point < 0x80) {
		out[0] = (char)code_point;
		return 1;
	}
	if (code_point < 0x800) {
		out[0] = (char)(0xc0 | code_point >> 6);
		out[1] = (char)(0x80 | (code_point & 0x3f));
		return 2;
	}
	if (code_point < 0x10000) {
		out[0] = (char)(0xe0 | code_point >> 12);
		out[1] = (char)(0x80 | (code_point >> 6 & 0x3f));
		out[2] = (char)(0x80 | (code_point & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | code_point >> 18);
	out[1] = (char)(0x80 | (code_point >> 12 & 0x3f));
	out[2] = (char)(0x80 | (code_point >> 6 & 0x3f));
	out[3] = (char)(0x80 | (code_point & 0x3f));
	return 4;
}

int main(void)
{
	int wrong = 0;
	for (unsigned code_point = 0; code_point <= 0x10ffff; code_point++) {
		char bytes[4];
		size_t length = encode(code_point, bytes);
		int is_surrogate = code_point >= 0xd800 && code_point <= 0xdfff;
		wrong += utf8_character_length(bytes, length) != (is_surrogate ? 0 : length);
		/* Cut anywhere inside, a character is not one. */
		for (size_t cut = 1; cut < length; cut++)
			wrong += utf8_character_length(bytes, cut) != 0;
	}
	OK(wrong == 0, "every code point but the surrogates is one character, and none is cut short (%d wrong)", wrong);

	IS_STRING(COPIED("GET /caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
		  "GET /caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "well-formed text is copied as it is");
	IS_STRING(COPIED("a\xff"
			 "b\xfe"),
		  "a" FFFD "b" FFFD, "0xff and 0xfe: U+FFFD each");
	IS_STRING(COPIED("\x80\xbf"), FFFD FFFD, "lone continuation bytes: U+FFFD each");
	IS_STRING(COPIED("/\xc0\xaf"), "/" FFFD FFFD, "an overlong '/' (C0 AF): U+FFFD for each byte");
	IS_STRING(COPIED("\xe0\x80\xaf"), FFFD FFFD FFFD, "an overlong three-byte '/' (E0 80 AF)");
	IS_STRING(COPIED("\xed\xa0\x80z"), FFFD FFFD FFFD "z", "a surrogate (ED A0 80)");
	IS_STRING(COPIED("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD, "past U+10FFFF (F4 90 80 80)");
	IS_STRING(COPIED("\xe2\x82z"), FFFD FFFD "z", "a character cut short inside the text");

	char out[5];
	utf8_copy_valid(out, sizeof out, "ab\xe2\x82\xac", 5);
	IS_STRING(out, "ab", "a character that does not fit is left out whole");
	utf8_copy_valid(out, sizeof out, "a\xff\xff", 3);
	IS_STRING(out, "a" FFFD, "and so is a replacement");

	OK(utf8_whole_length("ab\xe2\x82\xac", 5) == 5, "whole_length: a whole character at the end stays");
	OK(utf8_whole_length("ab\xe2\x82", 4) == 2, "a three-byte character cut after 2 bytes goes");
	OK(utf8_whole_length("ab\xe2", 3) == 2, "cut after its lead byte too");
	OK(utf8_whole_length("a\xf0\x9f\x98", 4) == 1, "a four-byte character cut after 3 bytes goes");
	OK(utf8_whole_length("ab\xff", 3) == 3, "a byte no character starts with is no cut: it stays, to be replaced");
	OK(utf8_whole_length("\x80\x80\x80\x80", 4) == 4, "nor are lone continuation bytes");
	OK(utf8_whole_length("a\xe0\x80", 3) == 3, "nor the start of an overlong form");
	OK(utf8_whole_length("", 0) == 0, "the empty text");

	DONE_TESTING();
}
