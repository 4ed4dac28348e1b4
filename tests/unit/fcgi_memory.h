/* fcgi_memory.h: unit-test helpers to hand libfcgi a request from memory: records in a buffer, and its lookup. */
#ifndef WEBAPI_TEST_FCGI_MEMORY_H
#define WEBAPI_TEST_FCGI_MEMORY_H

#include <string.h>

#include <fastcgi.h>

#include "fcgi_input.h"

/* The input libfcgi reads for descriptor input_fd (fcgi_input_set_lookup). */
static struct fcgi_input input;
static int input_fd = -1;

static inline struct fcgi_input *input_of(void *context, int fd)
{
	(void)context;
	return fd == input_fd ? &input : NULL;
}

/* Appends one record of request id 1 at out + *length. */
static inline void add_record(unsigned char *out, size_t *length, int type, const void *content, size_t content_length)
{
	unsigned char *at = out + *length;
	at[0] = FCGI_VERSION_1;
	at[1] = (unsigned char)type;
	at[2] = 0;
	at[3] = 1;
	at[4] = (unsigned char)(content_length >> 8);
	at[5] = (unsigned char)content_length;
	at[6] = at[7] = 0;
	if (content_length > 0)
		memcpy(at + 8, content, content_length);
	*length += 8 + content_length;
}

#endif
