/* status.h: the figures of the status page: counters the workers keep in shared memory, and the JSON and metrics pages
 * read from them. */
#ifndef WEBAPI_STATUS_H
#define WEBAPI_STATUS_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

/* Other processes read the shared figures: only a lock-free atomic is
 * address-free (C11 7.17.5), so one that took a lock would let a reader in
 * another process see half of a 64-bit figure on a 32-bit target. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
	       "the shared status figures need lock-free 64-bit and int atomics");

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
 * "process_requests" is the current process's own. Every field is read
 * and written as a relaxed atomic (status_add), except requests: stored
 * last with release and read first with acquire, so a reader that counts
 * a request sees the rest of its figures too. */
struct status_counters {
	_Atomic unsigned long long requests;
	_Atomic unsigned long long slow_requests;
	_Atomic unsigned long long connections_accepted;
	_Atomic unsigned long long by_route_code[STATUS_ROUTES][STATUS_CODES];
	_Atomic unsigned long long latency[STATUS_ROUTES][STATUS_LATENCY_BUCKETS + 1]; /* not cumulative */
	_Atomic unsigned long long latency_sum_us[STATUS_ROUTES];
	_Atomic unsigned long long store_reconnects;
	_Atomic long long store_down_since_ms; /* wall clock; 0: up */
	_Atomic unsigned long long process_requests;
	_Atomic long long last_duration_us;
	_Atomic int connections_held;
	_Atomic int kept_connections;
};

/* Adds to a counter that has one writer, the worker that owns the slot:
 * a relaxed load and store (two plain moves on x86-64) rather than
 * atomic_fetch_add, a locked add that every request would pay for. A
 * reader sees the old sum or the new one, never half of either. */
static inline void status_add(_Atomic unsigned long long *counter, unsigned long long amount)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + amount,
			      memory_order_relaxed);
}

/* What the supervisor keeps for the whole responder, in the same mapping.
 * The first three are written before the first fork, which publishes
 * them; the "most at once" figures have many writers (status_raise). */
struct status_shared {
	long long started_ms; /* wall clock */
	long long started_monotonic_ms;
	pid_t supervisor;
	_Atomic int most_active;
	_Atomic int listen_queue_max;
};

/* Raises *figure to value if it is lower: the supervisor and every
 * worker's status page sample these, so a compare-and-swap keeps a higher
 * figure another process just wrote. */
void status_raise(_Atomic int *figure, int value);

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
#define STATUS_LABEL_SIZE (3 * 240 + 1) /* ACTIVITY_REQUEST_SIZE's bytes, each replaced */
void status_request_label(const struct worker_activity *worker, char *out, size_t out_size);

/* Renders the page into a malloc'd string (*body, *length); returns its
 * Content-Type, or NULL when out of memory. */
const char *status_render(const struct status_board *board, enum status_format format, char **body, size_t *length);

#endif
