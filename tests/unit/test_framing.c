/* test_framing.c: framing_next on a FastCGI connection's bytes, whole or a byte at a time, and its replies. */
#include <stdlib.h>

#include <fastcgi.h>

#include "framing.h"
#include "tap.h"

#define ROOM (200 * 1024)
static unsigned char input[ROOM];
static size_t input_length;

static void add_record(int type, unsigned id, const void *content, size_t length, size_t padding)
{
	unsigned char *at = input + input_length;
	at[0] = FCGI_VERSION_1;
	at[1] = (unsigned char)type;
	at[2] = (unsigned char)(id >> 8);
	at[3] = (unsigned char)id;
	at[4] = (unsigned char)(length >> 8);
	at[5] = (unsigned char)length;
	at[6] = (unsigned char)padding;
	at[7] = 0;
	if (length > 0)
		memcpy(at + 8, content, length);
	memset(at + 8 + length, 0xee, padding);
	input_length += 8 + length + padding;
}

static void add_begin(unsigned id, int role, int flags, size_t padding)
{
	unsigned char body[8] = {0, (unsigned char)role, (unsigned char)flags};
	add_record(FCGI_BEGIN_REQUEST, id, body, sizeof body, padding);
}

static const unsigned char pair[] = {14,  3,   'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_',
				     'M', 'E', 'T', 'H', 'O', 'D', 'G', 'E', 'T'};

/* A request as lighttpd sends it, with padding where a front may put it. */
static void add_request(unsigned id, int flags)
{
	add_begin(id, FCGI_RESPONDER, flags, 8);
	add_record(FCGI_PARAMS, id, pair, sizeof pair, 5);
	add_record(FCGI_PARAMS, id, NULL, 0, 3);
	add_record(FCGI_STDIN, id, NULL, 0, 0);
}

/* What libfcgi is to read of request id 1 with the pair above. */
/* clang-format off */
static const unsigned char canonical[] = {
    1, FCGI_BEGIN_REQUEST, 0, 1, 0, 8, 0, 0, 0, FCGI_RESPONDER, 0, 0, 0, 0, 0, 0,
    1, FCGI_PARAMS, 0, 1, 0, 19, 0, 0, 14, 3, 'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H', 'O',
    'D', 'G', 'E', 'T',
    1, FCGI_PARAMS, 0, 1, 0, 0, 0, 0,
    1, FCGI_STDIN, 0, 1, 0, 0, 0, 0,
};
/* clang-format on */

static struct framing new_framing(size_t limit)
{
	struct framing framing = {.max_request_bytes = limit};
	return framing;
}

/* The first verdict other than MANAGEMENT on a copy of input[0, length). */
static enum framing_verdict verdict_of(size_t length)
{
	static unsigned char copy[ROOM];
	struct framing framing = new_framing(1 << 20);
	struct framing_result result;

	memcpy(copy, input, length);
	do
		framing_next(&framing, copy, &length, &result);
	while (result.verdict == FRAMING_MANAGEMENT);
	return result.verdict;
}

/* Hands the framing the input as the loop would, `step` bytes more at a
 * time, dropping what framing_take says is done with. Returns the
 * verdict that ended it, and the stream when the request is ready. */
static enum framing_verdict feed(size_t step, size_t limit, unsigned char *stream, size_t *stream_length)
{
	static unsigned char buffer[ROOM];
	struct framing framing = new_framing(limit);
	struct framing_result result;
	size_t length = 0, sent = 0;

	for (;;) {
		size_t more = input_length - sent < step ? input_length - sent : step;
		memcpy(buffer + length, input + sent, more);
		length += more;
		sent += more;
		framing_next(&framing, buffer, &length, &result);
		while (result.verdict == FRAMING_MANAGEMENT)
			framing_next(&framing, buffer, &length, &result);
		if (result.verdict != FRAMING_INCOMPLETE)
			break;
		size_t done = framing_take(&framing);
		memmove(buffer, buffer + done, length - done);
		length -= done;
		if (sent == input_length)
			return FRAMING_INCOMPLETE;
	}
	if (result.verdict == FRAMING_REQUEST_READY || result.verdict == FRAMING_TOO_LARGE) {
		unsigned char *allocated;
		const unsigned char *built = framing_request_stream(&framing, buffer, stream_length, &allocated);
		memcpy(stream, built, *stream_length);
		free(allocated);
	}
	return result.verdict;
}

static void check_stream_of_request(void)
{
	static unsigned char stream[ROOM];
	size_t stream_length = 0;

	input_length = 0;
	add_request(1, 0);
	int every_prefix_waits = 1;
	for (size_t cut = 0; cut < input_length; cut++)
		every_prefix_waits &= verdict_of(cut) == FRAMING_INCOMPLETE;
	OK(every_prefix_waits, "every prefix of a request waits for more");
	OK(feed(input_length, 1 << 20, stream, &stream_length) == FRAMING_REQUEST_READY &&
	       stream_length == sizeof canonical && memcmp(stream, canonical, sizeof canonical) == 0,
	   "a whole request, padding on every record: libfcgi reads it with no padding");
	OK(feed(1, 1 << 20, stream, &stream_length) == FRAMING_REQUEST_READY && stream_length == sizeof canonical &&
	       memcmp(stream, canonical, sizeof canonical) == 0,
	   "... the same when it comes a byte at a time");

	/* A body is counted and dropped; a management record in the middle
	 * is answered apart. */
	static unsigned char body[5000];
	memset(body, 'b', sizeof body);
	input_length = 0;
	add_begin(1, FCGI_RESPONDER, 0, 0);
	add_record(FCGI_GET_VALUES, 0,
		   "\x0e\x00"
		   "FCGI_MAX_CONNS",
		   16, 0);
	add_record(FCGI_PARAMS, 1, pair, sizeof pair, 0);
	add_record(FCGI_PARAMS, 1, NULL, 0, 0);
	for (int i = 0; i < 10; i++)
		add_record(FCGI_STDIN, 1, body, sizeof body, 7);
	add_record(FCGI_STDIN, 1, NULL, 0, 0);
	OK(feed(7, 1 << 20, stream, &stream_length) == FRAMING_REQUEST_READY && stream_length == sizeof canonical &&
	       memcmp(stream, canonical, sizeof canonical) == 0,
	   "a 50 KB body and a management record between the records: the same stream, the body dropped");
	OK(feed(input_length, 40000, stream, &stream_length) == FRAMING_TOO_LARGE &&
	       stream_length == sizeof canonical && memcmp(stream, canonical, sizeof canonical) == 0,
	   "a body past --max-request-bytes: too large, its parameters whole");
	OK(feed(input_length, 10, stream, &stream_length) == FRAMING_TOO_LARGE && stream_length == 32 &&
	       memcmp(stream, canonical, 16) == 0 && stream[17] == FCGI_PARAMS && stream[21] == 0 &&
	       stream[25] == FCGI_STDIN,
	   "parameters past it: too large, and libfcgi gets the BEGIN_REQUEST and empty streams");

	/* Parameters over one record: built again in records of 64 KiB. */
	static unsigned char big[70000];
	memset(big, 'v', sizeof big);
	size_t value_length = sizeof big - 6;
	big[0] = 1;
	big[1] = (unsigned char)(0x80 | value_length >> 24);
	big[2] = (unsigned char)(value_length >> 16);
	big[3] = (unsigned char)(value_length >> 8);
	big[4] = (unsigned char)value_length;
	big[5] = 'N';
	input_length = 0;
	add_begin(1, FCGI_RESPONDER, 0, 0);
	add_record(FCGI_PARAMS, 1, big, 40000, 0);
	add_record(FCGI_PARAMS, 1, big + 40000, sizeof big - 40000, 1);
	add_record(FCGI_PARAMS, 1, NULL, 0, 0);
	add_record(FCGI_STDIN, 1, NULL, 0, 0);
	OK(feed(1000, 1 << 20, stream, &stream_length) == FRAMING_REQUEST_READY &&
	       stream_length == 16 + 8 + 65535 + 8 + (sizeof big - 65535) + 16 && stream[24] == 1 &&
	       stream[24 + 65535 + 4] == (sizeof big - 65535) >> 8,
	   "70 KB of parameters: two records of 64 KiB and the rest");
}

static void check_refusals(void)
{
	struct framing framing;
	struct framing_result result;

	input_length = 0;
	add_begin(1, FCGI_RESPONDER, 0, 0);
	add_record(FCGI_STDIN, 1, NULL, 0, 0);
	OK(verdict_of(input_length) == FRAMING_MALFORMED, "STDIN before the end of PARAMS: malformed");

	input_length = 0;
	add_request(1, 0);
	input_length -= 8;
	add_record(FCGI_PARAMS, 1, pair, sizeof pair, 0);
	OK(verdict_of(input_length) == FRAMING_MALFORMED, "PARAMS after their end: malformed");

	input_length = 0;
	add_begin(1, FCGI_RESPONDER, 0, 0);
	add_record(FCGI_DATA, 1, "x", 1, 0);
	OK(verdict_of(input_length) == FRAMING_MALFORMED, "FCGI_DATA in a responder's request: malformed");

	input_length = 0;
	add_record(FCGI_BEGIN_REQUEST, 1, "\0\1\0\0\0", 5, 0);
	OK(verdict_of(input_length) == FRAMING_MALFORMED, "a BEGIN_REQUEST body of 5 bytes: malformed");
	input_length = 0;
	add_record(FCGI_BEGIN_REQUEST, 1, "\0\1\0\0\0\0\0\0\0\0\0\0", 12, 0);
	OK(verdict_of(input_length) == FRAMING_MALFORMED, "... of 12 bytes: malformed");

	input_length = 0;
	add_begin(9, 7, FCGI_KEEP_CONN, 0);
	framing = new_framing(1 << 20);
	framing_next(&framing, input, &input_length, &result);
	OK(result.verdict == FRAMING_UNKNOWN_ROLE && result.request_id == 9 && result.keep_connection &&
	       framing_take(&framing) == 16,
	   "role 7: FCGI_UNKNOWN_ROLE for request 9, kept, the record done with");
	input_length = 0;
	add_begin(9, FCGI_AUTHORIZER, 0, 0);
	OK(verdict_of(input_length) == FRAMING_UNKNOWN_ROLE, "an authorizer's request too: this is a responder");

	/* 0x40000000 + 0x40000000 bytes announced, a few sent. */
	static const unsigned char huge[] = {0xc0, 0, 0, 0, 0xc0, 0, 0, 0, 'a', 'b'};
	input_length = 0;
	add_begin(1, FCGI_RESPONDER, 0, 0);
	add_record(FCGI_PARAMS, 1, huge, sizeof huge, 0);
	add_record(FCGI_PARAMS, 1, NULL, 0, 0);
	OK(verdict_of(input_length) == FRAMING_MALFORMED, "name and value lengths past the parameters sent: malformed");

	input_length = 0;
	add_begin(1, FCGI_RESPONDER, FCGI_KEEP_CONN, 0);
	add_begin(2, FCGI_RESPONDER, 0, 0);
	framing = new_framing(1 << 20);
	framing_next(&framing, input, &input_length, &result);
	OK(result.verdict == FRAMING_CANT_MPX && result.request_id == 2,
	   "a second request id meanwhile: CANT_MPX_CONN");
	add_record(FCGI_PARAMS, 2, pair, sizeof pair, 0);
	add_record(FCGI_PARAMS, 1, NULL, 0, 0);
	add_record(FCGI_STDIN, 1, NULL, 0, 0);
	framing_next(&framing, input, &input_length, &result);
	OK(result.verdict == FRAMING_REQUEST_READY && result.request_id == 1 && result.keep_connection,
	   "... its records are skipped, and the first request ends");

	input_length = 0;
	add_begin(3, FCGI_RESPONDER, FCGI_KEEP_CONN, 0);
	add_record(FCGI_ABORT_REQUEST, 3, NULL, 0, 0);
	add_record(FCGI_ABORT_REQUEST, 3, NULL, 0, 0);
	framing = new_framing(1 << 20);
	framing_next(&framing, input, &input_length, &result);
	OK(result.verdict == FRAMING_ABORTED && result.request_id == 3 && result.keep_connection,
	   "FCGI_ABORT_REQUEST before the request is whole aborts it");
	framing_next(&framing, input, &input_length, &result);
	OK(result.verdict == FRAMING_INCOMPLETE && framing_take(&framing) == input_length,
	   "an abort for no open request is skipped");

	input[0] = 2;
	OK(verdict_of(8) == FRAMING_MALFORMED, "another protocol version is malformed");
}

static void check_replies(void)
{
	unsigned char reply[FRAMING_REPLY_ROOM];
	struct framing_result result = {.verdict = FRAMING_MANAGEMENT, .management_type = FCGI_GET_VALUES};
	static const unsigned char asked[] = {14,  0,	'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'C', 'O',
					      'N', 'N', 'S', 15,  0,   'F', 'C', 'G', 'I', '_', 'M', 'P', 'X',
					      'S', '_', 'C', 'O', 'N', 'N', 'S', 3,   0,   'F', 'O', 'O'};
	static const unsigned char expected[] = {14,  4,   'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'C', 'O',
						 'N', 'N', 'S', '1', '2', '3', '4', 15,	 1,   'F', 'C', 'G', 'I',
						 '_', 'M', 'P', 'X', 'S', '_', 'C', 'O', 'N', 'N', 'S', '0'};
	result.content = asked;
	result.content_length = sizeof asked;
	size_t length = framing_management_reply(&result, 1234, reply);
	OK(length % 8 == 0 && reply[1] == FCGI_GET_VALUES_RESULT && reply[2] == 0 && reply[3] == 0 &&
	       (size_t)(reply[4] << 8 | reply[5]) == sizeof expected &&
	       memcmp(reply + 8, expected, sizeof expected) == 0,
	   "FCGI_GET_VALUES_RESULT names the values asked that it knows, in order, padded to 8");

	/* libfcgi's 64-byte reply buffer overflowed on four of these. */
	static unsigned char many[16 * 4000];
	for (int i = 0; i < 4000; i++)
		memcpy(many + 16 * i,
		       "\x0e\x00"
		       "FCGI_MAX_CONNS",
		       16);
	result.content = many;
	result.content_length = sizeof many > 0xffff ? 0xfff0 : sizeof many;
	length = framing_management_reply(&result, 1234, reply);
	OK(length <= FRAMING_REPLY_ROOM && length % 8 == 0 && reply[1] == FCGI_GET_VALUES_RESULT,
	   "4,000 names asked: the reply is the values that fit, %zu bytes", length);

	result.management_type = 42;
	length = framing_management_reply(&result, 1, reply);
	OK(length == 16 && reply[1] == FCGI_UNKNOWN_TYPE && reply[8] == 42,
	   "another management type: FCGI_UNKNOWN_TYPE");

	length = framing_end_request(0x1234, FCGI_CANT_MPX_CONN, reply);
	OK(length == 16 && reply[1] == FCGI_END_REQUEST && reply[2] == 0x12 && reply[3] == 0x34 && reply[5] == 8 &&
	       reply[12] == FCGI_CANT_MPX_CONN,
	   "FCGI_END_REQUEST with the request id and protocol status");
}

int main(void)
{
	check_stream_of_request();
	check_refusals();
	check_replies();
	DONE_TESTING();
}
