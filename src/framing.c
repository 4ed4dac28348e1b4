/* framing.c: the FastCGI record framing that an event loop needs and libfcgi cannot give it. */
#include "framing.h"

#include <stdio.h>
#include <string.h>

#include <fastcgi.h>

struct record {
	int version;
	int type;
	unsigned request_id;
	size_t content_length;
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
	record->total_length = FCGI_HEADER_LEN + record->content_length + header->paddingLength;
	record->content = bytes + FCGI_HEADER_LEN;
}

void framing_scan(const unsigned char *bytes, size_t length, struct framing_scan *scan)
{
	unsigned open_request = 0; /* 0: no BEGIN_REQUEST seen yet */
	int params_ended = 0;
	size_t offset = 0;
	struct record record;

	memset(scan, 0, sizeof *scan);
	scan->verdict = FRAMING_INCOMPLETE;
	/* Only whole records are judged: a record's header says how long it
	 * is, and a partial one waits for the rest. */
	while (length - offset >= FCGI_HEADER_LEN) {
		read_header(bytes + offset, &record);
		if (record.version != FCGI_VERSION_1) {
			scan->verdict = FRAMING_MALFORMED;
			return;
		}
		if (length - offset < record.total_length)
			return;
		offset += record.total_length;
		if (open_request == 0) {
			if (record.request_id == FCGI_NULL_REQUEST_ID) {
				scan->verdict = FRAMING_MANAGEMENT;
				scan->length = offset;
				scan->management_type = record.type;
				scan->content = record.content;
				scan->content_length = record.content_length;
				return;
			}
			if (record.type != FCGI_BEGIN_REQUEST) {
				scan->verdict = FRAMING_STRAY;
				scan->length = offset;
				return;
			}
			if (record.content_length < sizeof(FCGI_BeginRequestBody)) {
				scan->verdict = FRAMING_MALFORMED;
				return;
			}
			const FCGI_BeginRequestBody *body = (const FCGI_BeginRequestBody *)record.content;
			open_request = record.request_id;
			scan->request_id = open_request;
			scan->keep_connection = (body->flags & FCGI_KEEP_CONN) != 0;
			continue;
		}
		/* Records of other request ids (a front that multiplexes) are
		 * libfcgi's: it answers FCGI_CANT_MPX_CONN and skips them. */
		if (record.request_id != open_request)
			continue;
		if (record.type == FCGI_ABORT_REQUEST) {
			scan->verdict = FRAMING_ABORTED;
			scan->length = offset;
			return;
		}
		if (record.type == FCGI_PARAMS && record.content_length == 0)
			params_ended = 1;
		if (record.type == FCGI_STDIN && record.content_length == 0 && params_ended) {
			scan->verdict = FRAMING_REQUEST_READY;
			scan->length = offset;
			return;
		}
	}
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

size_t framing_management_reply(const struct framing_scan *scan, long max_connections, unsigned char *out)
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
		int is_max_conns = name_length == sizeof FCGI_MAX_CONNS - 1 && memcmp(name, FCGI_MAX_CONNS, name_length) == 0;
		int is_max_reqs = name_length == sizeof FCGI_MAX_REQS - 1 && memcmp(name, FCGI_MAX_REQS, name_length) == 0;
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
