/* worker.c: one process answering requests, over FastCGI in a loop or as a single CGI run. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "clock.h"
#include "handlers.h"
#include "listener.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;

/* How often an idle worker wakes from accept() to see whether it was told
 * to stop. A blocking accept that a signal interrupts would need the stop
 * signals blocked outside it, two sigprocmask calls per request. */
#define ACCEPT_WAKE_MS 200

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

/* The web server's FCGI_STDIN must be read to its end before closing:
 * unread bytes make the kernel answer the close with a reset, and the web
 * server could lose the response. */
static void discard_request_body(FCGX_Stream *in)
{
	char buffer[4096];

	while (FCGX_GetStr(buffer, sizeof buffer, in) > 0)
		;
}

static void serve_fastcgi_request(struct app *app, FCGX_Request *request, struct worker_activity *activity)
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

	snprintf(activity->request, sizeof activity->request, "%.16s %s", http.method ? http.method : "-",
		 http.request_uri ? http.request_uri : "-");
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
	/* Detached, libfcgi 2.4.2 closes the connection at once instead of
	 * shutting down its side and waiting (up to 2 s) for the web server to
	 * close first. All input has been read (discard_request_body), so the
	 * wait protects nothing; CEILINGS.md measured it halving throughput. */
	FCGX_Detach(request);
	FCGX_Finish_r(request);
	app_release_growth(app);
}

/* --max-worker-rss: whether this worker's resident size passed the limit,
 * checked after each request; the worker then leaves with exit code 0 and
 * the supervisor starts a fresh one at once, as after --max-requests.
 * Whatever a request grew that the handlers do not give back (30 MB of
 * FastCGI parameters from a direct peer) goes with the process. Costs
 * three system calls a request, only when the limit is set. */
static int is_past_rss_limit(const struct options *options)
{
	char statm[128];
	long pages_total = 0, pages_resident = 0;

	if (options->max_worker_rss_mb == 0)
		return 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t length = fd >= 0 ? read(fd, statm, sizeof statm - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (length <= 0)
		return 0;
	statm[length] = '\0';
	if (sscanf(statm, "%ld %ld", &pages_total, &pages_resident) != 2)
		return 0;
	long resident_mb = pages_resident * (sysconf(_SC_PAGESIZE) / 1024) / 1024;
	if (resident_mb < options->max_worker_rss_mb)
		return 0;
	log_line("resident size %ld MiB after a request is past --max-worker-rss %ld; leaving for a fresh worker",
		 resident_mb, options->max_worker_rss_mb);
	return 1;
}

static void install_worker_signals(void)
{
	struct sigaction stop = {.sa_handler = request_stop, .sa_flags = SA_RESTART};
	struct sigaction ignore = {.sa_handler = SIG_IGN};
	sigset_t none;

	/* SA_RESTART: a stop signal must never cut a request's read or write
	 * short (libfcgi does not retry on EINTR); the idle accept wakes up
	 * by itself (ACCEPT_WAKE_MS) to notice it. */
	sigemptyset(&stop.sa_mask);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGHUP, &stop, NULL);
	sigaction(SIGPIPE, &ignore, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int run_fastcgi_worker(int listen_fd, const struct options *options, struct worker_activity *activity)
{
	char error[512] = "";
	FCGX_Request request;
	long served = 0;
	int exit_code = 0;

	install_worker_signals();
	pid_t supervisor = getppid();
	struct app *app = app_create(&options->database, error, sizeof error);
	if (app == NULL) {
		log_line("%s", error);
		return EX_CONFIG;
	}
	if (error[0] != '\0')
		log_line("%s", error); /* opened, but not usable yet (a database that is down) */
	if (drop_privileges(options) != 0) {
		app_destroy(app);
		return EX_CONFIG;
	}
	/* A change of credentials clears the parent-death signal the supervisor
	 * set (prctl(2)): without it again, a worker that dropped root outlives
	 * a supervisor killed with SIGKILL and keeps serving on its own. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != supervisor) {
		app_destroy(app);
		return 0;
	}
	struct timeval wake = {.tv_sec = 0, .tv_usec = ACCEPT_WAKE_MS * 1000L};
	if (setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof wake) != 0) {
		log_line("setsockopt SO_RCVTIMEO on fd %d: %s", listen_fd, strerror(errno));
		app_destroy(app);
		return 1;
	}
	if (FCGX_Init() != 0) {
		log_line("FCGX_Init failed");
		app_destroy(app);
		return 1;
	}
	/* Connections are accepted here (accept_connection), not by libfcgi,
	 * so that each one can get deadlines and the stop flag is seen. The
	 * request's own listening socket is -1: if the library drops a
	 * malformed connection and tries to accept another by itself, that
	 * fails at once and control comes back to this loop. */
	FCGX_InitRequest(&request, -1, 0);
	activity->ready = 1;

	while (!stop_requested && (options->max_requests == 0 || served < options->max_requests)) {
		int fd = accept_connection(listen_fd, options->allowed_peers, options->request_timeout);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			log_line("accept on fd %d: %s", listen_fd, strerror(errno));
			exit_code = 1;
			break;
		}
		/* From here the supervisor's watchdog counts, also while libfcgi
		 * reads the parameters from a peer that may never send them. */
		snprintf(activity->request, sizeof activity->request, "(a connection that sent no request yet)");
		activity->busy_since_ms = monotonic_ms();
		request.ipcFd = fd;
		/* Keeps FCGX_Accept_r's opening FCGX_Finish_r from closing the
		 * connection just handed to it. */
		request.keepConnection = 1;
		if (FCGX_Accept_r(&request) == 0) {
			serve_fastcgi_request(app, &request, activity);
			served++;
			stop_requested |= is_past_rss_limit(options);
		}
		/* else: the library found no valid request and closed it. */
		activity->busy_since_ms = 0;
	}
	app_destroy(app);
	log_flush_repeats();
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
		return EX_CONFIG;
	}
	if (drop_privileges(options) != 0) {
		app_destroy(app);
		return EX_CONFIG;
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
