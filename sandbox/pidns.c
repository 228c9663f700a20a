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

void pidns_init_child(int status_fd, void (*fn)(void *), void *arg)
{
	struct sigaction sa;
	sigset_t set, none;
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
	sigemptyset(&none);
	child = fork();
	if (child < 0)
		_exit(125);
	if (child == 0) {
		sa.sa_handler = SIG_DFL;
		for (int s = 1; s < NSIG; s++)
			sigaction(s, &sa, NULL);
		/* nothing inherited from sandtrail's own blocking */
		sigprocmask(SIG_SETMASK, &none, NULL);
		fn(arg);
		_exit(127);
	}
	for (;;) {
		siginfo_t si;
		pid_t pid;
		int sig = sigwaitinfo(&set, &si);

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == child) {
				(void)!write(status_fd, &status, sizeof(status));
				_exit(0);
			}
	}
}
