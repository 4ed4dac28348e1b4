/* test_proc.c: /proc files are read whole, and a process that is gone reads as -1. */
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "tap.h"

int main(int argc, char **argv)
{
	char buffer[4096];
	char small[8];

	(void)argc;
	long length = proc_read(0, "cmdline", buffer, sizeof buffer);
	OK(length > 0 && strcmp(buffer, argv[0]) == 0, "cmdline of self: argv[0] first (%ld bytes)", length);
	OK(proc_read(getpid(), "comm", buffer, sizeof buffer) > 0 && strcmp(buffer, "test_proc\n") == 0,
	   "comm by pid: %s", buffer);
	OK(proc_read(0, "status", small, sizeof small) == (long)sizeof small - 1 && strlen(small) == sizeof small - 1,
	   "a file longer than the room is cut, NUL-terminated");
	OK(proc_read(0, "no-such-file", buffer, sizeof buffer) == -1, "a missing file is -1");
	OK(proc_read(0x7ffffff0, "stat", buffer, sizeof buffer) == -1, "a process that is not there is -1");
	long long resident = proc_resident_bytes(0);
	OK(resident > 0 && resident % sysconf(_SC_PAGESIZE) == 0, "resident size of self: %lld bytes", resident);
	OK(proc_resident_bytes(getppid()) > 0, "and of the parent, by pid");
	OK(proc_resident_bytes(0x7ffffff0) == -1, "a process that is gone has none");
	DONE_TESTING();
}
