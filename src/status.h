/* status.h: the figures of the status page: counters the workers keep in shared memory, and the JSON and metrics pages
 * read from them. */
#ifndef WEBAPI_STATUS_H
#define WEBAPI_STATUS_H

#include <stddef.h>
#include <sys/types.h>

/* The routes counted apart on the metrics page. */
enum status_route {
	STATUS_ROUTE_HELLO,
	STATUS_ROUTE_ORDERS,
	STATUS_ROUTE_HEALTH,
	STATUS_ROUTE_STATUS,
	STATUS_ROUTE_OTHER,
	STATUS_ROUTES
};
/* The status codes the handlers answer, and one slot for any other. */
#define STATUS_CODES 7
/* Latency buckets (upper bounds in microseconds, status.c), plus +Inf. */
#define STATUS_LATENCY_BUCKETS 12

/* One worker slot's counters. Each record has one writer at a time (the
 * worker in that slot; a slot is reused only after its worker is reaped),
 * so no locks: the reader sums the records. Counters are never reset when
 * a slot is reused, so their sum only grows, as Prometheus counters must;
 * "process_requests" is the current process's own. */
struct status_counters {
	volatile unsigned long long requests;
	volatile unsigned long long slow_requests;
	volatile unsigned long long connections_accepted;
	volatile unsigned long long by_route_code[STATUS_ROUTES][STATUS_CODES];
	volatile unsigned long long latency[STATUS_ROUTES][STATUS_LATENCY_BUCKETS + 1]; /* not cumulative */
	volatile unsigned long long latency_sum_us[STATUS_ROUTES];
	volatile unsigned long long store_reconnects;
	volatile long long store_down_since_ms; /* wall clock; 0: up */
	volatile long process_requests;
	volatile long long last_duration_us;
	volatile int connections_held;
	volatile int kept_connections;
};

/* What the supervisor keeps for the whole responder, in the same mapping. */
struct status_shared {
	long long started_ms; /* wall clock */
	long long started_monotonic_ms;
	volatile int most_active;
	volatile int listen_queue_max;
	pid_t supervisor;
};

struct worker_activity;

/* Where the status page finds its figures (process-local pointers into the
 * mapping); a NULL board means no status page (CGI mode). */
struct status_board {
	struct status_shared *shared;
	struct worker_activity *workers; /* capacity records */
	int capacity;
	int listen_fd;
	const char *version;
};

enum status_format { STATUS_JSON, STATUS_JSON_FULL, STATUS_METRICS };

/* The format a query string asks for: "full", "openmetrics", else JSON. */
enum status_format status_format_of(const char *query);

/* Counts one finished request in a worker's record. */
void status_count_request(struct status_counters *counters, enum status_route route, int code, long long duration_us);

/* How many workers are answering a request now (the supervisor samples it
 * for most_active), and the listening socket's queue (status.c says how
 * the kernel tells it): 0, or -1 when it cannot. */
int status_active_workers(const struct status_board *board);
int status_listen_queue(int listen_fd, int *length, int *limit);

/* A worker's "METHOD URI" label as well-formed UTF-8 in out (NUL-terminated;
 * STATUS_LABEL_SIZE holds any label whole): the worker copies the
 * request's bytes as they came and cuts them at its field's end, so a
 * character cut there is left out and a byte that starts no character
 * becomes U+FFFD. Read from a snapshot, since the worker may be writing. */
#define STATUS_LABEL_SIZE (3 * 240 + 1)
void status_request_label(const struct worker_activity *worker, char *out, size_t out_size);

/* Renders the page into a malloc'd string (*body, *length); returns its
 * Content-Type, or NULL when out of memory. */
const char *status_render(const struct status_board *board, enum status_format format, char **body, size_t *length);

#endif
