/* fcgi_input.c: libfcgi reads a request from the memory the event loop read it into; libfcgi cannot be handed bytes. */
#include "fcgi_input.h"

#include <string.h>
#include <unistd.h>

#include <fcgios.h>

/* The lookup is set once per worker by its loop: OS_Read is called with a
 * descriptor only, so it cannot be handed the loop another way. */
static fcgi_input_lookup_fn input_lookup;
static void *input_context;

void fcgi_input_set_lookup(fcgi_input_lookup_fn lookup, void *context)
{
	input_lookup = lookup;
	input_context = context;
}

/* Replaces libfcgi's OS_Read (os_unix.c), which is read(2) unless
 * OS_ShutdownPending was called, and this program never calls it. */
int OS_Read(int fd, char *buf, size_t len)
{
	struct fcgi_input *input = input_lookup != NULL ? input_lookup(input_context, fd) : NULL;

	if (input == NULL || (input->left == 0 && input->then_socket))
		return (int)read(fd, buf, len);
	/* libfcgi takes 0 for the peer gone, a protocol error: it can come
	 * only when framing_scan and libfcgi disagree on where a request
	 * ends, and then the connection is closed, never blocked on. */
	if (input->left == 0)
		return 0;
	size_t count = len < input->left ? len : input->left;
	memcpy(buf, input->next, count);
	input->next += count;
	input->left -= count;
	return (int)count;
}
