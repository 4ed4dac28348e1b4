/* worker.c: one process answering requests, over FastCGI in a loop or as a single CGI run. */
#include "worker.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "handlers.h"
#include "listener.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;

/* What the request-timeout handler reports; filled before each request
 * because a signal handler may not format. */
static char timeout_message[512];
static size_t timeout_prefix_length;

static void request_stop(int signal_number)
{
	(void)signal_number;
	stop_requested = 1;
}

static void end_stuck_request(int signal_number)
{
	(void)signal_number;
	size_t length = strnlen(timeout_message, sizeof timeout_message);
	if (write(STDERR_FILENO, timeout_message, length) < 0)
		_exit(WORKER_EXIT_TIMEOUT);
	_exit(WORKER_EXIT_TIMEOUT);
}

static void note_request_for_timeout(const char *method, const char *uri)
{
	snprintf(timeout_message + timeout_prefix_length, sizeof timeout_message - timeout_prefix_length,
		 "%.16s %.400s\n", method ? method : "-", uri ? uri : "-");
}

int drop_privileges(const struct options *options)
{
	if (options->uid == 0)
		return 0;
	if (setgroups(1, &options->gid) != 0 || setgid(options->gid) != 0 || setuid(options->uid) != 0) {
		log_line("cannot switch to user %s (uid %ld): %s", options->user, (long)options->uid,
			 strerror(errno));
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

/* The web server's FCGI_STDIN must be read to its end before closing:
 * unread bytes make the kernel answer the close with a reset, and the web
 * server could lose the response. */
static void discard_request_body(FCGX_Stream *in)
{
	char buffer[4096];

	while (FCGX_GetStr(buffer, sizeof buffer, in) > 0)
		;
}

static void serve_fastcgi_request(struct app *app, FCGX_Request *request, int timeout_seconds)
{
	struct http_request http = {
		.method = FCGX_GetParam("REQUEST_METHOD", request->envp),
		.request_uri = FCGX_GetParam("REQUEST_URI", request->envp),
		.script_name = FCGX_GetParam("SCRIPT_NAME", request->envp),
		.path_info = FCGX_GetParam("PATH_INFO", request->envp),
		.query_string = FCGX_GetParam("QUERY_STRING", request->envp),
	};
	struct http_response response;
	char head[256];

	if (timeout_seconds > 0) {
		note_request_for_timeout(http.method, http.request_uri);
		alarm((unsigned)timeout_seconds);
	}
	discard_request_body(request->in);
	app_handle(app, &http, &response);
	size_t head_length = format_response_head(&response, head, sizeof head);
	FCGX_PutStr(head, (int)head_length, request->out);
	if (!response.is_head)
		FCGX_PutStr(response.body, (int)response.body_length, request->out);
	/* One request per connection, even when the web server asked to keep
	 * it (nginx's fastcgi_keep_conn): a process that waits on an idle kept
	 * connection cannot accept new ones, and requests stall behind it. */
	request->keepConnection = 0;
	FCGX_Finish_r(request);
	if (timeout_seconds > 0)
		alarm(0);
}

static void install_worker_signals(sigset_t *serving_mask, sigset_t *accepting_mask)
{
	struct sigaction stop = {.sa_handler = request_stop};
	struct sigaction timeout = {.sa_handler = end_stuck_request};
	struct sigaction ignore = {.sa_handler = SIG_IGN};

	/* No SA_RESTART: a stop signal must interrupt a blocking accept. It is
	 * only let in while accepting, so it never cuts a request short. */
	sigemptyset(&stop.sa_mask);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGHUP, &stop, NULL);
	sigaction(SIGALRM, &timeout, NULL);
	sigaction(SIGPIPE, &ignore, NULL);

	sigemptyset(accepting_mask);
	*serving_mask = *accepting_mask;
	sigaddset(serving_mask, SIGTERM);
	sigaddset(serving_mask, SIGINT);
	sigaddset(serving_mask, SIGHUP);
	sigprocmask(SIG_SETMASK, serving_mask, NULL);
}

int run_fastcgi_worker(int listen_fd, const struct options *options)
{
	char error[512];
	sigset_t serving_mask, accepting_mask;
	FCGX_Request request;
	long served = 0;
	int exit_code = 0;

	install_worker_signals(&serving_mask, &accepting_mask);
	timeout_prefix_length = (size_t)snprintf(timeout_message, sizeof timeout_message,
						 "webapi-fcgi[%ld]: request exceeded --request-timeout %d s, "
						 "worker replaced: ",
						 (long)getpid(), options->request_timeout);
	struct app *app = app_create(&options->database, error, sizeof error);
	if (app == NULL) {
		log_line("%s", error);
		return WORKER_EXIT_CONFIG;
	}
	if (drop_privileges(options) != 0) {
		app_destroy(app);
		return WORKER_EXIT_CONFIG;
	}
	/* libfcgi closes a connection by shutting down its side and then
	 * waiting (2 s at most) for the web server to close first. All input
	 * has been read by then (discard_request_body), so the wait protects
	 * nothing; CEILINGS.md measured it halving throughput. */
	setenv("LIBFCGI_OS_CLOSE_POLL_TIMEOUT", "0", 1);
	if (FCGX_Init() != 0) {
		log_line("FCGX_Init failed");
		app_destroy(app);
		return 1;
	}
	/* Connections are accepted here (accept_connection), not by libfcgi,
	 * so that each one gets deadlines before the library reads from it.
	 * The request's own listening socket is -1: if the library drops a
	 * malformed connection and tries to accept another by itself, that
	 * fails at once and control comes back to this loop. */
	FCGX_InitRequest(&request, -1, 0);

	while (!stop_requested && (options->max_requests == 0 || served < options->max_requests)) {
		sigprocmask(SIG_SETMASK, &accepting_mask, NULL);
		int fd = stop_requested ? -1 : accept_connection(listen_fd, options->allowed_peers,
								 options->request_timeout);
		int accept_errno = errno;
		sigprocmask(SIG_SETMASK, &serving_mask, NULL);
		if (fd < 0) {
			if (stop_requested || accept_errno == EINTR)
				continue;
			log_line("accept on fd %d: %s", listen_fd, strerror(accept_errno));
			exit_code = 1;
			break;
		}
		request.ipcFd = fd;
		/* Keeps FCGX_Accept_r's opening FCGX_Finish_r from closing the
		 * connection just handed to it. */
		request.keepConnection = 1;
		if (FCGX_Accept_r(&request) != 0)
			continue; /* the library found no valid request and closed it */
		serve_fastcgi_request(app, &request, options->request_timeout);
		served++;
	}
	app_destroy(app);
	return exit_code;
}

int run_cgi_request(const struct options *options)
{
	char error[512];
	struct http_response response;
	char head[256];

	struct app *app = app_create(&options->database, error, sizeof error);
	if (app == NULL) {
		log_line("%s", error);
		return WORKER_EXIT_CONFIG;
	}
	if (drop_privileges(options) != 0) {
		app_destroy(app);
		return WORKER_EXIT_CONFIG;
	}
	struct http_request http = {
		.method = getenv("REQUEST_METHOD"),
		.request_uri = getenv("REQUEST_URI"),
		.script_name = getenv("SCRIPT_NAME"),
		.path_info = getenv("PATH_INFO"),
		.query_string = getenv("QUERY_STRING"),
	};
	app_handle(app, &http, &response);
	size_t head_length = format_response_head(&response, head, sizeof head);
	int failed = fwrite(head, 1, head_length, stdout) != head_length;
	if (!response.is_head)
		failed |= fwrite(response.body, 1, response.body_length, stdout) != response.body_length;
	failed |= fflush(stdout) != 0;
	app_destroy(app);
	if (failed) {
		log_line("writing the response to stdout: %s", strerror(errno));
		return 1;
	}
	return 0;
}
