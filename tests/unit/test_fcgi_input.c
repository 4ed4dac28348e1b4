/* test_fcgi_input.c: libfcgi, linked as the responder links it, reads a request from the loop's memory instead of its
 * socket, and no further. */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "fcgi_memory.h"
#include "tap.h"

static unsigned char bytes[4096];
static size_t bytes_length;

/* A request for uri with body, as a web server sends it. */
static size_t add_request(unsigned char *out, size_t length, const char *uri, const char *body)
{
	static const unsigned char begin[8] = {0, FCGI_RESPONDER, FCGI_KEEP_CONN};
	unsigned char pair[64] = {11, (unsigned char)strlen(uri)};

	snprintf((char *)pair + 2, sizeof pair - 2, "REQUEST_URI%s", uri);
	add_record(out, &length, FCGI_BEGIN_REQUEST, begin, sizeof begin);
	add_record(out, &length, FCGI_PARAMS, pair, 13 + strlen(uri));
	add_record(out, &length, FCGI_PARAMS, NULL, 0);
	if (body[0] != '\0')
		add_record(out, &length, FCGI_STDIN, body, strlen(body));
	add_record(out, &length, FCGI_STDIN, NULL, 0);
	return length;
}

/* Accepts the request on fd as the loop does; returns its body. */
static const char *accept_request(FCGX_Request *request, int fd, int *accepted)
{
	static char body[256];
	int got;

	FCGX_InitRequest(request, -1, 0);
	request->ipcFd = fd;
	request->keepConnection = 1;
	*accepted = FCGX_Accept_r(request) == 0;
	if (!*accepted)
		return NULL;
	got = FCGX_GetStr(body, sizeof body - 1, request->in);
	body[got > 0 ? got : 0] = '\0';
	return body;
}

int main(void)
{
	FCGX_Request request;
	int pair[2], accepted;
	const char *body;

	if (FCGX_Init() != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
		return 1;
	/* Nothing waits in the socket: a read of it would fail at once. */
	fcntl(pair[0], F_SETFL, O_NONBLOCK);
	fcgi_input_set_lookup(input_of, NULL);
	input_fd = pair[0];

	size_t first = add_request(bytes, 0, "/orders", "hello");
	bytes_length = add_request(bytes, first, "/next", "");
	input = (struct fcgi_input){bytes, first, 0};
	body = accept_request(&request, pair[0], &accepted);
	OK(accepted, "libfcgi accepts a request it reads from memory (OS_Read is ours, not libfcgi's)");
	IS_STRING(accepted ? FCGX_GetParam("REQUEST_URI", request.envp) : NULL, "/orders", "its parameters");
	IS_STRING(body, "hello", "its body");
	OK(input.left == 0 && input.next == bytes + first, "it read the request and nothing after it");
	FCGX_Finish_r(&request);

	input = (struct fcgi_input){bytes + first, bytes_length - first, 0};
	(void)accept_request(&request, pair[0], &accepted);
	IS_STRING(accepted ? FCGX_GetParam("REQUEST_URI", request.envp) : NULL, "/next",
		  "what came after it is the next request");
	FCGX_Finish_r(&request);

	/* Half a request in memory, the rest in the socket: a request larger
	 * than the loop's window. */
	size_t length = add_request(bytes, 0, "/large", "from the socket");
	fcntl(pair[0], F_SETFL, 0);
	if (write(pair[1], bytes + length / 2, length - length / 2) != (ssize_t)(length - length / 2))
		return 1;
	input = (struct fcgi_input){bytes, length / 2, 1};
	body = accept_request(&request, pair[0], &accepted);
	IS_STRING(accepted ? FCGX_GetParam("REQUEST_URI", request.envp) : NULL, "/large",
		  "then_socket: the rest of a request comes from the socket");
	IS_STRING(body, "from the socket", "its body too");
	FCGX_Finish_r(&request);

	/* A request cut short in memory, more in the socket that is not its. */
	length = add_request(bytes, 0, "/short", "");
	if (write(pair[1], bytes, length) != (ssize_t)length)
		return 1;
	input = (struct fcgi_input){bytes, length - 8, 0};
	(void)accept_request(&request, pair[0], &accepted);
	OK(accepted && FCGX_GetError(request.in) != 0,
	   "a request cut short ends in an error, not a read of the socket");
	char rest[512];
	OK(recv(pair[0], rest, sizeof rest, MSG_PEEK | MSG_DONTWAIT) == (ssize_t)length,
	   "the socket's bytes were left where they were");
	FCGX_Finish_r(&request);

	fcgi_input_set_lookup(NULL, NULL);
	DONE_TESTING();
}
