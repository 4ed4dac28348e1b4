/* test_router.c: paths, methods and /orders parameters are routed as the contract says. */
#include "router.h"
#include "tap.h"

static struct route route(const char *method, const char *path)
{
	return route_request(method, path);
}

static const char *path_of(const char *request_uri, const char *script_name, const char *path_info)
{
	static char out[256];
	return request_path(request_uri, script_name, path_info, out, sizeof out) == 0 ? out : "(rejected)";
}

static const char *page_error(const char *query)
{
	static char error[128];
	struct order_page page;
	return parse_page_query(query, &page, error, sizeof error) == 0 ? "(accepted)" : error;
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

	IS_STRING(path_of("/orders?limit=5", NULL, NULL), "/orders", "the query is cut from REQUEST_URI");
	IS_STRING(path_of("/%6Frders", NULL, NULL), "/orders", "percent escapes are decoded");
	IS_STRING(path_of("/orders%3Flimit=1", NULL, NULL), "/orders?limit=1", "an escaped ? stays in the path");
	IS_STRING(path_of("/orders%00x", NULL, NULL), "(rejected)", "an escaped NUL is refused");
	IS_STRING(path_of("/orders%G0", NULL, NULL), "(rejected)", "a bad escape is refused");
	IS_STRING(path_of("/orders%4", NULL, NULL), "(rejected)", "a cut escape is refused");
	IS_STRING(path_of(NULL, "/orders", NULL), "/orders", "SCRIPT_NAME alone");
	IS_STRING(path_of(NULL, "", "/orders"), "/orders", "PATH_INFO alone");
	IS_STRING(path_of(NULL, "/api", "/orders"), "/api/orders", "SCRIPT_NAME + PATH_INFO");
	IS_STRING(path_of(NULL, NULL, NULL), "/", "no path at all is /");
	IS_STRING(path_of("", "/orders", ""), "/orders", "an empty REQUEST_URI falls back");

	OK(parse_page_query(NULL, &page, error, sizeof error) == 0 && page.is_default, "no query: contract page");
	OK(parse_page_query("", &page, error, sizeof error) == 0 && page.is_default, "empty query: contract page");
	OK(parse_page_query("limit=5&offset=7", &page, error, sizeof error) == 0 && !page.is_default &&
	       page.limit == 5 && page.offset == 7,
	   "limit and offset");
	OK(parse_page_query("offset=0&limit=500", &page, error, sizeof error) == 0 && page.limit == 500 &&
	       page.offset == 0,
	   "either order, the bounds included");
	OK(parse_page_query("limit=10", &page, error, sizeof error) == 0 && page.offset == 1000,
	   "a missing offset is the contract's 1000");
	OK(parse_page_query("offset=5", &page, error, sizeof error) == 0 && page.limit == 100,
	   "a missing limit is the contract's 100");
	OK(parse_page_query("offset=2147483647", &page, error, sizeof error) == 0 && page.offset == 2147483647LL,
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
