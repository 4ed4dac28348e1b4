/* fcgi_input.h: libfcgi reads a request from the memory the event loop read it into; libfcgi cannot be handed bytes. */
#ifndef WEBAPI_FCGI_INPUT_H
#define WEBAPI_FCGI_INPUT_H

/*
 * Why this exists: libfcgi reads a connection only through
 * OS_Read(fd, buffer, length), which libfcgi.so calls through its PLT, so
 * the definition in fcgi_input.c takes the place of libfcgi's own in this
 * program. The event loop reads each connection once, judges the bytes
 * with framing_scan, and hands libfcgi a whole request from its memory:
 * one system call per request fewer than peeking and letting libfcgi read
 * the socket again (README, "Where the time goes").
 */

#include <stddef.h>

/* What libfcgi reads of the request handed to it on one connection. */
struct fcgi_input {
	const unsigned char *next; /* the request's bytes libfcgi has not read yet */
	size_t left;
	/* Once they are read: the rest of the request is still in the socket
	 * (one larger than the loop's window), or there is no more, and
	 * libfcgi is told the connection ended rather than reading past the
	 * request into what the web server sent after it. */
	int then_socket;
};

/* Where the input of connection fd is; NULL: not the loop's, libfcgi
 * reads the socket. */
typedef struct fcgi_input *(*fcgi_input_lookup_fn)(void *context, int fd);

/* One lookup per process (the worker's loop); NULL removes it. */
void fcgi_input_set_lookup(fcgi_input_lookup_fn lookup, void *context);

#endif
