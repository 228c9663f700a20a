#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidns.h"

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH };

static void noop(int sig)
{
	(void)sig;
}

struct start {
	void (*fn)(void *);
	void *arg;
};

/* The workload's side of the clone, on its own stack in the init's memory
 * until fn execs. */
static int start_workload(void *arg)
{
	const struct start *st = arg;
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	/* nothing inherited from sandtrail's own blocking */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* CMD leads a process group: signals for the session reach its children,
	 * as a terminal's Ctrl-C reaches a foreground job */
	setpgid(0, 0);
	st->fn(st->arg);
	return 127;
}

void pidns_init_child(int status_fd, void (*fn)(void *), void *arg)
{
	struct start st = { fn, arg };
	static char stack[64 << 10] __attribute__((aligned(16)));
	struct sigaction sa;
	sigset_t set;
	pid_t child;
	int status = 0;

	/* pid 1 drops signals whose handler is SIG_DFL, even blocked ones:
	 * a handler makes them queue for sigwaitinfo */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = noop;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
		sigaction(forwarded[i], &sa, NULL);
		sigaddset(&set, forwarded[i]);
	}
	sigaction(SIGCHLD, &sa, NULL);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* as posix_spawn: the init's memory is shared, not copied (a fork of the
	 * manager's address space took ~0.15 ms of the start); the init waits
	 * until the workload execs */
	child = clone(start_workload, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &st);
	if (child < 0)
		_exit(125);
	for (;;) {
		siginfo_t si;
		pid_t pid;
		int sig = sigwaitinfo(&set, &si);

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(-child, sig);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == child) {
				(void)!write(status_fd, &status, sizeof(status));
				_exit(0);
			}
	}
}
