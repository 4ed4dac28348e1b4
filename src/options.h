/* options.h: the process's configuration, read once from flags and the environment at startup. */
#ifndef WEBAPI_OPTIONS_H
#define WEBAPI_OPTIONS_H

#include <sys/types.h>

#include "dsn.h"

struct options {
	int workers;		    /* worker processes under the supervisor */
	const char *listen_address; /* NULL: inherited socket, or CGI */
	int backlog;
	long max_requests;	  /* per worker before it is recycled; 0: never */
	int request_timeout;	  /* seconds for a request's records once they start, and a stuck worker */
	int keepalive_timeout;	  /* seconds a connection may wait with no request started */
	int max_connections;	  /* connections one worker holds at once */
	long max_worker_rss_mb;	  /* a worker past it after a request is replaced; 0: never */
	size_t max_request_bytes; /* a request's parameters and body; past it, 413 */
	const char *status_path;  /* --status-path: the status page's path; NULL: none */
	long slow_request_ms;	  /* --slow-request-ms: log requests slower than this; 0: never */
	const char *version;	  /* what --version prints, and the status page */
	const char *user;	  /* run workers as this user when started as root */
	int user_given;		  /* --user was on the command line */
	uid_t uid;		  /* resolved from user; 0 when not dropping */
	gid_t gid;
	struct db_config database;	     /* from DATABASE_URL */
	struct allowed_peers *allowed_peers; /* from FCGI_WEB_SERVER_ADDRS */
};

#endif
