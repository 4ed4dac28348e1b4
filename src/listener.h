/* listener.h: where FastCGI connections come from, and taking each one with deadlines and address checks. */
#ifndef WEBAPI_LISTENER_H
#define WEBAPI_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>

/* fd 0 when the web server or spawn-fcgi handed us a listening socket
 * there, fd 3 under systemd socket activation (LISTEN_FDS=1 for this pid),
 * else -1: not a FastCGI launch. */
int listener_inherited(void);

/* Binds address: a unix socket path (made mode 0660) or HOST:PORT /
 * :PORT (127.0.0.1 when no host is given; [v6]:PORT for IPv6). Returns the
 * listening fd, or -1 with a reason in error. */
int listener_bind(const char *address, int backlog, char *error, size_t error_size);

/* Whether fd is a unix socket (for the log and the cleanup on exit). */
int listener_is_unix(int fd);

struct allowed_peers;

/* FCGI_WEB_SERVER_ADDRS: the comma-separated front-end addresses allowed
 * to connect over TCP; NULL or empty allows any. NULL return with a reason
 * in error on a malformed list. */
struct allowed_peers *listener_parse_allowed_peers(const char *list, char *error, size_t error_size);
void listener_free_allowed_peers(struct allowed_peers *peers);

/* Accepts one connection from an allowed peer on a non-blocking listener;
 * the connection does not block either (the event loop reads and writes
 * it as it is ready, and no socket timeout is needed). Returns the
 * connected fd, with its peer's address in *peer; -1 with errno EAGAIN
 * when none is waiting; EMFILE, ENFILE, ENOBUFS or ENOMEM when out of
 * descriptors or memory (pause, and the connections wait in the
 * backlog); another errno for a broken listener. */
int listener_accept(int listen_fd, const struct allowed_peers *peers, struct sockaddr_storage *peer);

/* Who a connection accepted on listen_fd came from, for the log:
 * "192.0.2.1:40312" or "[2001:db8::1]:40312" over TCP (an IPv4 peer of a
 * dual-stack listener as IPv4), "unix:" and the socket's path over a
 * unix socket, whose peers have no address of their own. */
void listener_describe_peer(int listen_fd, const struct sockaddr_storage *peer, char *out, size_t out_size);

#endif
