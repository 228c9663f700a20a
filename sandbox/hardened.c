#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "backend.h"
#include "hardened.h"
#include "landlock.h"
#include "netns.h"
#include "pidns.h"
#include "rlimits.h"
#include "userns.h"

/* The child's pipe ends, moved to fixed numbers once the mount trees are
 * attached, so that every other inherited descriptor can be closed. */
enum { FD_SYNC, FD_GO, FD_STATUS, FD_REPORT, FD_N };
#define FD_FIXED 3

struct child {
	const struct hardened_spec *s;
	const struct mntns_plan *plan;
	int fd[FD_N];
};

static int report_fd = -1; /* the child's end, for die() */

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : strerror(e);
}

/* Reports a failed step to the parent and ends the child: nothing ran. */
static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	char msg[640];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(report_fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(125);
}

static void step(int rc, const char *what)
{
	if (rc < 0)
		die("%s: %s", what, errname(-rc));
}

static int neg_errno(int rc)
{
	return rc < 0 ? -errno : 0;
}

static void run_workload(void *arg)
{
	const struct child *c = arg;
	extern char **environ;

	/* the sandbox's own descriptors stay with the init */
	syscall(SYS_close_range, 3, ~0U, 0);
	environ = (char **)c->s->envp;
	execvp(c->s->argv[0], c->s->argv);
	dprintf(2, "sandtrail: exec %s: %s\n", c->s->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Pipe ends to FD_FIXED.. (through high numbers, so none clobbers another),
 * everything above closed.  dup2 clears O_CLOEXEC: the init keeps them,
 * CMD closes them itself. */
static int renumber(struct child *c)
{
	int tmp[FD_N];

	for (int i = 0; i < FD_N; i++)
		if ((tmp[i] = fcntl(c->fd[i], F_DUPFD, 1000)) < 0)
			return -errno;
	for (int i = 0; i < FD_N; i++) {
		if (dup2(tmp[i], FD_FIXED + i) < 0)
			return -errno;
		c->fd[i] = FD_FIXED + i;
	}
	report_fd = c->fd[FD_REPORT];
	syscall(SYS_close_range, FD_FIXED + FD_N, ~0U, 0);
	return 0;
}

/* The containment, in order.  Each step relies on those above it. */
static void __attribute__((noreturn)) contain(struct child *c)
{
	const struct policy *p = c->s->p;
	const char *host = p->hostname ? p->hostname : "sandtrail";
	char err[600], b;
	int abi, which = 0;

	report_fd = c->fd[FD_REPORT];
	/* loopback of the private network namespace and the UTS namespace's own
	 * name need only the new namespaces' capabilities (CAP_NET_ADMIN,
	 * CAP_SYS_ADMIN), not the id maps: done while the parent writes them */
	if (p->network != POLICY_NET_HOST)
		step(netns_child(), "ioctl(\"lo\", SIOCSIFFLAGS, IFF_UP)");
	step(neg_errno(sethostname(host, strlen(host))), "sethostname");
	/* the parent writes our uid/gid maps; the id switch below needs them */
	if (read(c->fd[FD_SYNC], &b, 1) != 1)
		_exit(125);
	/* first become the sandbox user: files made below (mount points, tmpfs
	 * roots) need an owner mapped in this namespace.  The namespace's
	 * capabilities stay, since the old uid was not its root. */
	step(userns_child(p->uid, p->gid), "setresuid/setresgid in the user namespace");
	/* uses CAP_SYS_ADMIN of the new user namespace and the parent's trees */
	if (mntns_child(c->plan, err, sizeof(err)) < 0)
		die("%s", err);
	/* the host trees are attached; their fds would only be a way out */
	step(renumber(c), "dup2");
	/* raising a hard limit needs CAP_SYS_RESOURCE: before the caps go */
	if (rlimits_child(p, &which) < 0)
		die("setrlimit(%d): %s", which, errname(errno));
	/* a checked path: a missing workdir fails here, before anything ran */
	if (chdir(p->workdir ? p->workdir : "/") < 0)
		die("chdir(\"%s\"): %s", p->workdir ? p->workdir : "/", errname(errno));
	/* no controlling terminal: TIOCSTI cannot push keys into the caller's */
	step(neg_errno(setsid()), "setsid");
	/* the privileged steps are done: only --cap-add survives, as ambient */
	step(caps_child(p->caps_add), "capset");
	/* Landlock and seccomp need it without CAP_SYS_ADMIN; exec can no longer grant privileges */
	step(neg_errno(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)), "prctl(PR_SET_NO_NEW_PRIVS)");
	/* over the final mount tree: its rules name paths of the new root */
	step(landlock_child(p, &abi), "landlock_restrict_self");
	/* the manager's death ends the sandbox (set after the uid switch, which clears it) */
	step(neg_errno(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)), "prctl(PR_SET_PDEATHSIG)");
	/* CMD must not read the init's memory or fds through /proc/1 */
	step(neg_errno(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)), "prctl(PR_SET_DUMPABLE)");
	/* last restrictions: the filters refuse mount, sethostname, capset above.
	 * The fixed one first, as the profile may refuse seccomp() itself */
	step(seccomp_fixed_apply(), "seccomp(SECCOMP_SET_MODE_FILTER, fixed filter)");
	step(seccomp_profile_apply(c->s->seccomp), "seccomp(SECCOMP_SET_MODE_FILTER)");
	/* contained: say so, then hold CMD until sandtraild traces the cgroup */
	if (write(c->fd[FD_REPORT], "", 1) != 1 || read(c->fd[FD_GO], &b, 1) != 1)
		_exit(125);
	close(c->fd[FD_SYNC]);
	close(c->fd[FD_GO]);
	close(c->fd[FD_REPORT]);
	pidns_init_child(c->fd[FD_STATUS], run_workload, c);
}

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fds[0] = fds[1] = -1;
}

int hardened_start(struct hardened *h, const struct hardened_spec *s, char *err, size_t errlen)
{
	int sync[2] = { -1, -1 }, go[2] = { -1, -1 }, st[2] = { -1, -1 }, rep[2] = { -1, -1 };
	struct clone_args args = { 0 };
	struct child c = { .s = s, .plan = &h->plan };
	int rc;

	memset(h, 0, sizeof(*h));
	h->pid = -1;
	h->pidfd = h->go_fd = h->status_fd = h->report_fd = -1;
	h->net.pid = h->net.pidfd = -1;
	if (mntns_parent(&h->plan, s->p, MNTNS_USERNS, err, errlen) < 0) {
		mntns_release(&h->plan);
		return -1;
	}
	h->plan.ca_bundle = s->ca_bundle;
	if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0 ||
	    pipe2(rep, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe2: %s", errname(errno));
		goto fail;
	}
	args.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD |
		     CLONE_INTO_CGROUP | (s->p->network != POLICY_NET_HOST ? CLONE_NEWNET : 0);
	args.pidfd = (uint64_t)(uintptr_t)&h->pidfd;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)s->cgroup_fd;
	h->pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (h->pid < 0) {
		snprintf(err, errlen, "clone3(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID|CLONE_INTO_CGROUP): %s",
			 errname(errno));
		goto fail;
	}
	if (h->pid == 0) {
		c.fd[FD_SYNC] = sync[0];
		c.fd[FD_GO] = go[0];
		c.fd[FD_STATUS] = st[1];
		c.fd[FD_REPORT] = rep[1];
		contain(&c);
	}
	/* the child holds the trees now (its fds share our open files): ours
	 * close while it mounts, not on the session's way out */
	mntns_release(&h->plan);
	close(sync[0]);
	close(go[0]);
	close(st[1]);
	close(rep[1]);
	h->go_fd = go[1];
	h->status_fd = st[0];
	h->report_fd = rep[0];
	rc = userns_parent(h->pid, s->p->uid, s->p->gid);
	if (rc < 0) {
		snprintf(err, errlen, "write /proc/%d/uid_map: %s", (int)h->pid, errname(-rc));
		close(sync[1]);
		return -1; /* the caller kills the cgroup and releases */
	}
	/* the child waits for its maps: its network is ready before CMD runs */
	if (s->p->network == POLICY_NET_ALLOWLIST && netns_pasta_start(&h->net, h->pid, s->p, s->net, err, errlen) < 0) {
		close(sync[1]);
		return -1;
	}
	if (write(sync[1], "s", 1) != 1) {
		snprintf(err, errlen, "sandbox child: %s", errname(errno));
		close(sync[1]);
		return -1;
	}
	close(sync[1]);
	return 0;
fail:
	close_pair(sync);
	close_pair(go);
	close_pair(st);
	close_pair(rep);
	mntns_release(&h->plan);
	return -1;
}

int hardened_ready(struct hardened *h, char *err, size_t errlen)
{
	char msg[640];
	ssize_t n;

	do
		n = read(h->report_fd, msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n == 1 && msg[0] == 0)
		return 0;
	if (n <= 0) {
		snprintf(err, errlen, "the sandbox died while being set up");
		return -1;
	}
	msg[n] = 0;
	snprintf(err, errlen, "%s", msg);
	return -1;
}

int hardened_go(struct hardened *h)
{
	int rc = write(h->go_fd, "g", 1) == 1 ? 0 : -errno;

	close(h->go_fd);
	h->go_fd = -1;
	return rc;
}

int hardened_wait(struct hardened *h, int *status)
{
	siginfo_t si = { 0 };
	int ws;

	if (waitid(P_PIDFD, (id_t)h->pidfd, &si, WEXITED) < 0)
		return -errno;
	h->pid = -1;
	if (read(h->status_fd, &ws, sizeof(ws)) == (ssize_t)sizeof(ws)) {
		*status = ws;
		return 0;
	}
	/* the init itself was killed (timeout, stop, OOM): that is CMD's fate too */
	*status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : W_EXITCODE(0, si.si_status);
	return 0;
}

void hardened_release(struct hardened *h)
{
	if (h->pid > 0) {
		syscall(SYS_pidfd_send_signal, h->pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)h->pidfd, &(siginfo_t){ 0 }, WEXITED);
		h->pid = -1;
	}
	if (h->pidfd >= 0)
		close(h->pidfd);
	if (h->go_fd >= 0)
		close(h->go_fd);
	if (h->status_fd >= 0)
		close(h->status_fd);
	if (h->report_fd >= 0)
		close(h->report_fd);
	h->pidfd = h->go_fd = h->status_fd = h->report_fd = -1;
	netns_pasta_stop(&h->net);
	mntns_release(&h->plan);
}

/* ---- as a backend of the session manager ---- */

static int hb_start(void *st, const struct backend_spec *s, char *err, size_t errlen)
{
	const struct hardened_spec hs = {
		.p = s->p, .argv = s->argv, .envp = s->envp, .seccomp = s->seccomp, .cgroup_fd = s->cgroup_fd,
		.net = s->net,
		.ca_bundle = s->ca_bundle,
	};

	return hardened_start(st, &hs, err, errlen);
}

static int hb_ready(void *st, json_t *ack, char *err, size_t errlen)
{
	(void)ack;
	return hardened_ready(st, err, errlen);
}

static int hb_ready_fd(void *st)
{
	return ((struct hardened *)st)->report_fd;
}

static int hb_go(void *st)
{
	return hardened_go(st);
}

static pid_t hb_pid(void *st)
{
	return ((struct hardened *)st)->pid;
}

static int hb_pidfd(void *st)
{
	return ((struct hardened *)st)->pidfd;
}

static void hb_signal(void *st, int sig)
{
	syscall(SYS_pidfd_send_signal, ((struct hardened *)st)->pidfd, sig, NULL, 0);
}

static int hb_wait(void *st, int *status)
{
	return hardened_wait(st, status);
}

static void hb_release(void *st)
{
	hardened_release(st);
}

const struct backend_ops hardened_backend = {
	.mode = "hardened",
	.size = sizeof(struct hardened),
	.start = hb_start,
	.ready = hb_ready,
	.ready_fd = hb_ready_fd,
	.go = hb_go,
	.pid = hb_pid,
	.pidfd = hb_pidfd,
	.signal = hb_signal,
	.wait = hb_wait,
	.release = hb_release,
};
