/* clock.h: the one clock for deadlines, timeouts and log windows, shared by the responder and its plugin. */
#ifndef WEBAPI_CLOCK_H
#define WEBAPI_CLOCK_H

#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC: a wall-clock step must not move a
 * deadline. Inline so the PostgreSQL plugin has it without the executable
 * exporting it, and read through the vDSO, with no system call, so a
 * worker's loop can read it on every turn. */
static inline long long clock_monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The same clock in microseconds, for request durations. */
static inline long long clock_monotonic_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

#endif
