/* fuzz_router.c: libFuzzer target for request_path and route_request (router.c), the parsers every request's path goes
 * through. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#define FIELDS 4 /* method, REQUEST_URI, SCRIPT_NAME, PATH_INFO */

static int is_known_path(const char *path)
{
	return strcmp(path, "/") == 0 || strcmp(path, "/orders") == 0 || strcmp(path, "/health") == 0;
}

/* What route_request promises, whatever the method and path. */
static void check_route(const char *method, const char *path)
{
	struct route route = route_request(method, path);
	int is_get = method != NULL && strcmp(method, "GET") == 0;
	int is_head = method != NULL && strcmp(method, "HEAD") == 0;

	if (route.status == 200) {
		if (route.endpoint == ENDPOINT_NONE || !(is_get || is_head) || !is_known_path(path) ||
		    route.is_head != is_head)
			abort();
	} else if (route.status == 404) {
		if (route.endpoint != ENDPOINT_NONE || is_known_path(path))
			abort();
	} else if (route.status == 405) {
		if (route.endpoint != ENDPOINT_NONE || !is_known_path(path) || is_get || is_head)
			abort();
	} else {
		abort();
	}
}

/* The input is split at NUL bytes into the four fields (missing ones are
 * NULL, as an absent CGI variable is); the first byte picks the size of
 * the output buffer, so that tight buffers are tried as well as the
 * handler's 2048 bytes. Every buffer is allocated to its exact size, so
 * AddressSanitizer sees the first byte read or written past it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t out_size = (data[0] & 0x80) ? 2048 : 1 + (data[0] & 0x7f);
	char *text = malloc(size);
	char *out = malloc(out_size);
	const char *fields[FIELDS] = {NULL, NULL, NULL, NULL};

	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	const char *cursor = text;
	for (int field = 0; field < FIELDS && cursor <= text + size - 1; field++) {
		fields[field] = cursor;
		cursor += strlen(cursor) + 1;
	}
	const char *method = fields[0], *request_uri = fields[1];

	if (request_path(request_uri, fields[2], fields[3], out, out_size) == 0) {
		if (memchr(out, '\0', out_size) == NULL)
			abort();
		/* Without escapes, the path is REQUEST_URI up to its query. */
		if (request_uri != NULL && *request_uri != '\0' && strchr(request_uri, '%') == NULL &&
		    (strlen(out) != strcspn(request_uri, "?#") || strncmp(out, request_uri, strlen(out)) != 0))
			abort();
		check_route(method, out);
	}
	check_route(method, request_uri != NULL ? request_uri : "");
	free(out);
	free(text);
	return 0;
}
