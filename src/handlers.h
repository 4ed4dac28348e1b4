/* handlers.h: what each endpoint answers, built with json-c; shared by the FastCGI and CGI modes. */
#ifndef WEBAPI_HANDLERS_H
#define WEBAPI_HANDLERS_H

#include <stddef.h>

#include "dsn.h"
#include "log.h"
#include "router.h"
#include "status.h"
#include "store.h"

struct http_response {
	int status;
	int is_head;	  /* the headers of the GET answer, no body */
	const char *body; /* valid until the next handlers_handle call */
	size_t body_length;
	const char *content_type; /* NULL: application/json */
};

struct handlers;

/* Opens the store (one handle per process: call it after the fork) and
 * builds the constant bodies. NULL with a reason in error. */
struct handlers *handlers_create(const struct db_config *config, char *error, size_t error_size);
void handlers_destroy(struct handlers *app);

/* Whether handlers_handle put the answer in response, or it comes later. */
enum handlers_outcome {
	HANDLERS_ANSWERED,
	HANDLERS_PENDING, /* through request->answered, once the database has answered */
};

/* A request whose answer may wait for the database. The caller embeds it
 * in its own request context (a worker's lives in its connection's
 * memory, made once per connection), so that waiting allocates nothing;
 * it must live until answered is called, once, with a response valid
 * during the call. */
struct handlers_request {
	void (*answered)(struct handlers_request *request, const struct http_response *response);
	struct log_subject about; /* what log lines about the request name */
	/* The handlers' own while the answer waits. */
	struct handlers *handlers;
	int is_head;
	int is_health;
	int rows_started;
};

/* Answers a routed request: the handlers see neither FastCGI nor CGI.
 * HANDLERS_ANSWERED with the answer in response; or, with a request given
 * and an asynchronous store (PostgreSQL in a worker's loop),
 * HANDLERS_PENDING: the answer comes through request->answered. Without
 * a request (CGI), always answered now, and log lines name none. */
enum handlers_outcome handlers_handle(struct handlers *app, const struct route *route, struct http_response *response,
				      struct handlers_request *request);

/* The store, for the worker's event loop to watch (store_wait). */
struct store *handlers_store(struct handlers *app);

/* Where the status endpoint reads its figures (NULL: it answers 404). */
void handlers_set_status_board(struct handlers *app, const struct status_board *board);

/* The store's figures, for the status page and the slow-request log. */
const struct store_figures *handlers_store_figures(const struct handlers *app);

/* Gives back the memory a huge response grew (json-c's buffers, malloc's
 * free memory); call it once that response is sent. Cheap otherwise. */
void handlers_release_growth(struct handlers *app);

#endif
