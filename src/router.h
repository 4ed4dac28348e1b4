/* router.h: which endpoint a request is for, and its query parameters (pure functions). */
#ifndef WEBAPI_ROUTER_H
#define WEBAPI_ROUTER_H

#include <stddef.h>

#include "store.h"

/* The CGI variables a request is routed by, as the web server sent them
 * (any may be NULL). */
struct http_request {
	const char *method;
	const char *request_uri;
	const char *script_name;
	const char *path_info;
	const char *query_string;
	const char *status_path; /* --status-path, NULL when off: the configuration, not the request's */
};

enum endpoint { ENDPOINT_HELLO, ENDPOINT_ORDERS, ENDPOINT_HEALTH, ENDPOINT_STATUS, ENDPOINT_NONE };

struct route {
	enum endpoint endpoint; /* ENDPOINT_NONE when status says why */
	int status;		/* 200, or 400 / 404 / 405 */
	int is_head;		/* answer with the GET headers and no body */
	const char *query;	/* the raw query string (never NULL), pointing into request */
};

#define MAX_PAGE_LIMIT 500
/* The longest --status-path: a path is decoded only that far (router.c). */
#define MAX_STATUS_PATH 100
#define MAX_PAGE_OFFSET 2147483647LL

/* Reads the request once: the path, decoded, from REQUEST_URI when the
 * web server gives it (the client's own path, however the server split it
 * into SCRIPT_NAME and PATH_INFO), else SCRIPT_NAME + PATH_INFO; the query
 * from QUERY_STRING, else from REQUEST_URI after its '?'. A path with a
 * bad or NUL escape is 400; any path that is not an endpoint's, however
 * long, is 404; a known path with another method than GET or HEAD is 405. */
struct route router_route(const struct http_request *request);

/* Reads "limit=L&offset=O" for /orders. An absent or empty query is the
 * contract's default page; a missing parameter takes the contract's value
 * (limit 100, offset 1000). Returns 0, or -1 with a message naming the
 * parameter in error. */
int router_parse_page_query(const char *query, struct order_page *page, char *error, size_t error_size);

#endif
