/* fcgi.c: FastCGI on the loop's connections: records checked first, management answered here, libfcgi on memory. */
#include "fcgi.h"

#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>
#include <fcgiapp.h>
#include <fcgios.h>

#include "framing.h"
#include "list.h"
#include "log.h"

/* The descriptor libfcgi is given for every request: past the largest a
 * process can open (the kernel's nr_open stays below INT_MAX), so a
 * libfcgi that bypassed OS_Read and OS_Write here would fail on it with
 * EBADF, never reach a socket. */
#define MEMORY_FD INT_MAX
/* The answer gathered for the loop is kept between requests up to this
 * size; a larger one (a huge page of orders) is given back. */
#define OUTPUT_KEPT ((size_t)256 * 1024)

struct fcgi_request {
	FCGX_Request libfcgi;
	struct loop_connection *connection; /* the one it came on */
	const char *label;		    /* "METHOD URI" for the log; NULL until known */
	int keep_connection;
	int too_large;
};

/* Each connection's protocol state (loop_state): the one request context
 * of the layers above the loop, made once per connection. */
struct fcgi_connection {
	struct framing framing;
	struct fcgi_request request;		   /* one request at a time on a connection */
	alignas(max_align_t) unsigned char data[]; /* the serve function's: fcgi_settings.request_size */
};

/* What libfcgi reads now and where what it writes goes: a worker hands
 * libfcgi one request at a time. The counts tell fcgi_init
 * whose OS_Read and OS_Write libfcgi calls. */
static struct {
	const unsigned char *next;
	size_t left;
	int active;
	unsigned long reads;
} library_input;

static struct {
	unsigned char *bytes;
	size_t length, capacity;
	int active;
	int failed;	      /* out of memory: the answer is cut */
	size_t failed_length; /* how much it would have taken */
	unsigned long writes;
} library_output;

/* Replaces libfcgi's OS_Read (os_unix.c, read(2)): the request handed
 * over, from memory. libfcgi takes 0 for the peer gone, a protocol error:
 * it can come only when framing.c and libfcgi disagree on where a request
 * ends, and the connection is then closed. */
int OS_Read(int fd, char *buf, size_t len)
{
	library_input.reads++;
	if (!library_input.active || fd != MEMORY_FD) {
		log_limited("libfcgi read descriptor %d outside a request handed to it; refused", fd);
		errno = EIO;
		return -1;
	}
	size_t count = len < library_input.left ? len : library_input.left;
	memcpy(buf, library_input.next, count);
	library_input.next += count;
	library_input.left -= count;
	return (int)count;
}

/* Replaces libfcgi's OS_Write (os_unix.c, write(2)): an answer's records
 * are gathered, and the loop sends them together. */
int OS_Write(int fd, char *buf, size_t len)
{
	library_output.writes++;
	if (!library_output.active || fd != MEMORY_FD) {
		log_limited("libfcgi wrote descriptor %d outside an answer; refused", fd);
		errno = EIO;
		return -1;
	}
	if (library_output.length + len > library_output.capacity) {
		size_t capacity = library_output.capacity > 0 ? library_output.capacity : (size_t)16 * 1024;
		while (capacity < library_output.length + len)
			capacity *= 2;
		unsigned char *grown = realloc(library_output.bytes, capacity);
		if (grown == NULL) {
			library_output.failed = 1;
			library_output.failed_length = library_output.length + len;
			errno = ENOMEM;
			return -1;
		}
		library_output.bytes = grown;
		library_output.capacity = capacity;
	}
	memcpy(library_output.bytes + library_output.length, buf, len);
	library_output.length += len;
	return (int)len;
}

/* Replaces libfcgi's OS_IpcClose (os_unix.c: shutdown, then up to 2 s of
 * reading what the peer still sends): the loop closes connections. */
int OS_IpcClose(int ipcFd, int shutdown)
{
	(void)ipcFd;
	(void)shutdown;
	return 0;
}

/* Replaces libfcgi's OS_Accept: connections are the loop's to accept. */
int OS_Accept(int listen_sock, int fail_on_intr, const char *webServerAddrs)
{
	(void)fail_on_intr;
	(void)webServerAddrs;
	log_limited("libfcgi tried to accept on descriptor %d; refused", listen_sock);
	errno = EBADF;
	return -1;
}

/* libfcgi reads the request stream: its BEGIN_REQUEST and parameters are
 * decoded, and the stream is left at FCGI_STDIN. 0, or libfcgi's error. */
static int decode(struct fcgi_request *request, const unsigned char *stream, size_t length)
{
	/* No listening socket: libfcgi must never accept one. */
	FCGX_InitRequest(&request->libfcgi, -1, 0);
	request->libfcgi.ipcFd = MEMORY_FD;
	/* Keeps FCGX_Accept_r's opening FCGX_Finish_r from closing the
	 * descriptor just given (OS_IpcClose would refuse anyway). */
	request->libfcgi.keepConnection = 1;
	library_input.next = stream;
	library_input.left = length;
	library_input.active = 1;
	int status = FCGX_Accept_r(&request->libfcgi);
	library_input.active = 0;
	return status;
}

/* libfcgi formats the answer and ends the request (FCGX_Finish_r frees
 * what decode allocated). The records are in library_output until
 * end_output. */
static void format_answer(struct fcgi_request *request, const char *head, size_t head_length, const char *body,
			  size_t body_length)
{
	library_output.length = 0;
	library_output.failed = 0;
	library_output.active = 1;
	FCGX_PutStr(head, (int)head_length, request->libfcgi.out);
	if (body_length > 0)
		FCGX_PutStr(body, (int)body_length, request->libfcgi.out);
	/* The loop keeps or closes the connection, not libfcgi. */
	request->libfcgi.keepConnection = 1;
	FCGX_Finish_r(&request->libfcgi);
	library_output.active = 0;
}

static void end_output(void)
{
	library_output.length = 0;
	if (library_output.capacity > OUTPUT_KEPT) {
		free(library_output.bytes);
		library_output.bytes = NULL;
		library_output.capacity = 0;
	}
}

void *fcgi_request_data(struct fcgi_request *request)
{
	return container_of(request, struct fcgi_connection, request)->data;
}

void fcgi_set_label(struct fcgi_request *request, const char *label)
{
	request->label = label;
}

struct log_subject fcgi_subject(struct fcgi_request *request)
{
	return loop_subject(request->connection);
}

/* Adds the request to a log line about its connection, once known: the
 * one being answered, or the last one answered on a connection between
 * requests (its answer may be what the peer does not read). */
static void describe(void *context, struct loop_connection *connection, char *out, size_t out_size)
{
	const struct fcgi_connection *state = loop_state(connection);

	(void)context;
	if (state->request.label != NULL)
		snprintf(out, out_size, ", request %s", state->request.label);
}

const char *fcgi_param(const struct fcgi_request *request, const char *name)
{
	return FCGX_GetParam(name, request->libfcgi.envp);
}

int fcgi_is_too_large(const struct fcgi_request *request)
{
	return request->too_large;
}

void fcgi_answer(struct fcgi_request *request, const char *head, size_t head_length, const char *body,
		 size_t body_length)
{
	struct loop_connection *connection = request->connection;

	format_answer(request, head, head_length, body, body_length);
	int failed = library_output.failed;
	if (!failed)
		loop_send(connection, library_output.bytes, library_output.length);
	end_output();
	if (failed) {
		struct log_subject about = loop_subject(connection);
		log_limited_about(&about, "out of memory gathering an answer of %zu bytes; closing its connection",
				  library_output.failed_length);
		loop_close_now(connection);
	}
	loop_request_done(connection, request->keep_connection);
}

/* The request is whole (or past the limit): libfcgi decodes it, and the
 * serve function has it. */
static void hand_over(const struct fcgi_settings *settings, struct loop_connection *connection,
		      struct fcgi_connection *state, unsigned char *input, const struct framing_result *result)
{
	struct fcgi_request *request = &state->request;
	unsigned char *allocated;
	size_t length = 0;
	struct log_subject about = loop_subject(connection);

	request->label = NULL;
	const unsigned char *stream = framing_request_stream(&state->framing, input, &length, &allocated);
	if (stream == NULL) {
		log_limited_about(&about, "out of memory for a request's parameters; closing its connection");
		loop_close_now(connection);
		return;
	}
	int status = decode(request, stream, length);
	free(allocated);
	if (status != 0) {
		log_limited_about(
		    &about, "libfcgi refused a request that framing.c passed (%d); closing its connection", status);
		loop_close_now(connection);
		return;
	}
	request->connection = connection;
	request->too_large = result->verdict == FRAMING_TOO_LARGE;
	/* The rest of a request past the limit is still coming: the
	 * connection closes after the 413. */
	request->keep_connection = result->keep_connection && !request->too_large;
	loop_set_phase(connection, LOOP_BUSY);
	settings->serve(settings->context, request);
}

/* Answers a record on the loop's behalf; 0 when the connection goes on. */
static int answer_record(const struct fcgi_settings *settings, struct loop_connection *connection,
			 const struct framing_result *result)
{
	unsigned char reply[FRAMING_REPLY_ROOM];
	size_t length = 0;

	switch (result->verdict) {
	case FRAMING_MANAGEMENT:
		length = framing_management_reply(result, settings->advertised_connections, reply);
		break;
	case FRAMING_ABORTED:
		length = framing_end_request(result->request_id, FCGI_REQUEST_COMPLETE, reply);
		break;
	case FRAMING_UNKNOWN_ROLE:
		length = framing_end_request(result->request_id, FCGI_UNKNOWN_ROLE, reply);
		break;
	case FRAMING_CANT_MPX:
		length = framing_end_request(result->request_id, FCGI_CANT_MPX_CONN, reply);
		break;
	default: {
		struct log_subject about = loop_subject(connection);
		log_limited_about(&about, "closed a connection that sent %s",
				  result->reason ? result->reason : "bad records");
		loop_close_now(connection);
		return -1;
	}
	}
	loop_send(connection, reply, length);
	/* An ended request whose web server did not ask to keep the
	 * connection: it closes, at once, with no linger. */
	if ((result->verdict == FRAMING_ABORTED || result->verdict == FRAMING_UNKNOWN_ROLE) &&
	    !result->keep_connection) {
		loop_close_after_send(connection);
		return -1;
	}
	return 0;
}

static size_t use_input(void *context, struct loop_connection *connection, unsigned char *input, size_t *length)
{
	const struct fcgi_settings *settings = context;
	struct fcgi_connection *state = loop_state(connection);
	struct framing_result result;

	state->framing.max_request_bytes = settings->max_request_bytes;
	for (;;) {
		framing_next(&state->framing, input, length, &result);
		switch (result.verdict) {
		case FRAMING_INCOMPLETE: {
			size_t done = framing_take(&state->framing);
			int started = state->framing.phase != FRAMING_BETWEEN || *length > done;
			if (started)
				state->request.label = NULL; /* the last one's is not this one's */
			loop_set_phase(connection, started ? LOOP_RECEIVING : LOOP_IDLE);
			return done;
		}
		case FRAMING_REQUEST_READY:
		case FRAMING_TOO_LARGE:
			hand_over(settings, connection, state, input, &result);
			return framing_take(&state->framing);
		default:
			if (answer_record(settings, connection, &result) != 0)
				return 0;
		}
	}
}

void fcgi_protocol(const struct fcgi_settings *settings, struct loop_protocol *protocol)
{
	protocol->state_size = sizeof(struct fcgi_connection) + settings->request_size;
	protocol->input = use_input;
	protocol->describe = describe;
	protocol->context = (void *)settings;
}

int fcgi_init(char *error, size_t error_size)
{
	/* A request of one parameter, PROBE=1, and its answer "x". */
	/* clang-format off */
	static const unsigned char probe[] = {
	    FCGI_VERSION_1, FCGI_BEGIN_REQUEST, 0, 1, 0, 8, 0, 0, 0, FCGI_RESPONDER, 0, 0, 0, 0, 0, 0,
	    FCGI_VERSION_1, FCGI_PARAMS, 0, 1, 0, 8, 0, 0, 5, 1, 'P', 'R', 'O', 'B', 'E', '1',
	    FCGI_VERSION_1, FCGI_PARAMS, 0, 1, 0, 0, 0, 0,
	    FCGI_VERSION_1, FCGI_STDIN, 0, 1, 0, 0, 0, 0,
	};
	/* clang-format on */

	struct fcgi_request request;
	unsigned long reads = library_input.reads, writes = library_output.writes;

	if (FCGX_Init() != 0) {
		snprintf(error, error_size, "FCGX_Init failed");
		return -1;
	}

	int decoded = decode(&request, probe, sizeof probe) == 0;
	/* Before the answer: FCGX_Finish_r frees the parameters. */
	const char *value = decoded ? fcgi_param(&request, "PROBE") : NULL;
	int value_read = value != NULL && strcmp(value, "1") == 0;
	if (decoded) {
		format_answer(&request, "x", 1, NULL, 0);
		end_output();
	}
	if (library_input.reads != reads && value_read && library_output.writes != writes)
		return 0;
	snprintf(error, error_size,
		 "libfcgi does not call this program's OS_Read and OS_Write (a libfcgi linked with "
		 "-Bsymbolic-functions, or statically, calls its own): it would read and write sockets itself; "
		 "refusing to serve");
	return -1;
}
