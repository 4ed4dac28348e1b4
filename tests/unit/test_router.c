/* test_router.c: paths, methods and /orders parameters are routed as the contract says. */
#include "router.h"
#include "tap.h"

static struct route route(const char *method, const char *request_uri)
{
	struct http_request request = {.method = method, .request_uri = request_uri};
	return router_route(&request);
}

/* Where the request's path leads, for paths given every way a web server
 * may give them. */
static const char *endpoint_of(const char *request_uri, const char *script_name, const char *path_info)
{
	struct http_request request = {
	    .method = "GET", .request_uri = request_uri, .script_name = script_name, .path_info = path_info};
	struct route routed = router_route(&request);
	switch (routed.endpoint) {
	case ENDPOINT_HELLO:
		return "hello";
	case ENDPOINT_ORDERS:
		return "orders";
	case ENDPOINT_HEALTH:
		return "health";
	case ENDPOINT_STATUS:
		return "status";
	case ENDPOINT_NONE:
		break;
	}
	return routed.status == 400 ? "400" : routed.status == 404 ? "404" : "other";
}

static const char *query_of(const char *request_uri, const char *query_string)
{
	struct http_request request = {.method = "GET", .request_uri = request_uri, .query_string = query_string};
	return router_route(&request).query;
}

static const char *page_error(const char *query)
{
	static char error[128];
	struct order_page page;
	return router_parse_page_query(query, &page, error, sizeof error) == 0 ? "(accepted)" : error;
}

int main(void)
{
	struct order_page page;
	char error[128];

	OK(route("GET", "/").endpoint == ENDPOINT_HELLO && route("GET", "/").status == 200, "GET / is hello");
	OK(route("GET", "/orders").endpoint == ENDPOINT_ORDERS, "GET /orders is orders");
	OK(route("GET", "/health").endpoint == ENDPOINT_HEALTH, "GET /health is health");
	OK(route("HEAD", "/orders").is_head && route("HEAD", "/orders").status == 200, "HEAD /orders: head only");
	OK(route("POST", "/orders").status == 405, "POST /orders is 405");
	OK(route("DELETE", "/").status == 405, "DELETE / is 405");
	OK(route("get", "/").status == 405, "methods are case-sensitive");
	OK(route(NULL, "/").status == 405, "a missing method is 405");
	OK(route("GET", "/nope").status == 404, "unknown path is 404");
	OK(route("POST", "/nope").status == 404, "unknown path is 404 whatever the method");
	OK(route("GET", "/orders/").status == 404, "a trailing slash is another path");
	OK(route("GET", "//orders").status == 404, "a doubled slash is another path");
	OK(route("GET", "/orders/..").status == 404, "dot segments are not resolved here");

	IS_STRING(endpoint_of("/orders?limit=5", NULL, NULL), "orders", "the query is cut from REQUEST_URI");
	IS_STRING(endpoint_of("/%6Frders", NULL, NULL), "orders", "percent escapes are decoded");
	IS_STRING(endpoint_of("/orders%3Flimit=1", NULL, NULL), "404", "an escaped ? stays in the path");
	IS_STRING(endpoint_of("/orders%00x", NULL, NULL), "400", "an escaped NUL is refused");
	IS_STRING(endpoint_of("/orders%G0", NULL, NULL), "400", "a bad escape is refused");
	IS_STRING(endpoint_of("/orders%4", NULL, NULL), "400", "a cut escape is refused");
	IS_STRING(endpoint_of(NULL, "/orders", NULL), "orders", "SCRIPT_NAME alone");
	IS_STRING(endpoint_of(NULL, "", "/orders"), "orders", "PATH_INFO alone");
	IS_STRING(endpoint_of(NULL, "/or", "ders"), "orders", "SCRIPT_NAME + PATH_INFO");
	IS_STRING(endpoint_of(NULL, "/api", "/orders"), "404", "a prefix is part of the path");
	IS_STRING(endpoint_of(NULL, NULL, NULL), "hello", "no path at all is /");
	IS_STRING(endpoint_of("", "/orders", ""), "orders", "an empty REQUEST_URI falls back");
	IS_STRING(endpoint_of("/orders%2", NULL, NULL), "400", "an escape cut by the end of the path");
	IS_STRING(endpoint_of("/%6Frders%20", NULL, NULL), "404", "a decoded path one byte longer");
	{
		static char long_path[4096];
		memset(long_path, 'a', sizeof long_path - 1);
		long_path[0] = '/';
		IS_STRING(endpoint_of(long_path, NULL, NULL), "404",
			  "a path of 4095 bytes is 404 like any unknown path");
		long_path[2048] = '\0';
		IS_STRING(endpoint_of(long_path, NULL, NULL), "404", "a path of 2048 bytes too");
		memcpy(long_path + 3000, "%zz", 3);
		long_path[2048] = 'a';
		IS_STRING(endpoint_of(long_path, NULL, NULL), "400", "a bad escape far into a long path is still 400");
	}
	{
		struct http_request request = {.method = "GET", .request_uri = "/server-status?full"};
		OK(router_route(&request).status == 404, "no --status-path: its path is any unknown path");
		request.status_path = "/server-status";
		struct route routed = router_route(&request);
		OK(routed.endpoint == ENDPOINT_STATUS && strcmp(routed.query, "full") == 0,
		   "--status-path /server-status: routed to the status page with its query");
		request.request_uri = "/server-status/";
		OK(router_route(&request).status == 404, "only the status path itself");
		request.request_uri = "/server-status";
		request.method = "POST";
		OK(router_route(&request).status == 405, "POST to the status path is 405");
		static char long_status[MAX_STATUS_PATH + 1];
		memset(long_status, 's', MAX_STATUS_PATH);
		long_status[0] = '/';
		request.method = "GET";
		request.status_path = long_status;
		request.request_uri = long_status;
		OK(router_route(&request).endpoint == ENDPOINT_STATUS, "a status path of MAX_STATUS_PATH bytes");
	}
	IS_STRING(query_of("/orders?limit=5", NULL), "limit=5", "the query from REQUEST_URI");
	IS_STRING(query_of("/orders?limit=5", "offset=1"), "offset=1", "QUERY_STRING wins when given");
	IS_STRING(query_of("/orders", NULL), "", "no query at all is empty");

	OK(router_parse_page_query(NULL, &page, error, sizeof error) == 0 && page.is_default,
	   "no query: contract page");
	OK(router_parse_page_query("", &page, error, sizeof error) == 0 && page.is_default,
	   "empty query: contract page");
	OK(router_parse_page_query("limit=5&offset=7", &page, error, sizeof error) == 0 && !page.is_default &&
	       page.limit == 5 && page.offset == 7,
	   "limit and offset");
	OK(router_parse_page_query("offset=0&limit=500", &page, error, sizeof error) == 0 && page.limit == 500 &&
	       page.offset == 0,
	   "either order, the bounds included");
	OK(router_parse_page_query("limit=10", &page, error, sizeof error) == 0 && page.offset == 1000,
	   "a missing offset is the contract's 1000");
	OK(router_parse_page_query("offset=5", &page, error, sizeof error) == 0 && page.limit == 100,
	   "a missing limit is the contract's 100");
	OK(router_parse_page_query("offset=2147483647", &page, error, sizeof error) == 0 && page.offset == 2147483647LL,
	   "offset 2^31-1 is allowed");
	IS_STRING(page_error("limit=0"), "limit must be an integer from 1 to 500", "limit 0");
	IS_STRING(page_error("limit=501"), "limit must be an integer from 1 to 500", "limit 501");
	IS_STRING(page_error("limit=-1"), "limit must be an integer from 1 to 500", "a negative limit");
	IS_STRING(page_error("limit=10abc"), "limit must be an integer from 1 to 500", "trailing letters");
	IS_STRING(page_error("limit="), "limit must be an integer from 1 to 500", "an empty value");
	IS_STRING(page_error("limit"), "limit must be an integer from 1 to 500", "no value");
	IS_STRING(page_error("limit=+5"), "limit must be an integer from 1 to 500", "a plus sign");
	IS_STRING(page_error("limit=99999999999999999999999"), "limit must be an integer from 1 to 500",
		  "a huge number does not overflow");
	IS_STRING(page_error("offset=2147483648"), "offset must be an integer from 0 to 2147483647", "offset 2^31");
	IS_STRING(page_error("limit=1&limit=2"), "parameter limit is repeated", "a repeated limit");
	IS_STRING(page_error("offset=1&offset=1"), "parameter offset is repeated", "a repeated offset");
	IS_STRING(page_error("sort=id"), "unknown parameter 'sort' (use limit and offset)", "an unknown parameter");
	IS_STRING(page_error("limit=5&%00=1"), "unknown parameter '%00' (use limit and offset)",
		  "names are shown as sent");
	IS_STRING(page_error("a\x01="), "unknown parameter 'a?' (use limit and offset)",
		  "control characters are not echoed");
	IS_STRING(page_error("limit=5&&offset=1"), "(accepted)", "empty pieces between & are skipped");
	DONE_TESTING();
}
