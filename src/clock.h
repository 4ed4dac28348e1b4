/* clock.h: the monotonic milliseconds in which every deadline of the responder is counted. */
#ifndef WEBAPI_CLOCK_H
#define WEBAPI_CLOCK_H

#include <time.h>

/* CLOCK_MONOTONIC through the vDSO: no system call, so it can be read on
 * every turn of a worker's loop. */
static inline long long monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

#endif
