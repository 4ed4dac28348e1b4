/* proc.c: reading a process's small /proc files (stat, statm, comm, cmdline). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

long proc_read(pid_t pid, const char *name, char *buffer, size_t size)
{
	char path[64];
	size_t length = 0;

	if (pid == 0)
		snprintf(path, sizeof path, "/proc/self/%s", name);
	else
		snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* A /proc file hands over what it holds up to the room asked for, so
	 * a read that comes short is its end: --max-worker-rss reads statm
	 * after every request in one open, read and close. */
	while (length < size - 1) {
		size_t room = size - 1 - length;
		ssize_t got = read(fd, buffer + length, room);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			close(fd);
			return -1;
		}
		length += (size_t)got;
		if ((size_t)got < room)
			break;
	}
	close(fd);
	buffer[length] = '\0';
	return (long)length;
}

long long proc_resident_bytes(pid_t pid)
{
	char statm[128];
	long pages_total, pages_resident;

	if (proc_read(pid, "statm", statm, sizeof statm) <= 0 ||
	    sscanf(statm, "%ld %ld", &pages_total, &pages_resident) != 2)
		return -1;
	return (long long)pages_resident * sysconf(_SC_PAGESIZE);
}
