/* supervisor.c: the parent that preforks workers on one listening socket and keeps them running. */
#include "supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

/* A worker that dies sooner than this after its start counts as failing
 * to start; repeated failures are restarted with a growing delay. */
#define QUICK_DEATH_MS 1000
#define FIRST_BACKOFF_MS 100
#define MAX_BACKOFF_MS 10000
/* How often stop signals are repeated while draining: a signal that lands
 * just before a worker enters accept() is only seen by the next one. */
#define STOP_RESEND_MS 200

struct worker_slot {
	pid_t pid; /* 0: empty, to be started at restart_at_ms */
	long long started_at_ms;
	long long restart_at_ms;
	int quick_deaths;
};

struct supervisor {
	const struct options *options;
	int listen_fd;
	struct worker_slot *slots;
	pid_t *retiring; /* replaced by SIGHUP, finishing their last request */
	int retiring_count;
	int retiring_capacity;
	int stopping;
	int exit_code;
	long long stop_deadline_ms;
};

static long long now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static pid_t start_worker(struct supervisor *supervisor)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		log_line("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		return pid;
	/* A worker must not outlive a supervisor killed with SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	_exit(run_fastcgi_worker(supervisor->listen_fd, supervisor->options));
}

static void fill_empty_slots(struct supervisor *supervisor)
{
	long long now = now_ms();

	for (int i = 0; i < supervisor->options->workers; i++) {
		struct worker_slot *slot = &supervisor->slots[i];
		if (slot->pid != 0 || slot->restart_at_ms > now)
			continue;
		pid_t pid = start_worker(supervisor);
		if (pid < 0) {
			slot->restart_at_ms = now + FIRST_BACKOFF_MS;
			continue;
		}
		slot->pid = pid;
		slot->started_at_ms = now;
	}
}

static void describe_exit(int status, char *out, size_t out_size)
{
	if (WIFSIGNALED(status))
		snprintf(out, out_size, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, out_size, "exited with status %d", WEXITSTATUS(status));
}

static void begin_stop(struct supervisor *supervisor, int exit_code)
{
	if (!supervisor->stopping) {
		supervisor->stopping = 1;
		supervisor->exit_code = exit_code;
		/* In-flight requests get the request timeout to finish. */
		supervisor->stop_deadline_ms = now_ms() + (supervisor->options->request_timeout + 1) * 1000LL;
	}
}

static void signal_all(struct supervisor *supervisor, int signal_number)
{
	for (int i = 0; i < supervisor->options->workers; i++)
		if (supervisor->slots[i].pid > 0)
			kill(supervisor->slots[i].pid, signal_number);
	for (int i = 0; i < supervisor->retiring_count; i++)
		kill(supervisor->retiring[i], signal_number);
}

static void worker_exited(struct supervisor *supervisor, pid_t pid, int status)
{
	char how[128];
	long long now = now_ms();

	for (int i = 0; i < supervisor->retiring_count; i++) {
		if (supervisor->retiring[i] == pid) {
			supervisor->retiring[i] = supervisor->retiring[--supervisor->retiring_count];
			return;
		}
	}
	for (int i = 0; i < supervisor->options->workers; i++) {
		struct worker_slot *slot = &supervisor->slots[i];
		if (slot->pid != pid)
			continue;
		slot->pid = 0;
		slot->restart_at_ms = now;
		if (supervisor->stopping)
			return;
		int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (clean) {
			slot->quick_deaths = 0; /* recycled after --max-requests */
			return;
		}
		describe_exit(status, how, sizeof how);
		if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_CONFIG) {
			log_line("worker %ld %s: it cannot open its store (see above); stopping", (long)pid, how);
			begin_stop(supervisor, 1);
			return;
		}
		if (now - slot->started_at_ms < QUICK_DEATH_MS) {
			slot->quick_deaths++;
			long long delay = FIRST_BACKOFF_MS;
			for (int n = 1; n < slot->quick_deaths && delay < MAX_BACKOFF_MS; n++)
				delay *= 2;
			if (delay > MAX_BACKOFF_MS)
				delay = MAX_BACKOFF_MS;
			slot->restart_at_ms = now + delay;
			log_line("worker %ld %s %lld ms after its start (%d in a row); restarting in %lld ms",
				 (long)pid, how, now - slot->started_at_ms, slot->quick_deaths, delay);
		} else {
			slot->quick_deaths = 0;
			log_line("worker %ld %s; restarting it", (long)pid, how);
		}
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

/* SIGHUP: a new worker takes each slot at once and the old one finishes
 * its request, so no request is dropped; the new processes reopen the
 * store (a replaced database file, a moved PostgreSQL). */
static void replace_all_workers(struct supervisor *supervisor)
{
	log_line("SIGHUP: replacing %d workers", supervisor->options->workers);
	for (int i = 0; i < supervisor->options->workers; i++) {
		struct worker_slot *slot = &supervisor->slots[i];
		if (slot->pid <= 0)
			continue;
		if (supervisor->retiring_count == supervisor->retiring_capacity) {
			log_line("SIGHUP: %d workers still finishing from earlier reloads; not replacing more now",
				 supervisor->retiring_count);
			return;
		}
		pid_t replacement = start_worker(supervisor);
		if (replacement < 0)
			continue;
		kill(slot->pid, SIGTERM);
		supervisor->retiring[supervisor->retiring_count++] = slot->pid;
		slot->pid = replacement;
		slot->started_at_ms = now_ms();
		slot->quick_deaths = 0;
	}
}

static int live_workers(const struct supervisor *supervisor)
{
	int count = supervisor->retiring_count;

	for (int i = 0; i < supervisor->options->workers; i++)
		count += supervisor->slots[i].pid > 0;
	return count;
}

int supervise(int listen_fd, const struct options *options)
{
	struct supervisor supervisor = {.options = options, .listen_fd = listen_fd};
	sigset_t handled;
	long long last_stop_signal_ms = 0;

	supervisor.slots = calloc((size_t)options->workers, sizeof *supervisor.slots);
	/* Room for a few reloads in quick succession. */
	supervisor.retiring_capacity = options->workers * 4;
	supervisor.retiring = calloc((size_t)supervisor.retiring_capacity, sizeof *supervisor.retiring);
	if (supervisor.slots == NULL || supervisor.retiring == NULL) {
		log_line("out of memory");
		free(supervisor.slots);
		free(supervisor.retiring);
		return 1;
	}
	/* Signals are taken synchronously with sigtimedwait: no handler races
	 * with the bookkeeping below. Workers set their own mask. */
	sigemptyset(&handled);
	sigaddset(&handled, SIGCHLD);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGHUP);
	sigprocmask(SIG_BLOCK, &handled, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_line("serving on fd %d with %d workers", listen_fd, options->workers);
	for (;;) {
		if (!supervisor.stopping)
			fill_empty_slots(&supervisor);
		else if (live_workers(&supervisor) == 0)
			break;
		else if (now_ms() >= supervisor.stop_deadline_ms)
			signal_all(&supervisor, SIGKILL);
		else if (now_ms() - last_stop_signal_ms >= STOP_RESEND_MS) {
			signal_all(&supervisor, SIGTERM);
			last_stop_signal_ms = now_ms();
		}

		struct timespec wait = {0, 100 * 1000 * 1000};
		siginfo_t info;
		int received = sigtimedwait(&handled, &info, &wait);
		if (received == SIGTERM || received == SIGINT) {
			if (!supervisor.stopping)
				log_line("%s: finishing in-flight requests and stopping", strsignal(received));
			begin_stop(&supervisor, 0);
		} else if (received == SIGHUP && !supervisor.stopping) {
			replace_all_workers(&supervisor);
		}
		reap_workers(&supervisor);
	}
	free(supervisor.slots);
	free(supervisor.retiring);
	return supervisor.exit_code;
}
