/* fuzz_router.c: libFuzzer target for route_request (router.c), the parser every request's path and query go through.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#define FIELDS 4 /* method, REQUEST_URI, SCRIPT_NAME, PATH_INFO */

/* A --status-path as long as one may be, so the fuzzer also reaches the
 * longest path the router decodes. */
static const char status_path[] =
    "/status/of/the/responder/for/the/operators/only/which/is/as/long/as/one/may/be/xxxxxxxxxxxxxxxxxxxxx";

_Static_assert(sizeof status_path - 1 == MAX_STATUS_PATH, "the longest --status-path");

static int is_known_path(const char *path)
{
	return strcmp(path, "/") == 0 || strcmp(path, "/orders") == 0 || strcmp(path, "/health") == 0 ||
	       strcmp(path, status_path) == 0;
}

/* What route_request promises, whatever the method and path; path is
 * the request's path when it is known without decoding, else NULL. */
static void check_route(const struct http_request *request, const char *path)
{
	struct route route = router_route(request);
	const char *method = request->method;
	int is_get = method != NULL && strcmp(method, "GET") == 0;
	int is_head = method != NULL && strcmp(method, "HEAD") == 0;

	if (route.query == NULL)
		abort();
	if (route.status == 200) {
		if (route.endpoint == ENDPOINT_NONE || !(is_get || is_head) || route.is_head != is_head ||
		    (path != NULL && !is_known_path(path)))
			abort();
	} else if (route.status == 404) {
		if (route.endpoint != ENDPOINT_NONE || (path != NULL && is_known_path(path)))
			abort();
	} else if (route.status == 405) {
		if (route.endpoint != ENDPOINT_NONE || is_get || is_head || (path != NULL && !is_known_path(path)))
			abort();
	} else if (route.status == 400) {
		if (route.endpoint != ENDPOINT_NONE || path != NULL)
			abort();
	} else {
		abort();
	}
}

/* The input is split at NUL bytes into the fields method, REQUEST_URI,
 * SCRIPT_NAME, PATH_INFO (missing ones are NULL, as an absent CGI
 * variable is), after a first byte that older corpus entries used and
 * that is skipped. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *text = malloc(size);
	const char *fields[FIELDS] = {NULL, NULL, NULL, NULL};

	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	const char *cursor = text;
	for (int field = 0; field < FIELDS && cursor <= text + size - 1; field++) {
		fields[field] = cursor;
		cursor += strlen(cursor) + 1;
	}
	struct http_request request = {.method = fields[0],
				       .request_uri = fields[1],
				       .script_name = fields[2],
				       .path_info = fields[3],
				       .status_path = status_path};
	const char *uri = request.request_uri;
	char *path = NULL;
	/* Without escapes, the path is REQUEST_URI up to its query. */
	if (uri != NULL && *uri != '\0' && strchr(uri, '%') == NULL)
		path = strndup(uri, strcspn(uri, "?#"));
	check_route(&request, path);
	free(path);
	free(text);
	return 0;
}
