/* worker.c: one process answering requests, over FastCGI in a loop or as a single CGI run. */
#include "worker.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "fcgi.h"
#include "handlers.h"
#include "list.h"
#include "loop.h"
#include "log.h"
#include "proc.h"
#include "text.h"
#include "utf8.h"

static volatile sig_atomic_t stop_requested;

static void request_stop(int signal_number)
{
	(void)signal_number;
	stop_requested = 1;
}

/* Leaves root for options->uid/gid (a no-op when they are 0). 0 or -1. */
static int drop_privileges(const struct options *options)
{
	if (options->uid == 0)
		return 0;
	if (setgroups(1, &options->gid) != 0 || setgid(options->gid) != 0 || setuid(options->uid) != 0) {
		log_line("cannot switch to user %s (uid %ld): %s", options->user, (long)options->uid, strerror(errno));
		return -1;
	}
	/* Defence in depth: a setuid that only changed the effective id would
	 * let this succeed. */
	if (setuid(0) == 0) {
		log_line("still able to regain root after dropping to %s; refusing to serve", options->user);
		return -1;
	}
	return 0;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

/* The CGI/FastCGI response head, written where the response is sent. */
static size_t format_response_head(const struct http_response *response, char *out, size_t out_size)
{
	struct text head = text_in(out, out_size);

	text_append_string(&head, "Status: ");
	text_append_decimal(&head, (unsigned)response->status);
	text_append_string(&head, " ");
	text_append_string(&head, reason_phrase(response->status));
	text_append_string(&head, "\r\nContent-Type: ");
	text_append_string(&head, response->content_type ? response->content_type : "application/json");
	text_append_string(&head, "\r\nContent-Length: ");
	text_append_decimal(&head, response->body_length);
	text_append_string(&head, response->status == 405 ? "\r\nAllow: GET, HEAD\r\n\r\n" : "\r\n\r\n");
	return text_end(&head);
}

/* --max-worker-rss: whether this worker's resident size passed the limit,
 * checked after each request; the worker then leaves with exit code 0 and
 * the supervisor starts a fresh one at once, as after --max-requests.
 * Whatever a request grew that the handlers do not give back (30 MB of
 * FastCGI parameters from a direct peer) goes with the process. Costs
 * three system calls a request, only when the limit is set. */
static int is_past_rss_limit(const struct options *options)
{
	if (options->max_worker_rss_mb == 0)
		return 0;
	long resident_mb = (long)(proc_resident_bytes(0) / (1024 * 1024));
	if (resident_mb < options->max_worker_rss_mb)
		return 0;
	log_line("resident size %ld MiB after a request is past --max-worker-rss %ld; leaving for a fresh worker",
		 resident_mb, options->max_worker_rss_mb);
	return 1;
}

struct fastcgi_worker {
	struct handlers *handlers;
	const struct options *options;
	struct worker_activity *activity;
	struct loop *loop;
	int store_is_async; /* answers may wait for the database */
	long served;
	unsigned long long reconnects_counted;
};

/* What a request's count and the slow-request log need once its answer
 * is written, now or when the database has answered. */
struct answering {
	long long started_us;
	long long store_wait_before_us; /* the store's total wait when it started */
	long long pending_since_us;	/* 0: answered without waiting in the loop */
	enum status_route route;
};

/* One request from its hand-over to its answer: the worker's part of the
 * request context, in the memory fcgi keeps with the connection
 * (fcgi_request_data), so no request allocates. It outlives a peer that
 * goes away while the database answers: the loop frees a busy
 * connection only once its request is done. */
struct worker_request {
	struct fastcgi_worker *worker;
	struct fcgi_request *request;
	struct handlers_request handling; /* its wait for the database */
	struct answering answering;
	char label[ACTIVITY_REQUEST_SIZE]; /* "METHOD URI" */
};

static enum status_route counted_route(enum endpoint endpoint)
{
	switch (endpoint) {
	case ENDPOINT_HELLO:
		return STATUS_ROUTE_HELLO;
	case ENDPOINT_ORDERS:
		return STATUS_ROUTE_ORDERS;
	case ENDPOINT_HEALTH:
		return STATUS_ROUTE_HEALTH;
	case ENDPOINT_STATUS:
		return STATUS_ROUTE_STATUS;
	case ENDPOINT_NONE:
		break;
	}
	return STATUS_ROUTE_OTHER;
}

/* A request's duration runs from its hand-over to serve_fcgi_request
 * to its answer written; the database's share is the store's wait over
 * that time, or the time its answer waited in the loop. */
static void count_request(struct fastcgi_worker *worker, const struct answering *answering,
			  const struct log_subject *about, int status)
{
	struct status_counters *counters = &worker->activity->counters;
	const struct store_figures *store = handlers_store_figures(worker->handlers);
	long long now_us = clock_monotonic_us();
	long long duration_us = now_us - answering->started_us;

	status_count_request(counters, answering->route, status, duration_us);
	/* The slot's count outlives this process: add what is new. */
	status_add(&counters->store_reconnects, store->reconnects - worker->reconnects_counted);
	worker->reconnects_counted = store->reconnects;
	atomic_store_explicit(&counters->store_down_since_ms, store->down_since_ms, memory_order_relaxed);
	if (worker->options->slow_request_ms == 0 || duration_us <= worker->options->slow_request_ms * 1000)
		return;
	status_add(&counters->slow_requests, 1);
	long long store_us = answering->pending_since_us != 0 ? now_us - answering->pending_since_us
							      : store->wait_us - answering->store_wait_before_us;
	log_line_about(about,
		       "slow request: status %d took %lld ms: %lld ms waiting for the database, %lld ms in the worker",
		       status, duration_us / 1000, store_us / 1000, (duration_us - store_us) / 1000);
}

/* Sends the answer, and counts the request. What the count needs is
 * copied first: the answer ends the request, and with it the context.
 * The connection a log line names stays the loop's until the end of the
 * turn (loop_request_done frees it with the turn's closes). */
static void write_answer(struct worker_request *context, const struct http_response *response)
{
	struct fastcgi_worker *worker = context->worker;
	struct answering answering = context->answering;
	struct log_subject about = context->handling.about;
	char head[256];
	size_t head_length = format_response_head(response, head, sizeof head);

	/* The label names what this worker is doing, for the status page and
	 * a crash's log line: this request, from here to its answer. An answer
	 * that waited for the database may follow other requests' labels; one
	 * answered at once still has the label serve_fcgi_request wrote. */
	if (answering.pending_since_us != 0)
		activity_set_request(worker->activity, context->label);
	fcgi_answer(context->request, head, head_length, response->is_head ? NULL : response->body,
		    response->is_head ? 0 : response->body_length);
	handlers_release_growth(worker->handlers);
	count_request(worker, &answering, &about, response->status);
	/* More workers than the database takes connections: the ones without
	 * one answer 503 and step back, so the others take the requests. */
	if (response->status == 503 && worker->loop != NULL)
		loop_step_back(worker->loop);
	worker->served++;
	if ((worker->options->max_requests != 0 && worker->served >= worker->options->max_requests) ||
	    is_past_rss_limit(worker->options))
		stop_requested = 1;
}

static void send_pending_answer(struct handlers_request *handling, const struct http_response *response)
{
	write_answer(container_of(handling, struct worker_request, handling), response);
}

/* "METHOD URI", cut to the label's room on a UTF-8 character's boundary:
 * the status page shows it as a JSON string. */
static void label_request(const struct http_request *http, char *label, size_t size)
{
	struct text text = text_in(label, size);
	const char *method = http->method ? http->method : "-";

	text_append(&text, method, strnlen(method, 16));
	text_append_string(&text, " ");
	text_append_string(&text, http->request_uri ? http->request_uri : "-");
	if (text.cut)
		text.length = utf8_whole_length(label, text.length); /* a character cut short goes whole */
	text_end(&text);
}

static void serve_fcgi_request(void *worker_context, struct fcgi_request *request)
{
	struct fastcgi_worker *worker = worker_context;
	struct worker_request *context = fcgi_request_data(request);
	struct http_request http = {
	    .method = fcgi_param(request, "REQUEST_METHOD"),
	    .request_uri = fcgi_param(request, "REQUEST_URI"),
	    .script_name = fcgi_param(request, "SCRIPT_NAME"),
	    .path_info = fcgi_param(request, "PATH_INFO"),
	    .query_string = fcgi_param(request, "QUERY_STRING"),
	    .status_path = worker->options->status_path,
	};
	struct http_response response;

	context->worker = worker;
	context->request = request;
	context->handling.answered = send_pending_answer;
	context->answering = (struct answering){
	    .started_us = clock_monotonic_us(),
	    .store_wait_before_us = handlers_store_figures(worker->handlers)->wait_us,
	};
	label_request(&http, context->label, sizeof context->label);
	activity_set_request(worker->activity, context->label);
	fcgi_set_label(request, context->label);
	context->handling.about = fcgi_subject(request);
	struct route route = router_route(&http);
	if (fcgi_is_too_large(request))
		route = (struct route){.endpoint = ENDPOINT_NONE, .status = 413, .query = ""};
	context->answering.route = counted_route(route.endpoint);
	if (worker->store_is_async)
		context->answering.pending_since_us = clock_monotonic_us();
	if (handlers_handle(worker->handlers, &route, &response, &context->handling) == HANDLERS_PENDING)
		return;
	context->answering.pending_since_us = 0;
	write_answer(context, &response);
}

/* The loop watches the database's socket as the store asks. */
static void store_wants(void *context, struct loop_source_wants *wants)
{
	struct store_wait wait;

	store_wait(context, &wait);
	wants->fd = wait.fd;
	wants->events = (wait.readable ? EPOLLIN : 0u) | (wait.writable ? EPOLLOUT : 0u);
	wants->generation = wait.generation;
	wants->deadline_ms = wait.deadline_ms;
}

static void store_ready(void *context, unsigned events)
{
	store_progress(context, (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0, (events & (EPOLLOUT | EPOLLERR)) != 0);
}

static void install_worker_signals(void)
{
	struct sigaction stop = {.sa_handler = request_stop, .sa_flags = SA_RESTART};
	struct sigaction ignore = {.sa_handler = SIG_IGN};
	sigset_t none;

	/* Every socket is non-blocking, so no read or write waits for a
	 * signal to cut it short; epoll_wait returns EINTR whatever
	 * SA_RESTART says, so the loop sees the stop at once. */
	sigemptyset(&stop.sa_mask);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGHUP, &stop, NULL);
	sigaction(SIGPIPE, &ignore, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int worker_run_fastcgi(int listen_fd, const struct options *options, struct worker_activity *activity,
		       const struct status_board *board)
{
	char error[512] = "";
	struct fastcgi_worker worker = {.options = options, .activity = activity};
	struct loop *loop = NULL;
	int exit_code = 1;

	install_worker_signals();
	pid_t supervisor = getppid();
	worker.handlers = handlers_create(&options->database, error, sizeof error);
	if (worker.handlers == NULL) {
		log_line("%s", error);
		return EX_CONFIG;
	}
	if (error[0] != '\0')
		log_line("%s", error); /* opened, but not usable yet (a database that is down) */
	handlers_set_status_board(worker.handlers, board);
	atomic_store_explicit(&activity->counters.process_requests, 0, memory_order_relaxed);
	atomic_store_explicit(&activity->counters.store_down_since_ms,
			      handlers_store_figures(worker.handlers)->down_since_ms, memory_order_relaxed);
	if (drop_privileges(options) != 0) {
		handlers_destroy(worker.handlers);
		return EX_CONFIG;
	}
	/* A change of credentials clears the parent-death signal the supervisor
	 * set (prctl(2)): without it again, a worker that dropped root outlives
	 * a supervisor killed with SIGKILL and keeps serving on its own. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != supervisor) {
		handlers_destroy(worker.handlers);
		return 0;
	}
	if (fcgi_init(error, sizeof error) != 0) {
		log_line("%s", error);
		exit_code = EX_CONFIG;
		goto done;
	}
	struct fcgi_settings fcgi = {
	    .max_request_bytes = options->max_request_bytes,
	    .advertised_connections = (long)options->max_connections * options->workers,
	    .serve = serve_fcgi_request,
	    .context = &worker,
	    .request_size = sizeof(struct worker_request),
	};
	struct loop_protocol protocol;
	fcgi_protocol(&fcgi, &protocol);
	struct loop_settings settings = {
	    .listen_fd = listen_fd,
	    .allowed_peers = options->allowed_peers,
	    .request_timeout_ms = options->request_timeout * 1000LL,
	    .keepalive_timeout_ms = options->keepalive_timeout * 1000LL,
	    .max_connections = options->max_connections,
	    /* A whole request, one record being read and one read's room. */
	    .max_input_bytes = options->max_request_bytes + (size_t)2 * FCGI_RECORD_MAX + (size_t)64 * 1024,
	    .supervisor = supervisor,
	    .stop = &stop_requested,
	    .linger = &activity->linger,
	    .heartbeat_ms = &activity->heartbeat_ms,
	    .busy_since_ms = &activity->busy_since_ms,
	    .gauges = {.accepted = &activity->counters.connections_accepted,
		       .held = &activity->counters.connections_held,
		       .kept = &activity->counters.kept_connections},
	};
	loop = loop_create(&settings, &protocol, error, sizeof error);
	if (loop == NULL) {
		log_line("%s", error);
		goto done;
	}
	worker.loop = loop;
	struct store *store = handlers_store(worker.handlers);
	worker.store_is_async = store_is_async(store);
	if (worker.store_is_async) {
		struct loop_source source = {store_wants, store_ready, store};
		loop_set_source(loop, &source);
	}
	/* Release: whoever sees it ready sees the figures reset above. */
	atomic_store_explicit(&activity->ready, 1, memory_order_release);
	exit_code = loop_run(loop) == 0 ? 0 : 1;
done:
	/* The store first: queries still in flight are answered (503) through
	 * the loop, which must still be there. */
	handlers_destroy(worker.handlers);
	loop_destroy(loop);
	log_flush_repeats();
	return exit_code;
}

int worker_run_cgi(const struct options *options)
{
	char error[512];
	struct http_response response;
	char head[256];

	struct handlers *handlers = handlers_create(&options->database, error, sizeof error);
	if (handlers == NULL) {
		log_line("%s", error);
		return EX_CONFIG;
	}
	if (drop_privileges(options) != 0) {
		handlers_destroy(handlers);
		return EX_CONFIG;
	}
	struct http_request http = {
	    .method = getenv("REQUEST_METHOD"),
	    .request_uri = getenv("REQUEST_URI"),
	    .script_name = getenv("SCRIPT_NAME"),
	    .path_info = getenv("PATH_INFO"),
	    .query_string = getenv("QUERY_STRING"),
	    .status_path = options->status_path, /* no status board: 404 */
	};
	struct route route = router_route(&http);
	(void)handlers_handle(handlers, &route, &response, NULL); /* no request context: answered now */
	size_t head_length = format_response_head(&response, head, sizeof head);
	int failed = fwrite(head, 1, head_length, stdout) != head_length;
	if (!response.is_head)
		failed |= fwrite(response.body, 1, response.body_length, stdout) != response.body_length;
	failed |= fflush(stdout) != 0;
	handlers_destroy(handlers);
	if (failed) {
		log_line("writing the response to stdout: %s", strerror(errno));
		return 1;
	}
	return 0;
}
