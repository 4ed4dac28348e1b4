/* test_framing.c: what framing_scan makes of the bytes waiting on a FastCGI connection, and the records it answers with. */
#include <fastcgi.h>

#include "framing.h"
#include "tap.h"

static unsigned char input[4096];
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
	memcpy(at + 8, content, length);
	memset(at + 8 + length, 0, padding);
	input_length += 8 + length + padding;
}

static void add_begin(unsigned id, int flags)
{
	unsigned char body[8] = {0, FCGI_RESPONDER, (unsigned char)flags};
	add_record(FCGI_BEGIN_REQUEST, id, body, sizeof body, 0);
}

/* A request as lighttpd sends it: begin, one PARAMS record, the empty
 * PARAMS and the empty STDIN. */
static void add_request(unsigned id, int flags)
{
	static const unsigned char pair[] = {14, 3, 'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H', 'O', 'D',
					     'G', 'E', 'T'};
	add_begin(id, flags);
	add_record(FCGI_PARAMS, id, pair, sizeof pair, 5);
	add_record(FCGI_PARAMS, id, NULL, 0, 0);
	add_record(FCGI_STDIN, id, NULL, 0, 0);
}

static struct framing_scan scan_of(size_t length)
{
	struct framing_scan scan;
	framing_scan(input, length, &scan);
	return scan;
}

int main(void)
{
	struct framing_scan scan;
	unsigned char reply[FRAMING_REPLY_ROOM];

	input_length = 0;
	add_request(1, 0);
	scan = scan_of(input_length);
	OK(scan.verdict == FRAMING_REQUEST_READY && scan.length == input_length && scan.request_id == 1 &&
	       !scan.keep_connection,
	   "a whole request is ready, all of it");
	int every_prefix_waits = 1;
	for (size_t cut = 0; cut < input_length; cut++)
		every_prefix_waits &= scan_of(cut).verdict == FRAMING_INCOMPLETE;
	OK(every_prefix_waits, "every shorter prefix of it waits for more");

	input_length = 0;
	add_request(7, FCGI_KEEP_CONN);
	size_t first = input_length;
	add_request(8, 0);
	scan = scan_of(input_length);
	OK(scan.verdict == FRAMING_REQUEST_READY && scan.length == first && scan.request_id == 7 && scan.keep_connection,
	   "FCGI_KEEP_CONN is read, and the verdict covers the first request only");

	input_length = 0;
	add_begin(1, 0);
	add_record(FCGI_STDIN, 1, NULL, 0, 0);
	OK(scan_of(input_length).verdict == FRAMING_INCOMPLETE, "the end of STDIN before the end of PARAMS is not the end");

	input_length = 0;
	add_begin(1, 0);
	add_record(FCGI_PARAMS, 1, NULL, 0, 0);
	add_begin(2, 0);
	add_record(FCGI_STDIN, 2, NULL, 0, 0);
	OK(scan_of(input_length).verdict == FRAMING_INCOMPLETE, "records of another request id do not end this one");
	add_record(FCGI_STDIN, 1, NULL, 0, 0);
	OK(scan_of(input_length).verdict == FRAMING_REQUEST_READY, "... its own STDIN does");

	input_length = 0;
	add_begin(3, FCGI_KEEP_CONN);
	add_record(FCGI_ABORT_REQUEST, 3, NULL, 0, 0);
	scan = scan_of(input_length);
	OK(scan.verdict == FRAMING_ABORTED && scan.length == input_length && scan.request_id == 3 && scan.keep_connection,
	   "FCGI_ABORT_REQUEST before the request is whole aborts it");

	input_length = 0;
	add_record(FCGI_ABORT_REQUEST, 3, NULL, 0, 0);
	scan = scan_of(input_length);
	OK(scan.verdict == FRAMING_STRAY && scan.length == 8, "an abort for no open request is stray");

	static const unsigned char asked[] = {14, 0, 'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'C', 'O', 'N', 'N', 'S',
					      15, 0, 'F', 'C', 'G', 'I', '_', 'M', 'P', 'X', 'S', '_', 'C', 'O', 'N', 'N', 'S',
					      3,  0, 'F', 'O', 'O'};
	input_length = 0;
	add_record(FCGI_GET_VALUES, 0, asked, sizeof asked, 2);
	add_request(1, 0);
	scan = scan_of(input_length);
	OK(scan.verdict == FRAMING_MANAGEMENT && scan.length == 8 + sizeof asked + 2 &&
	       scan.management_type == FCGI_GET_VALUES,
	   "a management record before a request comes first");
	size_t length = framing_management_reply(&scan, 1234, reply);
	static const unsigned char expected[] = {14, 4, 'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'C', 'O', 'N',
						 'N', 'S', '1', '2', '3', '4', 15,  1,	 'F', 'C', 'G', 'I', '_', 'M',
						 'P', 'X', 'S', '_', 'C', 'O', 'N', 'N', 'S', '0'};
	OK(length % 8 == 0 && reply[1] == FCGI_GET_VALUES_RESULT && reply[2] == 0 && reply[3] == 0 &&
	       (size_t)(reply[4] << 8 | reply[5]) == sizeof expected && memcmp(reply + 8, expected, sizeof expected) == 0,
	   "FCGI_GET_VALUES_RESULT names the values asked that it knows, in order, padded to 8");

	input_length = 0;
	add_record(42, 0, NULL, 0, 0);
	scan = scan_of(input_length);
	length = framing_management_reply(&scan, 1, reply);
	OK(length == 16 && reply[1] == FCGI_UNKNOWN_TYPE && reply[8] == 42, "another management type: FCGI_UNKNOWN_TYPE");

	length = framing_end_request(0x1234, FCGI_CANT_MPX_CONN, reply);
	OK(length == 16 && reply[1] == FCGI_END_REQUEST && reply[2] == 0x12 && reply[3] == 0x34 && reply[5] == 8 &&
	       reply[12] == FCGI_CANT_MPX_CONN,
	   "FCGI_END_REQUEST with the request id and protocol status");

	input[0] = 2;
	OK(scan_of(8).verdict == FRAMING_MALFORMED, "another protocol version is malformed");
	DONE_TESTING();
}
