/* supervisor.c: the parent that preforks workers on one listening socket and keeps them running. */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "log.h"
#include "proc.h"
#include "worker.h"

/* A worker that dies sooner than this after its start counts as failing
 * to start; repeated failures are restarted with a growing delay. */
#define QUICK_DEATH_MS 1000
#define RESTART_FIRST_BACKOFF_MS 100
#define RESTART_MAX_BACKOFF_MS 10000
/* How often the loop looks at the workers (watchdog, restarts). */
#define TICK_MS 100
/* A worker's event loop turns at least every 250 ms (loop.c); one that
 * has not turned for this long outside a request, and that the kernel
 * shows stopped (SIGSTOP, a debugger), is replaced: a sole worker leaves
 * the socket unserved for this long plus a tick at most. One that is only
 * slow to be scheduled on a busy machine is left alone until
 * --request-timeout. */
#define STALL_MS 2000
/* Workers replaced by SIGHUP may still be finishing a request, or keeping
 * a front's idle kept connections open (up to --request-timeout), when the
 * next SIGHUP comes: room for that many generations. */
#define GENERATIONS 8
/* How often systemd's STATUS= line is refreshed. */
#define STATUS_EVERY_MS 5000
/* The environment variable through which an upgraded copy tells the old
 * supervisor that its workers accept (a pipe's write end). */
#define UPGRADE_FD_VARIABLE "WEBAPI_UPGRADE_FD"

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
	struct worker *workers;	   /* options->workers * GENERATIONS records */
	int worker_capacity;
	struct position *positions;
	int served; /* a worker got as far as serving: start-up is over */
	int stopping;
	int exit_code;
	long long stop_deadline_ms;
	/* systemd's notification protocol (sd_notify; no-ops without NOTIFY_SOCKET). */
	int announced_ready; /* READY=1 sent (again after a SIGHUP's RELOADING=1) */
	long long status_due_ms;
	long long watchdog_every_ms; /* 0: WatchdogSec= not set */
	long long watchdog_due_ms;
	/* SIGUSR2: the new copy, and the pipe it writes to once its workers
	 * accept; or, in that copy, where to say so. */
	char executable[PATH_MAX];
	pid_t successor;
	int successor_fd;
	int predecessor_fd;
	int handed_over; /* the successor serves the socket now */
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
	/* Relaxed: fork, which the worker starts with, publishes them to it;
	 * the status page reads only a record whose pid is set. */
	atomic_store_explicit(&worker->activity->busy_since_ms, 0, memory_order_relaxed);
	atomic_store_explicit(&worker->activity->heartbeat_ms, 0, memory_order_relaxed);
	activity_set_request(worker->activity, "(no request yet)");
	atomic_store_explicit(&worker->activity->ready, 0, memory_order_relaxed);
	atomic_store_explicit(&worker->activity->retiring, 0, memory_order_relaxed);
	atomic_store_explicit(&worker->activity->linger, 0, memory_order_relaxed);
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
		_exit(worker_run_fastcgi(supervisor->listen_fd, supervisor->options, worker->activity,
					 &supervisor->board));
	}
	worker->pid = pid;
	atomic_store_explicit(&worker->activity->pid, pid, memory_order_relaxed);
	worker->retiring = 0;
	worker->started_at_ms = clock_monotonic_ms();
	return worker;
}

static void fill_empty_positions(struct supervisor *supervisor)
{
	long long now = clock_monotonic_ms();

	for (int i = 0; i < supervisor->options->workers; i++) {
		struct position *position = &supervisor->positions[i];
		if (position->worker != NULL || position->restart_at_ms > now)
			continue;
		position->worker = start_worker(supervisor);
		if (position->worker == NULL)
			position->restart_at_ms = now + RESTART_FIRST_BACKOFF_MS;
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
	supervisor->stop_deadline_ms = clock_monotonic_ms() + (supervisor->options->request_timeout + 1) * 1000LL;
	for (int i = 0; i < supervisor->worker_capacity; i++) {
		struct worker_activity *activity = supervisor->workers[i].activity;
		atomic_store_explicit(&activity->retiring, supervisor->workers[i].pid > 0, memory_order_release);
		/* Handed over, the web server goes on sending on the kept
		 * connections: they stay open (loop.h). */
		atomic_store_explicit(&activity->linger, supervisor->handed_over, memory_order_release);
	}
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
	long long now = clock_monotonic_ms();
	long long lived = now - dead->started_at_ms;

	position->restart_at_ms = now;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		position->quick_deaths = 0; /* recycled after --max-requests */
		return;
	}
	describe_exit(status, how, sizeof how);
	/* Reaped, the worker has stored all it will: its label is there. */
	if (atomic_load_explicit(&dead->activity->busy_since_ms, memory_order_acquire) != 0) {
		/* It died on a connection, so it had started: whatever that peer
		 * sent (libfcgi aborts on some malformed records) must not hold
		 * the position empty for a start-failure back-off. */
		char request[STATUS_LABEL_SIZE];
		status_request_label(dead->activity, request, sizeof request);
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
	long long delay = RESTART_FIRST_BACKOFF_MS;
	for (int n = 1; n < position->quick_deaths && delay < RESTART_MAX_BACKOFF_MS; n++)
		delay *= 2;
	if (delay > RESTART_MAX_BACKOFF_MS)
		delay = RESTART_MAX_BACKOFF_MS;
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
		if (supervisor->workers[i].pid > 0 &&
		    atomic_load_explicit(&supervisor->workers[i].activity->ready, memory_order_acquire))
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
	atomic_store_explicit(&worker->activity->pid, 0, memory_order_relaxed);
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

static void successor_exited(struct supervisor *supervisor, int status)
{
	char how[128];

	describe_exit(status, how, sizeof how);
	supervisor->successor = 0;
	if (supervisor->handed_over)
		return;
	log_line("SIGUSR2: the new copy %s before its workers accepted; this one keeps serving", how);
	if (supervisor->successor_fd >= 0)
		close(supervisor->successor_fd);
	supervisor->successor_fd = -1;
}

static void reap_workers(struct supervisor *supervisor)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == supervisor->successor)
			successor_exited(supervisor, status);
		else
			worker_exited(supervisor, pid, status);
	}
}

static void replace_worker(struct worker *worker, const char *why)
{
	char request[STATUS_LABEL_SIZE];

	status_request_label(worker->activity, request, sizeof request);
	log_line("worker %ld %s, replacing it: %s", (long)worker->pid, why, request);
	kill(worker->pid, SIGKILL);
	/* Once is enough; the exit is reaped like any other. */
	atomic_store_explicit(&worker->activity->busy_since_ms, 0, memory_order_relaxed);
	atomic_store_explicit(&worker->activity->heartbeat_ms, 0, memory_order_relaxed);
}

/* The watchdog: a worker answering one request for longer than
 * --request-timeout is stuck in code; one whose loop stopped turning
 * between requests stopped running. Either is killed and replaced. A
 * silent peer is not the watchdog's business: its connection's deadline
 * closes it in the worker's loop. */
/* Whether the kernel shows the process stopped (state T or t). */
static int is_stopped(pid_t pid)
{
	char stat[256];

	if (proc_read(pid, "stat", stat, sizeof stat) < 0)
		return 0;
	/* "pid (comm) state ...": comm may hold spaces and parentheses. */
	const char *end_of_name = strrchr(stat, ')');
	return end_of_name != NULL && (end_of_name[2] == 'T' || end_of_name[2] == 't');
}

static void replace_stuck_workers(struct supervisor *supervisor)
{
	long long limit_ms = supervisor->options->request_timeout * 1000LL;
	long long now = clock_monotonic_ms();
	char why[96];

	for (int i = 0; i < supervisor->worker_capacity; i++) {
		struct worker *worker = &supervisor->workers[i];
		/* Acquire: replace_worker logs the label of the request it sees. */
		long long busy_since = atomic_load_explicit(&worker->activity->busy_since_ms, memory_order_acquire);
		long long heartbeat = atomic_load_explicit(&worker->activity->heartbeat_ms, memory_order_relaxed);
		if (worker->pid <= 0)
			continue;
		if (busy_since != 0 && now - busy_since > limit_ms) {
			snprintf(why, sizeof why, "exceeded --request-timeout %d s in one request",
				 supervisor->options->request_timeout);
			replace_worker(worker, why);
		} else if (busy_since == 0 && heartbeat != 0 && now - heartbeat > STALL_MS &&
			   (now - heartbeat > limit_ms || is_stopped(worker->pid))) {
			snprintf(why, sizeof why, "has not run for %lld ms (%s)", now - heartbeat,
				 is_stopped(worker->pid) ? "stopped" : "stuck");
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
		/* Release, before the signal: the worker reads linger once told. */
		atomic_store_explicit(&old->activity->linger, 1, memory_order_release);
		atomic_store_explicit(&old->activity->retiring, 1, memory_order_release);
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

	status_raise(&figures->most_active, active);
	if (status_listen_queue(supervisor->listen_fd, &length, &limit) == 0)
		status_raise(&figures->listen_queue_max, length);
}

/* Whether every position's worker is past its start (store open,
 * privileges dropped, about to accept). */
static int all_positions_ready(const struct supervisor *supervisor)
{
	for (int i = 0; i < supervisor->options->workers; i++) {
		const struct worker *worker = supervisor->positions[i].worker;
		if (worker == NULL || worker->pid <= 0 ||
		    !atomic_load_explicit(&worker->activity->ready, memory_order_acquire))
			return 0;
	}
	return 1;
}

/* systemd's STATUS= line: what `systemctl status` shows. */
static void notify_status(struct supervisor *supervisor)
{
	int active = status_active_workers(&supervisor->board);
	unsigned long long requests = 0;
	long long store_down = 0;

	for (int i = 0; i < supervisor->worker_capacity; i++) {
		const struct worker_activity *activity = supervisor->workers[i].activity;
		requests += atomic_load_explicit(&activity->counters.requests, memory_order_relaxed);
		if (supervisor->workers[i].pid > 0 &&
		    atomic_load_explicit(&activity->counters.store_down_since_ms, memory_order_relaxed) != 0)
			store_down = 1;
	}
	sd_notifyf(0, "STATUS=%d workers (%d active), %llu requests, store %s", live_workers(supervisor), active,
		   requests, store_down ? "down" : "up");
	supervisor->status_due_ms = clock_monotonic_ms() + STATUS_EVERY_MS;
}

/* WATCHDOG=1 only while every serving worker's loop turns: a responder
 * whose workers all hang is restarted by systemd. */
static int heartbeats_fresh(const struct supervisor *supervisor, long long now)
{
	int serving = 0;

	for (int i = 0; i < supervisor->worker_capacity; i++) {
		const struct worker *worker = &supervisor->workers[i];
		long long heartbeat = atomic_load_explicit(&worker->activity->heartbeat_ms, memory_order_relaxed);
		if (worker->pid <= 0 || !atomic_load_explicit(&worker->activity->ready, memory_order_acquire) ||
		    worker->retiring)
			continue;
		if (atomic_load_explicit(&worker->activity->busy_since_ms, memory_order_relaxed) == 0 &&
		    heartbeat != 0 && now - heartbeat > STALL_MS)
			return 0;
		serving++;
	}
	return serving > 0;
}

/* The successor's side of an upgrade: its workers accept, so the old
 * supervisor may retire its own. */
static void tell_predecessor(struct supervisor *supervisor)
{
	if (supervisor->predecessor_fd < 0)
		return;
	if (write(supervisor->predecessor_fd, "1", 1) != 1)
		log_line("SIGUSR2: cannot tell the old supervisor we serve: %s", strerror(errno));
	close(supervisor->predecessor_fd);
	supervisor->predecessor_fd = -1;
}

static void notify_systemd(struct supervisor *supervisor)
{
	long long now = clock_monotonic_ms();

	if (!supervisor->announced_ready && !supervisor->stopping && all_positions_ready(supervisor)) {
		supervisor->announced_ready = 1;
		tell_predecessor(supervisor);
		sd_notifyf(0, "READY=1\nMAINPID=%ld", (long)getpid());
		notify_status(supervisor);
	}
	if (now >= supervisor->status_due_ms && supervisor->announced_ready && !supervisor->stopping)
		notify_status(supervisor);
	if (supervisor->watchdog_every_ms != 0 && now >= supervisor->watchdog_due_ms &&
	    heartbeats_fresh(supervisor, now)) {
		sd_notify(0, "WATCHDOG=1");
		supervisor->watchdog_due_ms = now + supervisor->watchdog_every_ms;
	}
}

/* The old supervisor's side: once the successor's workers accept, it
 * owns the socket (and systemd's MAINPID); this one's workers finish what
 * they hold and exit, and so does this process. */
static void check_successor(struct supervisor *supervisor)
{
	char byte;

	if (supervisor->successor_fd < 0)
		return;
	ssize_t got = read(supervisor->successor_fd, &byte, 1);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	close(supervisor->successor_fd);
	supervisor->successor_fd = -1;
	if (got != 1)
		return; /* it died first: successor_exited says so */
	log_line("SIGUSR2: the new copy (pid %ld) serves; finishing in-flight requests and leaving",
		 (long)supervisor->successor);
	sd_notifyf(0, "MAINPID=%ld\nSTATUS=handed over to pid %ld", (long)supervisor->successor,
		   (long)supervisor->successor);
	supervisor->handed_over = 1;
	begin_stop(supervisor, 0);
}

/* In the child of fork: the listening socket on fd 3 and LISTEN_FDS for
 * this pid, as systemd passes one, then the executable this process was
 * started from (whatever is at that path now) with the same arguments. */
static void exec_successor(struct supervisor *supervisor, int ready_fd)
{
	char arguments[16384];
	char *argv[256];
	char value[32];
	int argc = 0;

	long length = proc_read(0, "cmdline", arguments, sizeof arguments);
	if (length <= 0)
		_exit(127);
	for (char *argument = arguments; argument < arguments + length && argc < 255; argument += strlen(argument) + 1)
		argv[argc++] = argument;
	argv[argc] = NULL;
	/* Out of fd 3's way, then fd 3 is the socket (dup2 clears CLOEXEC;
	 * a socket already on 3 needs it cleared by hand). */
	ready_fd = fcntl(ready_fd, F_DUPFD, 10);
	if (ready_fd < 0 || (supervisor->listen_fd != 3 && dup2(supervisor->listen_fd, 3) != 3) ||
	    fcntl(3, F_SETFD, 0) != 0)
		_exit(127);
	snprintf(value, sizeof value, "%d", ready_fd);
	setenv(UPGRADE_FD_VARIABLE, value, 1);
	snprintf(value, sizeof value, "%ld", (long)getpid());
	setenv("LISTEN_PID", value, 1);
	setenv("LISTEN_FDS", "1", 1);
	unsetenv("LISTEN_FDNAMES");
	/* systemd names the process that is to send WATCHDOG=1; from now on
	 * that is the new copy (sd_watchdog_enabled checks the pid). */
	if (getenv("WATCHDOG_PID") != NULL)
		setenv("WATCHDOG_PID", value, 1);
	execv(supervisor->executable, argv);
	log_line("SIGUSR2: exec %s: %s", supervisor->executable, strerror(errno));
	_exit(127);
}

/* Whether lighttpd started this process (bin-path): lighttpd then owns
 * it, and would stop only the old copy, leaving the new one serving a
 * socket file lighttpd removes. */
static int started_by_lighttpd(void)
{
	char name[32];

	return proc_read(getppid(), "comm", name, sizeof name) > 0 && strcmp(name, "lighttpd\n") == 0;
}

/* SIGUSR2: a new copy of the executable on the same socket. */
static void start_successor(struct supervisor *supervisor)
{
	int ready[2];

	if (supervisor->successor != 0 || supervisor->stopping) {
		log_line("SIGUSR2: an upgrade is under way already, or stopping; ignored");
		return;
	}
	if (started_by_lighttpd()) {
		log_line("SIGUSR2: lighttpd started this process (bin-path) and owns it: restart lighttpd to upgrade; "
			 "ignored");
		return;
	}
	if (pipe2(ready, O_CLOEXEC) != 0) {
		log_line("SIGUSR2: pipe: %s", strerror(errno));
		return;
	}
	log_line("SIGUSR2: starting %s on the same socket", supervisor->executable);
	pid_t pid = fork();
	if (pid < 0) {
		log_line("SIGUSR2: fork: %s", strerror(errno));
		close(ready[0]);
		close(ready[1]);
		return;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		exec_successor(supervisor, ready[1]);
	}
	close(ready[1]);
	fcntl(ready[0], F_SETFL, O_NONBLOCK);
	supervisor->successor = pid;
	supervisor->successor_fd = ready[0];
}

/* Where the successor is started from: the path this process was, not
 * /proc/self/exe, which follows the old file once it is replaced. */
static void remember_executable(struct supervisor *supervisor)
{
	ssize_t length = readlink("/proc/self/exe", supervisor->executable, sizeof supervisor->executable - 1);
	const char *deleted = " (deleted)";

	supervisor->executable[length > 0 ? length : 0] = '\0';
	size_t size = strlen(supervisor->executable);
	if (size > strlen(deleted) && strcmp(supervisor->executable + size - strlen(deleted), deleted) == 0)
		supervisor->executable[size - strlen(deleted)] = '\0';
}

/* In an upgraded copy: the pipe to the old supervisor, taken out of the
 * environment so that neither the workers nor a later copy see it. */
static int predecessor_fd(void)
{
	const char *text = getenv(UPGRADE_FD_VARIABLE);
	int fd = text ? atoi(text) : -1;

	unsetenv(UPGRADE_FD_VARIABLE);
	if (fd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
		return -1;
	return fd;
}

static void handled_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR2);
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
	size_t shared_size =
	    sizeof(struct status_shared) + (size_t)workers * GENERATIONS * sizeof(struct worker_activity);

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
	figures->started_monotonic_ms = clock_monotonic_ms();
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

int supervisor_run(int listen_fd, const struct options *options, int *handed_over)
{
	struct supervisor supervisor = {
	    .options = options, .listen_fd = listen_fd, .successor_fd = -1, .predecessor_fd = predecessor_fd()};
	sigset_t handled;
	uint64_t watchdog_usec = 0;

	if (allocate(&supervisor) != 0) {
		free(supervisor.workers);
		free(supervisor.positions);
		return 1;
	}
	supervisor_block_signals();
	handled_signals(&handled);
	signal(SIGPIPE, SIG_IGN);

	remember_executable(&supervisor);
	if (sd_watchdog_enabled(0, &watchdog_usec) > 0)
		supervisor.watchdog_every_ms = (long long)(watchdog_usec / 2000); /* twice per WatchdogSec */
	log_line("serving on fd %d with %d workers", listen_fd, options->workers);
	for (;;) {
		if (!supervisor.stopping)
			fill_empty_positions(&supervisor);
		else if (live_workers(&supervisor) == 0)
			break;
		else if (clock_monotonic_ms() >= supervisor.stop_deadline_ms)
			signal_all(&supervisor, SIGKILL);
		replace_stuck_workers(&supervisor);
		sample_figures(&supervisor);
		notify_systemd(&supervisor);
		check_successor(&supervisor);

		struct timespec tick = {0, TICK_MS * 1000L * 1000};
		siginfo_t info;
		int received = sigtimedwait(&handled, &info, &tick);
		if (received == SIGTERM || received == SIGINT) {
			if (!supervisor.stopping) {
				log_line("%s: finishing in-flight requests and stopping", strsignal(received));
				sd_notify(0, "STOPPING=1");
			}
			begin_stop(&supervisor, 0);
		} else if (received == SIGHUP && !supervisor.stopping) {
			/* READY=1 again once the new workers are past their start. */
			sd_notify(0, "RELOADING=1");
			supervisor.announced_ready = 0;
			replace_all_workers(&supervisor);
		} else if (received == SIGUSR2) {
			start_successor(&supervisor);
		}
		reap_workers(&supervisor);
	}
	if (supervisor.predecessor_fd >= 0)
		close(supervisor.predecessor_fd);
	if (supervisor.successor_fd >= 0)
		close(supervisor.successor_fd);
	*handed_over = supervisor.handed_over;
	free(supervisor.workers);
	free(supervisor.positions);
	return supervisor.exit_code;
}
