/* framing.h: the FastCGI record framing that an event loop needs and libfcgi cannot give it. */
#ifndef WEBAPI_FRAMING_H
#define WEBAPI_FRAMING_H

/*
 * Why this exists: libfcgi reads a request with blocking reads until its
 * records are complete, so the event loop may hand it a connection only
 * when the whole request has come; otherwise one slow peer would hold the
 * worker and every connection in it. The loop reads what a connection
 * sent into its own memory, asks framing_scan what it holds, and lets
 * libfcgi read a whole request from there (fcgi_input.h). libfcgi also
 * answers FCGI_GET_VALUES only while it is reading a request, and with
 * fixed values (one connection, one request), and it never answers
 * FCGI_ABORT_REQUEST; those records are taken from the loop's memory and
 * answered here. Everything else, the parameters included, is
 * left to libfcgi: this file reads record headers, never their contents
 * beyond a BEGIN_REQUEST body and a GET_VALUES name list.
 */

#include <stddef.h>

enum framing_verdict {
	FRAMING_INCOMPLETE,	/* wait for more bytes */
	FRAMING_REQUEST_READY,	/* one whole request: hand it to libfcgi */
	FRAMING_MANAGEMENT,	/* a management record (request id 0) to answer */
	FRAMING_ABORTED,	/* the request was aborted before it was complete */
	FRAMING_STRAY,		/* records of no open request (an abort that crossed our answer) */
	FRAMING_MALFORMED,	/* not FastCGI version 1: close the connection */
};

struct framing_scan {
	enum framing_verdict verdict;
	size_t length;		 /* bytes from the start that the verdict covers */
	unsigned request_id;	 /* READY, ABORTED */
	int keep_connection;	 /* READY, ABORTED: FCGI_KEEP_CONN was set */
	int management_type;	 /* MANAGEMENT: the record's type */
	const unsigned char *content; /* MANAGEMENT: its content */
	size_t content_length;
};

/* What the first length bytes of a connection's input hold. */
void framing_scan(const unsigned char *bytes, size_t length, struct framing_scan *scan);

/* The answer to a management record: FCGI_GET_VALUES_RESULT with the
 * values this responder really has for the names asked, or
 * FCGI_UNKNOWN_TYPE. Returns its length (out must hold 256 bytes). */
#define FRAMING_REPLY_ROOM 256
size_t framing_management_reply(const struct framing_scan *scan, long max_connections, unsigned char *out);

/* FCGI_END_REQUEST for request_id with protocol_status (FCGI_REQUEST_COMPLETE
 * and so on from <fastcgi.h>); out must hold 16 bytes. Returns 16. */
size_t framing_end_request(unsigned request_id, int protocol_status, unsigned char *out);

#endif
