/* router.c: which endpoint a request is for, and its query parameters (pure functions). */
#include "router.h"

#include "percent.h"

#include <stdio.h>
#include <string.h>

#define CONTRACT_LIMIT 100
#define CONTRACT_OFFSET 1000

/* Decodes %XX escapes of length bytes of text into out. */
static int percent_decode(const char *text, size_t length, char *out, size_t out_size)
{
	size_t used = 0;

	for (size_t i = 0; i < length; i++) {
		char c = text[i];
		if (c == '%') {
			if (i + 2 >= length)
				return -1;
			int high = hex_digit(text[i + 1]), low = hex_digit(text[i + 2]);
			if (high < 0 || low < 0 || (high == 0 && low == 0))
				return -1;
			c = (char)(high * 16 + low);
			i += 2;
		}
		if (used + 1 >= out_size)
			return -1;
		out[used++] = c;
	}
	out[used] = '\0';
	return 0;
}

int request_path(const char *request_uri, const char *script_name, const char *path_info, char *out, size_t out_size)
{
	if (request_uri != NULL && *request_uri != '\0')
		return percent_decode(request_uri, strcspn(request_uri, "?#"), out, out_size);

	char joined[4096];
	int length =
	    snprintf(joined, sizeof joined, "%s%s", script_name ? script_name : "", path_info ? path_info : "");
	if (length < 0 || (size_t)length >= sizeof joined)
		return -1;
	if (length == 0)
		return snprintf(out, out_size, "/") < (int)out_size ? 0 : -1;
	return percent_decode(joined, (size_t)length, out, out_size);
}

struct route route_request(const char *method, const char *path)
{
	struct route route = {ENDPOINT_NONE, 404, 0};

	if (strcmp(path, "/") == 0)
		route.endpoint = ENDPOINT_HELLO;
	else if (strcmp(path, "/orders") == 0)
		route.endpoint = ENDPOINT_ORDERS;
	else if (strcmp(path, "/health") == 0)
		route.endpoint = ENDPOINT_HEALTH;
	else
		return route;

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

int parse_page_query(const char *query, struct order_page *page, char *error, size_t error_size)
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
