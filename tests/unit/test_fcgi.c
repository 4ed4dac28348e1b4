/* test_fcgi.c: libfcgi calls this program's OS_Read and OS_Write, which refuse any descriptor but a request's. */
#include <errno.h>
#include <unistd.h>

#include <fcgios.h>

#include "fcgi.h"
#include "tap.h"

int main(void)
{
	char error[512] = "";
	char buffer[16];
	int pipe_fds[2];

	OK(fcgi_init(error, sizeof error) == 0, "libfcgi decodes and formats through the replacements (%s)",
	   error[0] ? error : "no error");

	/* A descriptor with bytes waiting: libfcgi's own OS_Read would read them. */
	OK(pipe(pipe_fds) == 0 && write(pipe_fds[1], "secret", 6) == 6, "a pipe with 6 bytes in it");
	errno = 0;
	OK(OS_Read(pipe_fds[0], buffer, sizeof buffer) == -1 && errno == EIO,
	   "OS_Read of a real descriptor outside a hand-over is refused");
	OK(read(pipe_fds[0], buffer, sizeof buffer) == 6, "... and the bytes are still there");
	errno = 0;
	OK(OS_Write(pipe_fds[1], "x", 1) == -1 && errno == EIO, "OS_Write outside an answer is refused");
	OK(OS_IpcClose(pipe_fds[1], 1) == 0 && write(pipe_fds[1], "y", 1) == 1,
	   "OS_IpcClose leaves the descriptor open: the loop closes connections");
	DONE_TESTING();
}
