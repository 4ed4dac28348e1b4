/* proc.h: reading a process's small /proc files (stat, statm, comm, cmdline). */
#ifndef WEBAPI_PROC_H
#define WEBAPI_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Reads /proc/PID/NAME (pid 0: this process, through /proc/self) into
 * buffer, NUL-terminated after what fits in size - 1 bytes. Returns the
 * bytes read, or -1 when the file cannot be read (the process is gone). */
long proc_read(pid_t pid, const char *name, char *buffer, size_t size);

/* A process's resident size in bytes, from /proc/PID/statm; -1 if gone. */
long long proc_resident_bytes(pid_t pid);

#endif
