/* activity.h: what each worker publishes in the memory it shares with the supervisor and the other workers. */
#ifndef WEBAPI_ACTIVITY_H
#define WEBAPI_ACTIVITY_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "status.h"

/* The room for a request's "METHOD URI" label, NUL included: stored as
 * whole 64-bit words, so a reader in another process copies it with no
 * data race, and a short label costs the worker a word or two. */
#define ACTIVITY_REQUEST_SIZE 240
#define ACTIVITY_REQUEST_WORDS (ACTIVITY_REQUEST_SIZE / 8)
_Static_assert(ACTIVITY_REQUEST_SIZE % 8 == 0, "the label is whole words");

/* What a worker is doing, so the supervisor's watchdog can replace a
 * worker stuck in a request or one that stopped running, without the
 * worker paying a timer system call per request. Times are clock_monotonic_ms()
 * (clock.h). Who writes each field is said beside it; every access is an
 * atomic one with the ordering named here (status.h says why relaxed
 * stores suffice for one writer). */
struct worker_activity {
	/* The worker's loop (release: the label of a request it answered
	 * before is visible to whoever sees this); answering a request since,
	 * 0 between requests. The supervisor resets it after a SIGKILL. */
	_Atomic long long busy_since_ms;
	_Atomic long long heartbeat_ms;			  /* the loop's last turn (relaxed); 0 before the first */
	_Atomic uint64_t request[ACTIVITY_REQUEST_WORDS]; /* "METHOD URI" of the current request, for the log */
	_Atomic int ready; /* the worker, release: set once the store is open and privileges dropped */
	_Atomic pid_t pid; /* the supervisor; 0: the slot is free */
	/* The supervisor, release, before the signal that tells the worker:
	 * told to finish and exit (SIGHUP, an upgrade), and with it whether
	 * the web server goes on, so kept connections stay open (loop.h). */
	_Atomic int retiring;
	_Atomic int linger;
	struct status_counters counters; /* the status page's figures, this slot's */
};

/* Stores label (a string, cut at ACTIVITY_REQUEST_SIZE - 1 bytes) as the
 * worker's current request: only the words up to its NUL, with relaxed
 * stores (plain moves on x86-64). */
static inline void activity_set_request(struct worker_activity *activity, const char *label)
{
	size_t length = strnlen(label, ACTIVITY_REQUEST_SIZE - 1);

	for (size_t at = 0; at <= length; at += 8) {
		uint64_t word = 0;
		memcpy(&word, label + at, length - at < 8 ? length - at : 8); /* the NUL: the word's zeros */
		atomic_store_explicit(&activity->request[at / 8], word, memory_order_relaxed);
	}
}

/* Copies the current request's label into out (ACTIVITY_REQUEST_SIZE
 * bytes, NUL-terminated). Read while the worker moves on to its next
 * request, the copy may hold pieces of both: status_request_label makes
 * well-formed text of it whatever it holds. */
static inline void activity_get_request(const struct worker_activity *activity, char *out)
{
	for (size_t i = 0; i < ACTIVITY_REQUEST_WORDS; i++) {
		uint64_t word = atomic_load_explicit(&activity->request[i], memory_order_relaxed);
		memcpy(out + 8 * i, &word, 8);
	}
	out[ACTIVITY_REQUEST_SIZE - 1] = '\0';
}

#endif
