/* framing.h: every FastCGI record checked as it comes, its place kept between reads, before libfcgi sees a byte. */
#ifndef WEBAPI_FRAMING_H
#define WEBAPI_FRAMING_H

/*
 * Why this exists: libfcgi trusts what it reads. It answers
 * FCGI_GET_VALUES into a 64-byte buffer (a few names overflow it), asserts
 * on parameter lengths its malloc cannot meet, drops a request whose
 * records carry padding, and closes a connection with a 2 s linger when
 * it dislikes a record. So no record reaches it unchecked: framing_next
 * judges a connection's input one record at a time, answers nothing
 * itself but says what the record asks for, and keeps of a request only
 * what libfcgi needs (its FCGI_BEGIN_REQUEST and its parameters, packed
 * at the start of the input, padding gone). The body is counted against
 * the limit and dropped: no endpoint reads one.
 */

#include <stddef.h>

enum framing_verdict {
	FRAMING_INCOMPLETE,    /* wait for more bytes */
	FRAMING_REQUEST_READY, /* the request is whole: framing_request_stream */
	FRAMING_MANAGEMENT,    /* a management record (request id 0) to answer */
	FRAMING_ABORTED,       /* the open request was aborted: FCGI_REQUEST_COMPLETE */
	FRAMING_UNKNOWN_ROLE,  /* a BEGIN_REQUEST for another role than responder */
	FRAMING_CANT_MPX,      /* a BEGIN_REQUEST of a second request while one is open */
	FRAMING_TOO_LARGE,     /* the open request passed the limit: answer 413, then close */
	FRAMING_MALFORMED,     /* a protocol error: close the connection at once */
};

enum framing_phase {
	FRAMING_BETWEEN, /* no request open */
	FRAMING_PARAMS,	 /* FCGI_PARAMS until the empty one */
	FRAMING_STDIN,	 /* FCGI_STDIN until the empty one */
};

/* One connection's place in its input. Offsets count from the start of
 * the input not yet taken (framing_take). */
struct framing {
	size_t parsed;		  /* where the next record starts */
	size_t kept;		  /* the open request's packed bytes at the start */
	size_t params_length;	  /* of them, the parameters' bytes */
	size_t request_bytes;	  /* its parameters and body so far */
	size_t max_request_bytes; /* set by the owner */
	unsigned request_id;
	int keep_connection;
	enum framing_phase phase;
};

struct framing_result {
	enum framing_verdict verdict;
	unsigned request_id;	      /* every verdict but INCOMPLETE, MANAGEMENT, MALFORMED */
	int keep_connection;	      /* likewise: FCGI_KEEP_CONN was set */
	int management_type;	      /* MANAGEMENT: the record's type */
	const unsigned char *content; /* MANAGEMENT: its content, valid until the input changes */
	size_t content_length;
	const char *reason; /* MALFORMED: what was wrong, for the log */
};

/* Judges the next records of input[0, *length): stops at the first one
 * that asks for something. Moves bytes within input (packing the open
 * request) and may shorten *length (a body's bytes are dropped). */
void framing_next(struct framing *framing, unsigned char *input, size_t *length, struct framing_result *result);

/* The bytes at the start of the input that are done with, when no request
 * is open (0 while one is); the offsets then start again from there. */
size_t framing_take(struct framing *framing);

/* After FRAMING_REQUEST_READY: the request as libfcgi reads it, each
 * stream in records without padding, ending with the empty FCGI_PARAMS
 * and FCGI_STDIN. It is built in input itself, or, for parameters over
 * one record (64 KiB), in memory the caller frees (*allocated). NULL when
 * out of memory. After FRAMING_TOO_LARGE, the same with no parameters.
 * Ends the request: the framing is between requests again. */
const unsigned char *framing_request_stream(struct framing *framing, unsigned char *input, size_t *stream_length,
					    unsigned char **allocated);

/* The answer to a management record: FCGI_GET_VALUES_RESULT with the
 * values this responder really has for the names asked, or
 * FCGI_UNKNOWN_TYPE. Returns its length (out must hold
 * FRAMING_REPLY_ROOM bytes). */
#define FRAMING_REPLY_ROOM 256
size_t framing_management_reply(const struct framing_result *result, long max_connections, unsigned char *out);

/* FCGI_END_REQUEST for request_id with protocol_status (FCGI_REQUEST_COMPLETE
 * and so on from <fastcgi.h>); out must hold 16 bytes. Returns 16. */
size_t framing_end_request(unsigned request_id, int protocol_status, unsigned char *out);

#endif
