/* fcgi.h: FastCGI on the loop's connections: records checked first, management answered here, libfcgi on memory. */
#ifndef WEBAPI_FCGI_H
#define WEBAPI_FCGI_H

/*
 * Why this exists: libfcgi is made to own a blocking socket; here it owns
 * none. framing.h checks each record a connection sends and keeps a
 * request's parameters; this module answers management records, aborts
 * and refused roles itself, and lets libfcgi do its two jobs on memory:
 * decode a whole request's parameters, and format an answer's records.
 * libfcgi reads and writes only through OS_Read and OS_Write, which
 * libfcgi.so calls through its PLT, so the definitions here take the
 * place of its own: they serve the request handed over from memory, and
 * gather the answer for the loop to send. The descriptor libfcgi is given
 * is never an open one, so no fallback to read(2) or write(2) can reach a
 * socket; fcgi_init refuses a libfcgi that calls its own.
 */

#include <stddef.h>

#include "loop.h"

/* One request on one connection, from its hand-over to its answer. */
struct fcgi_request;

/* Answers the request now or later, with fcgi_answer. */
typedef void (*fcgi_serve_fn)(void *context, struct fcgi_request *request);

struct fcgi_settings {
	size_t max_request_bytes;    /* a request's parameters and body; past it, 413 */
	long advertised_connections; /* FCGI_MAX_CONNS: what all workers together take */
	fcgi_serve_fn serve;
	void *context;
	/* The serve function's own state per request (fcgi_request_data):
	 * kept with the connection's, so a request allocates nothing. */
	size_t request_size;
};

/* The most bytes one record takes: its header, content and padding. */
#define FCGI_RECORD_MAX (8 + 65535 + 255)

/* Readies libfcgi, and checks, before any request, that it calls this
 * program's OS_Read and OS_Write: a libfcgi linked with
 * -Bsymbolic-functions calls its own. 0, or -1 with the reason in error. */
int fcgi_init(char *error, size_t error_size);

/* The protocol for loop_create; settings must outlive the loop. */
void fcgi_protocol(const struct fcgi_settings *settings, struct loop_protocol *protocol);

/* The request_size bytes of the serve function's state: zeroed when the
 * connection opens, kept between its requests, and valid until the
 * request is answered, even when its peer has gone meanwhile. */
void *fcgi_request_data(struct fcgi_request *request);

/* Names the request in the log lines about its connection (loop_subject):
 * "METHOD URI", which must stay as long as the request's data. */
void fcgi_set_label(struct fcgi_request *request, const char *label);

/* What a log line about the request is about: its peer and its label. */
struct log_subject fcgi_subject(struct fcgi_request *request);

/* A parameter of the request (REQUEST_METHOD, ...), NULL when not sent. */
const char *fcgi_param(const struct fcgi_request *request, const char *name);

/* The request passed max_request_bytes: none of its parameters are
 * decoded, and it is to be answered 413 (the connection then closes). */
int fcgi_is_too_large(const struct fcgi_request *request);

/* Sends the answer (the CGI head, then the body) as FCGI_STDOUT, and
 * FCGI_END_REQUEST: the request is over. */
void fcgi_answer(struct fcgi_request *request, const char *head, size_t head_length, const char *body,
		 size_t body_length);

#endif
