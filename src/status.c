/* status.c: the figures of the status page: counters the workers keep in shared memory, and the JSON and metrics pages
 * read from them. */
#include "status.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "activity.h"
#include "clock.h"
#include "proc.h"
#include "text.h"
#include "timefmt.h"
#include "utf8.h"

_Static_assert(STATUS_LABEL_SIZE >= 3 * ACTIVITY_REQUEST_SIZE + 1,
	       "a label of bytes that are each replaced fits whole");

/* Upper bounds of the latency buckets, in microseconds: from a GET / on a
 * kept connection (well under a millisecond) to a request near the
 * 30 s request timeout. */
static const long long bucket_bounds_us[STATUS_LATENCY_BUCKETS] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000,
};
static const char *const bucket_labels[STATUS_LATENCY_BUCKETS] = {
    "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1", "5",
};
static const int counted_codes[STATUS_CODES - 1] = {200, 400, 404, 405, 500, 503};
static const char *const route_names[STATUS_ROUTES] = {"hello", "orders", "health", "status", "other"};

enum status_format status_format_of(const char *query)
{
	if (query == NULL)
		return STATUS_JSON;
	if (strcmp(query, "openmetrics") == 0 || strncmp(query, "openmetrics&", 12) == 0)
		return STATUS_METRICS;
	if (strcmp(query, "full") == 0 || strncmp(query, "full&", 5) == 0)
		return STATUS_JSON_FULL;
	return STATUS_JSON;
}

static int code_index(int code)
{
	for (int i = 0; i < STATUS_CODES - 1; i++)
		if (counted_codes[i] == code)
			return i;
	return STATUS_CODES - 1;
}

void status_count_request(struct status_counters *counters, enum status_route route, int code, long long duration_us)
{
	int bucket = 0;

	while (bucket < STATUS_LATENCY_BUCKETS && duration_us > bucket_bounds_us[bucket])
		bucket++;
	status_add(&counters->by_route_code[route][code_index(code)], 1);
	status_add(&counters->latency[route][bucket], 1);
	status_add(&counters->latency_sum_us[route], (unsigned long long)duration_us);
	atomic_store_explicit(&counters->last_duration_us, duration_us, memory_order_relaxed);
	status_add(&counters->process_requests, 1);
	/* Last, with release: a reader that sees the total sees the rest of
	 * this request (add_slot reads it first, with acquire). */
	atomic_store_explicit(&counters->requests, atomic_load_explicit(&counters->requests, memory_order_relaxed) + 1,
			      memory_order_release);
}

void status_raise(_Atomic int *figure, int value)
{
	int seen = atomic_load_explicit(figure, memory_order_relaxed);

	while (value > seen &&
	       !atomic_compare_exchange_weak_explicit(figure, &seen, value, memory_order_relaxed, memory_order_relaxed))
		;
}

/* Whether the slot's worker is alive and answering a request now. */
static int is_busy(const struct worker_activity *worker)
{
	return atomic_load_explicit(&worker->pid, memory_order_relaxed) > 0 &&
	       atomic_load_explicit(&worker->busy_since_ms, memory_order_relaxed) != 0;
}

int status_active_workers(const struct status_board *board)
{
	int active = 0;

	for (int i = 0; i < board->capacity; i++)
		active += is_busy(&board->workers[i]);
	return active;
}

/* A unix listener's queue: sock_diag reports, for a listening socket, the
 * connections waiting to be accepted and the backlog (UNIX_DIAG_RQLEN). */
static int unix_listen_queue(int listen_fd, int *length, int *limit)
{
	struct stat socket_stat;
	struct {
		struct nlmsghdr header;
		struct unix_diag_req request;
	} query = {
	    .header = {.nlmsg_len = sizeof query, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST},
	    .request = {.sdiag_family = AF_UNIX,
			.udiag_states = 1U << TCP_LISTEN,
			.udiag_show = UDIAG_SHOW_RQLEN,
			.udiag_cookie = {~0U, ~0U}},
	};
	long answer[2048 / sizeof(long)];
	int found = -1;

	if (fstat(listen_fd, &socket_stat) != 0)
		return -1;
	query.request.udiag_ino = (unsigned)socket_stat.st_ino;
	int netlink = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (netlink < 0)
		return -1;
	ssize_t received = -1;
	if (send(netlink, &query, sizeof query, 0) == (ssize_t)sizeof query)
		received = recv(netlink, answer, sizeof answer, 0);
	close(netlink);
	for (struct nlmsghdr *header = (struct nlmsghdr *)answer; received > 0 && NLMSG_OK(header, (size_t)received);
	     header = NLMSG_NEXT(header, received)) {
		if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			break;
		struct unix_diag_msg *message = NLMSG_DATA(header);
		int attributes_length = (int)(header->nlmsg_len - NLMSG_LENGTH(sizeof *message));
		for (struct rtattr *attribute = (struct rtattr *)(message + 1); RTA_OK(attribute, attributes_length);
		     attribute = RTA_NEXT(attribute, attributes_length)) {
			if (attribute->rta_type != UNIX_DIAG_RQLEN || message->udiag_ino != socket_stat.st_ino)
				continue;
			const struct unix_diag_rqlen *queue = RTA_DATA(attribute);
			*length = (int)queue->udiag_rqueue;
			*limit = (int)queue->udiag_wqueue;
			found = 0;
		}
	}
	return found;
}

int status_listen_queue(int listen_fd, int *length, int *limit)
{
	struct sockaddr_storage address = {0};
	socklen_t address_length = sizeof address;

	if (getsockname(listen_fd, (struct sockaddr *)&address, &address_length) != 0)
		return -1;
	if (address.ss_family == AF_UNIX)
		return unix_listen_queue(listen_fd, length, limit);
	/* For a TCP listener, tcpi_unacked is the accept queue and
	 * tcpi_sacked the backlog (tcp_get_info in the kernel). */
	struct tcp_info info;
	socklen_t info_length = sizeof info;
	if (getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &info, &info_length) != 0)
		return -1;
	*length = (int)info.tcpi_unacked;
	*limit = (int)info.tcpi_sacked;
	return 0;
}

/* The sums over every worker slot, and the store as the workers see it. */
struct status_totals {
	unsigned long long requests, slow_requests, accepted, store_reconnects;
	unsigned long long by_route_code[STATUS_ROUTES][STATUS_CODES];
	unsigned long long latency[STATUS_ROUTES][STATUS_LATENCY_BUCKETS + 1];
	unsigned long long latency_sum_us[STATUS_ROUTES];
	long long store_down_since_ms; /* the earliest of the workers that see it down */
	int idle, active, total, connections, kept;
	int listen_queue, listen_queue_max, listen_queue_limit; /* -1: unknown */
	long long uptime_ms;
};

/* Relaxed: a statistic; requests is read first, with acquire (status.h). */
static unsigned long long figure(const _Atomic unsigned long long *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

static void add_slot(struct status_totals *totals, const struct worker_activity *worker)
{
	const struct status_counters *counters = &worker->counters;

	totals->requests += atomic_load_explicit(&counters->requests, memory_order_acquire);
	totals->slow_requests += figure(&counters->slow_requests);
	totals->accepted += figure(&counters->connections_accepted);
	totals->store_reconnects += figure(&counters->store_reconnects);
	for (int route = 0; route < STATUS_ROUTES; route++) {
		for (int code = 0; code < STATUS_CODES; code++)
			totals->by_route_code[route][code] += figure(&counters->by_route_code[route][code]);
		for (int bucket = 0; bucket <= STATUS_LATENCY_BUCKETS; bucket++)
			totals->latency[route][bucket] += figure(&counters->latency[route][bucket]);
		totals->latency_sum_us[route] += figure(&counters->latency_sum_us[route]);
	}
	if (atomic_load_explicit(&worker->pid, memory_order_relaxed) <= 0)
		return;
	long long down_since = atomic_load_explicit(&counters->store_down_since_ms, memory_order_relaxed);
	if (down_since != 0 && (totals->store_down_since_ms == 0 || down_since < totals->store_down_since_ms))
		totals->store_down_since_ms = down_since;
	totals->connections += atomic_load_explicit(&counters->connections_held, memory_order_relaxed);
	totals->kept += atomic_load_explicit(&counters->kept_connections, memory_order_relaxed);
	if (atomic_load_explicit(&worker->retiring, memory_order_relaxed) ||
	    !atomic_load_explicit(&worker->ready, memory_order_acquire))
		return;
	totals->total++;
	if (atomic_load_explicit(&worker->busy_since_ms, memory_order_relaxed) != 0)
		totals->active++;
	else
		totals->idle++;
}

static void sum_up(const struct status_board *board, struct status_totals *totals)
{
	memset(totals, 0, sizeof *totals);
	for (int i = 0; i < board->capacity; i++)
		add_slot(totals, &board->workers[i]);
	status_raise(&board->shared->most_active, totals->active);
	totals->listen_queue = totals->listen_queue_max = totals->listen_queue_limit = -1;
	if (status_listen_queue(board->listen_fd, &totals->listen_queue, &totals->listen_queue_limit) == 0) {
		status_raise(&board->shared->listen_queue_max, totals->listen_queue);
		totals->listen_queue_max = atomic_load_explicit(&board->shared->listen_queue_max, memory_order_relaxed);
	}
	totals->uptime_ms = clock_monotonic_ms() - board->shared->started_monotonic_ms;
}

static json_object *wall_time(long long wall_ms)
{
	char text[ISO_TIMESTAMP_LENGTH + 1];

	return timefmt_from_unix_ms(wall_ms, text) == 0 ? json_object_new_string(text) : NULL;
}

static json_object *count_or_null(int value)
{
	return value < 0 ? NULL : json_object_new_int(value);
}

void status_request_label(const struct worker_activity *worker, char *out, size_t out_size)
{
	char request[ACTIVITY_REQUEST_SIZE];

	activity_get_request(worker, request);
	size_t length = strnlen(request, sizeof request - 1);
	/* A full field is one the worker cut, perhaps inside a character. */
	if (length == sizeof request - 1)
		length = utf8_whole_length(request, length);
	utf8_copy_valid(out, out_size, request, length);
}

/* json-c copies a string's bytes >= 0x80 as they are: a string from outside
 * the code goes in as well-formed UTF-8, or a strict parser rejects the page. */
static json_object *valid_string(const char *text)
{
	size_t length = strlen(text);
	char *valid = malloc(3 * length + 1);

	if (valid == NULL)
		return NULL;
	utf8_copy_valid(valid, 3 * length + 1, text, length);
	json_object *string = json_object_new_string(valid);
	free(valid);
	return string;
}

static const char *worker_state(const struct worker_activity *worker, long long busy_since)
{
	if (atomic_load_explicit(&worker->retiring, memory_order_relaxed))
		return "finishing";
	if (!atomic_load_explicit(&worker->ready, memory_order_acquire))
		return "starting";
	return busy_since != 0 ? "active" : "idle";
}

static json_object *worker_entry(const struct worker_activity *worker, long long now_ms)
{
	json_object *entry = json_object_new_object();
	long long busy_since = atomic_load_explicit(&worker->busy_since_ms, memory_order_acquire);
	pid_t pid = atomic_load_explicit(&worker->pid, memory_order_relaxed);
	const struct status_counters *counters = &worker->counters;
	char request[STATUS_LABEL_SIZE];

	status_request_label(worker, request, sizeof request);
	json_object_object_add(entry, "pid", json_object_new_int((int)pid));
	json_object_object_add(entry, "state", json_object_new_string(worker_state(worker, busy_since)));
	json_object_object_add(entry, "requests", json_object_new_int64((int64_t)figure(&counters->process_requests)));
	json_object_object_add(entry, busy_since != 0 ? "request" : "last_request", json_object_new_string(request));
	json_object_object_add(
	    entry, "duration_ms",
	    json_object_new_double(
		busy_since != 0
		    ? (double)(now_ms - busy_since)
		    : (double)atomic_load_explicit(&counters->last_duration_us, memory_order_relaxed) / 1000.0));
	json_object_object_add(
	    entry, "connections",
	    json_object_new_int(atomic_load_explicit(&counters->connections_held, memory_order_relaxed)));
	json_object_object_add(entry, "rss_bytes", json_object_new_int64(proc_resident_bytes(pid)));
	return entry;
}

static json_object *render_json(const struct status_board *board, const struct status_totals *totals, int full)
{
	json_object *page = json_object_new_object();
	json_object *workers = json_object_new_object();
	json_object *store = json_object_new_object();

	json_object_object_add(page, "version", valid_string(board->version));
	json_object_object_add(page, "pid", json_object_new_int((int)board->shared->supervisor));
	json_object_object_add(page, "start_time", wall_time(board->shared->started_ms));
	json_object_object_add(page, "uptime_seconds", json_object_new_int64(totals->uptime_ms / 1000));
	json_object_object_add(page, "accepted_connections", json_object_new_int64((int64_t)totals->accepted));
	json_object_object_add(page, "requests", json_object_new_int64((int64_t)totals->requests));
	json_object_object_add(page, "slow_requests", json_object_new_int64((int64_t)totals->slow_requests));
	json_object_object_add(page, "listen_queue", count_or_null(totals->listen_queue));
	json_object_object_add(page, "max_listen_queue", count_or_null(totals->listen_queue_max));
	json_object_object_add(page, "listen_queue_limit", count_or_null(totals->listen_queue_limit));
	json_object_object_add(workers, "idle", json_object_new_int(totals->idle));
	json_object_object_add(workers, "active", json_object_new_int(totals->active));
	json_object_object_add(workers, "total", json_object_new_int(totals->total));
	json_object_object_add(
	    workers, "max_active",
	    json_object_new_int(atomic_load_explicit(&board->shared->most_active, memory_order_relaxed)));
	json_object_object_add(page, "workers", workers);
	json_object_object_add(page, "connections", json_object_new_int(totals->connections));
	json_object_object_add(page, "kept_connections", json_object_new_int(totals->kept));
	json_object_object_add(store, "state", json_object_new_string(totals->store_down_since_ms ? "down" : "up"));
	json_object_object_add(store, "down_since",
			       totals->store_down_since_ms ? wall_time(totals->store_down_since_ms) : NULL);
	json_object_object_add(store, "reconnects", json_object_new_int64((int64_t)totals->store_reconnects));
	json_object_object_add(page, "store", store);
	if (full) {
		json_object *list = json_object_new_array();
		long long now = clock_monotonic_ms();
		for (int i = 0; i < board->capacity; i++)
			if (atomic_load_explicit(&board->workers[i].pid, memory_order_relaxed) > 0)
				json_object_array_add(list, worker_entry(&board->workers[i], now));
		json_object_object_add(page, "processes", list);
	}
	return page;
}

static void metric(struct text *text, const char *name, const char *type, const char *help)
{
	text_printf(text, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric of one value, with no labels. */
static void gauge(struct text *text, const char *name, const char *help, int value)
{
	metric(text, name, "gauge", help);
	text_printf(text, "%s %d\n", name, value);
}

static void counter(struct text *text, const char *name, const char *help, unsigned long long value)
{
	metric(text, name, "counter", help);
	text_printf(text, "%s %llu\n", name, value);
}

static void render_histograms(struct text *text, const struct status_totals *totals)
{
	metric(text, "webapi_request_duration_seconds", "histogram",
	       "Time from the request handed to the worker to its response finished.");
	for (int route = 0; route < STATUS_ROUTES; route++) {
		unsigned long long cumulative = 0;
		for (int bucket = 0; bucket < STATUS_LATENCY_BUCKETS; bucket++) {
			cumulative += totals->latency[route][bucket];
			text_printf(text, "webapi_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
				    route_names[route], bucket_labels[bucket], cumulative);
		}
		cumulative += totals->latency[route][STATUS_LATENCY_BUCKETS];
		text_printf(text, "webapi_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
			    route_names[route], cumulative);
		text_printf(text, "webapi_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_names[route],
			    (double)totals->latency_sum_us[route] / 1e6);
		text_printf(text, "webapi_request_duration_seconds_count{route=\"%s\"} %llu\n", route_names[route],
			    cumulative);
	}
}

/* The Prometheus text exposition format (0.0.4), which Prometheus scrapes
 * and promtool checks; names follow its conventions (_total, _seconds). */
static void render_metrics(struct text *text, const struct status_board *board, const struct status_totals *totals)
{
	metric(text, "webapi_start_time_seconds", "gauge", "When the supervisor started, in Unix time.");
	text_printf(text, "webapi_start_time_seconds %.3f\n", (double)board->shared->started_ms / 1000.0);
	counter(text, "webapi_connections_accepted_total", "FastCGI connections accepted.", totals->accepted);
	counter(text, "webapi_requests_total", "Requests answered, all routes.", totals->requests);
	counter(text, "webapi_slow_requests_total", "Requests that took longer than --slow-request-ms.",
		totals->slow_requests);
	if (totals->listen_queue >= 0) {
		gauge(text, "webapi_listen_queue", "Connections waiting in the listening socket's queue.",
		      totals->listen_queue);
		gauge(text, "webapi_listen_queue_max", "The most connections seen waiting in the queue.",
		      totals->listen_queue_max);
		gauge(text, "webapi_listen_queue_limit", "The listening socket's backlog.", totals->listen_queue_limit);
	}
	metric(text, "webapi_workers", "gauge", "Worker processes serving, by state.");
	text_printf(text, "webapi_workers{state=\"idle\"} %d\nwebapi_workers{state=\"active\"} %d\n", totals->idle,
		    totals->active);
	gauge(text, "webapi_workers_max_active", "The most workers seen answering a request at once.",
	      atomic_load_explicit(&board->shared->most_active, memory_order_relaxed));
	gauge(text, "webapi_connections", "FastCGI connections the workers hold.", totals->connections);
	gauge(text, "webapi_kept_connections", "Kept connections (FCGI_KEEP_CONN) waiting for a request.",
	      totals->kept);
	gauge(text, "webapi_store_up", "1 when every worker reaches the store, else 0.",
	      totals->store_down_since_ms == 0);
	counter(text, "webapi_store_reconnects_total", "Times a worker's store came back after an outage.",
		totals->store_reconnects);
	metric(text, "webapi_route_requests_total", "counter", "Requests answered, by route and status code.");
	for (int route = 0; route < STATUS_ROUTES; route++) {
		for (int code = 0; code < STATUS_CODES; code++) {
			char code_text[8] = "other";
			if (totals->by_route_code[route][code] == 0)
				continue;
			if (code < STATUS_CODES - 1)
				snprintf(code_text, sizeof code_text, "%d", counted_codes[code]);
			text_printf(text, "webapi_route_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
				    route_names[route], code_text, totals->by_route_code[route][code]);
		}
	}
	render_histograms(text, totals);
}

const char *status_render(const struct status_board *board, enum status_format format, char **body, size_t *length)
{
	struct status_totals totals;

	sum_up(board, &totals);
	if (format == STATUS_METRICS) {
		struct text text = text_growing(8192);
		render_metrics(&text, board, &totals);
		if (text.cut) {
			free(text.data);
			return NULL;
		}
		*body = text.data;
		*length = text.length;
		return "text/plain; version=0.0.4; charset=utf-8";
	}
	json_object *page = render_json(board, &totals, format == STATUS_JSON_FULL);
	const char *serialized = json_object_to_json_string_length(page, JSON_C_TO_STRING_PLAIN, length);
	*body = serialized ? strdup(serialized) : NULL;
	json_object_put(page);
	return *body ? "application/json" : NULL;
}
