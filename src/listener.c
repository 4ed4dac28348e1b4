/* listener.c: where FastCGI connections come from, and taking each one with deadlines and address checks. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SYSTEMD_FIRST_FD 3

static int is_listening_socket(int fd)
{
	int listening = 0;
	socklen_t length = sizeof listening;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 && listening;
}

int listener_inherited(void)
{
	const char *fds = getenv("LISTEN_FDS");
	const char *pid = getenv("LISTEN_PID");

	if (fds != NULL && pid != NULL && atol(pid) == (long)getpid()) {
		/* One socket per unit is what the shipped .socket file gives;
		 * more would need a choice this program does not make. */
		if (atoi(fds) != 1)
			log_line("LISTEN_FDS=%s: serving only the first socket (fd %d)", fds, SYSTEMD_FIRST_FD);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		if (is_listening_socket(SYSTEMD_FIRST_FD))
			return SYSTEMD_FIRST_FD;
		log_line("LISTEN_FDS is set but fd %d is not a listening socket", SYSTEMD_FIRST_FD);
		return -1;
	}
	return is_listening_socket(STDIN_FILENO) ? STDIN_FILENO : -1;
}

int listener_is_unix(int fd)
{
	struct sockaddr_storage address = {0};
	socklen_t length = sizeof address;

	return getsockname(fd, (struct sockaddr *)&address, &length) == 0 && address.ss_family == AF_UNIX;
}

/* The stale-socket probe's bound: a listener that does not take a
 * connection by then is alive but stuck, which is no reason to wait. */
#define PROBE_TIMEOUT_MS 1000

/* Whether a process listens on the socket file at address: 0 when nobody
 * does (a file left by a crash, or by a supervisor killed with SIGKILL
 * whose workers died with it), else -1 with the reason in error. The
 * connect is non-blocking: a listener with a full backlog made a blocking
 * one wait for as long as it stayed full, with every signal blocked. */
static int unix_socket_in_use(const struct sockaddr_un *address, char *error, size_t error_size)
{
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int connect_errno = 0;

	if (probe < 0) {
		snprintf(error, error_size, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(probe, (const struct sockaddr *)address, sizeof *address) != 0)
		connect_errno = errno;
	if (connect_errno == EINPROGRESS) {
		struct pollfd writable = {.fd = probe, .events = POLLOUT};
		socklen_t length = sizeof connect_errno;
		if (poll(&writable, 1, PROBE_TIMEOUT_MS) != 1 ||
		    getsockopt(probe, SOL_SOCKET, SO_ERROR, &connect_errno, &length) != 0)
			connect_errno = ETIMEDOUT;
	}
	close(probe);
	switch (connect_errno) {
	case ECONNREFUSED: /* nobody listens: stale */
	case ENOENT:	   /* removed meanwhile */
		return 0;
	case 0:
		snprintf(error, error_size, "%s is in use by another process", address->sun_path);
		return -1;
	case EAGAIN:
	case ETIMEDOUT:
		snprintf(error, error_size,
			 "%s is in use by another process, which is not accepting connections (its listen backlog "
			 "is full)",
			 address->sun_path);
		return -1;
	default:
		snprintf(error, error_size, "cannot tell whether %s is in use: connect: %s", address->sun_path,
			 strerror(connect_errno));
		return -1;
	}
}

/* libfcgi's FCGX_OpenSocket is not used here: it unlinks whatever file is
 * at the path (a typo would delete it), exits the process on a bind error,
 * binds ":PORT" to every interface and knows no IPv6. */
static int bind_unix(const char *path, int backlog, char *error, size_t error_size)
{
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	struct stat status;
	int fd = -1;

	if (strlen(path) >= sizeof address.sun_path) {
		snprintf(error, error_size, "socket path %s is too long (at most %zu bytes)", path,
			 sizeof address.sun_path - 1);
		return -1;
	}
	memcpy(address.sun_path, path, strlen(path) + 1);
	if (lstat(path, &status) == 0) {
		if (!S_ISSOCK(status.st_mode)) {
			snprintf(error, error_size, "%s exists and is not a socket; not replacing it", path);
			return -1;
		}
		if (unix_socket_in_use(&address, error, error_size) != 0)
			return -1;
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(error, error_size, "remove stale socket %s: %s", path, strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(error, error_size, "socket: %s", strerror(errno));
		return -1;
	}
	/* The umask makes the socket 0660 from the start: a chmod after bind
	 * would leave a moment when anyone may connect. */
	mode_t previous_umask = umask(0117);
	int bound = bind(fd, (struct sockaddr *)&address, sizeof address);
	int bind_errno = errno;
	umask(previous_umask);
	if (bound != 0 || listen(fd, backlog) != 0) {
		snprintf(error, error_size, "bind %s: %s", path, strerror(bound != 0 ? bind_errno : errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int bind_tcp(const char *address, int backlog, char *error, size_t error_size)
{
	char host[256];
	const char *port;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *found = NULL;
	int fd = -1;

	if (address[0] == '[') {
		const char *close_bracket = strchr(address, ']');
		if (close_bracket == NULL || close_bracket[1] != ':' ||
		    (size_t)(close_bracket - address - 1) >= sizeof host) {
			snprintf(error, error_size, "listen address %s: use [IPv6]:PORT", address);
			return -1;
		}
		snprintf(host, sizeof host, "%.*s", (int)(close_bracket - address - 1), address + 1);
		port = close_bracket + 2;
	} else {
		const char *colon = strrchr(address, ':');
		if ((size_t)(colon - address) >= sizeof host) {
			snprintf(error, error_size, "listen address %s: host is too long", address);
			return -1;
		}
		snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
		port = colon + 1;
	}
	/* Only the loopback unless asked: a FastCGI port lets anyone who
	 * reaches it set any CGI variable. */
	if (host[0] == '\0')
		snprintf(host, sizeof host, "127.0.0.1");
	if (strcmp(host, "*") == 0)
		snprintf(host, sizeof host, "0.0.0.0");
	/* getaddrinfo takes a number above 65535 and binds it modulo 65536
	 * (99999 became 34463), and 0 would bind a random port. */
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || atoi(port) < 1 ||
	    atoi(port) > 65535) {
		snprintf(error, error_size, "listen address %s: the port must be a number from 1 to 65535", address);
		return -1;
	}
	int lookup = getaddrinfo(host, port, &hints, &found);
	if (lookup != 0) {
		snprintf(error, error_size, "listen address %s: %s", address, gai_strerror(lookup));
		return -1;
	}
	fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int reuse = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) != 0 ||
	    bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
		snprintf(error, error_size, "bind %s: %s", address, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(found);
	return fd;
}

int listener_bind(const char *address, int backlog, char *error, size_t error_size)
{
	/* A path has a slash or no colon; HOST:PORT has a colon and no slash. */
	if (strchr(address, '/') != NULL || strchr(address, ':') == NULL)
		return bind_unix(address, backlog, error, error_size);
	return bind_tcp(address, backlog, error, error_size);
}

struct allowed_peers {
	size_t count;
	struct sockaddr_storage addresses[];
};

/* libfcgi checks FCGI_WEB_SERVER_ADDRS inside its own accept, which this
 * program replaces (see listener_accept); this is the same rule, for
 * IPv4 and IPv6. */
struct allowed_peers *listener_parse_allowed_peers(const char *list, char *error, size_t error_size)
{
	size_t entries = 1;
	struct allowed_peers *peers;

	for (const char *c = list ? list : ""; *c != '\0'; c++)
		entries += *c == ',';
	peers = calloc(1, sizeof *peers + entries * sizeof peers->addresses[0]);
	if (peers == NULL) {
		snprintf(error, error_size, "out of memory");
		return NULL;
	}
	for (const char *cursor = list ? list : ""; *cursor != '\0';) {
		size_t length = strcspn(cursor, ",");
		char text[INET6_ADDRSTRLEN + 1];
		struct sockaddr_storage *slot = &peers->addresses[peers->count];

		while (length > 0 && *cursor == ' ') {
			cursor++;
			length--;
		}
		if (length >= sizeof text) {
			snprintf(error, error_size, "FCGI_WEB_SERVER_ADDRS: '%.*s' is not an address", (int)length,
				 cursor);
			goto fail;
		}
		snprintf(text, sizeof text, "%.*s", (int)length, cursor);
		text[strcspn(text, " ")] = '\0';
		if (text[0] != '\0') {
			if (inet_pton(AF_INET, text, &((struct sockaddr_in *)slot)->sin_addr) == 1) {
				slot->ss_family = AF_INET;
			} else if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)slot)->sin6_addr) == 1) {
				slot->ss_family = AF_INET6;
			} else {
				snprintf(error, error_size, "FCGI_WEB_SERVER_ADDRS: '%s' is not an IP address", text);
				goto fail;
			}
			peers->count++;
		}
		cursor += length;
		if (*cursor == ',')
			cursor++;
	}
	return peers;
fail:
	free(peers);
	return NULL;
}

void listener_free_allowed_peers(struct allowed_peers *peers)
{
	free(peers);
}

/* An IPv4 client of a dual-stack ("[::]:PORT") listener arrives as
 * ::ffff:a.b.c.d; it is compared, and shown, as the IPv4 address it is. */
static void unmap_ipv4(const struct sockaddr_storage *address, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *ipv6 = (const struct sockaddr_in6 *)address;

	*out = *address;
	if (address->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&ipv6->sin6_addr))
		return;
	struct sockaddr_in *ipv4 = (struct sockaddr_in *)out;
	memset(out, 0, sizeof *out);
	ipv4->sin_family = AF_INET;
	memcpy(&ipv4->sin_addr, &ipv6->sin6_addr.s6_addr[12], sizeof ipv4->sin_addr);
}

static int peer_allowed(const struct allowed_peers *peers, const struct sockaddr_storage *mapped_peer)
{
	struct sockaddr_storage unmapped;
	const struct sockaddr_storage *peer = &unmapped;

	if (peers == NULL || peers->count == 0 || mapped_peer->ss_family == AF_UNIX)
		return 1;
	unmap_ipv4(mapped_peer, &unmapped);
	for (size_t i = 0; i < peers->count; i++) {
		struct sockaddr_storage allowed_unmapped;
		const struct sockaddr_storage *allowed = &allowed_unmapped;
		unmap_ipv4(&peers->addresses[i], &allowed_unmapped);
		if (allowed->ss_family == AF_INET && peer->ss_family == AF_INET &&
		    ((const struct sockaddr_in *)allowed)->sin_addr.s_addr ==
			((const struct sockaddr_in *)peer)->sin_addr.s_addr)
			return 1;
		if (allowed->ss_family == AF_INET6 && peer->ss_family == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)allowed)->sin6_addr,
			   &((const struct sockaddr_in6 *)peer)->sin6_addr, sizeof(struct in6_addr)) == 0)
			return 1;
	}
	return 0;
}

static void describe_peer(const struct sockaddr_storage *mapped_peer, char *out, size_t out_size)
{
	struct sockaddr_storage unmapped;
	const struct sockaddr_storage *peer = &unmapped;

	unmap_ipv4(mapped_peer, &unmapped);
	const void *address = peer->ss_family == AF_INET
				  ? (const void *)&((const struct sockaddr_in *)peer)->sin_addr
				  : (const void *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
	if (inet_ntop(peer->ss_family, address, out, (socklen_t)out_size) == NULL)
		snprintf(out, out_size, "?");
}

void listener_describe_peer(int listen_fd, const struct sockaddr_storage *peer, char *out, size_t out_size)
{
	char address[INET6_ADDRSTRLEN];
	struct sockaddr_storage unmapped;

	if (peer->ss_family == AF_UNIX) {
		struct sockaddr_un local = {0};
		socklen_t length = sizeof local;
		/* Read at log time only: a line about a connection is rare. */
		if (getsockname(listen_fd, (struct sockaddr *)&local, &length) != 0 || local.sun_path[0] == '\0')
			snprintf(out, out_size, "unix:?");
		else
			snprintf(out, out_size, "unix:%.*s", (int)sizeof local.sun_path, local.sun_path);
		return;
	}
	describe_peer(peer, address, sizeof address);
	unmap_ipv4(peer, &unmapped);
	in_port_t port = unmapped.ss_family == AF_INET ? ((const struct sockaddr_in *)&unmapped)->sin_port
						       : ((const struct sockaddr_in6 *)&unmapped)->sin6_port;
	snprintf(out, out_size, unmapped.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", address, (unsigned)ntohs(port));
}

int listener_accept(int listen_fd, const struct allowed_peers *peers, struct sockaddr_storage *address)
{
	for (;;) {
		struct sockaddr_storage peer = {0};
		socklen_t length = sizeof peer;
		int fd = accept4(listen_fd, (struct sockaddr *)&peer, &length, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			switch (errno) {
			case EINTR:
				continue;
			/* The peer went away between the handshake and here. */
			case ECONNABORTED:
			case EPROTO:
			case ENETDOWN:
			case ENOPROTOOPT:
			case EHOSTDOWN:
			case ENONET:
			case EHOSTUNREACH:
			case EOPNOTSUPP:
			case ENETUNREACH:
				continue;
			default:
				return -1;
			}
		}
		if (!peer_allowed(peers, &peer)) {
			char shown[INET6_ADDRSTRLEN];
			describe_peer(&peer, shown, sizeof shown);
			log_limited("refused a connection from %s: not in FCGI_WEB_SERVER_ADDRS", shown);
			close(fd);
			continue;
		}
		if (peer.ss_family != AF_UNIX) {
			/* Each response goes out as whole records; Nagle would
			 * only hold back the last one. */
			int no_delay = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &no_delay, sizeof no_delay);
		}
		*address = peer;
		return fd;
	}
}
