/* supervisor.c: the parent that preforks workers on one listening socket and keeps them running. */
#include "supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "worker.h"

/* A worker that dies sooner than this after its start counts as failing
 * to start; repeated failures are restarted with a growing delay. */
#define QUICK_DEATH_MS 1000
#define FIRST_BACKOFF_MS 100
#define MAX_BACKOFF_MS 10000
/* How often the loop looks at the workers (watchdog, restarts). */
#define TICK_MS 100
/* A worker's event loop turns at least every 250 ms (loop.c); one that
 * has not turned for this long outside a request has stopped running
 * (SIGSTOP, a debugger, swapped out): it is replaced, so a sole worker
 * leaves the socket unserved for this long plus a tick at most. */
#define STALL_MS 2000
/* Workers replaced by SIGHUP may still be finishing a request when the
 * next SIGHUP comes: room for that many generations. */
#define GENERATIONS 4

/* One worker process, and its activity record shared with it. */
struct worker {
	pid_t pid;    /* 0: record free */
	int retiring; /* replaced (SIGHUP): finishing its request, not restarted */
	long long started_at_ms;
	struct worker_activity *activity;
};

/* One of the --workers positions: which record serves it, and when to
 * start one if none does. */
struct position {
	struct worker *worker; /* NULL: empty */
	long long restart_at_ms;
	int quick_deaths;
};

struct supervisor {
	const struct options *options;
	int listen_fd;
	struct status_board board; /* the shared mapping, as the status page reads it */
	struct worker *workers; /* options->workers * GENERATIONS records */
	int worker_capacity;
	struct position *positions;
	int served; /* a worker got as far as serving: start-up is over */
	int stopping;
	int exit_code;
	long long stop_deadline_ms;
};

static struct worker *free_worker_record(struct supervisor *supervisor)
{
	for (int i = 0; i < supervisor->worker_capacity; i++)
		if (supervisor->workers[i].pid == 0)
			return &supervisor->workers[i];
	return NULL;
}

static struct worker *start_worker(struct supervisor *supervisor)
{
	struct worker *worker = free_worker_record(supervisor);
	pid_t parent = getpid();

	if (worker == NULL) {
		log_line("%d workers are still finishing from earlier reloads; not starting more now",
			 supervisor->worker_capacity);
		return NULL;
	}
	worker->activity->busy_since_ms = 0;
	worker->activity->heartbeat_ms = 0;
	snprintf(worker->activity->request, sizeof worker->activity->request, "(no request yet)");
	worker->activity->ready = 0;
	worker->activity->retiring = 0;
	pid_t pid = fork();
	if (pid < 0) {
		log_line("fork: %s", strerror(errno));
		return NULL;
	}
	if (pid == 0) {
		/* A worker must not outlive a supervisor killed with SIGKILL:
		 * SIGTERM would only set a flag that a worker blocked on a
		 * silent peer does not look at, and it would keep the socket.
		 * Nobody is left to drain for. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		_exit(run_fastcgi_worker(supervisor->listen_fd, supervisor->options, worker->activity,
					 &supervisor->board));
	}
	worker->pid = pid;
	worker->activity->pid = pid;
	worker->retiring = 0;
	worker->started_at_ms = monotonic_ms();
	return worker;
}

static void fill_empty_positions(struct supervisor *supervisor)
{
	long long now = monotonic_ms();

	for (int i = 0; i < supervisor->options->workers; i++) {
		struct position *position = &supervisor->positions[i];
		if (position->worker != NULL || position->restart_at_ms > now)
			continue;
		position->worker = start_worker(supervisor);
		if (position->worker == NULL)
			position->restart_at_ms = now + FIRST_BACKOFF_MS;
	}
}

static void signal_all(struct supervisor *supervisor, int signal_number)
{
	for (int i = 0; i < supervisor->worker_capacity; i++)
		if (supervisor->workers[i].pid > 0)
			kill(supervisor->workers[i].pid, signal_number);
}

static int live_workers(const struct supervisor *supervisor)
{
	int count = 0;

	for (int i = 0; i < supervisor->worker_capacity; i++)
		count += supervisor->workers[i].pid > 0;
	return count;
}

static void begin_stop(struct supervisor *supervisor, int exit_code)
{
	if (supervisor->stopping)
		return;
	supervisor->stopping = 1;
	supervisor->exit_code = exit_code;
	/* In-flight requests get the request timeout to finish. */
	supervisor->stop_deadline_ms = monotonic_ms() + (supervisor->options->request_timeout + 1) * 1000LL;
	signal_all(supervisor, SIGTERM);
}

static void describe_exit(int status, char *out, size_t out_size)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG)
		snprintf(out, out_size, "could not open its store (see above)");
	else if (WIFSIGNALED(status))
		snprintf(out, out_size, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, out_size, "exited with status %d", WEXITSTATUS(status));
}

/* Schedules the position's next worker: at once, or after a growing
 * delay when workers keep dying right after their start. */
static void schedule_restart(struct position *position, const struct worker *dead, int status)
{
	char how[128];
	long long now = monotonic_ms();
	long long lived = now - dead->started_at_ms;

	position->restart_at_ms = now;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		position->quick_deaths = 0; /* recycled after --max-requests */
		return;
	}
	describe_exit(status, how, sizeof how);
	if (dead->activity->busy_since_ms != 0) {
		/* It died on a connection, so it had started: whatever that peer
		 * sent (libfcgi aborts on some malformed records) must not hold
		 * the position empty for a start-failure back-off. */
		char request[sizeof dead->activity->request];
		memcpy(request, dead->activity->request, sizeof request);
		request[sizeof request - 1] = '\0';
		position->quick_deaths = 0;
		log_line("worker %ld %s while serving %s; restarting it", (long)dead->pid, how, request);
		return;
	}
	if (lived >= QUICK_DEATH_MS) {
		position->quick_deaths = 0;
		log_line("worker %ld %s; restarting it", (long)dead->pid, how);
		return;
	}
	position->quick_deaths++;
	long long delay = FIRST_BACKOFF_MS;
	for (int n = 1; n < position->quick_deaths && delay < MAX_BACKOFF_MS; n++)
		delay *= 2;
	if (delay > MAX_BACKOFF_MS)
		delay = MAX_BACKOFF_MS;
	position->restart_at_ms = now + delay;
	log_line("worker %ld %s %lld ms after its start (%d in a row); restarting in %lld ms", (long)dead->pid, how,
		 lived, position->quick_deaths, delay);
}

/* Whether any worker has got as far as serving. Before that, a store
 * that cannot be opened is a configuration error for the user to fix;
 * after it, a passing outage that must not stop the responder: GET /
 * keeps being answered while replacements are retried with back-off. */
static void notice_serving_workers(struct supervisor *supervisor)
{
	for (int i = 0; i < supervisor->worker_capacity && !supervisor->served; i++)
		if (supervisor->workers[i].pid > 0 && supervisor->workers[i].activity->ready)
			supervisor->served = 1;
}

static void worker_exited(struct supervisor *supervisor, pid_t pid, int status)
{
	struct worker *worker = NULL;

	for (int i = 0; i < supervisor->worker_capacity && worker == NULL; i++)
		if (supervisor->workers[i].pid == pid)
			worker = &supervisor->workers[i];
	if (worker == NULL)
		return;
	notice_serving_workers(supervisor); /* before the record is freed: it may be the one that served */
	struct worker dead = *worker;
	worker->pid = 0;
	worker->activity->pid = 0;
	if (dead.retiring || supervisor->stopping)
		return;
	for (int i = 0; i < supervisor->options->workers; i++) {
		struct position *position = &supervisor->positions[i];
		if (position->worker != worker)
			continue;
		position->worker = NULL;
		if (WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG && !supervisor->served) {
			log_line("worker %ld cannot open its store (see above); stopping", (long)pid);
			begin_stop(supervisor, 1);
			return;
		}
		schedule_restart(position, &dead, status);
		return;
	}
}

static void reap_workers(struct supervisor *supervisor)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		worker_exited(supervisor, pid, status);
}

static void replace_worker(struct worker *worker, const char *why)
{
	char request[sizeof worker->activity->request];

	memcpy(request, worker->activity->request, sizeof request);
	request[sizeof request - 1] = '\0';
	log_line("worker %ld %s, replacing it: %s", (long)worker->pid, why, request);
	kill(worker->pid, SIGKILL);
	/* Once is enough; the exit is reaped like any other. */
	worker->activity->busy_since_ms = 0;
	worker->activity->heartbeat_ms = 0;
}

/* The watchdog: a worker answering one request for longer than
 * --request-timeout is stuck in code; one whose loop stopped turning
 * between requests stopped running. Either is killed and replaced. A
 * silent peer is not the watchdog's business: its connection's deadline
 * closes it in the worker's loop. */
static void replace_stuck_workers(struct supervisor *supervisor)
{
	long long limit_ms = supervisor->options->request_timeout * 1000LL;
	long long now = monotonic_ms();
	char why[96];

	for (int i = 0; i < supervisor->worker_capacity; i++) {
		struct worker *worker = &supervisor->workers[i];
		long long busy_since = worker->activity->busy_since_ms;
		long long heartbeat = worker->activity->heartbeat_ms;
		if (worker->pid <= 0)
			continue;
		if (busy_since != 0 && now - busy_since > limit_ms) {
			snprintf(why, sizeof why, "exceeded --request-timeout %d s in one request",
				 supervisor->options->request_timeout);
			replace_worker(worker, why);
		} else if (busy_since == 0 && heartbeat != 0 && now - heartbeat > STALL_MS) {
			snprintf(why, sizeof why, "has not run for %lld ms (stopped?)", now - heartbeat);
			replace_worker(worker, why);
		}
	}
}

/* SIGHUP: a new worker takes each position at once and the old one
 * finishes its request, so no request is dropped; the new processes
 * reopen the store (a replaced database file, a moved PostgreSQL). */
static void replace_all_workers(struct supervisor *supervisor)
{
	log_line("SIGHUP: replacing %d workers", supervisor->options->workers);
	for (int i = 0; i < supervisor->options->workers; i++) {
		struct position *position = &supervisor->positions[i];
		struct worker *old = position->worker;
		if (old == NULL)
			continue;
		struct worker *replacement = start_worker(supervisor);
		if (replacement == NULL)
			return;
		old->retiring = 1;
		old->activity->retiring = 1;
		kill(old->pid, SIGTERM);
		position->worker = replacement;
		position->quick_deaths = 0;
	}
}

/* The "most at once" figures of the status page: sampled every tick, as
 * well as by each status request. */
static void sample_figures(struct supervisor *supervisor)
{
	struct status_shared *figures = supervisor->board.shared;
	int active = status_active_workers(&supervisor->board);
	int length, limit;

	if (active > figures->most_active)
		figures->most_active = active;
	if (status_listen_queue(supervisor->listen_fd, &length, &limit) == 0 && length > figures->listen_queue_max)
		figures->listen_queue_max = length;
}

static void handled_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Signals are taken synchronously with sigtimedwait: no handler races with
 * the bookkeeping. Workers set their own mask. */
void supervisor_block_signals(void)
{
	sigset_t handled;

	handled_signals(&handled);
	sigprocmask(SIG_BLOCK, &handled, NULL);
}

static int allocate(struct supervisor *supervisor)
{
	int workers = supervisor->options->workers;
	size_t shared_size = sizeof(struct status_shared) + (size_t)workers * GENERATIONS * sizeof(struct worker_activity);

	supervisor->worker_capacity = workers * GENERATIONS;
	supervisor->workers = calloc((size_t)supervisor->worker_capacity, sizeof *supervisor->workers);
	supervisor->positions = calloc((size_t)workers, sizeof *supervisor->positions);
	/* Anonymous shared memory survives fork: the workers write their
	 * activity, the supervisor reads it. */
	void *shared = mmap(NULL, shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (supervisor->workers == NULL || supervisor->positions == NULL || shared == MAP_FAILED) {
		log_line("cannot allocate the worker table: %s", strerror(errno));
		return -1;
	}
	/* The responder's own figures first, then one record per worker
	 * slot; a worker reads them all for the status page. */
	struct status_shared *figures = shared;
	struct worker_activity *activity = (struct worker_activity *)(figures + 1);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	figures->started_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	figures->started_monotonic_ms = monotonic_ms();
	figures->supervisor = getpid();
	supervisor->board = (struct status_board){.shared = figures,
						  .workers = activity,
						  .capacity = supervisor->worker_capacity,
						  .listen_fd = supervisor->listen_fd,
						  .version = supervisor->options->version};
	for (int i = 0; i < supervisor->worker_capacity; i++)
		supervisor->workers[i].activity = &activity[i];
	return 0;
}

int supervise(int listen_fd, const struct options *options)
{
	struct supervisor supervisor = {.options = options, .listen_fd = listen_fd};
	sigset_t handled;

	if (allocate(&supervisor) != 0) {
		free(supervisor.workers);
		free(supervisor.positions);
		return 1;
	}
	supervisor_block_signals();
	handled_signals(&handled);
	signal(SIGPIPE, SIG_IGN);

	log_line("serving on fd %d with %d workers", listen_fd, options->workers);
	for (;;) {
		if (!supervisor.stopping)
			fill_empty_positions(&supervisor);
		else if (live_workers(&supervisor) == 0)
			break;
		else if (monotonic_ms() >= supervisor.stop_deadline_ms)
			signal_all(&supervisor, SIGKILL);
		replace_stuck_workers(&supervisor);
		sample_figures(&supervisor);

		struct timespec tick = {0, TICK_MS * 1000L * 1000};
		siginfo_t info;
		int received = sigtimedwait(&handled, &info, &tick);
		if (received == SIGTERM || received == SIGINT) {
			if (!supervisor.stopping)
				log_line("%s: finishing in-flight requests and stopping", strsignal(received));
			begin_stop(&supervisor, 0);
		} else if (received == SIGHUP && !supervisor.stopping) {
			replace_all_workers(&supervisor);
		}
		reap_workers(&supervisor);
	}
	free(supervisor.workers);
	free(supervisor.positions);
	return supervisor.exit_code;
}
