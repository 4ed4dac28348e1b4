/* handlers.c: what each endpoint answers, built with json-c; shared by the FastCGI and CGI modes. */
#include "handlers.h"

#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "digits.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"
#include "utf8.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define KEY_FLAGS (JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT)

/* One order of the page. The page's json-c array has a serializer hook
 * (serialize_page) that writes every order of the query from these fields
 * straight into json-c's buffer. The tree is built once per worker and its
 * fields are overwritten from each query's rows. The two strings stay
 * json-c strings, so that json-c quotes and escapes them; the integers are
 * plain fields. Until the page's hook, each order was a json-c object of
 * its own whose hook gathered its text and appended it, and before that
 * json-c ints under a json-c object whose serializer escaped each
 * constant key: serializing was the largest share of an /orders request
 * (callgrind; docs/performance.md). */
struct order_fields {
	int64_t id;
	int64_t customer_id;
	int64_t total_cents;
	json_object *status;
	json_object *created_at;
};

struct orders_page_tree {
	json_object *array; /* empty: its serializer writes the first rows_used orders */
	struct order_fields *orders;
	size_t slots_made;
	size_t rows_used;
};

/* A response past this size leaves json-c's serialization buffer, the
 * long strings in the tree and malloc's free memory at its size (one page
 * of 1 MB statuses kept a worker at 210 MB): handlers_release_growth gives
 * them back once it is sent. */
#define RELEASE_AFTER_BODY_BYTES ((size_t)1 << 20)

struct handlers {
	struct store *store;
	struct orders_page_tree orders;
	int has_grown; /* the last response passed RELEASE_AFTER_BODY_BYTES */
	char *hello_body;
	size_t hello_length;
	char *message_body; /* the last error or status body, owned here */
	size_t message_length;
	const struct status_board *status_board;
};

static char *put_text(char *at, const char *text, size_t length)
{
	memcpy(at, text, length);
	return at + length;
}

#define PUT_LITERAL(at, literal) put_text(at, literal, sizeof(literal) - 1)

/* Makes room for room more bytes (and json-c's closing NUL) at the end of
 * json-c's buffer, which is then written in place (printbuf.h's own
 * printbuf_memappend_fast does the same): each printbuf_memappend has a
 * fixed cost of its own, and an order made three (callgrind).
 * printbuf_memset is json-c's one exported call that grows a buffer. */
static int reserve(struct printbuf *out, size_t room)
{
	int at = out->bpos;

	if (room >= (size_t)(INT_MAX - at))
		return -1;
	if ((size_t)(out->size - at) > room)
		return 0;
	if (printbuf_memset(out, at, 0, (int)room + 1) < 0)
		return -1;
	out->bpos = at;
	return 0;
}

/* The most an order takes besides its two strings: the keys (63 bytes
 * with the comma and json-c's NUL) and three integers. */
#define ORDER_ROOM (64 + 3 * DIGITS_INT64_ROOM)

/* One order, after a comma unless it is the first, as json-c would write
 * it under JSON_FLAGS, the keys in the contract's order. Each string is
 * quoted and escaped by json-c's own string serializer (into the string
 * object's buffer), then copied. */
static int put_order(struct printbuf *out, const struct order_fields *fields, int is_first, int flags)
{
	size_t status_length, created_at_length;
	const char *status = json_object_to_json_string_length(fields->status, flags, &status_length);
	const char *created_at = json_object_to_json_string_length(fields->created_at, flags, &created_at_length);

	if (status == NULL || created_at == NULL || reserve(out, ORDER_ROOM + status_length + created_at_length) != 0)
		return -1;
	char *at = out->buf + out->bpos;
	if (!is_first)
		*at++ = ',';
	at = PUT_LITERAL(at, "{\"id\":");
	at = digits_put_int64(at, fields->id);
	at = PUT_LITERAL(at, ",\"customer_id\":");
	at = digits_put_int64(at, fields->customer_id);
	at = PUT_LITERAL(at, ",\"total_cents\":");
	at = digits_put_int64(at, fields->total_cents);
	at = PUT_LITERAL(at, ",\"status\":");
	at = put_text(at, status, status_length);
	at = PUT_LITERAL(at, ",\"created_at\":");
	at = put_text(at, created_at, created_at_length);
	*at++ = '}';
	*at = '\0';
	out->bpos = (int)(at - out->buf);
	return 0;
}

/* json-c's serializer hook for the page's array: the query's orders, as
 * json-c writes an array under JSON_FLAGS. */
static int serialize_page(struct json_object *array, struct printbuf *out, int level, int flags)
{
	const struct orders_page_tree *tree = json_object_get_userdata(array);

	(void)level;
	if (printbuf_memappend(out, "[", 1) < 0)
		return -1;
	for (size_t i = 0; i < tree->rows_used; i++)
		if (put_order(out, &tree->orders[i], i == 0, flags) != 0)
			return -1;
	return printbuf_memappend(out, "]", 1) < 0 ? -1 : 0;
}

static char *serialize_and_free(json_object *value, size_t *length)
{
	const char *text = json_object_to_json_string_length(value, JSON_FLAGS, length);
	char *copy = text ? strdup(text) : NULL;

	json_object_put(value);
	return copy;
}

/* Error and status bodies are rare enough to build when they are needed. */
static void set_message_body(struct handlers *app, struct http_response *response, int status, const char *key,
			     const char *message)
{
	json_object *body = json_object_new_object();

	free(app->message_body);
	app->message_body = NULL;
	if (body != NULL) {
		json_object_object_add_ex(body, key, json_object_new_string(message), KEY_FLAGS);
		app->message_body = serialize_and_free(body, &app->message_length);
	}
	response->status = status;
	if (app->message_body == NULL) {
		/* Out of memory: an empty body still carries the right status. */
		response->body = "";
		response->body_length = 0;
		return;
	}
	response->body = app->message_body;
	response->body_length = app->message_length;
}

static int make_more_slots(struct orders_page_tree *tree)
{
	size_t wanted = tree->slots_made ? tree->slots_made * 2 : 128;
	struct order_fields *orders = realloc(tree->orders, wanted * sizeof *orders);

	if (orders == NULL)
		return -1;
	tree->orders = orders;
	for (; tree->slots_made < wanted; tree->slots_made++) {
		struct order_fields *fields = &orders[tree->slots_made];
		*fields = (struct order_fields){0};
		fields->status = json_object_new_string("");
		fields->created_at = json_object_new_string("");
		if (fields->status == NULL || fields->created_at == NULL) {
			json_object_put(fields->status);
			json_object_put(fields->created_at);
			return -1;
		}
	}
	return 0;
}

/* Whether text is well-formed UTF-8 (utf8.h): json-c copies string bytes
 * as they are, and a response must be valid JSON whatever a row holds. */
static int is_utf8(const unsigned char *text, size_t length)
{
	/* Statuses are ASCII: eight bytes at a time while no byte has its
	 * high bit, then a byte at a time, with no decoding, which costs
	 * many times a byte's test for each character. */
	size_t at = 0;
	for (uint64_t word; at + sizeof word <= length; at += sizeof word) {
		memcpy(&word, text + at, sizeof word);
		if (word & 0x8080808080808080u)
			break;
	}
	while (at < length && text[at] < 0x80)
		at++;
	while (at < length) {
		size_t character = utf8_character_length((const char *)text + at, length - at);
		if (character == 0)
			return 0;
		at += character;
	}
	return 1;
}

static void free_orders_tree(struct orders_page_tree *tree)
{
	json_object_put(tree->array);
	for (size_t i = 0; i < tree->slots_made; i++) {
		json_object_put(tree->orders[i].status);
		json_object_put(tree->orders[i].created_at);
	}
	free(tree->orders);
	memset(tree, 0, sizeof *tree);
}

static int fill_order_slot(struct orders_page_tree *tree, const struct order_row *row, const struct log_subject *about)
{
	char converted[ISO_TIMESTAMP_LENGTH + 1];

	if (!row->created_at_is_iso && timefmt_from_sql(row->created_at, converted) != 0) {
		log_limited_about(about, "order %lld: created_at '%.40s' is not a timestamp", (long long)row->id,
				  row->created_at);
		return -1;
	}
	if (!is_utf8((const unsigned char *)row->status, row->status_len)) {
		log_limited_about(about, "order %lld: status is not valid UTF-8", (long long)row->id);
		return -1;
	}
	if (tree->rows_used == tree->slots_made && make_more_slots(tree) != 0) {
		log_limited_about(about, "out of memory building the orders page");
		return -1;
	}
	struct order_fields *fields = &tree->orders[tree->rows_used++];
	fields->id = row->id;
	fields->customer_id = row->customer_id;
	fields->total_cents = row->total_cents;
	json_object_set_string_len(fields->status, row->status, (int)row->status_len);
	json_object_set_string_len(fields->created_at, row->created_at_is_iso ? row->created_at : converted,
				   ISO_TIMESTAMP_LENGTH);
	return 0;
}

/* The page's array, its serializer hook set (the array itself stays
 * empty); NULL when handlers_release_growth could not rebuild it. */
static json_object *page_array(struct orders_page_tree *tree)
{
	if (tree->array != NULL)
		json_object_set_serializer(tree->array, serialize_page, tree, NULL);
	return tree->array;
}

/* The answer to /orders once the store has delivered the rows (or not). */
static void orders_response(struct handlers *app, enum store_status status, struct http_response *response)
{
	switch (status) {
	case STORE_OK:
		break;
	case STORE_UNAVAILABLE:
		set_message_body(app, response, 503, "error", "database unavailable");
		return;
	case STORE_QUERY_FAILED:
	case STORE_ROW_REJECTED:
	case STORE_PENDING:
		set_message_body(app, response, 500, "error", "database query failed");
		return;
	}
	json_object *array = page_array(&app->orders);
	if (array == NULL) {
		set_message_body(app, response, 500, "error", "out of memory");
		return;
	}
	const char *text = json_object_to_json_string_length(array, JSON_FLAGS, &response->body_length);
	if (text == NULL) {
		set_message_body(app, response, 500, "error", "out of memory");
		return;
	}
	response->status = 200;
	response->body = text;
	app->has_grown = response->body_length > RELEASE_AFTER_BODY_BYTES;
}

/* /health reads the orders table the way /orders does (one row), so a
 * store that cannot serve /orders is not reported healthy. */
static const struct order_page health_page = {.is_default = 0, .limit = 1, .offset = 0};

static void health_response(struct handlers *app, enum store_status status, struct http_response *response)
{
	if (status == STORE_OK)
		set_message_body(app, response, 200, "status", "ok");
	else
		set_message_body(app, response, 503, "status", "unavailable");
}

/* An /orders or /health query's state is the caller's request context
 * (handlers.h), or the handlers' own for CGI. Results come one at a time
 * (the worker's loop delivers one query's rows, then its end, before the
 * next), so the one orders tree serves them all. */
static int take_row(void *context, const struct order_row *row)
{
	struct handlers_request *request = context;

	if (request->is_health)
		return 0;
	if (!request->rows_started) {
		request->handlers->orders.rows_used = 0;
		request->rows_started = 1;
	}
	return fill_order_slot(&request->handlers->orders, row, &request->about);
}

static void fetched(const struct handlers_request *request, enum store_status status, struct http_response *response)
{
	if (request->is_health) {
		health_response(request->handlers, status, response);
		return;
	}
	if (!request->rows_started)
		request->handlers->orders.rows_used = 0;
	orders_response(request->handlers, status, response);
}

static void pending_done(void *context, enum store_status status)
{
	struct handlers_request *request = context;
	struct http_response response = {.is_head = request->is_head};

	fetched(request, status, &response);
	request->answered(request, &response);
}

/* Runs the page's query: at once on a synchronous store (or without a
 * request to wait in: CGI), else started, answered through request. */
static enum handlers_outcome fetch_page(struct handlers *app, const struct route *route, const struct order_page *page,
					struct http_response *response, struct handlers_request *request)
{
	struct handlers_request answered_now = {0};
	int waits = request != NULL && store_is_async(app->store);
	enum store_status status;

	if (request == NULL)
		request = &answered_now;
	request->handlers = app;
	request->is_head = route->is_head;
	request->is_health = route->endpoint == ENDPOINT_HEALTH;
	request->rows_started = 0;
	if (waits) {
		status = store_start_orders(app->store, page, take_row, pending_done, request);
		if (status == STORE_PENDING)
			return HANDLERS_PENDING;
	} else {
		status = store_fetch_orders(app->store, page, take_row, request);
	}
	fetched(request, status, response);
	return HANDLERS_ANSWERED;
}

struct store *handlers_store(struct handlers *app)
{
	return app->store;
}

void handlers_release_growth(struct handlers *app)
{
	if (!app->has_grown)
		return;
	app->has_grown = 0;
	/* json-c keeps the buffer it serialized into, and each long string's,
	 * for as long as their objects live: the tree is built anew. */
	free_orders_tree(&app->orders);
	app->orders.array = json_object_new_array();
	if (app->orders.array == NULL || make_more_slots(&app->orders) != 0)
		log_line("out of memory rebuilding the orders page; answering 500 to /orders");
	malloc_trim(0);
}

/* The status page, rendered from the workers' shared counters. */
static void answer_status(struct handlers *app, const char *query, struct http_response *response)
{
	char *body = NULL;
	size_t length = 0;

	if (app->status_board == NULL) {
		set_message_body(app, response, 404, "error", "not found");
		return;
	}
	const char *content_type = status_render(app->status_board, status_format_of(query), &body, &length);
	if (content_type == NULL) {
		set_message_body(app, response, 500, "error", "out of memory");
		return;
	}
	free(app->message_body);
	app->message_body = body;
	app->message_length = length;
	response->status = 200;
	response->body = body;
	response->body_length = length;
	response->content_type = content_type;
}

void handlers_set_status_board(struct handlers *app, const struct status_board *board)
{
	app->status_board = board;
}

const struct store_figures *handlers_store_figures(const struct handlers *app)
{
	return store_figures(app->store);
}

enum handlers_outcome handlers_handle(struct handlers *app, const struct route *route, struct http_response *response,
				      struct handlers_request *request)
{
	struct order_page page;
	char reason[128];

	memset(response, 0, sizeof *response);
	response->is_head = route->is_head;
	switch (route->endpoint) {
	case ENDPOINT_HELLO:
		response->status = 200;
		response->body = app->hello_body;
		response->body_length = app->hello_length;
		return HANDLERS_ANSWERED;
	case ENDPOINT_ORDERS:
		if (router_parse_page_query(route->query, &page, reason, sizeof reason) != 0) {
			set_message_body(app, response, 400, "error", reason);
			return HANDLERS_ANSWERED;
		}
		return fetch_page(app, route, &page, response, request);
	case ENDPOINT_HEALTH:
		return fetch_page(app, route, &health_page, response, request);
	case ENDPOINT_STATUS:
		answer_status(app, route->query, response);
		return HANDLERS_ANSWERED;
	case ENDPOINT_NONE:
		set_message_body(app, response, route->status, "error",
				 route->status == 405	? "method not allowed"
				 : route->status == 400 ? "malformed request path"
				 : route->status == 413 ? "request too large"
							: "not found");
		return HANDLERS_ANSWERED;
	}
	return HANDLERS_ANSWERED;
}

struct handlers *handlers_create(const struct db_config *config, char *error, size_t error_size)
{
	struct handlers *app = calloc(1, sizeof *app);
	json_object *hello = json_object_new_object();

	if (app == NULL || hello == NULL) {
		snprintf(error, error_size, "out of memory");
		goto fail;
	}
	json_object_object_add_ex(hello, "message", json_object_new_string("Hello, World!"), KEY_FLAGS);
	app->hello_body = serialize_and_free(hello, &app->hello_length);
	hello = NULL;
	app->orders.array = json_object_new_array();
	if (app->hello_body == NULL || app->orders.array == NULL || make_more_slots(&app->orders) != 0) {
		snprintf(error, error_size, "out of memory");
		goto fail;
	}
	app->store = store_open(config, error, error_size);
	if (app->store == NULL)
		goto fail;
	return app;
fail:
	json_object_put(hello);
	handlers_destroy(app);
	return NULL;
}

void handlers_destroy(struct handlers *app)
{
	if (app == NULL)
		return;
	store_close(app->store);
	free_orders_tree(&app->orders);
	free(app->hello_body);
	free(app->message_body);
	free(app);
}
