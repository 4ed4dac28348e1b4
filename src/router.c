/* router.c: which endpoint a request is for, and its query parameters (pure functions). */
#include "router.h"

#include "percent.h"

#include <stdio.h>
#include <string.h>

#define CONTRACT_LIMIT 100
#define CONTRACT_OFFSET 1000

/* The longest endpoint path (--status-path's at most) and a byte more: a
 * path is decoded only that far, since anything longer is no endpoint's;
 * the rest is still checked for bad escapes. */
#define KNOWN_PATH_ROOM (MAX_STATUS_PATH + 2)

struct decoded_path {
	char text[KNOWN_PATH_ROOM];
	size_t length; /* may exceed what text holds */
	int malformed; /* a cut, non-hex or NUL escape */
};

/* Appends length bytes of raw path to path, decoding %XX escapes. */
static void decode_path_part(const char *raw, size_t length, struct decoded_path *path)
{
	for (size_t i = 0; i < length && !path->malformed; i++) {
		char c = raw[i];
		if (c == '%') {
			int high = i + 2 < length ? percent_hex_digit(raw[i + 1]) : -1;
			int low = i + 2 < length ? percent_hex_digit(raw[i + 2]) : -1;
			if (high < 0 || low < 0 || (high == 0 && low == 0)) {
				path->malformed = 1;
				return;
			}
			c = (char)(high * 16 + low);
			i += 2;
		}
		if (path->length < sizeof path->text - 1)
			path->text[path->length] = c;
		path->length++;
	}
}

static void decode_request_path(const struct http_request *request, struct decoded_path *path)
{
	const char *uri = request->request_uri;

	memset(path, 0, sizeof *path);
	if (uri != NULL && *uri != '\0') {
		decode_path_part(uri, strcspn(uri, "?#"), path);
	} else {
		const char *script_name = request->script_name ? request->script_name : "";
		const char *path_info = request->path_info ? request->path_info : "";
		decode_path_part(script_name, strlen(script_name), path);
		decode_path_part(path_info, strlen(path_info), path);
		if (path->length == 0)
			path->text[path->length++] = '/';
	}
	if (path->length < sizeof path->text)
		path->text[path->length] = '\0';
	else
		path->text[0] = '\0'; /* too long to be an endpoint's */
}

static const char *query_of(const struct http_request *request)
{
	if (request->query_string != NULL)
		return request->query_string;
	/* From a shell, REQUEST_URI=/orders?limit=5 alone should work too. */
	const char *mark = request->request_uri ? strchr(request->request_uri, '?') : NULL;
	return mark ? mark + 1 : "";
}

struct route router_route(const struct http_request *request)
{
	struct route route = {ENDPOINT_NONE, 404, 0, query_of(request)};
	struct decoded_path path;

	decode_request_path(request, &path);
	if (path.malformed)
		route.status = 400;
	else if (strcmp(path.text, "/") == 0)
		route.endpoint = ENDPOINT_HELLO;
	else if (strcmp(path.text, "/orders") == 0)
		route.endpoint = ENDPOINT_ORDERS;
	else if (strcmp(path.text, "/health") == 0)
		route.endpoint = ENDPOINT_HEALTH;
	else if (request->status_path != NULL && strcmp(path.text, request->status_path) == 0)
		route.endpoint = ENDPOINT_STATUS;
	if (route.endpoint == ENDPOINT_NONE)
		return route;

	const char *method = request->method;
	if (method != NULL && strcmp(method, "GET") == 0) {
		route.status = 200;
	} else if (method != NULL && strcmp(method, "HEAD") == 0) {
		route.status = 200;
		route.is_head = 1;
	} else {
		route.endpoint = ENDPOINT_NONE;
		route.status = 405;
	}
	return route;
}

/* Strict decimal: digits only (no sign, no spaces, no escapes), so that
 * "10abc", "-1" and "1e3" are refused rather than half-read. */
static int parse_bounded(const char *text, size_t length, long long minimum, long long maximum, long long *value)
{
	long long result = 0;

	if (length == 0 || length > 19)
		return -1;
	for (size_t i = 0; i < length; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		result = result * 10 + (text[i] - '0');
		if (result > maximum)
			return -1;
	}
	if (result < minimum)
		return -1;
	*value = result;
	return 0;
}

int router_parse_page_query(const char *query, struct order_page *page, char *error, size_t error_size)
{
	int seen_limit = 0, seen_offset = 0;
	long long limit = CONTRACT_LIMIT, offset = CONTRACT_OFFSET;

	page->is_default = 1;
	page->limit = CONTRACT_LIMIT;
	page->offset = CONTRACT_OFFSET;
	if (query == NULL || *query == '\0')
		return 0;

	for (const char *cursor = query; *cursor != '\0';) {
		size_t length = strcspn(cursor, "&");
		const char *equals = memchr(cursor, '=', length);
		size_t name_length = equals ? (size_t)(equals - cursor) : length;
		const char *value = equals ? equals + 1 : cursor + length;
		size_t value_length = (size_t)(cursor + length - value);

		if (length == 0) {
			cursor++;
			continue;
		}
		if (name_length == 5 && memcmp(cursor, "limit", 5) == 0) {
			if (seen_limit++) {
				snprintf(error, error_size, "parameter limit is repeated");
				return -1;
			}
			if (parse_bounded(value, value_length, 1, MAX_PAGE_LIMIT, &limit) != 0) {
				snprintf(error, error_size, "limit must be an integer from 1 to %d", MAX_PAGE_LIMIT);
				return -1;
			}
		} else if (name_length == 6 && memcmp(cursor, "offset", 6) == 0) {
			if (seen_offset++) {
				snprintf(error, error_size, "parameter offset is repeated");
				return -1;
			}
			if (parse_bounded(value, value_length, 0, MAX_PAGE_OFFSET, &offset) != 0) {
				snprintf(error, error_size, "offset must be an integer from 0 to %lld",
					 MAX_PAGE_OFFSET);
				return -1;
			}
		} else {
			/* Echo at most a short, printable prefix of the name. */
			char shown[33];
			size_t shown_length = 0;
			for (size_t i = 0; i < name_length && shown_length < sizeof shown - 1; i++)
				shown[shown_length++] = (cursor[i] >= 0x20 && cursor[i] < 0x7f) ? cursor[i] : '?';
			shown[shown_length] = '\0';
			snprintf(error, error_size, "unknown parameter '%s' (use limit and offset)", shown);
			return -1;
		}
		cursor += length;
		if (*cursor == '&')
			cursor++;
	}
	if (seen_limit || seen_offset) {
		page->is_default = 0;
		page->limit = limit;
		page->offset = offset;
	}
	return 0;
}
