/* test_fcgi_output.c: libfcgi, linked as the responder links it, writes an answer's records through the gathering
 * OS_Write: nothing leaves before the release, then everything in order, and nothing for a forgotten descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "fcgi_memory.h"
#include "fcgi_output.h"
#include "tap.h"

static unsigned char request_bytes[512];

/* Accepts a bodiless request on fd, from memory, as the loop does. */
static int accept_request(FCGX_Request *request, int fd)
{
	static const unsigned char begin[8] = {0, FCGI_RESPONDER, FCGI_KEEP_CONN};
	size_t length = 0;

	add_record(request_bytes, &length, FCGI_BEGIN_REQUEST, begin, sizeof begin);
	add_record(request_bytes, &length, FCGI_PARAMS, NULL, 0);
	add_record(request_bytes, &length, FCGI_STDIN, NULL, 0);
	input_fd = fd;
	input = (struct fcgi_input){request_bytes, length, 0};
	FCGX_InitRequest(request, -1, 0);
	request->ipcFd = fd;
	request->keepConnection = 1;
	return FCGX_Accept_r(request);
}

/* Reads the records waiting on fd: the FCGI_STDOUT content into out, and
 * whether an FCGI_END_REQUEST ended them. -1: nothing was waiting. */
static long read_answer(int fd, char *out, size_t out_size, int *ended)
{
	static unsigned char bytes[512 * 1024];
	size_t length = 0, offset = 0, content = 0;
	ssize_t got;

	while ((got = recv(fd, bytes + length, sizeof bytes - length, MSG_DONTWAIT)) > 0)
		length += (size_t)got;
	if (length == 0)
		return -1;
	*ended = 0;
	while (length - offset >= 8) {
		const unsigned char *header = bytes + offset;
		size_t content_length = (size_t)header[4] << 8 | header[5];
		if (header[1] == FCGI_STDOUT && content + content_length <= out_size) {
			memcpy(out + content, header + 8, content_length);
			content += content_length;
		}
		if (header[1] == FCGI_END_REQUEST)
			*ended = 1;
		offset += 8 + content_length + header[6];
	}
	return (long)content;
}

int main(void)
{
	static char answer[100 * 1024], got[sizeof answer];
	FCGX_Request request;
	int pair[2], ended = 0;

	if (FCGX_Init() != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
		return 1;
	int room = 1024 * 1024;
	setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &room, sizeof room);
	setsockopt(pair[1], SOL_SOCKET, SO_RCVBUF, &room, sizeof room);
	fcgi_input_set_lookup(input_of, NULL);
	for (size_t i = 0; i < sizeof answer; i++)
		answer[i] = (char)('a' + i % 26);

	/* An /orders-sized answer: libfcgi flushes its 8 KB buffer once
	 * before FCGX_Finish_r, and that flush is gathered. */
	OK(accept_request(&request, pair[0]) == 0, "a request accepted");
	fcgi_output_hold(pair[0]);
	FCGX_PutStr(answer, 11 * 1024, request.out);
	OK(read_answer(pair[1], got, sizeof got, &ended) == -1,
	   "nothing of an 11 KB answer left before the release (OS_Write is ours, not libfcgi's)");
	FCGX_Finish_r(&request);
	OK(read_answer(pair[1], got, sizeof got, &ended) == -1, "nor at libfcgi's end of the request");
	OK(fcgi_output_release() == 0, "the release writes it");
	long length = read_answer(pair[1], got, sizeof got, &ended);
	OK(length == 11 * 1024 && memcmp(got, answer, 11 * 1024) == 0 && ended,
	   "all of it then, in order, with its FCGI_END_REQUEST (%ld bytes)", length);

	/* Larger than the room: it leaves in pieces, still whole and in order. */
	OK(accept_request(&request, pair[0]) == 0, "a second request on the kept connection");
	fcgi_output_hold(pair[0]);
	FCGX_PutStr(answer, sizeof answer, request.out);
	FCGX_Finish_r(&request);
	OK(fcgi_output_release() == 0, "a 100 KB answer released");
	length = read_answer(pair[1], got, sizeof got, &ended);
	OK(length == (long)sizeof answer && memcmp(got, answer, sizeof answer) == 0 && ended,
	   "past FCGI_OUTPUT_HOLD_MAX an answer arrives whole and in order (%ld bytes)", length);

	/* Outside a hold, libfcgi's writes go straight out. */
	OK(accept_request(&request, pair[0]) == 0, "a third request");
	FCGX_PutStr(answer, 100, request.out);
	FCGX_FFlush(request.out);
	length = read_answer(pair[1], got, sizeof got, &ended);
	OK(length == 100 && !ended, "without a hold a flush is written at once");
	FCGX_Finish_r(&request);
	(void)read_answer(pair[1], got, sizeof got, &ended);

	/* A connection closed while its answer is held: dropped, never
	 * written to a later holder of the number. */
	OK(accept_request(&request, pair[0]) == 0, "a fourth request");
	fcgi_output_hold(pair[0]);
	FCGX_PutStr(answer, 100, request.out);
	FCGX_Finish_r(&request);
	fcgi_output_forget(pair[0]);
	OK(fcgi_output_release() == 0 && read_answer(pair[1], got, sizeof got, &ended) == -1,
	   "a forgotten descriptor's answer is dropped");

	/* The peer gone: the release says so. */
	OK(accept_request(&request, pair[0]) == 0, "a fifth request");
	fcgi_output_hold(pair[0]);
	FCGX_PutStr(answer, 100, request.out);
	FCGX_Finish_r(&request);
	close(pair[1]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	OK(fcgi_output_release() == -1 && errno == EPIPE, "a release to a closed peer fails with EPIPE");

	fcgi_input_set_lookup(NULL, NULL);
	DONE_TESTING();
}
