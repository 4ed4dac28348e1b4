/* main.c: webapi-fcgi's entry: reads the configuration and picks FastCGI (inherited or own socket) or CGI. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsn.h"
#include "listener.h"
#include "log.h"
#include "options.h"
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

#define DEFAULT_USER "www-data"
#define FALLBACK_USER "nobody"

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
		"      --backlog N           listen backlog for --listen (default 1024)\n"
		"      --max-requests N      recycle a worker after N requests (default 0: never)\n"
		"      --request-timeout S   end a request, or drop a silent peer, after S seconds (default 30)\n"
		"  -u, --user NAME           when started as root, run workers as NAME\n"
		"                            (default %s, else %s); root itself is refused\n"
		"  -h, --help                this text\n"
		"\n"
		"Environment:\n"
		"  DATABASE_URL              sqlite:///abs/path.db, sqlite://rel/path.db,\n"
		"                            postgresql://user:pass@host:port/db, postgres://..., or a libpq\n"
		"                            keyword string (host=... dbname=...); unset: %s\n"
		"  FCGI_WEB_SERVER_ADDRS     comma-separated front-end IPs allowed to connect over TCP\n",
		sysconf(_SC_NPROCESSORS_ONLN), DEFAULT_USER, FALLBACK_USER, DEFAULT_DATABASE_PATH);
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
	    {"user", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long value;
	int option;

	options->workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (options->workers < 1)
		options->workers = 1;
	options->backlog = 1024;
	options->request_timeout = 30;
	options->user = DEFAULT_USER;
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
		case 'u':
			options->user = optarg;
			options->user_given = 1;
			break;
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
	if (db_config_parse(getenv("DATABASE_URL"), DEFAULT_DATABASE_PATH, &options.database, error, sizeof error) !=
	    0) {
		log_line("%s", error);
		return 2;
	}
	options.allowed_peers = allowed_peers_parse(getenv("FCGI_WEB_SERVER_ADDRS"), error, sizeof error);
	if (options.allowed_peers == NULL) {
		log_line("%s", error);
		return 2;
	}
	/* A clear startup error naming the file, before any socket or worker. */
	if (options.database.kind == DB_SQLITE && access(options.database.target, R_OK) != 0) {
		log_line("cannot read database %s: %s%s", options.database.target, strerror(errno),
			 errno == ENOENT ? " (create it with " SEED_COMMAND ")" : "");
		exit_code = 1;
		goto done;
	}
	if (resolve_user(&options) != 0) {
		exit_code = 1;
		goto done;
	}

	if (options.listen_address != NULL) {
		supervisor_block_signals();
		listen_fd = bind_listener(options.listen_address, options.backlog, error, sizeof error);
		if (listen_fd < 0) {
			log_line("%s", error);
			exit_code = 1;
			goto done;
		}
		int is_unix = is_unix_listener(listen_fd);
		if (is_unix && options.uid != 0 && chown(options.listen_address, options.uid, options.gid) != 0) {
			log_line("chown %s: %s", options.listen_address, strerror(errno));
			exit_code = 1;
			goto done;
		}
		log_line("listening on %s, store %s", options.listen_address, options.database.masked);
		exit_code = supervise(listen_fd, &options);
		if (is_unix)
			unlink(options.listen_address);
	} else if ((listen_fd = inherited_listener()) >= 0) {
		log_line("serving an inherited socket, store %s", options.database.masked);
		exit_code = supervise(listen_fd, &options);
	} else {
		exit_code = run_cgi_request(&options);
	}
done:
	allowed_peers_free(options.allowed_peers);
	return exit_code;
}
