/* main.c: webapi-fcgi's entry: reads the configuration and picks FastCGI (inherited or own socket) or CGI. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsn.h"
#include "listener.h"
#include "log.h"
#include "options.h"
#include "router.h"
#include "store.h"
#include "supervisor.h"
#include "worker.h"

/* The Makefile compiles in the checkout's data/orders.db for build/ and
 * STATEDIR/orders.db for the installed binary, with the command that
 * creates each. */
#ifndef DEFAULT_DATABASE_PATH
#define DEFAULT_DATABASE_PATH "data/orders.db"
#endif
#ifndef SEED_COMMAND
#define SEED_COMMAND "scripts/seed-db"
#endif
/* The Makefile's VERSION; a build can be told apart after an upgrade. */
#ifndef WEBAPI_VERSION
#define WEBAPI_VERSION "unknown"
#endif

/* Longer than the idle time of the fronts' own pools (nginx's upstream
 * keepalive_timeout is 60 s), so that the front, not the responder,
 * closes an idle kept connection: a front that sends a request on a
 * connection the responder is closing at that moment gets an error. */
#define DEFAULT_KEEPALIVE_TIMEOUT 75
/* A request from lighttpd or nginx is about 1 KiB; no endpoint reads a body. */
#define DEFAULT_MAX_REQUEST_BYTES ((size_t)1024 * 1024)
/* Descriptors a worker keeps for itself (store, log, epoll) beyond its
 * connections. */
#define RESERVED_DESCRIPTORS 32
#define DEFAULT_BACKLOG 1024
#define DEFAULT_REQUEST_TIMEOUT_S 30
#define DEFAULT_USER "www-data"
#define FALLBACK_USER "nobody"

/* Each connection is a descriptor: the soft limit is raised to the hard
 * one (as php-fpm's rlimit_files does) and bounds what a worker holds. */
static int connection_limit(void)
{
	struct rlimit descriptors;

	if (getrlimit(RLIMIT_NOFILE, &descriptors) != 0)
		return 1024 - RESERVED_DESCRIPTORS;
	if (descriptors.rlim_cur < descriptors.rlim_max) {
		descriptors.rlim_cur = descriptors.rlim_max;
		setrlimit(RLIMIT_NOFILE, &descriptors);
		getrlimit(RLIMIT_NOFILE, &descriptors);
	}
	rlim_t limit = descriptors.rlim_cur;
	if (limit == RLIM_INFINITY || limit > 65536)
		limit = 65536;
	return limit > 2 * (rlim_t)RESERVED_DESCRIPTORS ? (int)(limit - RESERVED_DESCRIPTORS) : RESERVED_DESCRIPTORS;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: webapi-fcgi [options]\n"
		"Answers GET / and GET /orders as a FastCGI responder (or once as CGI).\n"
		"\n"
		"How it runs, chosen automatically:\n"
		"  fd 0 is a listening socket (lighttpd bin-path, spawn-fcgi): serve FastCGI on it\n"
		"  LISTEN_FDS=1 for this process (systemd socket activation): serve on fd 3\n"
		"  --listen ADDR: bind ADDR and serve FastCGI on it\n"
		"  otherwise: answer the one request in the CGI environment\n"
		"    (REQUEST_METHOD, REQUEST_URI or SCRIPT_NAME+PATH_INFO, QUERY_STRING) and exit\n"
		"\n"
		"Options:\n"
		"  -l, --listen ADDR         unix socket path (mode 0660) or HOST:PORT, :PORT (127.0.0.1),\n"
		"                            [IPv6]:PORT, *:PORT (all interfaces)\n"
		"  -w, --workers N           worker processes under the supervisor (default: %ld, the CPUs)\n"
		"      --backlog N           listen backlog for --listen (default %d)\n"
		"      --max-requests N      recycle a worker after N requests (default 0: never)\n"
		"      --request-timeout S   close a connection whose request has not come whole in S seconds,\n"
		"                            and replace a worker stuck that long in one (default %d)\n"
		"      --keepalive-timeout S close a connection that waits S seconds with no request,\n"
		"                            kept (FCGI_KEEP_CONN) or new (default %d)\n"
		"      --max-connections N   connections one worker holds at once (default: from the\n"
		"                            descriptor limit, %d here); at the cap the idlest kept one closes\n"
		"      --max-request-bytes N the most a request's parameters and body may take; past it,\n"
		"                            413 and the connection closes (default %zu)\n"
		"      --max-worker-rss MB   replace a worker whose resident size passed MB after a request\n"
		"                            (default 0: never)\n"
		"  -u, --user NAME           when started as root, run workers as NAME\n"
		"                            (default %s, else %s); root itself is refused\n"
		"      --status-path PATH    answer the status page at PATH (JSON; ?full lists the workers,\n"
		"                            ?openmetrics gives Prometheus metrics); default: none\n"
		"      --slow-request-ms N   log each request that took longer than N ms, and where the time\n"
		"                            went (default 0: never)\n"
		"      --version             print the version and exit\n"
		"  -h, --help                this text\n"
		"\n"
		"Environment:\n"
		"  DATABASE_URL              sqlite:///abs/path.db, sqlite://rel/path.db,\n"
		"                            postgresql://user:pass@host:port/db, postgres://..., or a libpq\n"
		"                            keyword string (host=... dbname=...); unset: %s\n"
		"  PG_STATEMENTS             unset: named, each connection going unnamed if a pooler\n"
		"                            loses its statements; named (always prepared) or unnamed\n"
		"                            (parsed with each query: behind PgBouncer in transaction mode)\n"
		"  FCGI_WEB_SERVER_ADDRS     comma-separated front-end IPs allowed to connect over TCP\n"
		"\n"
		"Signals: SIGTERM/SIGINT finish what is in flight and stop; SIGHUP replaces the workers;\n"
		"SIGUSR2 starts the executable on disk now on the same socket, then the old one retires.\n",
		sysconf(_SC_NPROCESSORS_ONLN), DEFAULT_BACKLOG, DEFAULT_REQUEST_TIMEOUT_S, DEFAULT_KEEPALIVE_TIMEOUT,
		connection_limit(), DEFAULT_MAX_REQUEST_BYTES, DEFAULT_USER, FALLBACK_USER, DEFAULT_DATABASE_PATH);
}

static int parse_count(const char *flag, const char *text, long minimum, long maximum, long *value)
{
	char *end;

	errno = 0;
	long parsed = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || parsed < minimum || parsed > maximum) {
		fprintf(stderr, "webapi-fcgi: %s takes a whole number from %ld to %ld, not '%s'\n", flag, minimum,
			maximum, text);
		return -1;
	}
	*value = parsed;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *options)
{
	static const struct option long_options[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"workers", required_argument, NULL, 'w'},
	    {"backlog", required_argument, NULL, 'b'},
	    {"max-requests", required_argument, NULL, 'm'},
	    {"request-timeout", required_argument, NULL, 't'},
	    {"keepalive-timeout", required_argument, NULL, 'k'},
	    {"max-connections", required_argument, NULL, 'c'},
	    {"max-worker-rss", required_argument, NULL, 'r'},
	    {"max-request-bytes", required_argument, NULL, 'B'},
	    {"user", required_argument, NULL, 'u'},
	    {"status-path", required_argument, NULL, 's'},
	    {"slow-request-ms", required_argument, NULL, 'S'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long value;
	int option;

	options->workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (options->workers < 1)
		options->workers = 1;
	options->backlog = DEFAULT_BACKLOG;
	options->request_timeout = DEFAULT_REQUEST_TIMEOUT_S;
	options->keepalive_timeout = DEFAULT_KEEPALIVE_TIMEOUT;
	options->max_request_bytes = DEFAULT_MAX_REQUEST_BYTES;
	int most_connections = connection_limit();
	options->max_connections = most_connections;
	options->user = DEFAULT_USER;
	options->version = WEBAPI_VERSION;
	while ((option = getopt_long(argc, argv, "l:w:u:h", long_options, NULL)) != -1) {
		switch (option) {
		case 'l':
			options->listen_address = optarg;
			break;
		case 'w':
			if (parse_count("--workers", optarg, 1, 1024, &value) != 0)
				return -1;
			options->workers = (int)value;
			break;
		case 'b':
			if (parse_count("--backlog", optarg, 1, 65535, &value) != 0)
				return -1;
			options->backlog = (int)value;
			break;
		case 'm':
			if (parse_count("--max-requests", optarg, 0, LONG_MAX, &value) != 0)
				return -1;
			options->max_requests = value;
			break;
		case 't':
			if (parse_count("--request-timeout", optarg, 1, 86400, &value) != 0)
				return -1;
			options->request_timeout = (int)value;
			break;
		case 'k':
			if (parse_count("--keepalive-timeout", optarg, 1, 86400, &value) != 0)
				return -1;
			options->keepalive_timeout = (int)value;
			break;
		case 'c':
			if (parse_count("--max-connections", optarg, 1, most_connections, &value) != 0)
				return -1;
			options->max_connections = (int)value;
			break;
		case 'B':
			/* Room at least for what a front sends with a request. */
			if (parse_count("--max-request-bytes", optarg, 4096, 1L << 30, &value) != 0)
				return -1;
			options->max_request_bytes = (size_t)value;
			break;
		case 'r':
			if (parse_count("--max-worker-rss", optarg, 0, 1024L * 1024, &value) != 0)
				return -1;
			options->max_worker_rss_mb = value;
			break;
		case 'u':
			options->user = optarg;
			options->user_given = 1;
			break;
		case 's':
			if (optarg[0] != '/' || strlen(optarg) > MAX_STATUS_PATH) {
				fprintf(stderr,
					"webapi-fcgi: --status-path takes a path starting with / of at most %d bytes, "
					"not '%s'\n",
					MAX_STATUS_PATH, optarg);
				return -1;
			}
			options->status_path = optarg;
			break;
		case 'S':
			if (parse_count("--slow-request-ms", optarg, 0, 86400L * 1000, &value) != 0)
				return -1;
			options->slow_request_ms = value;
			break;
		case 'V':
			printf("webapi-fcgi %s\n", WEBAPI_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "webapi-fcgi: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* What a worker needs open at once: stdin, stdout, stderr, the listening
 * socket, the SQLite file with its -wal, -shm or -journal (or the
 * PostgreSQL socket and what libpq opens to connect), one connection, and
 * room for the plugin's libraries while they load. Below it a responder
 * started "fine" and then answered nothing (accept: EMFILE forever). */
#define DESCRIPTORS_NEEDED 16

static int check_descriptor_limit(void)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
		log_line("getrlimit RLIMIT_NOFILE: %s", strerror(errno));
		return -1;
	}
	if (limit.rlim_cur >= DESCRIPTORS_NEEDED)
		return 0;
	/* A soft limit below the hard one is ours to raise. */
	if (limit.rlim_max >= DESCRIPTORS_NEEDED) {
		limit.rlim_cur = DESCRIPTORS_NEEDED;
		if (setrlimit(RLIMIT_NOFILE, &limit) == 0)
			return 0;
	}
	log_line("the open-file limit is %llu (ulimit -n); webapi-fcgi needs at least %d",
		 (unsigned long long)limit.rlim_cur, DESCRIPTORS_NEEDED);
	return -1;
}

/* Started as root, workers run as an unprivileged user; the supervisor
 * keeps root only to fork them (it never reads a request), as php-fpm's
 * master does, so each worker can open a root-owned database read-only
 * before it drops. */
static int resolve_user(struct options *options)
{
	if (geteuid() != 0) {
		if (options->user_given)
			log_line("not started as root: --user %s has no effect", options->user);
		return 0;
	}
	struct passwd *account = getpwnam(options->user);
	if (account == NULL && !options->user_given) {
		options->user = FALLBACK_USER;
		account = getpwnam(options->user);
	}
	if (account == NULL) {
		log_line("user %s does not exist (--user)", options->user);
		return -1;
	}
	if (account->pw_uid == 0) {
		log_line("refusing to serve as root (--user %s); name an unprivileged user", options->user);
		return -1;
	}
	options->uid = account->pw_uid;
	options->gid = account->pw_gid;
	return 0;
}

int main(int argc, char **argv)
{
	struct options options = {0};
	char error[512];
	int listen_fd;
	int exit_code;

	if (parse_options(argc, argv, &options) != 0)
		return 2;
	if (check_descriptor_limit() != 0)
		return 1;
	if (dsn_parse(getenv("DATABASE_URL"), DEFAULT_DATABASE_PATH, &options.database, error, sizeof error) != 0) {
		log_line("%s", error);
		return 2;
	}
	if (dsn_parse_statements(getenv("PG_STATEMENTS"), &options.database, error, sizeof error) != 0) {
		log_line("%s", error);
		return 2;
	}
	options.allowed_peers = listener_parse_allowed_peers(getenv("FCGI_WEB_SERVER_ADDRS"), error, sizeof error);
	if (options.allowed_peers == NULL) {
		log_line("%s", error);
		return 2;
	}
	/* A clear start-up error naming the file, before any socket or worker;
	 * once serving, a store that breaks is a 503, not an exit. */
	if (store_check(&options.database, error, sizeof error) != 0) {
		log_line("%s", error);
		exit_code = 1;
		goto done;
	}
	if (resolve_user(&options) != 0) {
		exit_code = 1;
		goto done;
	}

	int handed_over = 0;
	if (options.listen_address != NULL && getenv("LISTEN_FDS") != NULL && (listen_fd = listener_inherited()) >= 0) {
		/* An upgraded copy (SIGUSR2) takes over the socket of --listen. */
		supervisor_block_signals();
		log_line("took over %s (fd %d), store %s", options.listen_address, listen_fd, options.database.masked);
		exit_code = supervisor_run(listen_fd, &options, &handed_over);
		if (listener_is_unix(listen_fd) && !handed_over)
			unlink(options.listen_address);
	} else if (options.listen_address != NULL) {
		supervisor_block_signals();
		listen_fd = listener_bind(options.listen_address, options.backlog, error, sizeof error);
		if (listen_fd < 0) {
			log_line("%s", error);
			exit_code = 1;
			goto done;
		}
		int is_unix = listener_is_unix(listen_fd);
		if (is_unix && options.uid != 0 && chown(options.listen_address, options.uid, options.gid) != 0) {
			log_line("chown %s: %s", options.listen_address, strerror(errno));
			exit_code = 1;
			goto done;
		}
		log_line("listening on %s, store %s", options.listen_address, options.database.masked);
		exit_code = supervisor_run(listen_fd, &options, &handed_over);
		/* After an upgrade the socket file is the new copy's. */
		if (is_unix && !handed_over)
			unlink(options.listen_address);
	} else if ((listen_fd = listener_inherited()) >= 0) {
		log_line("serving an inherited socket, store %s", options.database.masked);
		exit_code = supervisor_run(listen_fd, &options, &handed_over);
	} else {
		exit_code = worker_run_cgi(&options);
	}
done:
	listener_free_allowed_peers(options.allowed_peers);
	return exit_code;
}
