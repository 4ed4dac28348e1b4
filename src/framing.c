/* framing.c: every FastCGI record checked as it comes, its place kept between reads, before libfcgi sees a byte. */
#include "framing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>

/* Where the open request's bytes stand in the input once packed: its
 * BEGIN_REQUEST, then one FCGI_PARAMS header whose length is written when
 * the parameters end, then the parameters, then the empty FCGI_PARAMS. */
#define BEGIN_LENGTH (FCGI_HEADER_LEN + sizeof(FCGI_BeginRequestBody))
#define PARAMS_AT (BEGIN_LENGTH + FCGI_HEADER_LEN)
/* The most content one record carries. */
#define RECORD_MAX 0xffff

struct record {
	int version;
	int type;
	unsigned request_id;
	size_t content_length;
	size_t padding_length;
	size_t total_length; /* header, content and padding */
	const unsigned char *content;
};

static void read_header(const unsigned char *bytes, struct record *record)
{
	const FCGI_Header *header = (const FCGI_Header *)bytes;

	record->version = header->version;
	record->type = header->type;
	record->request_id = (unsigned)header->requestIdB1 << 8 | header->requestIdB0;
	record->content_length = (size_t)header->contentLengthB1 << 8 | header->contentLengthB0;
	record->padding_length = header->paddingLength;
	record->total_length = FCGI_HEADER_LEN + record->content_length + record->padding_length;
	record->content = bytes + FCGI_HEADER_LEN;
}

static void put_header(unsigned char *out, int type, unsigned request_id, size_t content_length, size_t padding)
{
	FCGI_Header *header = (FCGI_Header *)out;

	memset(header, 0, sizeof *header);
	header->version = FCGI_VERSION_1;
	header->type = (unsigned char)type;
	header->requestIdB1 = (unsigned char)(request_id >> 8);
	header->requestIdB0 = (unsigned char)request_id;
	header->contentLengthB1 = (unsigned char)(content_length >> 8);
	header->contentLengthB0 = (unsigned char)content_length;
	header->paddingLength = (unsigned char)padding;
}

/* One FastCGI name-value length: one byte, or four with the top bit set. */
static int read_pair_length(const unsigned char *bytes, size_t length, size_t *offset, size_t *value)
{
	if (*offset >= length)
		return -1;
	if (!(bytes[*offset] & 0x80)) {
		*value = bytes[(*offset)++];
		return 0;
	}
	if (length - *offset < 4)
		return -1;
	*value = ((size_t)(bytes[*offset] & 0x7f) << 24) | ((size_t)bytes[*offset + 1] << 16) |
		 ((size_t)bytes[*offset + 2] << 8) | bytes[*offset + 3];
	*offset += 4;
	return 0;
}

/* Whether the parameters are whole name-value pairs: each name and value
 * lies within the bytes that came, before libfcgi allocates what their
 * lengths say (php-src's fcgi_get_params makes the same check). */
static int params_are_whole(const unsigned char *params, size_t length)
{
	size_t offset = 0;

	while (offset < length) {
		size_t name_length, value_length;
		if (read_pair_length(params, length, &offset, &name_length) != 0 ||
		    read_pair_length(params, length, &offset, &value_length) != 0 || name_length > length - offset ||
		    value_length > length - offset - name_length)
			return 0;
		offset += name_length + value_length;
	}
	return 1;
}

static void set_verdict(struct framing_result *result, enum framing_verdict verdict, const struct record *record,
			int keep_connection)
{
	result->verdict = verdict;
	result->request_id = record->request_id;
	result->keep_connection = keep_connection;
}

static void malformed(struct framing_result *result, const char *reason)
{
	result->verdict = FRAMING_MALFORMED;
	result->reason = reason;
}

static void end_request_state(struct framing *framing)
{
	framing->phase = FRAMING_BETWEEN;
	framing->kept = 0;
	framing->params_length = 0;
	framing->request_bytes = 0;
	framing->request_id = 0;
}

/* A BEGIN_REQUEST with no request open. 0: go on to the next record. */
static int begin_request(struct framing *framing, unsigned char *input, size_t at, const struct record *record,
			 struct framing_result *result)
{
	if (record->content_length != sizeof(FCGI_BeginRequestBody)) {
		malformed(result, "an FCGI_BEGIN_REQUEST body that is not 8 bytes");
		return -1;
	}
	const FCGI_BeginRequestBody *body = (const FCGI_BeginRequestBody *)record->content;
	int keep_connection = (body->flags & FCGI_KEEP_CONN) != 0;
	if (((unsigned)body->roleB1 << 8 | body->roleB0) != FCGI_RESPONDER) {
		set_verdict(result, FRAMING_UNKNOWN_ROLE, record, keep_connection);
		return -1;
	}
	/* The input before it is done with: the request starts the kept bytes. */
	memmove(input, input + at, BEGIN_LENGTH);
	((FCGI_Header *)input)->paddingLength = 0;
	framing->kept = BEGIN_LENGTH;
	framing->request_id = record->request_id;
	framing->keep_connection = keep_connection;
	framing->phase = FRAMING_PARAMS;
	return 0;
}

/* A record of the open request. 0: go on to the next record. */
static int request_record(struct framing *framing, unsigned char *input, const struct record *record,
			  struct framing_result *result)
{
	if (record->type == FCGI_ABORT_REQUEST) {
		set_verdict(result, FRAMING_ABORTED, record, framing->keep_connection);
		end_request_state(framing);
		return -1;
	}
	if (record->type != FCGI_PARAMS && record->type != FCGI_STDIN) {
		malformed(result, "a record a responder's request cannot hold");
		return -1;
	}
	if ((record->type == FCGI_PARAMS) != (framing->phase == FRAMING_PARAMS)) {
		malformed(result, record->type == FCGI_PARAMS ? "FCGI_PARAMS after their end"
							      : "FCGI_STDIN before the end of FCGI_PARAMS");
		return -1;
	}
	if (record->content_length > framing->max_request_bytes - framing->request_bytes) {
		set_verdict(result, FRAMING_TOO_LARGE, record, framing->keep_connection);
		return -1;
	}
	framing->request_bytes += record->content_length;
	if (record->type == FCGI_STDIN) {
		if (record->content_length > 0)
			return 0; /* the body is dropped: no endpoint reads one */
		set_verdict(result, FRAMING_REQUEST_READY, record, framing->keep_connection);
		return -1;
	}
	if (record->content_length == 0) {
		if (!params_are_whole(input + PARAMS_AT, framing->params_length)) {
			malformed(result, "FCGI_PARAMS name or value lengths past the parameters sent");
			return -1;
		}
		/* The empty FCGI_PARAMS is kept: the end of the stream
		 * libfcgi reads, with room after it for the empty STDIN. */
		if (framing->params_length == 0)
			framing->kept = BEGIN_LENGTH;
		put_header(input + framing->kept, FCGI_PARAMS, framing->request_id, 0, 0);
		framing->kept += FCGI_HEADER_LEN;
		framing->phase = FRAMING_STDIN;
		return 0;
	}
	/* The parameters are packed together after room for one header:
	 * every record came with a header of its own, so the packed bytes
	 * never pass the ones still to be read. */
	if (framing->params_length == 0)
		framing->kept = PARAMS_AT;
	memmove(input + framing->kept, record->content, record->content_length);
	framing->kept += record->content_length;
	framing->params_length += record->content_length;
	return 0;
}

void framing_next(struct framing *framing, unsigned char *input, size_t *length, struct framing_result *result)
{
	struct record record;

	memset(result, 0, sizeof *result);
	/* Only whole records are judged: a record's header says how long it
	 * is (at most 64 KiB and 255 bytes of padding). */
	while (*length - framing->parsed >= FCGI_HEADER_LEN) {
		size_t at = framing->parsed;
		read_header(input + at, &record);
		if (record.version != FCGI_VERSION_1) {
			malformed(result, "not FastCGI version 1");
			return;
		}
		if (*length - at < record.total_length)
			break;
		framing->parsed += record.total_length;
		if (record.request_id == FCGI_NULL_REQUEST_ID) {
			result->verdict = FRAMING_MANAGEMENT;
			result->management_type = record.type;
			result->content = record.content;
			result->content_length = record.content_length;
			return;
		}
		if (framing->phase == FRAMING_BETWEEN) {
			/* Records of no open request: an abort that crossed
			 * our answer, or the rest of a request refused. */
			if (record.type == FCGI_BEGIN_REQUEST &&
			    begin_request(framing, input, at, &record, result) != 0)
				return;
			continue;
		}
		if (record.request_id != framing->request_id) {
			/* One request at a time on a connection; the records of
			 * one refused are skipped. */
			if (record.type == FCGI_BEGIN_REQUEST) {
				set_verdict(result, FRAMING_CANT_MPX, &record, framing->keep_connection);
				return;
			}
			continue;
		}
		if (record.type == FCGI_BEGIN_REQUEST) {
			malformed(result, "a second FCGI_BEGIN_REQUEST of the open request");
			return;
		}
		if (request_record(framing, input, &record, result) != 0)
			return;
	}
	result->verdict = FRAMING_INCOMPLETE;
	/* What was read past the kept bytes is done with: the rest moves
	 * down, so a long body never fills the input. */
	if (framing->phase != FRAMING_BETWEEN && framing->parsed > framing->kept) {
		memmove(input + framing->kept, input + framing->parsed, *length - framing->parsed);
		*length -= framing->parsed - framing->kept;
		framing->parsed = framing->kept;
	}
}

size_t framing_take(struct framing *framing)
{
	size_t taken = framing->parsed;

	if (framing->phase != FRAMING_BETWEEN)
		return 0;
	framing->parsed = 0;
	return taken;
}

/* Parameters over one record: the stream is built anew in records of
 * 64 KiB. */
static unsigned char *build_long_stream(const struct framing *framing, const unsigned char *input, size_t *length)
{
	size_t records = (framing->params_length + RECORD_MAX - 1) / RECORD_MAX;
	size_t total = BEGIN_LENGTH + records * FCGI_HEADER_LEN + framing->params_length + (size_t)2 * FCGI_HEADER_LEN;
	unsigned char *stream = malloc(total);

	if (stream == NULL)
		return NULL;
	memcpy(stream, input, BEGIN_LENGTH);
	size_t used = BEGIN_LENGTH;
	for (size_t offset = 0; offset < framing->params_length; offset += RECORD_MAX) {
		size_t piece =
		    framing->params_length - offset < RECORD_MAX ? framing->params_length - offset : RECORD_MAX;
		put_header(stream + used, FCGI_PARAMS, framing->request_id, piece, 0);
		memcpy(stream + used + FCGI_HEADER_LEN, input + PARAMS_AT + offset, piece);
		used += FCGI_HEADER_LEN + piece;
	}
	put_header(stream + used, FCGI_PARAMS, framing->request_id, 0, 0);
	put_header(stream + used + FCGI_HEADER_LEN, FCGI_STDIN, framing->request_id, 0, 0);
	*length = total;
	return stream;
}

const unsigned char *framing_request_stream(struct framing *framing, unsigned char *input, size_t *stream_length,
					    unsigned char **allocated)
{
	const unsigned char *stream = input;

	*allocated = NULL;
	if (framing->phase != FRAMING_STDIN) {
		/* Refused part way (past the limit): the BEGIN_REQUEST and
		 * empty streams, apart, since the input after the
		 * BEGIN_REQUEST may be as short as one byte. */
		*allocated = malloc(BEGIN_LENGTH + (size_t)2 * FCGI_HEADER_LEN);
		if (*allocated != NULL) {
			memcpy(*allocated, input, BEGIN_LENGTH);
			put_header(*allocated + BEGIN_LENGTH, FCGI_PARAMS, framing->request_id, 0, 0);
			put_header(*allocated + PARAMS_AT, FCGI_STDIN, framing->request_id, 0, 0);
			*stream_length = BEGIN_LENGTH + (size_t)2 * FCGI_HEADER_LEN;
		}
		end_request_state(framing);
		return *allocated;
	}
	if (framing->params_length > RECORD_MAX) {
		*allocated = build_long_stream(framing, input, stream_length);
		stream = *allocated;
	} else {
		if (framing->params_length > 0)
			put_header(input + BEGIN_LENGTH, FCGI_PARAMS, framing->request_id, framing->params_length, 0);
		/* The empty FCGI_STDIN goes where the one that ended the
		 * request was read from, or before. */
		put_header(input + framing->kept, FCGI_STDIN, framing->request_id, 0, 0);
		*stream_length = framing->kept + FCGI_HEADER_LEN;
	}
	end_request_state(framing);
	return stream;
}

/* Appends a FastCGI name-value pair when it fits (names and values here
 * are short: one-byte lengths). */
static size_t put_pair(unsigned char *out, size_t used, size_t room, const char *name, size_t name_length,
		       const char *value, size_t value_length)
{
	if (used + 2 + name_length + value_length > room)
		return used;
	out[used++] = (unsigned char)name_length;
	out[used++] = (unsigned char)value_length;
	memcpy(out + used, name, name_length);
	memcpy(out + used + name_length, value, value_length);
	return used + name_length + value_length;
}

size_t framing_management_reply(const struct framing_result *scan, long max_connections, unsigned char *out)
{
	if (scan->management_type != FCGI_GET_VALUES) {
		FCGI_UnknownTypeBody *body = (FCGI_UnknownTypeBody *)(out + FCGI_HEADER_LEN);
		put_header(out, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, sizeof *body, 0);
		memset(body, 0, sizeof *body);
		body->type = (unsigned char)scan->management_type;
		return FCGI_HEADER_LEN + sizeof *body;
	}
	char connections[24];
	unsigned char *content = out + FCGI_HEADER_LEN;
	size_t room = FRAMING_REPLY_ROOM - FCGI_HEADER_LEN - 8, used = 0, offset = 0;

	size_t connections_length = (size_t)snprintf(connections, sizeof connections, "%ld", max_connections);
	/* Names are answered in the order asked; unknown ones are left out,
	 * as the specification says. One request per connection at a time,
	 * so FCGI_MAX_REQS equals FCGI_MAX_CONNS. */
	while (offset < scan->content_length) {
		size_t name_length, value_length;
		if (read_pair_length(scan->content, scan->content_length, &offset, &name_length) != 0 ||
		    read_pair_length(scan->content, scan->content_length, &offset, &value_length) != 0 ||
		    scan->content_length - offset < name_length + value_length)
			break;
		const char *name = (const char *)scan->content + offset;
		offset += name_length + value_length;
		/* The names are libfcgi's and the specification's own. */
		int is_max_conns =
		    name_length == sizeof FCGI_MAX_CONNS - 1 && memcmp(name, FCGI_MAX_CONNS, name_length) == 0;
		int is_max_reqs =
		    name_length == sizeof FCGI_MAX_REQS - 1 && memcmp(name, FCGI_MAX_REQS, name_length) == 0;
		if (is_max_conns || is_max_reqs)
			used = put_pair(content, used, room, name, name_length, connections, connections_length);
		else if (name_length == sizeof FCGI_MPXS_CONNS - 1 && memcmp(name, FCGI_MPXS_CONNS, name_length) == 0)
			used = put_pair(content, used, room, name, name_length, "0", 1);
	}
	size_t padding = (8 - used % 8) % 8;
	memset(content + used, 0, padding);
	put_header(out, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, used, padding);
	return FCGI_HEADER_LEN + used + padding;
}

size_t framing_end_request(unsigned request_id, int protocol_status, unsigned char *out)
{
	FCGI_EndRequestBody *body = (FCGI_EndRequestBody *)(out + FCGI_HEADER_LEN);

	put_header(out, FCGI_END_REQUEST, request_id, sizeof *body, 0);
	memset(body, 0, sizeof *body);
	body->protocolStatus = (unsigned char)protocol_status;
	return FCGI_HEADER_LEN + sizeof *body;
}
