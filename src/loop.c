/* loop.c: a worker's event loop: the listening socket, every connection's bytes in and out, deadlines, the cap. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "list.h"
#include "listener.h"
#include "log.h"

/* What one read takes. A request from lighttpd or nginx is about 1 KiB
 * and comes whole in one read into the loop's window; a connection gets
 * memory of its own only for what is left once the protocol has used
 * what it could. */
#define INPUT_WINDOW ((size_t)64 * 1024)
/* Output queued on one connection past which its next requests wait: a
 * peer that sends requests and never reads its answers holds this much
 * of the worker's memory at most, and only until its deadline. */
#define OUTPUT_CAP ((size_t)256 * 1024)
/* Events taken per epoll_wait, and connections accepted per wake-up, so
 * that a burst of new connections cannot starve the ones already held. */
#define EVENTS_PER_WAIT 64
#define ACCEPTS_PER_WAKE 32
/* The loop wakes at least this often to refresh its heartbeat. */
#define HEARTBEAT_MS 250
/* Out of descriptors or memory: how long accepting pauses; at the cap with
 * no connection to close, how often it looks again. */
#define ACCEPT_PAUSE_MS 100

struct loop_connection {
	struct loop *loop;
	int fd;
	enum loop_phase phase;
	int closing;		 /* scheduled to close at the end of this turn, or closed */
	int close_after_send;	 /* closes once the output is written */
	int end_at_once;	 /* and says so to the peer at that moment (end_output) */
	int reset;		 /* reset, not closed: a peer that takes none of its output, or errs */
	int registered;		 /* in the epoll set */
	int drained;		 /* the last read came short: the next bytes are an edge */
	int fresh_input;	 /* input the protocol has not been shown */
	int answered;		 /* has answered a request: a kept connection */
	int counted_as_kept;	 /* in loop->kept_connections */
	long long since_ms;	 /* when the phase began */
	long long send_since_ms; /* the output's last progress */
	/* Who it came from, for the log (loop_subject). */
	struct sockaddr_storage peer;
	/* Input not used yet; NULL while there is none (the loop's window
	 * serves the next read). */
	unsigned char *input;
	size_t input_length, input_capacity;
	/* Output the socket has not taken yet, from output_start. */
	unsigned char *output;
	size_t output_start, output_length, output_capacity;
	struct list_link phase_link; /* in its phase's list, oldest first */
	/* In the list of stalled output: links of its own, as a busy
	 * connection may still be writing its last answer. */
	struct list_link send_link;
	struct list_link job_link; /* in the jobs */
	/* The closes and the free list are stacks, pushed and popped and
	 * never left from the middle: one pointer suffices. */
	struct loop_connection *close_next;	    /* in the closes, or the free list */
	alignas(max_align_t) unsigned char state[]; /* the protocol's */
};

/* Connections of one phase are listed oldest first: since all of them
 * have the same timeout, the head is always the next to expire. */
static struct loop_connection *phase_entry(struct list_link *link)
{
	return link != NULL ? list_entry(link, struct loop_connection, phase_link) : NULL;
}

static struct loop_connection *send_entry(struct list_link *link)
{
	return link != NULL ? list_entry(link, struct loop_connection, send_link) : NULL;
}

struct loop {
	struct loop_settings settings;
	struct loop_protocol protocol;
	int epoll_fd;
	int open_connections;
	int kept_connections;		   /* answered ones waiting for their next request */
	struct list idle, receiving, busy; /* by phase (phase_link) */
	struct list sending;		   /* stalled output, oldest progress first (send_link) */
	/* Connections to look at again from the top of the loop (an answer
	 * the database completed), to close at the end of the turn, and
	 * free ones for the next accept. */
	struct list jobs; /* job_link */
	struct loop_connection *closes;
	struct loop_connection *free_connections;
	struct loop_source source; /* the database's socket, when there is one */
	int source_fd;		   /* as registered in the epoll set, or -1 */
	unsigned source_events;
	unsigned source_generation;
	int listening;		       /* the listening socket is in the epoll set */
	int at_cap;		       /* stopped listening: every slot is taken, none can be freed */
	long long accept_paused_until; /* 0: not paused for lack of descriptors */
	int stopping;
	int lingering; /* stopping, and kept connections stay open (loop_settings.linger) */
	long long stopping_since_ms;
	/* epoll_data.ptr of the listening socket and the database's: any
	 * other pointer is a connection. */
	char listener_tag, source_tag;
	unsigned char window[INPUT_WINDOW];
};

static struct list *list_of(struct loop *loop, enum loop_phase phase)
{
	switch (phase) {
	case LOOP_RECEIVING:
		return &loop->receiving;
	case LOOP_BUSY:
		return &loop->busy;
	case LOOP_IDLE:
		break;
	}
	return &loop->idle;
}

static void sending_append(struct loop *loop, struct loop_connection *connection, long long now)
{
	list_remove(&loop->sending, &connection->send_link);
	connection->send_since_ms = now;
	list_append(&loop->sending, &connection->send_link);
}

static void publish_gauges(struct loop *loop)
{
	struct loop_connection *oldest_busy = phase_entry(loop->busy.head);

	atomic_store_explicit(loop->settings.gauges.held, loop->open_connections, memory_order_relaxed);
	atomic_store_explicit(loop->settings.gauges.kept, loop->kept_connections, memory_order_relaxed);
	atomic_store_explicit(loop->settings.busy_since_ms, oldest_busy != NULL ? oldest_busy->since_ms : 0,
			      memory_order_release);
}

static void set_phase(struct loop *loop, struct loop_connection *connection, enum loop_phase phase)
{
	int kept = phase == LOOP_IDLE && connection->answered;

	if (connection->phase == phase)
		return;
	list_remove(list_of(loop, connection->phase), &connection->phase_link);
	list_append(list_of(loop, phase), &connection->phase_link);
	loop->kept_connections += kept - connection->counted_as_kept;
	connection->counted_as_kept = kept;
	connection->phase = phase;
	connection->since_ms = clock_monotonic_ms();
	publish_gauges(loop);
}

static void start_listening(struct loop *loop)
{
	/* EPOLLEXCLUSIVE: a new connection wakes one worker, not all. */
	struct epoll_event event = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &loop->listener_tag};

	if (loop->listening || loop->stopping || loop->accept_paused_until != 0)
		return;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->settings.listen_fd, &event) != 0) {
		log_line("epoll_ctl ADD listening fd %d: %s", loop->settings.listen_fd, strerror(errno));
		return;
	}
	loop->listening = 1;
	loop->at_cap = 0;
}

/* EPOLLEXCLUSIVE cannot be modified, only removed and added again. */
static void stop_listening(struct loop *loop)
{
	if (!loop->listening)
		return;
	epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, loop->settings.listen_fd, NULL);
	loop->listening = 0;
}

/* Closes are put off to the end of the turn (lighttpd's
 * fdevent_sched_close): an event of this turn may still name the
 * connection, and its descriptor number must not be reused before. */
static void schedule_close(struct loop *loop, struct loop_connection *connection)
{
	if (connection->closing)
		return;
	connection->closing = 1;
	list_remove(&loop->sending, &connection->send_link);
	/* A busy one stays in its list: its request is still being answered
	 * (the database has it), for the watchdog as for the protocol. */
	if (connection->phase != LOOP_BUSY)
		list_remove(list_of(loop, connection->phase), &connection->phase_link);
	loop->kept_connections -= connection->counted_as_kept;
	connection->counted_as_kept = 0;
	loop->open_connections--;
	publish_gauges(loop);
	connection->close_next = loop->closes;
	loop->closes = connection;
	/* A slot is free again: take the connections that waited for one. */
	start_listening(loop);
}

static void free_connection(struct loop *loop, struct loop_connection *connection)
{
	free(connection->input);
	free(connection->output);
	connection->close_next = loop->free_connections;
	loop->free_connections = connection;
}

/* The end of a turn: closing removes a connection from the epoll set too,
 * since no one else holds its descriptor. */
static void run_closes(struct loop *loop)
{
	while (loop->closes != NULL) {
		struct loop_connection *connection = loop->closes;
		loop->closes = connection->close_next;
		connection->close_next = NULL;
		if (connection->fd >= 0) {
			/* A FIN would wait behind the output the peer does not
			 * take, and the kernel would keep both: a reset drops
			 * them, and the peer sees it without reading. */
			struct linger abort = {.l_onoff = 1, .l_linger = 0};
			if (connection->reset)
				setsockopt(connection->fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
			close(connection->fd);
			connection->fd = -1;
		}
		if (connection->phase != LOOP_BUSY)
			free_connection(loop, connection);
		/* else loop_request_done frees it */
	}
}

static void post(struct loop *loop, struct loop_connection *connection)
{
	if (!list_contains(&loop->jobs, &connection->job_link))
		list_append(&loop->jobs, &connection->job_link);
}

static void describe_connection(void *subject, char *out, size_t out_size)
{
	struct loop_connection *connection = subject;
	struct loop *loop = connection->loop;
	size_t used = (size_t)snprintf(out, out_size, "peer ");

	if (used >= out_size)
		return;
	listener_describe_peer(loop->settings.listen_fd, &connection->peer, out + used, out_size - used);
	used += strlen(out + used);
	if (loop->protocol.describe != NULL && used + 1 < out_size)
		loop->protocol.describe(loop->protocol.context, connection, out + used, out_size - used);
}

struct log_subject loop_subject(struct loop_connection *connection)
{
	return (struct log_subject){describe_connection, connection};
}

/* Edge-triggered, for both directions: a connection is read until a read
 * comes short, and written until the socket takes less; each new arrival,
 * and each time the socket has room again, is an edge of its own. So a
 * busy connection is not read, and no event repeats meanwhile. A
 * connection joins the set only once it has to wait: lighttpd's, asked
 * and answered at once, never does. */
static void settle(struct loop *loop, struct loop_connection *connection)
{
	struct epoll_event event = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = connection};

	if (connection->closing || connection->registered)
		return;
	if (connection->phase == LOOP_BUSY && connection->output_length == 0)
		return;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, connection->fd, &event) != 0) {
		struct log_subject about = loop_subject(connection);
		log_limited_about(&about, "epoll_ctl ADD connection fd %d: %s; closing it", connection->fd,
				  strerror(errno));
		schedule_close(loop, connection);
		return;
	}
	connection->registered = 1;
}

static int grow(unsigned char **bytes, size_t *capacity, size_t wanted)
{
	if (wanted <= *capacity)
		return 0;
	size_t size = *capacity > 0 ? *capacity : 4096;
	while (size < wanted)
		size *= 2;
	unsigned char *grown = realloc(*bytes, size);
	if (grown == NULL)
		return -1;
	*bytes = grown;
	*capacity = size;
	return 0;
}

static void queue_output(struct loop *loop, struct loop_connection *connection, const unsigned char *bytes,
			 size_t length)
{
	if (connection->output_start > 0 && connection->output_length > 0) {
		memmove(connection->output, connection->output + connection->output_start, connection->output_length);
	}
	connection->output_start = 0;
	if (grow(&connection->output, &connection->output_capacity, connection->output_length + length) != 0) {
		struct log_subject about = loop_subject(connection);
		log_limited_about(&about, "out of memory queueing %zu bytes of output; closing the connection", length);
		schedule_close(loop, connection);
		return;
	}
	memcpy(connection->output + connection->output_length, bytes, length);
	connection->output_length += length;
}

/* The last of a connection's output is written. One the web server
 * asked to keep (a worker on its way out) is shut for writing at once,
 * not at the end of the turn: the web server, reading the answer, may
 * put the connection back in its pool and take it for a request at once,
 * and a pool that checks its connections first (h2o's) then finds the
 * end of it there already instead of a request lost in it. */
static void end_output(struct loop *loop, struct loop_connection *connection)
{
	if (connection->end_at_once)
		shutdown(connection->fd, SHUT_WR);
	schedule_close(loop, connection);
}

/* Writes what is queued as far as the socket takes it. */
static void flush(struct loop *loop, struct loop_connection *connection)
{
	while (connection->output_length > 0) {
		ssize_t written =
		    write(connection->fd, connection->output + connection->output_start, connection->output_length);
		if (written < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			schedule_close(loop, connection); /* the peer is gone */
			return;
		}
		connection->output_start += (size_t)written;
		connection->output_length -= (size_t)written;
		sending_append(loop, connection, clock_monotonic_ms()); /* progress: its deadline starts again */
	}
	free(connection->output);
	connection->output = NULL;
	connection->output_start = connection->output_capacity = 0;
	list_remove(&loop->sending, &connection->send_link);
	if (connection->close_after_send)
		end_output(loop, connection);
	else if (connection->input_length > 0)
		connection->fresh_input = 1; /* under the cap again: its next request */
}

void loop_send(struct loop_connection *connection, const void *bytes, size_t length)
{
	struct loop *loop = connection->loop;
	size_t written = 0;

	if (connection->closing || length == 0)
		return;
	if (connection->output_length == 0) {
		ssize_t got = write(connection->fd, bytes, length);
		if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			schedule_close(loop, connection);
			return;
		}
		written = got > 0 ? (size_t)got : 0;
		if (written == length)
			return;
		sending_append(loop, connection, clock_monotonic_ms());
	}
	queue_output(loop, connection, (const unsigned char *)bytes + written, length - written);
}

/* Keeps bytes not used yet in the connection's own memory: the window is
 * the loop's, and the next connection's. */
static void keep_input(struct loop *loop, struct loop_connection *connection, const unsigned char *bytes, size_t length)
{
	if (grow(&connection->input, &connection->input_capacity, length) != 0) {
		struct log_subject about = loop_subject(connection);
		log_limited_about(&about, "out of memory keeping %zu bytes a connection sent; closing it", length);
		schedule_close(loop, connection);
		return;
	}
	memcpy(connection->input, bytes, length);
	connection->input_length = length;
}

/* Shows the protocol the connection's input, bytes[0, length): its own
 * memory, or the window it was just read into. */
static void deliver(struct loop *loop, struct loop_connection *connection, unsigned char *bytes, size_t length)
{
	size_t done = loop->protocol.input(loop->protocol.context, connection, bytes, &length);

	if (connection->closing)
		return;
	if (done > length)
		done = length;
	length -= done;
	/* What follows a request the protocol used may hold the next one. */
	connection->fresh_input = done > 0 && length > 0;
	if (bytes == loop->window) {
		if (length > 0)
			keep_input(loop, connection, bytes + done, length);
		return;
	}
	memmove(connection->input, connection->input + done, length);
	connection->input_length = length;
	if (length == 0) {
		free(connection->input);
		connection->input = NULL;
		connection->input_capacity = 0;
	}
}

/* One read: into the loop's window when the connection keeps nothing,
 * else after what it keeps. 0, or -1 when the connection ended. */
static int read_some(struct loop *loop, struct loop_connection *connection)
{
	unsigned char *into = loop->window;
	size_t room = INPUT_WINDOW;

	if (connection->input != NULL) {
		struct log_subject about = loop_subject(connection);
		if (connection->input_length >= loop->settings.max_input_bytes) {
			log_limited_about(&about, "a connection sent %zu bytes that make no whole record; closing it",
					  connection->input_length);
			return -1;
		}
		size_t wanted = connection->input_length + INPUT_WINDOW;
		if (wanted > loop->settings.max_input_bytes)
			wanted = loop->settings.max_input_bytes;
		if (grow(&connection->input, &connection->input_capacity, wanted) != 0) {
			log_limited_about(&about, "out of memory reading a connection; closing it");
			return -1;
		}
		into = connection->input + connection->input_length;
		room = connection->input_capacity - connection->input_length;
	}
	ssize_t got = read(connection->fd, into, room);
	if (got < 0 && errno == EINTR)
		return 0; /* read again */
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		connection->drained = 1;
		return 0;
	}
	if (got <= 0)
		return -1; /* the peer closed, or reset */
	connection->drained = (size_t)got < room;
	if (into == loop->window) {
		deliver(loop, connection, loop->window, (size_t)got);
		return 0;
	}
	connection->input_length += (size_t)got;
	connection->fresh_input = 1;
	return 0;
}

static int takes_input(const struct loop_connection *connection)
{
	return !connection->closing && !connection->close_after_send && connection->phase != LOOP_BUSY &&
	       connection->output_length <= OUTPUT_CAP;
}

/* Shows the protocol what the connection has kept, then reads it until
 * the socket has no more, while the connection takes input. */
static void use_input(struct loop *loop, struct loop_connection *connection)
{
	while (takes_input(connection)) {
		if (connection->fresh_input) {
			connection->fresh_input = 0;
			deliver(loop, connection, connection->input, connection->input_length);
			continue;
		}
		if (connection->drained)
			return;
		if (read_some(loop, connection) != 0) {
			schedule_close(loop, connection);
			return;
		}
	}
}

void *loop_state(struct loop_connection *connection)
{
	return connection->state;
}

void loop_set_phase(struct loop_connection *connection, enum loop_phase phase)
{
	if (!connection->closing)
		set_phase(connection->loop, connection, phase);
}

void loop_close_after_send(struct loop_connection *connection)
{
	connection->close_after_send = 1;
	if (connection->output_length == 0)
		end_output(connection->loop, connection);
}

void loop_close_now(struct loop_connection *connection)
{
	/* A reset: what the peer sends after its error is refused at once,
	 * not taken by a socket that only said it would send no more. */
	connection->reset = 1;
	schedule_close(connection->loop, connection);
}

/* How long a connection may wait with no request started. While
 * stopping, a new one gets the request timeout to send its request (the
 * web server sent it to this worker). */
static long long idle_timeout_ms(const struct loop *loop)
{
	const struct loop_settings *settings = &loop->settings;

	if (loop->stopping && settings->request_timeout_ms < settings->keepalive_timeout_ms)
		return settings->request_timeout_ms;
	return settings->keepalive_timeout_ms;
}

/* A worker replaced while the web server goes on keeps its kept
 * connections as any worker does, closing one only when it idles past the
 * idle time or the web server closes it: a connection closed right after
 * its answer can be taken from the web server's pool for the next request
 * before the close reaches it (h2o, which does not retry, lost requests
 * so). Past the idle time since it began to stop, each closes after its
 * next answer, so that a web server that keeps using them cannot keep the
 * worker for ever. */
static int still_lingering(const struct loop *loop, long long now)
{
	return loop->lingering && now - loop->stopping_since_ms < idle_timeout_ms(loop);
}

void loop_request_done(struct loop_connection *connection, int keep)
{
	struct loop *loop = connection->loop;

	if (connection->closing) {
		/* Closed while its answer was made: freed with this turn's closes. */
		if (connection->phase == LOOP_BUSY) {
			list_remove(&loop->busy, &connection->phase_link);
			connection->phase = LOOP_IDLE;
			publish_gauges(loop);
			if (connection->fd < 0) {
				connection->close_next = loop->closes;
				loop->closes = connection;
			}
		}
		return;
	}
	/* A worker on its way out keeps a kept connection while it lingers,
	 * else it closes it right after its answer: the web server has just
	 * read that answer, and sends its next request on another
	 * connection. */
	connection->answered = keep && (!loop->stopping || still_lingering(loop, clock_monotonic_ms()));
	set_phase(loop, connection, LOOP_IDLE);
	connection->end_at_once = keep && !connection->answered;
	if (!connection->answered)
		loop_close_after_send(connection);
	else if (connection->input_length > 0)
		connection->fresh_input = 1;
	/* Its next request, or the rest of its output, is seen to from the
	 * top of the loop, never inside the call (a database's answer) that
	 * ended this one. */
	post(loop, connection);
}

static void run_jobs(struct loop *loop)
{
	struct list_link *link;

	while ((link = list_take_first(&loop->jobs)) != NULL) {
		struct loop_connection *connection = list_entry(link, struct loop_connection, job_link);
		use_input(loop, connection);
		settle(loop, connection);
	}
}

static struct loop_connection *new_connection(struct loop *loop, int fd)
{
	struct loop_connection *connection = loop->free_connections;

	if (connection != NULL)
		loop->free_connections = connection->close_next;
	else
		connection = malloc(sizeof *connection + loop->protocol.state_size);
	if (connection == NULL)
		return NULL;
	memset(connection, 0, sizeof *connection + loop->protocol.state_size);
	connection->loop = loop;
	connection->fd = fd;
	connection->phase = LOOP_IDLE;
	return connection;
}

/* At the cap, the connection that has waited longest without a request
 * makes room, once a new one is really there: none is closed for a
 * connection that never came, and a new one is never refused while
 * another idles (a crowd of silent peers costs each its own place). */
static struct loop_connection *room_maker(const struct loop *loop)
{
	for (struct list_link *link = loop->idle.head; link != NULL; link = link->next) {
		struct loop_connection *connection = phase_entry(link);
		if (!connection->closing && !connection->close_after_send)
			return connection;
	}
	return NULL;
}

static void accept_connections(struct loop *loop)
{
	for (int accepted = 0; accepted < ACCEPTS_PER_WAKE && loop->listening; accepted++) {
		if (loop->open_connections >= loop->settings.max_connections && room_maker(loop) == NULL) {
			/* Every slot is taken and none can be freed: the rest
			 * wait in the backlog until one is. */
			stop_listening(loop);
			loop->at_cap = 1;
			return;
		}
		struct sockaddr_storage peer;
		int fd = listener_accept(loop->settings.listen_fd, loop->settings.allowed_peers, &peer);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_limited("accept on fd %d: %s; pausing %d ms", loop->settings.listen_fd, strerror(errno),
				    ACCEPT_PAUSE_MS);
			stop_listening(loop);
			loop->accept_paused_until = clock_monotonic_ms() + ACCEPT_PAUSE_MS;
			return;
		}
		struct loop_connection *connection = new_connection(loop, fd);
		if (connection == NULL) {
			char shown[128];
			listener_describe_peer(loop->settings.listen_fd, &peer, shown, sizeof shown);
			log_limited("out of memory for a connection; closing it; peer %s", shown);
			close(fd);
			continue;
		}
		connection->peer = peer;
		loop->open_connections++;
		/* One writer: a relaxed load and store, no locked add (status.h). */
		atomic_store_explicit(loop->settings.gauges.accepted,
				      atomic_load_explicit(loop->settings.gauges.accepted, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		list_append(&loop->idle, &connection->phase_link);
		connection->since_ms = clock_monotonic_ms();
		publish_gauges(loop);
		if (loop->open_connections > loop->settings.max_connections)
			schedule_close(loop, room_maker(loop));
		/* lighttpd writes its request right after connecting: it is
		 * usually waiting already, and costs no epoll round. */
		use_input(loop, connection);
		settle(loop, connection);
	}
}

static void close_expired(struct loop *loop, long long now)
{
	long long request_timeout = loop->settings.request_timeout_ms;
	struct loop_connection *oldest;

	while ((oldest = phase_entry(loop->receiving.head)) != NULL && now - oldest->since_ms >= request_timeout) {
		struct log_subject about = loop_subject(oldest);
		log_limited_about(
		    &about, "closed a connection whose request did not arrive whole within --request-timeout %lld s",
		    request_timeout / 1000);
		schedule_close(loop, oldest);
	}
	while ((oldest = send_entry(loop->sending.head)) != NULL && now - oldest->send_since_ms >= request_timeout) {
		struct log_subject about = loop_subject(oldest);
		log_limited_about(&about,
				  "reset a connection that took none of its answer for --request-timeout %lld s",
				  request_timeout / 1000);
		oldest->reset = 1;
		schedule_close(loop, oldest);
	}
	while ((oldest = phase_entry(loop->idle.head)) != NULL && now - oldest->since_ms >= idle_timeout_ms(loop))
		schedule_close(loop, oldest);
}

/* The earlier of wake and the deadline of the list's oldest: since_ms
 * plus timeout for a phase's list, send_since_ms for the stalled output. */
static long long earlier(long long wake, long long since_ms, long long timeout_ms)
{
	return since_ms + timeout_ms < wake ? since_ms + timeout_ms : wake;
}

static int next_wake_ms(const struct loop *loop, long long now)
{
	long long wake = now + HEARTBEAT_MS;
	const struct loop_connection *oldest;

	if ((oldest = phase_entry(loop->receiving.head)) != NULL)
		wake = earlier(wake, oldest->since_ms, loop->settings.request_timeout_ms);
	if ((oldest = send_entry(loop->sending.head)) != NULL)
		wake = earlier(wake, oldest->send_since_ms, loop->settings.request_timeout_ms);
	if ((oldest = phase_entry(loop->idle.head)) != NULL)
		wake = earlier(wake, oldest->since_ms, idle_timeout_ms(loop));
	if (loop->accept_paused_until != 0 && loop->accept_paused_until < wake)
		wake = loop->accept_paused_until;
	if (loop->at_cap && now + ACCEPT_PAUSE_MS < wake)
		wake = now + ACCEPT_PAUSE_MS;
	return wake > now ? (int)(wake - now) : 0;
}

/* Stops taking connections. A worker that the responder stops closes its
 * kept connections waiting for a request at once; one replaced while the
 * web server goes on keeps them, since the web server may be sending on
 * them this very moment (still_lingering).
 * New connections and those receiving a request are answered first. */
static void begin_stopping(struct loop *loop)
{
	stop_listening(loop);
	loop->stopping = 1;
	loop->stopping_since_ms = clock_monotonic_ms();
	loop->lingering =
	    loop->settings.linger != NULL && atomic_load_explicit(loop->settings.linger, memory_order_acquire);
	if (loop->lingering)
		return;
	for (struct list_link *link = loop->idle.head, *next; link != NULL; link = next) {
		next = link->next;
		if (phase_entry(link)->answered)
			schedule_close(loop, phase_entry(link));
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
	struct epoll_event event = {.events = wants->events, .data.ptr = &loop->source_tag};
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

static void connection_ready(struct loop *loop, struct loop_connection *connection, unsigned events)
{
	if (connection->closing)
		return;
	if ((events & EPOLLOUT) && connection->output_length > 0)
		flush(loop, connection);
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		connection->drained = 0;
	use_input(loop, connection);
}

/* The end of every turn: work the database's answers made, then the
 * closes of the turn. */
static void finish_turn(struct loop *loop)
{
	run_jobs(loop);
	run_closes(loop);
}

static int is_done(const struct loop *loop)
{
	if (getppid() != loop->settings.supervisor)
		return 1;
	return loop->open_connections == 0 && list_is_empty(&loop->busy);
}

int loop_run(struct loop *loop)
{
	struct epoll_event events[EVENTS_PER_WAIT];

	start_listening(loop);
	for (;;) {
		long long now = clock_monotonic_ms();
		atomic_store_explicit(loop->settings.heartbeat_ms, now, memory_order_relaxed);
		if (*loop->settings.stop && !loop->stopping)
			begin_stopping(loop);
		if (loop->accept_paused_until != 0 && now >= loop->accept_paused_until) {
			loop->accept_paused_until = 0;
			start_listening(loop);
		}
		if (loop->at_cap &&
		    (loop->open_connections < loop->settings.max_connections || room_maker(loop) != NULL))
			start_listening(loop);
		close_expired(loop, now);
		finish_turn(loop);
		if (loop->stopping && is_done(loop))
			return 0;
		long long source_deadline = source_wants(loop);
		if (source_deadline != 0 && source_deadline <= now) {
			loop->source.ready(loop->source.context, 0);
			finish_turn(loop);
			continue;
		}

		int wait_ms = next_wake_ms(loop, now);
		if (source_deadline != 0 && source_deadline - now < wait_ms)
			wait_ms = (int)(source_deadline - now);
		int ready = epoll_wait(loop->epoll_fd, events, EVENTS_PER_WAIT, wait_ms);
		if (ready < 0 && errno != EINTR) {
			log_line("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < ready; i++) {
			void *tag = events[i].data.ptr;
			if (tag == &loop->listener_tag)
				accept_connections(loop);
			else if (tag == &loop->source_tag)
				loop->source.ready(loop->source.context, events[i].events);
			else {
				connection_ready(loop, tag, events[i].events);
				settle(loop, tag);
			}
		}
		finish_turn(loop);
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

struct loop *loop_create(const struct loop_settings *settings, const struct loop_protocol *protocol, char *error,
			 size_t error_size)
{
	struct loop *loop = calloc(1, sizeof *loop);

	if (loop == NULL) {
		snprintf(error, error_size, "out of memory for the event loop");
		return NULL;
	}
	loop->settings = *settings;
	loop->protocol = *protocol;
	loop->source_fd = -1;
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
	return loop;
fail:
	loop_destroy(loop);
	return NULL;
}

static void close_list(struct loop *loop, struct list *list)
{
	for (struct list_link *link = list->head, *next; link != NULL; link = next) {
		next = link->next;
		schedule_close(loop, phase_entry(link));
	}
}

void loop_destroy(struct loop *loop)
{
	if (loop == NULL)
		return;
	close_list(loop, &loop->idle);
	close_list(loop, &loop->receiving);
	close_list(loop, &loop->busy);
	loop->jobs = (struct list){NULL, NULL};
	run_closes(loop);
	/* A busy connection left is its protocol's to end; by now the store
	 * has answered every request it held. */
	struct list_link *link;
	while ((link = list_take_first(&loop->busy)) != NULL)
		free_connection(loop, phase_entry(link));
	while (loop->free_connections != NULL) {
		struct loop_connection *connection = loop->free_connections;
		loop->free_connections = connection->close_next;
		free(connection);
	}
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	free(loop);
}
