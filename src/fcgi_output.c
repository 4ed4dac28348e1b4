/* fcgi_output.c: libfcgi's records of one answer leave in one write(2); libfcgi flushes every 8 KB. */
#include "fcgi_output.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fcgios.h>

/* One hold per process: a worker writes one answer at a time. */
static int held_fd = -1;
static size_t held_length;
static char held[FCGI_OUTPUT_HOLD_MAX];

/* The whole of both pieces, through short writes and signals: libfcgi
 * takes anything short of the whole as a failed connection. */
static int write_fully(int fd, const char *first, size_t first_length, const char *second, size_t second_length)
{
	struct iovec pieces[2] = {{(void *)first, first_length}, {(void *)second, second_length}};
	struct iovec *next = pieces;
	int count = 2;

	while (count > 0) {
		ssize_t written = writev(fd, next, count);
		if (written < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (count > 0 && (size_t)written >= next->iov_len) {
			written -= (ssize_t)next->iov_len;
			next++;
			count--;
		}
		if (count > 0) {
			next->iov_base = (char *)next->iov_base + written;
			next->iov_len -= (size_t)written;
		}
	}
	return 0;
}

void fcgi_output_hold(int fd)
{
	if (held_fd != fd)
		fcgi_output_release();
	held_fd = fd;
}

int fcgi_output_release(void)
{
	int fd = held_fd;
	size_t length = held_length;

	held_fd = -1;
	held_length = 0;
	if (fd < 0 || length == 0)
		return 0;
	return write_fully(fd, held, length, NULL, 0);
}

void fcgi_output_forget(int fd)
{
	if (held_fd != fd)
		return;
	held_fd = -1;
	held_length = 0;
}

/* Replaces libfcgi's OS_Write (os_unix.c), which is write(2) unless
 * OS_ShutdownPending was called, and this program never calls it. */
int OS_Write(int fd, char *buf, size_t len)
{
	if (fd != held_fd)
		return (int)write(fd, buf, len);
	if (len <= sizeof held - held_length) {
		memcpy(held + held_length, buf, len);
		held_length += len;
		return (int)len;
	}
	/* Past the room: what is held and this piece leave now, together. */
	size_t length = held_length;
	held_length = 0;
	if (write_fully(fd, held, length, buf, len) != 0) {
		held_fd = -1; /* libfcgi gives up on the stream; nothing more to gather */
		return -1;
	}
	return (int)len;
}
