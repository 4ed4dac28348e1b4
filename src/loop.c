/* loop.c: a worker's event loop: the shared listening socket and every FastCGI connection it holds, with their
 * deadlines. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fastcgi.h>

#include "clock.h"
#include "fcgi_input.h"
#include "fcgi_output.h"
#include "framing.h"
#include "listener.h"
#include "log.h"

/* The bytes of a connection read and judged before libfcgi is given them.
 * A request is a BEGIN_REQUEST, its parameters (about 1 KiB from lighttpd
 * and nginx) and its body; one larger than this is handed over once this
 * much of it has come, and libfcgi reads the rest from the socket as it
 * comes, each read bounded by the receive timeout. It cannot wait for the
 * whole of a large request: a unix socket holds as little as 48 KiB of a
 * sender's writes, and the sender then waits for it to be read. */
#define INPUT_WINDOW ((size_t)16 * 1024)
/* Events taken per epoll_wait, and connections accepted per wake-up, so
 * that a burst of new connections cannot starve the ones already held. */
#define EVENTS_PER_WAIT 64
#define ACCEPTS_PER_WAKE 32
/* The loop wakes at least this often to refresh its heartbeat. */
#define HEARTBEAT_MS 250
/* Out of descriptors or memory: how long accepting pauses. */
#define ACCEPT_PAUSE_MS 100

enum connection_state {
	CONNECTION_FREE,
	CONNECTION_WAITING,   /* no request started: new, or kept after an answer */
	CONNECTION_RECEIVING, /* a request's records have started to come */
	CONNECTION_ANSWERING, /* its request is read; the answer waits for the database */
};

struct connection {
	FCGX_Request request;	 /* request.ipcFd is the connection */
	struct fcgi_input input; /* what libfcgi reads of the request handed to it */
	/* Read and not used yet (part of a request, or what came after one),
	 * kept here while the loop's window serves other connections. */
	unsigned char *held;
	size_t held_length;
	unsigned char *unread; /* input.next's memory while an answer waits */
	unsigned handovers;    /* requests handed to libfcgi on this connection */
	int fd;
	enum connection_state state;
	int registered;	     /* in the epoll set */
	int answered;	     /* has answered a request: a kept connection */
	int keep;	     /* the request being answered asked to keep the connection */
	int counted_as_kept; /* in loop->kept_connections */
	long long since_ms;
	struct connection *previous, *next; /* in the list of its state, oldest first */
};

/* Every connection of one state, oldest first: since all of them have the
 * same timeout, the head is always the next to expire. */
struct connection_list {
	struct connection *head, *tail;
};

struct loop {
	struct loop_settings settings;
	int epoll_fd;
	struct connection *by_fd; /* indexed by descriptor */
	int table_size;
	int open_connections;
	int kept_connections; /* answered ones waiting for their next request */
	struct connection_list waiting, receiving, answering;
	loop_serve_fn serve;
	void *serve_context;
	struct loop_source source; /* the database's socket, when there is one */
	int source_fd;		   /* as registered in the epoll set, or -1 */
	unsigned source_events;
	unsigned source_generation;
	int listening;		       /* the listening socket is in the epoll set */
	long long accept_paused_until; /* 0: not paused for lack of descriptors */
	int stopping;
	int window_in_use; /* by a read_connection that has not returned */
	unsigned char window[INPUT_WINDOW];
};

static void list_remove(struct connection_list *list, struct connection *connection)
{
	if (connection->previous != NULL)
		connection->previous->next = connection->next;
	else
		list->head = connection->next;
	if (connection->next != NULL)
		connection->next->previous = connection->previous;
	else
		list->tail = connection->previous;
	connection->previous = connection->next = NULL;
}

static void list_append(struct connection_list *list, struct connection *connection)
{
	connection->previous = list->tail;
	connection->next = NULL;
	if (list->tail != NULL)
		list->tail->next = connection;
	else
		list->head = connection;
	list->tail = connection;
}

static struct connection_list *list_of(struct loop *loop, const struct connection *connection)
{
	switch (connection->state) {
	case CONNECTION_RECEIVING:
		return &loop->receiving;
	case CONNECTION_ANSWERING:
		return &loop->answering;
	case CONNECTION_WAITING:
	case CONNECTION_FREE:
		break;
	}
	return &loop->waiting;
}

static void set_state(struct loop *loop, struct connection *connection, enum connection_state state, long long now)
{
	if (connection->state != CONNECTION_FREE)
		list_remove(list_of(loop, connection), connection);
	loop->kept_connections -= connection->counted_as_kept;
	connection->counted_as_kept = state == CONNECTION_WAITING && connection->answered;
	loop->kept_connections += connection->counted_as_kept;
	connection->state = state;
	connection->since_ms = now;
	*loop->settings.gauges.held = loop->open_connections;
	*loop->settings.gauges.kept = loop->kept_connections;
	if (state != CONNECTION_FREE)
		list_append(list_of(loop, connection), connection);
}

static void start_listening(struct loop *loop)
{
	/* EPOLLEXCLUSIVE: a new connection wakes one worker, not all. */
	struct epoll_event event = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = loop->settings.listen_fd};

	if (loop->listening || loop->stopping)
		return;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->settings.listen_fd, &event) != 0) {
		log_line("epoll_ctl ADD listening fd %d: %s", loop->settings.listen_fd, strerror(errno));
		return;
	}
	loop->listening = 1;
}

/* EPOLLEXCLUSIVE cannot be modified, only removed and added again. */
static void stop_listening(struct loop *loop)
{
	if (!loop->listening)
		return;
	epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, loop->settings.listen_fd, NULL);
	loop->listening = 0;
}

/* The request handed to libfcgi is over: what it did not read of it goes. */
static void end_input(struct connection *connection)
{
	connection->input = (struct fcgi_input){NULL, 0, 0};
	free(connection->unread);
	connection->unread = NULL;
}

/* The connection is closed already (by libfcgi, or just now). */
static void forget_connection(struct loop *loop, struct connection *connection)
{
	fcgi_output_forget(connection->fd);
	end_input(connection);
	free(connection->held);
	connection->held = NULL;
	connection->held_length = 0;
	loop->open_connections--;
	set_state(loop, connection, CONNECTION_FREE, 0);
	connection->fd = -1;
	connection->registered = 0;
	/* A slot is free again: take the connections that waited for one. */
	if (loop->accept_paused_until == 0)
		start_listening(loop);
}

static void close_connection(struct loop *loop, struct connection *connection)
{
	/* Closing removes it from the epoll set too: no one else holds it. */
	close(connection->fd);
	forget_connection(loop, connection);
}

/* Edge-triggered: a connection whose answer is being written is not read,
 * and a level-triggered set would report what it sent meanwhile again at
 * once, forever; each new arrival is an edge. So a connection is read
 * until a read comes short of the room it was given: what comes after
 * that is an edge of its own. */
static int register_connection(struct loop *loop, struct connection *connection)
{
	struct epoll_event event = {.events = EPOLLIN | EPOLLET, .data.fd = connection->fd};

	if (connection->registered)
		return 0;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, connection->fd, &event) != 0) {
		log_line("epoll_ctl ADD connection fd %d: %s", connection->fd, strerror(errno));
		return -1;
	}
	connection->registered = 1;
	return 0;
}

static void write_record(struct connection *connection, const unsigned char *record, size_t length)
{
	/* Small records into a socket that has just been read from: a
	 * failure means the peer is gone, which its next read will show. */
	if (write(connection->fd, record, length) != (ssize_t)length)
		return;
}

/* Ends the request on the connection once its answer is written: the
 * connection is kept only when the web server asked for it
 * (FCGI_KEEP_CONN) and the worker is not stopping. What the web server
 * sent after the request is in connection->held: libfcgi was given the
 * request's bytes only. */
static void end_request(struct loop *loop, struct connection *connection)
{
	FCGX_Request *request = &connection->request;

	int keep = connection->keep && !loop->stopping && !*loop->settings.stop;

	/* The loop closes the connection, once the answer libfcgi wrote, still
	 * gathered (fcgi_output.h), is released. libfcgi closes it only when
	 * one of its streams failed, and then detached: at once, instead of
	 * shutting down its side and waiting up to 2 s for the web server to
	 * close first, which protects nothing once the whole request is read
	 * and halved lighttpd's throughput (CEILINGS.md). */
	request->keepConnection = 1;
	FCGX_Detach(request);
	FCGX_Finish_r(request);
	end_input(connection);
	if (request->ipcFd < 0) {
		forget_connection(loop, connection);
		return;
	}
	if (fcgi_output_release() != 0 || !keep) {
		close_connection(loop, connection);
		return;
	}
	connection->answered = 1;
	set_state(loop, connection, CONNECTION_WAITING, monotonic_ms());
	/* A request that was waiting at the accept got here without an epoll
	 * round; its kept connection joins the set now. */
	if (register_connection(loop, connection) != 0)
		close_connection(loop, connection);
}

/* An answer waits for the database: libfcgi could still read the rest of
 * its request (a handler that reads its body late), from memory the loop's
 * window is not, since it serves other connections meanwhile. */
static void keep_unread_input(struct connection *connection)
{
	struct fcgi_input *input = &connection->input;

	if (input->left == 0)
		return;
	unsigned char *copy = malloc(input->left);
	if (copy == NULL) {
		/* libfcgi is told the request ended early: a protocol
		 * error, and the connection is closed after the answer. */
		log_limited("out of memory keeping %zu bytes of a request whose answer waits", input->left);
		input->left = 0;
		input->then_socket = 0;
		return;
	}
	memcpy(copy, input->next, input->left);
	free(connection->unread);
	connection->unread = copy;
	input->next = copy;
}

/* A request is whole in connection->input (or fills the input window):
 * libfcgi reads it and the serve function answers it, now or once the
 * database has (loop_finish_request). */
static void answer_request(struct loop *loop, struct connection *connection, int keep_connection)
{
	FCGX_Request *request = &connection->request;
	unsigned handover = ++connection->handovers;

	*loop->settings.busy_since_ms = monotonic_ms();
	request->ipcFd = connection->fd;
	/* Keeps FCGX_Accept_r's opening FCGX_Finish_r from closing the
	 * connection just handed to it. */
	request->keepConnection = 1;
	if (FCGX_Accept_r(request) != 0) {
		/* libfcgi found no valid request and closed the connection. */
		*loop->settings.busy_since_ms = 0;
		forget_connection(loop, connection);
		return;
	}
	connection->keep = keep_connection;
	/* Until the answer is written, nothing more is read from it. */
	set_state(loop, connection, CONNECTION_ANSWERING, monotonic_ms());
	if (loop->serve(loop->serve_context, request, connection) == LOOP_ANSWERED)
		end_request(loop, connection);
	else if (connection->state == CONNECTION_ANSWERING && connection->handovers == handover)
		keep_unread_input(connection); /* not answered already, inside serve */
	*loop->settings.busy_since_ms = 0;
}

/* A request larger than the input window goes to libfcgi once the window
 * is full; its blocking reads of the rest get what is left of the
 * request's deadline, at least a second, and the watchdog ends a worker
 * still in it past --request-timeout. */
static void answer_oversized_request(struct loop *loop, struct connection *connection)
{
	long long left_ms = connection->since_ms + loop->settings.request_timeout_ms - monotonic_ms();
	struct timeval timeout = {.tv_sec = left_ms > 1000 ? left_ms / 1000 : 1};

	setsockopt(connection->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
	answer_request(loop, connection, 0);
}

static int is_reading(const struct connection *connection)
{
	return connection->state == CONNECTION_WAITING || connection->state == CONNECTION_RECEIVING;
}

/* Keeps bytes not used yet in the connection's own memory, sized to what
 * came: the window is the loop's, and the next connection's. 0, or -1
 * when out of memory. */
static int hold(struct connection *connection, const unsigned char *bytes, size_t length)
{
	if (length == 0)
		return 0;
	connection->held = malloc(length);
	if (connection->held == NULL) {
		log_limited("out of memory keeping %zu bytes a connection sent; closing it", length);
		return -1;
	}
	memcpy(connection->held, bytes, length);
	connection->held_length = length;
	return 0;
}

/* Puts what the connection holds at the start of window; returns its
 * length. A slow sender's partial request is copied in and out on each
 * arrival, as many bytes as the peek of the whole window copied before. */
static size_t take_held(struct connection *connection, unsigned char *window)
{
	size_t length = connection->held_length;

	if (length > 0)
		memcpy(window, connection->held, length);
	free(connection->held);
	connection->held = NULL;
	connection->held_length = 0;
	return length;
}

/* Nothing whole in window[0, length) and the socket has no more for now:
 * the bytes are kept and the connection waits for its next edge. */
static void wait_for_more(struct loop *loop, struct connection *connection, const unsigned char *window, size_t length)
{
	if (length > 0 && connection->state == CONNECTION_WAITING)
		set_state(loop, connection, CONNECTION_RECEIVING, monotonic_ms());
	if (hold(connection, window, length) != 0 || register_connection(loop, connection) != 0)
		close_connection(loop, connection);
}

/* Hands libfcgi the request at window[start, start + scan->length); what came
 * after it, up to end, waits in connection->held for the next round (the
 * window may be another connection's by then). */
static void hand_over(struct loop *loop, struct connection *connection, unsigned char *window, size_t start,
		      const struct framing_scan *scan, size_t end)
{
	if (hold(connection, window + start + scan->length, end - start - scan->length) != 0) {
		close_connection(loop, connection);
		return;
	}
	connection->input = (struct fcgi_input){window + start, scan->length, 0};
	/* Kept connections are read again once answered: the web server
	 * sends its next request after this answer. */
	answer_request(loop, connection, scan->keep_connection);
}

/* Reads what a connection has sent into window, once, and acts on it:
 * answers management records and aborts, hands a whole request to libfcgi,
 * or keeps the bytes and waits for more. Stops when the connection is
 * answering: what it sends meanwhile is read once that answer is written. */
static void read_into(struct loop *loop, struct connection *connection, unsigned char *window)
{
	unsigned char reply[FRAMING_REPLY_ROOM];
	struct framing_scan scan;
	size_t start = 0, length = take_held(connection, window);
	int drained = 0; /* the last read came short: the socket had no more */

	while (is_reading(connection)) {
		framing_scan(window + start, length - start, &scan);
		switch (scan.verdict) {
		case FRAMING_INCOMPLETE: {
			memmove(window, window + start, length - start);
			length -= start;
			start = 0;
			if (length == INPUT_WINDOW) {
				connection->input = (struct fcgi_input){window, length, 1};
				answer_oversized_request(loop, connection);
				return; /* never kept */
			}
			if (drained) {
				wait_for_more(loop, connection, window, length);
				return;
			}
			ssize_t got = recv(connection->fd, window + length, INPUT_WINDOW - length, MSG_DONTWAIT);
			if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				drained = 1;
				continue;
			}
			if (got <= 0)
				break; /* the peer closed, or reset */
			drained = (size_t)got < INPUT_WINDOW - length;
			length += (size_t)got;
			continue;
		}
		case FRAMING_REQUEST_READY:
			hand_over(loop, connection, window, start, &scan, length);
			/* Kept, with more sent: it is in held (read_into may
			 * even have run for it again inside the answer). */
			start = 0;
			length = is_reading(connection) ? take_held(connection, window) : 0;
			continue;
		case FRAMING_MANAGEMENT: {
			size_t reply_length =
			    framing_management_reply(&scan, loop->settings.advertised_connections, reply);
			write_record(connection, reply, reply_length);
			start += scan.length;
			continue;
		}
		case FRAMING_ABORTED: {
			/* The request was not answered yet: it ends here. */
			size_t reply_length = framing_end_request(scan.request_id, FCGI_REQUEST_COMPLETE, reply);
			write_record(connection, reply, reply_length);
			if (!scan.keep_connection || loop->stopping)
				break;
			start += scan.length;
			set_state(loop, connection, CONNECTION_WAITING, monotonic_ms());
			continue;
		}
		case FRAMING_STRAY:
			start += scan.length;
			continue;
		case FRAMING_MALFORMED:
			break;
		}
		close_connection(loop, connection);
		return;
	}
}

/* The loop's window serves one connection at a time. A connection whose
 * waiting answer is written inside another's (a lost database answers all
 * its queries at once, from the serve function) is read into a window of
 * its own: the loop's still holds the other's request. */
static void read_connection(struct loop *loop, struct connection *connection)
{
	if (!is_reading(connection))
		return;
	if (loop->window_in_use) {
		unsigned char *window = malloc(INPUT_WINDOW);
		if (window == NULL) {
			log_limited("out of memory reading a connection inside another's answer; closing it");
			close_connection(loop, connection);
			return;
		}
		read_into(loop, connection, window);
		free(window);
		return;
	}
	loop->window_in_use = 1;
	read_into(loop, connection, loop->window);
	loop->window_in_use = 0;
}

void loop_finish_request(struct loop *loop, struct connection *connection)
{
	end_request(loop, connection);
	if (connection->state == CONNECTION_WAITING && connection->answered)
		read_connection(loop, connection);
}

/* At the cap, the connection that has waited longest without a request
 * makes room: a new connection is never refused while a kept one idles. */
static int make_room(struct loop *loop)
{
	if (loop->open_connections < loop->settings.max_connections)
		return 1;
	if (loop->waiting.head == NULL)
		return 0;
	close_connection(loop, loop->waiting.head);
	return 1;
}

static void accept_connections(struct loop *loop)
{
	int timeout_seconds = (int)((loop->settings.request_timeout_ms + 999) / 1000);

	for (int accepted = 0; accepted < ACCEPTS_PER_WAKE && loop->listening; accepted++) {
		if (!make_room(loop)) {
			/* Every slot holds a request in progress: the rest wait
			 * in the backlog until one is answered. */
			stop_listening(loop);
			return;
		}
		int fd = accept_connection(loop->settings.listen_fd, loop->settings.allowed_peers, timeout_seconds);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_limited("accept on fd %d: %s; pausing %d ms", loop->settings.listen_fd, strerror(errno),
				    ACCEPT_PAUSE_MS);
			stop_listening(loop);
			loop->accept_paused_until = monotonic_ms() + ACCEPT_PAUSE_MS;
			return;
		}
		if (fd >= loop->table_size) {
			log_line("connection fd %d is past the descriptor table (%d); closing it", fd,
				 loop->table_size);
			close(fd);
			continue;
		}
		struct connection *connection = &loop->by_fd[fd];
		FCGX_InitRequest(&connection->request, -1, 0);
		connection->fd = fd;
		connection->answered = 0;
		loop->open_connections++;
		(*loop->settings.gauges.accepted)++;
		set_state(loop, connection, CONNECTION_WAITING, monotonic_ms());
		/* lighttpd writes its request right after connecting: it is
		 * usually waiting already, and costs no epoll round. */
		read_connection(loop, connection);
	}
}

/* While stopping, a new connection that has sent nothing yet still gets
 * the request timeout to do so: the web server sent it to this worker. */
static long long waiting_timeout_ms(const struct loop *loop)
{
	const struct loop_settings *settings = &loop->settings;

	if (loop->stopping && settings->request_timeout_ms < settings->keepalive_timeout_ms)
		return settings->request_timeout_ms;
	return settings->keepalive_timeout_ms;
}

static void close_expired(struct loop *loop, long long now)
{
	while (loop->receiving.head != NULL &&
	       now - loop->receiving.head->since_ms >= loop->settings.request_timeout_ms) {
		log_limited("closed a connection whose request did not arrive whole within --request-timeout %lld s",
			    loop->settings.request_timeout_ms / 1000);
		close_connection(loop, loop->receiving.head);
	}
	while (loop->waiting.head != NULL && now - loop->waiting.head->since_ms >= waiting_timeout_ms(loop))
		close_connection(loop, loop->waiting.head);
}

static int next_wake_ms(const struct loop *loop, long long now)
{
	long long wake = now + HEARTBEAT_MS;

	if (loop->receiving.head != NULL && loop->receiving.head->since_ms + loop->settings.request_timeout_ms < wake)
		wake = loop->receiving.head->since_ms + loop->settings.request_timeout_ms;
	if (loop->waiting.head != NULL && loop->waiting.head->since_ms + waiting_timeout_ms(loop) < wake)
		wake = loop->waiting.head->since_ms + waiting_timeout_ms(loop);
	if (loop->accept_paused_until != 0 && loop->accept_paused_until < wake)
		wake = loop->accept_paused_until;
	return wake > now ? (int)(wake - now) : 0;
}

/* Stops taking connections. Kept connections waiting for their next
 * request are closed (the web server opens another, to a worker that
 * stays); new ones and those receiving a request are answered first. */
static void begin_stopping(struct loop *loop)
{
	stop_listening(loop);
	loop->stopping = 1;
	for (struct connection *connection = loop->waiting.head, *next; connection != NULL; connection = next) {
		next = connection->next;
		if (connection->answered)
			close_connection(loop, connection);
	}
}

/* The database's socket joins the epoll set as its store asks: on a new
 * connection (a new generation: the descriptor number may be the old
 * one's, whose registration its close removed) or other events. */
static void watch_source(struct loop *loop, const struct loop_source_wants *wants)
{
	if (wants->fd == loop->source_fd && wants->events == loop->source_events &&
	    wants->generation == loop->source_generation)
		return;
	if (loop->source_fd >= 0 && wants->generation == loop->source_generation)
		epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, loop->source_fd, NULL);
	loop->source_fd = -1;
	loop->source_generation = wants->generation;
	loop->source_events = wants->events;
	if (wants->fd < 0 || wants->events == 0)
		return;
	struct epoll_event event = {.events = wants->events, .data.fd = wants->fd};
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, wants->fd, &event) != 0 &&
	    (errno != EEXIST || epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, wants->fd, &event) != 0)) {
		log_limited("epoll_ctl on the database's socket %d: %s", wants->fd, strerror(errno));
		return;
	}
	loop->source_fd = wants->fd;
}

static long long source_wants(struct loop *loop)
{
	struct loop_source_wants wants = {.fd = -1};

	if (loop->source.want == NULL)
		return 0;
	loop->source.want(loop->source.context, &wants);
	watch_source(loop, &wants);
	return wants.deadline_ms;
}

int loop_run(struct loop *loop, loop_serve_fn serve, void *context)
{
	struct epoll_event events[EVENTS_PER_WAIT];

	loop->serve = serve;
	loop->serve_context = context;
	start_listening(loop);
	for (;;) {
		long long now = monotonic_ms();
		*loop->settings.heartbeat_ms = now;
		if (*loop->settings.stop && !loop->stopping)
			begin_stopping(loop);
		if (loop->stopping &&
		    ((loop->receiving.head == NULL && loop->waiting.head == NULL && loop->answering.head == NULL) ||
		     getppid() != loop->settings.supervisor))
			return 0;
		if (loop->accept_paused_until != 0 && now >= loop->accept_paused_until) {
			loop->accept_paused_until = 0;
			start_listening(loop);
		}
		close_expired(loop, now);
		long long source_deadline = source_wants(loop);
		if (source_deadline != 0 && source_deadline <= now) {
			loop->source.ready(loop->source.context, 0);
			continue;
		}

		int wait_ms = next_wake_ms(loop, now);
		if (source_deadline != 0 && source_deadline - now < wait_ms)
			wait_ms = (int)(source_deadline - now);
		int ready = epoll_wait(loop->epoll_fd, events, EVENTS_PER_WAIT, wait_ms);
		if (ready < 0 && errno != EINTR) {
			log_line("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < ready; i++) {
			int fd = events[i].data.fd;
			if (fd == loop->settings.listen_fd)
				accept_connections(loop);
			else if (fd == loop->source_fd)
				loop->source.ready(loop->source.context, events[i].events);
			else if (fd >= 0 && fd < loop->table_size && loop->by_fd[fd].state != CONNECTION_FREE)
				read_connection(loop, &loop->by_fd[fd]);
		}
	}
}

void loop_step_back(struct loop *loop)
{
	if (!loop->listening)
		return;
	/* The kernel wakes the EPOLLEXCLUSIVE waiters in the order they were
	 * added: added again, this worker is the last one asked. */
	stop_listening(loop);
	start_listening(loop);
}

void loop_set_source(struct loop *loop, const struct loop_source *source)
{
	loop->source = *source;
}

/* Where libfcgi's reads of a connection are served from (fcgi_input.h). */
static struct fcgi_input *input_of(void *context, int fd)
{
	struct loop *loop = context;

	if (fd < 0 || fd >= loop->table_size || loop->by_fd[fd].state == CONNECTION_FREE)
		return NULL;
	return &loop->by_fd[fd].input;
}

struct loop *loop_create(const struct loop_settings *settings, char *error, size_t error_size)
{
	struct loop *loop = calloc(1, sizeof *loop);
	struct rlimit descriptors;

	if (loop == NULL) {
		snprintf(error, error_size, "out of memory for the event loop");
		return NULL;
	}
	loop->settings = *settings;
	loop->epoll_fd = -1;
	loop->source_fd = -1;
	if (getrlimit(RLIMIT_NOFILE, &descriptors) != 0 || descriptors.rlim_cur == RLIM_INFINITY ||
	    descriptors.rlim_cur > 1 << 20)
		descriptors.rlim_cur = 1 << 20;
	loop->table_size = (int)descriptors.rlim_cur;
	/* Indexed by descriptor; calloc'd pages are touched only for the
	 * descriptors in use, and a zeroed entry is a free one. */
	loop->by_fd = calloc((size_t)loop->table_size, sizeof *loop->by_fd);
	if (loop->by_fd == NULL) {
		snprintf(error, error_size, "out of memory for %d connections", loop->table_size);
		goto fail;
	}
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0) {
		snprintf(error, error_size, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	int flags = fcntl(settings->listen_fd, F_GETFL);
	if (flags < 0 || fcntl(settings->listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
		snprintf(error, error_size, "making listening fd %d non-blocking: %s", settings->listen_fd,
			 strerror(errno));
		goto fail;
	}
	fcgi_input_set_lookup(input_of, loop);
	return loop;
fail:
	loop_destroy(loop);
	return NULL;
}

void loop_destroy(struct loop *loop)
{
	if (loop == NULL)
		return;
	fcgi_input_set_lookup(NULL, NULL);
	while (loop->waiting.head != NULL)
		close_connection(loop, loop->waiting.head);
	while (loop->receiving.head != NULL)
		close_connection(loop, loop->receiving.head);
	while (loop->answering.head != NULL)
		close_connection(loop, loop->answering.head);
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	free(loop->by_fd);
	free(loop);
}
