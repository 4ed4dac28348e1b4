/* fcgi_records.c: throws malformed FastCGI records at a live responder socket, one bounded connection per case. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: fcgi_records [options] ADDRESS\n"
		     "Sends malformed FastCGI records to the responder at ADDRESS (a unix socket path or\n"
		     "HOST:PORT), one connection per case, and counts how each connection ended.\n"
		     "Every wait is bounded: a case never takes much longer than its hold time.\n"
		     "\n"
		     "  -n COUNT   cases to run (default 1000)\n"
		     "  -s SEED    seed of the case generator (default 1); a run is reproducible\n"
		     "  -i INDEX   first case index (default 0): -i 1234 -n 1 -v replays case 1234\n"
		     "  -t MS      how long a case waits for the responder's answer, or holds a\n"
		     "             stalled connection open (default 100)\n"
		     "  -L COUNT   of the cases, COUNT silent peers spread over the run hold their\n"
		     "             connection for -H milliseconds instead (default 0)\n"
		     "  -H MS      hold time of those long silent peers (default 4000)\n"
		     "  -c EVERY   a well-formed GET / every EVERY cases, which must be answered\n"
		     "             200 within 10 s (default 50; 0: none)\n"
		     "  -v         one line per case\n"
		     "Exit status: 0, or 1 when a control request was not answered.\n");
}

/* FastCGI 1.0 record types and roles, as the specification numbers them. */
enum {
	BEGIN_REQUEST = 1,
	ABORT_REQUEST = 2,
	END_REQUEST = 3,
	PARAMS = 4,
	STDIN = 5,
	STDOUT = 6,
	DATA = 8,
	GET_VALUES = 9,
};
enum { ROLE_RESPONDER = 1 };
#define HEADER_LENGTH 8
#define CONTROL_DEADLINE_MS 10000

/* What the client does after writing its bytes. */
enum ending {
	END_CLOSE, /* close at once: the peer vanishes mid-record */
	END_RESET, /* close with SO_LINGER 0: the responder sees a reset */
	END_SHUT,  /* half-close and read the answer */
	END_HOLD,  /* keep the connection open and read until the hold time ends */
};
static const char *const ending_names[] = {"close", "reset", "shut", "hold"};

enum result {
	RESULT_ANSWERED, /* an FCGI_END_REQUEST came back */
	RESULT_CLOSED,	 /* the responder closed without one */
	RESULT_DEADLINE, /* nothing conclusive before the case's time ran out */
	RESULT_SENT,	 /* END_CLOSE / END_RESET: nothing read on purpose */
	RESULT_COUNT,
};
static const char *const result_names[] = {"answered", "closed", "deadline", "sent-and-left"};

struct bytes {
	unsigned char *data;
	size_t length;
	size_t capacity;
};

struct settings {
	long cases;
	uint64_t seed;
	long first_index;
	int wait_ms;
	long long_holds;
	int long_hold_ms;
	long control_every;
	int verbose;
	const char *address;
};

static long long now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* splitmix64: small, fast, and every case's stream derives from (seed, index). */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t below(uint64_t *state, uint32_t bound)
{
	return bound == 0 ? 0 : (uint32_t)(next_random(state) % bound);
}

static void append(struct bytes *out, const void *data, size_t length)
{
	if (length == 0)
		return;
	if (out->length + length > out->capacity) {
		size_t capacity = out->capacity ? out->capacity : 4096;
		while (capacity < out->length + length)
			capacity *= 2;
		unsigned char *grown = realloc(out->data, capacity);
		if (grown == NULL) {
			fprintf(stderr, "fcgi_records: out of memory\n");
			exit(2);
		}
		out->data = grown;
		out->capacity = capacity;
	}
	memcpy(out->data + out->length, data, length);
	out->length += length;
}

static void append_byte(struct bytes *out, unsigned value)
{
	unsigned char byte = (unsigned char)value;
	append(out, &byte, 1);
}

/* A header that may lie about the content that follows it. */
static void append_header(struct bytes *out, unsigned version, unsigned type, unsigned id, unsigned content_length,
			  unsigned padding_length)
{
	unsigned char header[HEADER_LENGTH] = {
	    (unsigned char)version,
	    (unsigned char)type,
	    (unsigned char)(id >> 8),
	    (unsigned char)id,
	    (unsigned char)(content_length >> 8),
	    (unsigned char)content_length,
	    (unsigned char)padding_length,
	    0,
	};
	append(out, header, sizeof header);
}

static void append_record(struct bytes *out, unsigned type, unsigned id, const void *content, size_t length)
{
	static const unsigned char zeros[8];
	unsigned padding = (unsigned)((8 - length % 8) % 8);

	append_header(out, 1, type, id, (unsigned)length, padding);
	append(out, content, length);
	append(out, zeros, padding);
}

static void append_begin(struct bytes *out, unsigned id, unsigned role, unsigned flags)
{
	unsigned char body[8] = {(unsigned char)(role >> 8), (unsigned char)role, (unsigned char)flags};
	append_record(out, BEGIN_REQUEST, id, body, sizeof body);
}

/* A name-value length: one byte below 128, else four with the high bit set. */
static void append_length(struct bytes *out, uint32_t length)
{
	if (length < 128) {
		append_byte(out, length);
		return;
	}
	append_byte(out, (length >> 24) | 0x80);
	append_byte(out, length >> 16);
	append_byte(out, length >> 8);
	append_byte(out, length);
}

static void append_pair(struct bytes *out, const char *name, size_t name_length, const char *value, size_t value_length)
{
	append_length(out, (uint32_t)name_length);
	append_length(out, (uint32_t)value_length);
	append(out, name, name_length);
	append(out, value, value_length);
}

static void append_text_pair(struct bytes *out, const char *name, const char *value)
{
	append_pair(out, name, strlen(name), value, strlen(value));
}

static const char *const some_uris[] = {"/",	   "/orders", "/orders?limit=3&offset=7",
					"/health", "/nope",   "/orders?limit=0"};

static void append_params_of(struct bytes *params, const char *method, const char *uri)
{
	char path[256];
	const char *query = strchr(uri, '?');

	snprintf(path, sizeof path, "%.*s", (int)(query ? query - uri : (long)strlen(uri)), uri);
	append_text_pair(params, "REQUEST_METHOD", method);
	append_text_pair(params, "REQUEST_URI", uri);
	append_text_pair(params, "SCRIPT_NAME", path);
	append_text_pair(params, "QUERY_STRING", query ? query + 1 : "");
}

/* A complete, well-formed request on request id 1. */
static void append_valid_request(struct bytes *out, const char *uri)
{
	struct bytes params = {0};

	append_begin(out, 1, ROLE_RESPONDER, 0);
	append_params_of(&params, "GET", uri);
	append_record(out, PARAMS, 1, params.data, params.length);
	append_record(out, PARAMS, 1, NULL, 0);
	append_record(out, STDIN, 1, NULL, 0);
	free(params.data);
}

static const char *random_uri(uint64_t *rng)
{
	return some_uris[below(rng, sizeof some_uris / sizeof some_uris[0])];
}

static enum ending random_ending(uint64_t *rng)
{
	uint32_t roll = below(rng, 100);

	/* Holding costs the whole wait; keep it rare so a run stays short. */
	if (roll < 35)
		return END_CLOSE;
	if (roll < 45)
		return END_RESET;
	if (roll < 92)
		return END_SHUT;
	return END_HOLD;
}

/* Each generator writes one case's bytes and says how the case ends. */

static enum ending truncated_header(struct bytes *out, uint64_t *rng)
{
	struct bytes whole = {0};

	append_valid_request(&whole, "/");
	append(out, whole.data, 1 + below(rng, HEADER_LENGTH - 1));
	free(whole.data);
	return random_ending(rng);
}

static enum ending wrong_version(struct bytes *out, uint64_t *rng)
{
	static const unsigned versions[] = {0, 2, 3, 0x7f, 0x80, 0xff};

	append_valid_request(out, random_uri(rng));
	/* The version of the first, or of a later, record. */
	size_t record_start = below(rng, 2) == 0 ? 0 : 16;
	out->data[record_start] = (unsigned char)versions[below(rng, sizeof versions / sizeof versions[0])];
	return END_SHUT;
}

static enum ending absurd_length(struct bytes *out, uint64_t *rng)
{
	static const unsigned lengths[] = {0xffff, 0xfffe, 0x8000, 0x7fff, 4096};
	unsigned types[] = {BEGIN_REQUEST, PARAMS, STDIN, ABORT_REQUEST, GET_VALUES, DATA};
	unsigned type = types[below(rng, sizeof types / sizeof types[0])];
	unsigned length = lengths[below(rng, sizeof lengths / sizeof lengths[0])];
	unsigned char filler[512];

	if (type != BEGIN_REQUEST && below(rng, 2))
		append_begin(out, 1, ROLE_RESPONDER, 0);
	append_header(out, 1, type, type == GET_VALUES ? 0 : 1, length, below(rng, 256));
	/* Fewer bytes than announced: the responder must not wait forever. */
	memset(filler, 'x', sizeof filler);
	append(out, filler, below(rng, sizeof filler));
	return random_ending(rng);
}

static enum ending unknown_type(struct bytes *out, uint64_t *rng)
{
	unsigned char content[64];
	unsigned type = below(rng, 2) ? 0 : 12 + below(rng, 244);

	for (size_t i = 0; i < sizeof content; i++)
		content[i] = (unsigned char)next_random(rng);
	if (below(rng, 2))
		append_begin(out, 1, ROLE_RESPONDER, 0);
	append_record(out, type, below(rng, 2), content, below(rng, sizeof content));
	if (below(rng, 2)) {
		struct bytes rest = {0};
		append_valid_request(&rest, random_uri(rng));
		append(out, rest.data, rest.length);
		free(rest.data);
	}
	return END_SHUT;
}

static enum ending other_request_ids(struct bytes *out, uint64_t *rng)
{
	static const unsigned ids[] = {0, 2, 3, 255, 256, 0x7fff, 0xffff};
	unsigned other = ids[below(rng, sizeof ids / sizeof ids[0])];
	struct bytes params = {0};

	append_params_of(&params, "GET", random_uri(rng));
	switch (below(rng, 3)) {
	case 0: /* begun on 1, continued on another id */
		append_begin(out, 1, ROLE_RESPONDER, 0);
		append_record(out, PARAMS, other, params.data, params.length);
		append_record(out, PARAMS, other, NULL, 0);
		append_record(out, STDIN, other, NULL, 0);
		break;
	case 1: /* begun on another id, continued on 1 */
		append_begin(out, other, ROLE_RESPONDER, 0);
		append_record(out, PARAMS, 1, params.data, params.length);
		append_record(out, PARAMS, 1, NULL, 0);
		append_record(out, STDIN, 1, NULL, 0);
		break;
	default: /* a second request multiplexed on the connection */
		append_begin(out, 1, ROLE_RESPONDER, 0);
		append_begin(out, other, ROLE_RESPONDER, 0);
		append_record(out, PARAMS, 1, params.data, params.length);
		append_record(out, PARAMS, other, params.data, params.length);
		append_record(out, PARAMS, 1, NULL, 0);
		append_record(out, STDIN, 1, NULL, 0);
		break;
	}
	free(params.data);
	return END_SHUT;
}

static enum ending abort_mid_request(struct bytes *out, uint64_t *rng)
{
	struct bytes params = {0};
	uint32_t where = below(rng, 4);

	append_params_of(&params, "GET", random_uri(rng));
	if (where == 0)
		append_record(out, ABORT_REQUEST, 1, NULL, 0); /* before anything */
	append_begin(out, 1, ROLE_RESPONDER, 0);
	if (where == 1)
		append_record(out, ABORT_REQUEST, 1, NULL, 0);
	append_record(out, PARAMS, 1, params.data, params.length / 2);
	if (where == 2)
		append_record(out, ABORT_REQUEST, 1, NULL, 0);
	append_record(out, PARAMS, 1, params.data + params.length / 2, params.length - params.length / 2);
	append_record(out, PARAMS, 1, NULL, 0);
	if (where == 3)
		append_record(out, ABORT_REQUEST, 1, NULL, 0);
	if (below(rng, 2))
		append_record(out, STDIN, 1, NULL, 0);
	free(params.data);
	return below(rng, 4) ? END_SHUT : random_ending(rng);
}

/* CVE-2025-23016's shape: four-byte lengths whose sum overflows an int. */
static enum ending huge_param_lengths(struct bytes *out, uint64_t *rng)
{
	static const uint32_t lengths[] = {0x7fffffff, 0x7ffffffe, 0x7ffffff0, 0x7fffff00, 0x40000000,
					   0x3fffffff, 0x10000,	   1000,       0};
	struct bytes params = {0};
	size_t count = sizeof lengths / sizeof lengths[0];

	append_begin(out, 1, ROLE_RESPONDER, 0);
	if (below(rng, 2))
		append_text_pair(&params, "REQUEST_METHOD", "GET");
	append_length(&params, lengths[below(rng, (uint32_t)count)]);
	append_length(&params, lengths[below(rng, (uint32_t)count)]);
	append(&params, "NAMEVALUE-bytes-that-are-far-too-few", below(rng, 36));
	append_record(out, PARAMS, 1, params.data, params.length);
	if (below(rng, 2)) {
		append_record(out, PARAMS, 1, NULL, 0);
		append_record(out, STDIN, 1, NULL, 0);
	}
	free(params.data);
	return below(rng, 4) ? END_SHUT : random_ending(rng);
}

static enum ending silent_peer(struct bytes *out, uint64_t *rng)
{
	(void)out;
	return below(rng, 2) ? END_HOLD : END_CLOSE;
}

static enum ending close_mid_record(struct bytes *out, uint64_t *rng)
{
	struct bytes whole = {0};

	append_valid_request(&whole, random_uri(rng));
	append(out, whole.data, 1 + below(rng, (uint32_t)whole.length - 1));
	free(whole.data);
	return below(rng, 2) ? END_CLOSE : END_RESET;
}

static enum ending random_bytes(struct bytes *out, uint64_t *rng)
{
	uint32_t length = 1 + below(rng, 2048);

	/* Half of them start with a plausible header, to get past the first check. */
	if (below(rng, 2))
		append_header(out, 1, below(rng, 12), below(rng, 3), below(rng, 4096), below(rng, 256));
	for (uint32_t i = 0; i < length; i++)
		append_byte(out, (unsigned)next_random(rng));
	return random_ending(rng);
}

static enum ending mutated_request(struct bytes *out, uint64_t *rng)
{
	append_valid_request(out, random_uri(rng));
	for (uint32_t flips = 1 + below(rng, 8); flips > 0; flips--) {
		size_t at = below(rng, (uint32_t)out->length);
		switch (below(rng, 3)) {
		case 0:
			out->data[at] ^= (unsigned char)(1u << below(rng, 8));
			break;
		case 1:
			out->data[at] = (unsigned char)next_random(rng);
			break;
		default: /* an interesting value */
			out->data[at] = (unsigned char[]){0, 0x7f, 0x80, 0xff}[below(rng, 4)];
			break;
		}
	}
	return below(rng, 8) ? END_SHUT : random_ending(rng);
}

static enum ending bad_role_or_flags(struct bytes *out, uint64_t *rng)
{
	static const unsigned roles[] = {0, 2, 3, 4, 0x100, 0xffff};
	struct bytes params = {0};
	unsigned role = below(rng, 2) ? roles[below(rng, sizeof roles / sizeof roles[0])] : ROLE_RESPONDER;

	/* Flag 1 is FCGI_KEEP_CONN; the other bits are reserved. */
	append_begin(out, 1, role, below(rng, 256));
	append_params_of(&params, "GET", random_uri(rng));
	append_record(out, PARAMS, 1, params.data, params.length);
	append_record(out, PARAMS, 1, NULL, 0);
	append_record(out, STDIN, 1, NULL, 0);
	free(params.data);
	/* A kept connection is never reused by this responder, but the
	 * client may wait: hold it, bounded. */
	return END_SHUT;
}

static enum ending management_records(struct bytes *out, uint64_t *rng)
{
	struct bytes query = {0};

	append_text_pair(&query, "FCGI_MAX_CONNS", "");
	append_text_pair(&query, "FCGI_MAX_REQS", "");
	append_text_pair(&query, "FCGI_MPXS_CONNS", "");
	if (below(rng, 2))
		append_length(&query, 0x7fffffff); /* a pair that lies */
	append_record(out, GET_VALUES, below(rng, 4) ? 0 : 1, query.data, query.length);
	if (below(rng, 2))
		append_valid_request(out, random_uri(rng));
	free(query.data);
	return END_SHUT;
}

static enum ending odd_padding(struct bytes *out, uint64_t *rng)
{
	struct bytes params = {0};
	unsigned char padding[255];

	memset(padding, 0xa5, sizeof padding);
	append_params_of(&params, "GET", random_uri(rng));
	unsigned char body[8] = {0, ROLE_RESPONDER, 0};
	/* Legal but unusual padding, sometimes cut short by the end of input. */
	unsigned pad = below(rng, 256);
	append_header(out, 1, BEGIN_REQUEST, 1, sizeof body, pad);
	append(out, body, sizeof body);
	append(out, padding, pad);
	pad = below(rng, 256);
	append_header(out, 1, PARAMS, 1, (unsigned)params.length, pad);
	append(out, params.data, params.length);
	append(out, padding, below(rng, 4) ? pad : below(rng, pad + 1));
	append_record(out, PARAMS, 1, NULL, 0);
	append_record(out, STDIN, 1, NULL, 0);
	free(params.data);
	return END_SHUT;
}

static enum ending many_or_large_params(struct bytes *out, uint64_t *rng)
{
	struct bytes params = {0};
	char name[32];
	static char large[60000];

	append_begin(out, 1, ROLE_RESPONDER, 0);
	append_params_of(&params, "GET", random_uri(rng));
	switch (below(rng, 4)) {
	case 0: /* thousands of small pairs, over many records */
		for (int i = 0; i < 3000; i++) {
			int length = snprintf(name, sizeof name, "HTTP_X_%d", i);
			append_pair(&params, name, (size_t)length, "v", 1);
		}
		break;
	case 1: /* one value as large as a record holds */
		memset(large, 'a', sizeof large);
		append_pair(&params, "HTTP_X_LARGE", 12, large, sizeof large);
		break;
	case 2: /* binary names and values, NUL bytes included */
		for (int i = 0; i < 50; i++) {
			char binary[16];
			for (size_t j = 0; j < sizeof binary; j++)
				binary[j] = (char)next_random(rng);
			append_pair(&params, binary, below(rng, sizeof binary), binary, below(rng, sizeof binary));
		}
		break;
	default: /* the same parameter again, or an empty name */
		append_text_pair(&params, "REQUEST_URI", "/orders?limit=1");
		append_text_pair(&params, "", "x");
		append_text_pair(&params, "REQUEST_METHOD", "");
		break;
	}
	/* PARAMS content may span records: cut it into pieces of at most 65535. */
	for (size_t at = 0; at < params.length;) {
		size_t piece = params.length - at;
		if (piece > 65535)
			piece = 65535;
		if (below(rng, 3) == 0 && piece > 1)
			piece = 1 + below(rng, (uint32_t)piece - 1); /* split mid-pair */
		append_record(out, PARAMS, 1, params.data + at, piece);
		at += piece;
	}
	append_record(out, PARAMS, 1, NULL, 0);
	append_record(out, STDIN, 1, NULL, 0);
	free(params.data);
	return END_SHUT;
}

static enum ending large_body(struct bytes *out, uint64_t *rng)
{
	struct bytes params = {0};
	static unsigned char chunk[65535];
	uint32_t chunks = 1 + below(rng, 8);
	char length[32];

	memset(chunk, 'b', sizeof chunk);
	append_begin(out, 1, ROLE_RESPONDER, 0);
	append_params_of(&params, below(rng, 2) ? "GET" : "POST", random_uri(rng));
	snprintf(length, sizeof length, "%zu", chunks * sizeof chunk);
	append_text_pair(&params, "CONTENT_LENGTH", below(rng, 4) ? length : "-1");
	append_record(out, PARAMS, 1, params.data, params.length);
	append_record(out, PARAMS, 1, NULL, 0);
	for (uint32_t i = 0; i < chunks; i++)
		append_record(out, STDIN, 1, chunk, sizeof chunk);
	if (below(rng, 4))
		append_record(out, STDIN, 1, NULL, 0);
	free(params.data);
	return below(rng, 4) ? END_SHUT : random_ending(rng);
}

static enum ending empty_records(struct bytes *out, uint64_t *rng)
{
	uint32_t count = 1 + below(rng, 200);

	if (below(rng, 2))
		append_begin(out, 1, ROLE_RESPONDER, 0);
	for (uint32_t i = 0; i < count; i++)
		append_record(out, below(rng, 12), below(rng, 3), NULL, 0);
	return random_ending(rng);
}

/* Issue 20: management records between a request's BEGIN_REQUEST and the
 * end of its PARAMS (libfcgi answered them into a fixed stack buffer), and
 * FCGI_GET_VALUES over 16 KiB. */
static enum ending management_inside_request(struct bytes *out, uint64_t *rng)
{
	static const uint32_t counts[] = {1, 4, 6, 40, 1100, 2000, 4000};
	struct bytes params = {0};
	struct bytes query = {0};
	uint32_t count = counts[below(rng, sizeof counts / sizeof counts[0])];

	for (uint32_t i = 0; i < count; i++)
		append_text_pair(&query, "FCGI_MAX_CONNS", "");
	append_params_of(&params, "GET", random_uri(rng));
	append_begin(out, 1, ROLE_RESPONDER, below(rng, 2));
	if (below(rng, 2))
		append_record(out, PARAMS, 1, params.data, params.length);
	if (below(rng, 4))
		append_record(out, GET_VALUES, 0, query.data, query.length);
	else
		append_record(out, 12 + below(rng, 244), 0, NULL, 0);
	append_record(out, PARAMS, 1, params.data, params.length);
	append_record(out, PARAMS, 1, NULL, 0);
	append_record(out, STDIN, 1, NULL, 0);
	free(params.data);
	free(query.data);
	return END_SHUT;
}

struct case_kind {
	const char *name;
	enum ending (*generate)(struct bytes *out, uint64_t *rng);
};

static const struct case_kind kinds[] = {
    {"truncated-header", truncated_header},
    {"wrong-version", wrong_version},
    {"absurd-length", absurd_length},
    {"unknown-type", unknown_type},
    {"other-request-ids", other_request_ids},
    {"abort-mid-request", abort_mid_request},
    {"huge-param-lengths", huge_param_lengths},
    {"silent-peer", silent_peer},
    {"close-mid-record", close_mid_record},
    {"random-bytes", random_bytes},
    {"mutated-request", mutated_request},
    {"bad-role-or-flags", bad_role_or_flags},
    {"management-records", management_records},
    {"odd-padding", odd_padding},
    {"many-or-large-params", many_or_large_params},
    {"large-body", large_body},
    {"empty-records", empty_records},
    {"management-inside-request", management_inside_request},
};
#define KIND_COUNT (sizeof kinds / sizeof kinds[0])

static size_t kind_named(const char *name)
{
	size_t kind = 0;

	while (strcmp(kinds[kind].name, name) != 0)
		kind++;
	return kind;
}

/* What came back on one connection: whether the request ended, and the
 * first bytes of its FCGI_STDOUT (the CGI status line). */
struct answer {
	unsigned char header[HEADER_LENGTH];
	size_t header_used;
	size_t content_left; /* content + padding of the record being skipped */
	int in_stdout;
	char stdout_start[32];
	size_t stdout_used;
	int ended;
};

static void read_records(struct answer *answer, const unsigned char *data, size_t length)
{
	while (length > 0) {
		if (answer->content_left > 0) {
			size_t take = length < answer->content_left ? length : answer->content_left;
			for (size_t i = 0;
			     answer->in_stdout && i < take && answer->stdout_used < sizeof answer->stdout_start - 1;
			     i++)
				answer->stdout_start[answer->stdout_used++] = (char)data[i];
			answer->content_left -= take;
			data += take;
			length -= take;
			continue;
		}
		answer->header[answer->header_used++] = *data++;
		length--;
		if (answer->header_used < HEADER_LENGTH)
			continue;
		answer->header_used = 0;
		unsigned type = answer->header[1];
		/* Padding is skipped with the content; only content is copied,
		 * which is good enough for a status line at the start. */
		answer->content_left = ((size_t)answer->header[4] << 8 | answer->header[5]) + answer->header[6];
		answer->in_stdout = type == STDOUT;
		if (type == END_REQUEST)
			answer->ended = 1;
	}
}

/* Connects without blocking past deadline. -1 on failure. */
static int connect_bounded(const struct sockaddr_storage *address, socklen_t address_length, long long deadline)
{
	for (;;) {
		int fd = socket(address->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (const struct sockaddr *)address, address_length) == 0)
			return fd;
		if (errno == EINPROGRESS) {
			struct pollfd entry = {.fd = fd, .events = POLLOUT};
			int error = 0;
			socklen_t error_length = sizeof error;
			long long left = deadline - now_ms();
			if (left > 0 && poll(&entry, 1, (int)left) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_length) == 0 && error == 0)
				return fd;
			close(fd);
			return -1;
		}
		close(fd);
		/* A unix socket with a full backlog says EAGAIN: try again. */
		if (errno != EAGAIN || now_ms() >= deadline)
			return -1;
		struct timespec pause = {0, 5L * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
}

/* Writes what it can before deadline; stops when the responder closes.
 * Reads meanwhile, so that a responder answering early cannot deadlock
 * against a client that is still writing. */
static void send_bounded(int fd, const struct bytes *out, long long deadline, struct answer *answer)
{
	size_t sent = 0;
	unsigned char input[16384];

	while (sent < out->length) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return;
		struct pollfd entry = {.fd = fd, .events = POLLOUT | POLLIN};
		if (poll(&entry, 1, (int)left) <= 0)
			return;
		if (entry.revents & POLLIN) {
			ssize_t got = recv(fd, input, sizeof input, 0);
			if (got > 0)
				read_records(answer, input, (size_t)got);
			else if (got == 0 || errno != EAGAIN)
				return;
		}
		if (entry.revents & (POLLERR | POLLHUP))
			return;
		if (entry.revents & POLLOUT) {
			ssize_t written = send(fd, out->data + sent, out->length - sent, MSG_NOSIGNAL);
			if (written < 0 && errno != EAGAIN)
				return;
			if (written > 0)
				sent += (size_t)written;
		}
	}
}

static enum result read_bounded(int fd, long long deadline, struct answer *answer)
{
	unsigned char input[16384];

	for (;;) {
		if (answer->ended)
			return RESULT_ANSWERED;
		long long left = deadline - now_ms();
		if (left <= 0)
			return RESULT_DEADLINE;
		struct pollfd entry = {.fd = fd, .events = POLLIN};
		int ready = poll(&entry, 1, (int)left);
		if (ready < 0 && errno != EINTR)
			return RESULT_DEADLINE;
		if (ready <= 0)
			continue;
		ssize_t got = recv(fd, input, sizeof input, 0);
		if (got > 0)
			read_records(answer, input, (size_t)got);
		else if (got == 0 || errno != EAGAIN)
			return answer->ended ? RESULT_ANSWERED : RESULT_CLOSED;
	}
}

static enum result run_connection(const struct sockaddr_storage *address, socklen_t address_length,
				  const struct bytes *out, enum ending ending, int wait_ms, struct answer *answer)
{
	long long deadline = now_ms() + wait_ms;
	int fd = connect_bounded(address, address_length, deadline);
	enum result result = RESULT_SENT;

	memset(answer, 0, sizeof *answer);
	if (fd < 0)
		return RESULT_DEADLINE;
	send_bounded(fd, out, deadline, answer);
	switch (ending) {
	case END_RESET: {
		struct linger reset = {.l_onoff = 1, .l_linger = 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
		break;
	}
	case END_CLOSE:
		break;
	case END_SHUT:
		shutdown(fd, SHUT_WR);
		result = read_bounded(fd, deadline, answer);
		break;
	case END_HOLD:
		result = read_bounded(fd, deadline, answer);
		break;
	}
	close(fd);
	return result;
}

static int parse_address(const char *text, struct sockaddr_storage *address, socklen_t *length)
{
	memset(address, 0, sizeof *address);
	const char *colon = strrchr(text, ':');
	if (strchr(text, '/') != NULL || colon == NULL) {
		struct sockaddr_un *unix_address = (struct sockaddr_un *)address;
		if (strlen(text) >= sizeof unix_address->sun_path)
			return -1;
		unix_address->sun_family = AF_UNIX;
		memcpy(unix_address->sun_path, text, strlen(text) + 1);
		*length = sizeof *unix_address;
		return 0;
	}
	char host[256];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *found = NULL;
	snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &found) != 0)
		return -1;
	memcpy(address, found->ai_addr, found->ai_addrlen);
	*length = found->ai_addrlen;
	freeaddrinfo(found);
	return 0;
}

static long parse_number(const char *flag, const char *text)
{
	char *end;
	long value = strtol(text, &end, 10);

	if (*text == '\0' || *end != '\0' || value < 0) {
		fprintf(stderr, "fcgi_records: %s takes a whole number, not '%s'\n", flag, text);
		exit(2);
	}
	return value;
}

static int read_settings(int argc, char **argv, struct settings *settings)
{
	int option;

	*settings =
	    (struct settings){.cases = 1000, .seed = 1, .wait_ms = 100, .long_hold_ms = 4000, .control_every = 50};
	while ((option = getopt(argc, argv, "n:s:i:t:L:H:c:vh")) != -1) {
		switch (option) {
		case 'n':
			settings->cases = parse_number("-n", optarg);
			break;
		case 's':
			settings->seed = (uint64_t)parse_number("-s", optarg);
			break;
		case 'i':
			settings->first_index = parse_number("-i", optarg);
			break;
		case 't':
			settings->wait_ms = (int)parse_number("-t", optarg);
			break;
		case 'L':
			settings->long_holds = parse_number("-L", optarg);
			break;
		case 'H':
			settings->long_hold_ms = (int)parse_number("-H", optarg);
			break;
		case 'c':
			settings->control_every = parse_number("-c", optarg);
			break;
		case 'v':
			settings->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return -1;
	}
	settings->address = argv[optind];
	return 0;
}

/* Whether case index is one of the long silent holds, spread evenly. */
static int is_long_hold(const struct settings *settings, long index)
{
	if (settings->long_holds == 0)
		return 0;
	long spacing = settings->cases / settings->long_holds;
	if (spacing == 0)
		spacing = 1;
	long offset = index - settings->first_index;
	return offset % spacing == spacing / 2 && offset / spacing < settings->long_holds;
}

int main(int argc, char **argv)
{
	struct settings settings;
	struct sockaddr_storage address;
	socklen_t address_length;
	long results[KIND_COUNT][RESULT_COUNT] = {{0}};
	long total_results[RESULT_COUNT] = {0};
	long controls = 0, controls_failed = 0, long_holds = 0;
	long long records_bytes = 0;
	struct answer answer;

	if (read_settings(argc, argv, &settings) != 0)
		return 2;
	if (parse_address(settings.address, &address, &address_length) != 0) {
		fprintf(stderr, "fcgi_records: cannot use address %s\n", settings.address);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	long long started = now_ms();

	for (long index = settings.first_index; index < settings.first_index + settings.cases; index++) {
		struct bytes out = {0};
		uint64_t rng = settings.seed * 0x100000001b3ULL ^ (uint64_t)index;

		if (settings.control_every > 0 && index % settings.control_every == 0) {
			append_valid_request(&out, "/");
			enum result result =
			    run_connection(&address, address_length, &out, END_SHUT, CONTROL_DEADLINE_MS, &answer);
			int answered =
			    result == RESULT_ANSWERED && strncmp(answer.stdout_start, "Status: 200", 11) == 0;
			controls++;
			controls_failed += !answered;
			if (settings.verbose || !answered)
				printf("case %ld control GET /: %s%s\n", index, result_names[result],
				       answered ? "" : " -- NOT ANSWERED 200");
			out.length = 0;
		}

		next_random(&rng);
		size_t kind = below(&rng, KIND_COUNT);
		enum ending ending = kinds[kind].generate(&out, &rng);
		int wait_ms = settings.wait_ms;
		if (is_long_hold(&settings, index)) {
			/* A peer that connects, sends nothing and stays: it must
			 * cost its own connection only, never a worker. */
			out.length = 0;
			kind = kind_named("silent-peer");
			ending = END_HOLD;
			wait_ms = settings.long_hold_ms;
			long_holds++;
		}
		enum result result = run_connection(&address, address_length, &out, ending, wait_ms, &answer);
		results[kind][result]++;
		total_results[result]++;
		records_bytes += (long long)out.length;
		if (settings.verbose)
			printf("case %ld %s (%zu bytes, %s): %s\n", index, kinds[kind].name, out.length,
			       ending_names[ending], result_names[result]);
		free(out.data);
	}

	printf("fcgi_records: %ld cases, seed %llu, %lld bytes sent, %.1f s\n", settings.cases,
	       (unsigned long long)settings.seed, records_bytes, (double)(now_ms() - started) / 1000);
	for (size_t kind = 0; kind < KIND_COUNT; kind++) {
		printf("  %-22s", kinds[kind].name);
		for (int result = 0; result < RESULT_COUNT; result++)
			printf(" %s %-5ld", result_names[result], results[kind][result]);
		printf("\n");
	}
	printf("  %-22s", "all");
	for (int result = 0; result < RESULT_COUNT; result++)
		printf(" %s %-5ld", result_names[result], total_results[result]);
	printf("\n  long silent holds %ld (%d ms each)\n", long_holds, settings.long_hold_ms);
	printf("  control requests %ld, not answered 200: %ld\n", controls, controls_failed);
	return controls_failed == 0 ? 0 : 1;
}
