#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gvisor.h"
#include "netns.h"

#define RUNSC_DEFAULT "/usr/bin/runsc"
#define STATE_BASE    "/run/sandtrail/gvisor"

/* The context every point carries: who did it, in which container. */
static const char *const context_fields[] = {
	"time", "thread_id", "group_id", "container_id", "credentials", "cwd", "process_name",
};

/* The points a session asks the Sentry for (schemas/gvisor.proto). */
static const struct {
	const char *name;
	bool fd_path; /* the directory fd's path, for relative names */
} points[] = {
	{ "container/start", false },          { "sentry/clone", false },
	{ "sentry/exit_notify_parent", false }, { "sentry/task_exit", false },
	{ "syscall/open/exit", false },        { "syscall/openat/exit", true },
	{ "syscall/creat/exit", false },       { "syscall/execve/exit", false },
	{ "syscall/execveat/exit", true }, { "syscall/connect/exit", false },
	{ "syscall/bind/exit", false },    { "syscall/accept/exit", false },
	{ "syscall/accept4/exit", false },
};

/* Calls with no schema of their own, as raw points (enter too: the exit
 * takes its context fields from the enter point's); the sink's map_raw and
 * fileop_calls say what they become: rename, rmdir, unlink, unlinkat,
 * renameat, renameat2, then the file changes (truncate, ftruncate, mkdir,
 * mkdirat, mknod, mknodat, symlink, symlinkat, link, linkat, chmod, fchmod,
 * fchmodat, chown, fchown, lchown, fchownat, utime, utimes, futimesat,
 * utimensat), then listen. */
static const int raw_sysnos[] = {
	82, 84, 87, 263, 264, 316,
	76, 77, 83, 258, 133, 259, 88, 266, 86, 265, 90, 91, 268, 92, 93, 94, 260, 132, 235, 261, 280,
	50,
};

static const char *runsc_path(void)
{
	const char *p = getenv("SANDTRAIL_RUNSC");

	return p && *p ? p : RUNSC_DEFAULT;
}

/* ---- the session's private directory: bundle, runsc state, pod config ---- */

/* runsc's state, the bundle, its log and the staging point live in a tmpfs
 * over STATE_BASE in a mount namespace of the manager's own: nothing of them
 * is ever on the host, and they go with the manager and runsc's processes,
 * however these end (a kill -9 of the manager included). */
static int make_dir(struct gvisor *g, char *err, size_t errlen)
{
	char path[sizeof(g->dir) + 16];

	if ((mkdir("/run/sandtrail", 0700) < 0 && errno != EEXIST) || (mkdir(STATE_BASE, 0700) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "mkdir(\"%s\"): %s", STATE_BASE, strerror(errno));
		return -1;
	}
	if (unshare(CLONE_NEWNS) < 0) {
		snprintf(err, errlen, "unshare(CLONE_NEWNS): %s", strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", STATE_BASE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64m") < 0) {
		snprintf(err, errlen, "mount(\"tmpfs\", \"%s\"): %s", STATE_BASE, strerror(errno));
		return -1;
	}
	snprintf(g->dir, sizeof(g->dir), "%s/%s", STATE_BASE, g->cid);
	snprintf(path, sizeof(path), "%s/state", g->dir);
	if (mkdir(g->dir, 0700) < 0 || mkdir(path, 0700) < 0 ||
	    (snprintf(path, sizeof(path), "%s/bundle", g->dir), mkdir(path, 0700) < 0) ||
	    (snprintf(path, sizeof(path), "%s/stage", g->dir), mkdir(path, 0700) < 0)) {
		snprintf(err, errlen, "mkdir(\"%s\"): %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_json(const struct gvisor *g, const char *name, json_t *j, char *err, size_t errlen)
{
	char path[sizeof(g->dir) + 32];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", g->dir, name);
	rc = j ? json_dump_file(j, path, JSON_COMPACT) : -1;
	json_decref(j);
	if (rc < 0) {
		snprintf(err, errlen, "write %s: %s", path, j ? strerror(errno) : "out of memory");
		return -1;
	}
	return 0;
}

/* ---- the OCI bundle ---- */

static json_t *mounts_json(const struct gvisor *g, const struct policy *p)
{
	char src[sizeof(g->dir) + PATH_MAX];
	json_t *m;

	/* every writable place is a host file system the gofer serves, where
	 * the kernel's programs see the writes (mntns_stage made them in the
	 * staged root): the volumes' trees, opened without following links and
	 * idmapped, host tmpfs for the tmpfs mounts and /dev/shm */
	snprintf(src, sizeof(src), "%s/stage/shm", g->dir);
	m = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:[s, s]}]", "destination", "/proc", "type", "proc", "source",
		      "proc", "destination", "/dev/shm", "type", "bind", "source", src, "options", "rbind", "rw");
	for (size_t i = 0; i < p->nmounts; i++) {
		const struct policy_mount *pm = &p->mounts[i];

		snprintf(src, sizeof(src), "%s/stage/root%s", g->dir, pm->dst);
		json_array_append_new(m, json_pack("{s:s, s:s, s:s, s:[s, s]}", "destination", pm->dst, "type", "bind",
						   "source", src, "options", "rbind", pm->ro ? "ro" : "rw"));
	}
	return m;
}

static json_t *process_json(const struct backend_spec *s)
{
	const struct policy *p = s->p;
	json_t *args = json_array(), *env = json_array(), *caps = json_array(), *rl = json_array();

	for (size_t i = 0; s->argv[i]; i++)
		json_array_append_new(args, json_stringn(s->argv[i], strlen(s->argv[i])));
	for (size_t i = 0; s->envp[i]; i++)
		json_array_append_new(env, json_stringn(s->envp[i], strlen(s->envp[i])));
	for (int c = 0; c < 64; c++) {
		char name[64];

		if (!(p->caps_add & (1ull << c)) || !policy_cap_name(c))
			continue;
		snprintf(name, sizeof(name), "CAP_%s", policy_cap_name(c));
		json_array_append_new(caps, json_string(name));
	}
	for (int r = 0; r < POLICY_RLIMITS; r++) {
		struct policy_rlimit l = p->rlimits[r];
		char name[32];

		/* as the hardened backend: no core dumps unless asked */
		if (!l.set && r != RLIMIT_CORE)
			continue;
		if (!l.set)
			l.soft = l.hard = 0;
		snprintf(name, sizeof(name), "RLIMIT_%s", policy_rlimit_name(r));
		for (char *c = name; *c; c++)
			*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
		json_array_append_new(rl, json_pack("{s:s, s:I, s:I}", "type", name, "soft",
						    (json_int_t)(l.soft == RLIM_INFINITY ? (uint64_t)-1 : l.soft),
						    "hard", (json_int_t)(l.hard == RLIM_INFINITY ? (uint64_t)-1 : l.hard)));
	}
	return json_pack("{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:b, s:{s:O, s:O, s:O, s:O, s:o}, s:o}", "terminal", 0,
			 "user", "uid", (int)p->uid, "gid", (int)p->gid, "args", args, "env", env, "cwd",
			 p->workdir ? p->workdir : "/", "noNewPrivileges", 1, "capabilities", "bounding", caps,
			 "effective", caps, "permitted", caps, "inheritable", caps, "ambient", caps, "rlimits", rl);
}

static json_t *config_json(const struct gvisor *g, const struct backend_spec *s)
{
	const struct policy *p = s->p;
	char root[sizeof(g->dir) + 16];
	json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type", "uts", "type",
			       "mount");

	/* host, allowlist and proxy: the Sentry's sockets are host sockets in
	 * the session cgroup, where the kernel's hooks enforce and record
	 * (proxy: in the network namespace runsc starts in, see child) */
	if (p->network == POLICY_NET_NONE)
		json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
	snprintf(root, sizeof(root), "%s/stage/root", g->dir);
	/* the fixed filter's refusals, applied by the Sentry (--oci-seccomp) */
	return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:{s:o, s:o}}", "ociVersion", "1.0.2", "process",
			 process_json(s), "root", "path", root, "readonly", 1, "hostname",
			 p->hostname ? p->hostname : "sandtrail", "mounts", mounts_json(g, p), "linux", "namespaces", ns,
			 "seccomp", seccomp_fixed_oci());
}

/* The trace session: every point above, to sandtraild's sink. */
static json_t *pod_json(const char *sink)
{
	json_t *pts = json_array(), *ctx = json_array();

	for (size_t i = 0; i < sizeof(context_fields) / sizeof(context_fields[0]); i++)
		json_array_append_new(ctx, json_string(context_fields[i]));
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		json_t *pt = json_pack("{s:s, s:O}", "name", points[i].name, "context_fields", ctx);

		if (points[i].fd_path)
			json_object_set_new(pt, "optional_fields", json_pack("[s]", "fd_path"));
		json_array_append_new(pts, pt);
	}
	for (size_t i = 0; i < sizeof(raw_sysnos) / sizeof(raw_sysnos[0]); i++)
		for (int exit = 0; exit < 2; exit++) {
			char name[48];

			snprintf(name, sizeof(name), "syscall/sysno/%d/%s", raw_sysnos[i], exit ? "exit" : "enter");
			json_array_append_new(pts, json_pack("{s:s, s:O}", "name", name, "context_fields", ctx));
		}
	json_decref(ctx);
	/* ignore_setup_error false: no sink, no sandbox (fail closed) */
	return json_pack("{s:{s:s, s:o, s:[{s:s, s:{s:s}}]}}", "trace_session", "name", "Default", "points", pts,
			 "sinks", "name", "remote", "config", "endpoint", sink);
}

/* ---- the runsc process ---- */

/* runsc makes the stdio it is given non-blocking, which would make the
 * caller's shell lose its own output on a shared pipe or terminal: runsc
 * gets open file descriptions of its own for those (a regular file keeps
 * its offset, and O_NONBLOCK means nothing to it). */
static void own_stdio(void)
{
	for (int fd = 0; fd < 3; fd++) {
		int fl = fcntl(fd, F_GETFL), n;
		char path[32];
		struct stat st;

		if (fl < 0 || fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = open(path, fl & (O_ACCMODE | O_APPEND));
		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

/* The Sentry reads and writes a regular file it is handed from its own
 * offset, 0: over what the caller's file held (O_APPEND did not help), or
 * from its start whatever the caller had read. The caller's stdio, when
 * regular files, become pipes a thread of the manager's copies with read()
 * and write(), at the files' own offsets or appending as they were opened
 * (stdin is read ahead of the workload: up to a pipe's worth past what it
 * took). stderr sharing stdout's open file (2>&1) shares its pipe, so the
 * two keep the order the workload wrote them in. */
static int gv_copy_prepare(struct gvisor *g, char *err, size_t errlen)
{
	for (int fd = 0; fd < 3; fd++) {
		struct gv_copy *c = &g->copy[fd];
		struct stat st;
		int p[2];

		c->fd = fd;
		c->from = c->to = c->own = c->child_fd = -1;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (fd == 2 && g->copy[1].own >= 0 && syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 1, 2) == 0)
			continue;
		if (pipe2(p, O_CLOEXEC) < 0) {
			snprintf(err, errlen, "pipe2: %s", strerror(errno));
			return -1;
		}
		c->from = fd == 0 ? 0 : p[0];
		c->to = fd == 0 ? p[1] : fd;
		c->own = fd == 0 ? p[1] : p[0];
		c->child_fd = fd == 0 ? p[0] : p[1];
	}
	return 0;
}

/* In runsc's child: the pipes in place of the caller's files. */
static void gv_copy_child(const struct gvisor *g)
{
	bool shared = syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 1, 2) == 0;

	for (int fd = 0; fd < 3; fd++)
		if (g->copy[fd].child_fd >= 0)
			dup2(g->copy[fd].child_fd, fd);
	if (g->copy[2].child_fd < 0 && shared && g->copy[1].child_fd >= 0)
		dup2(g->copy[1].child_fd, 2);
}

static void *gv_copy_run(void *arg)
{
	static const char *const names[] = { "stdin", "stdout", "stderr" };
	struct gv_copy *c = arg;
	bool failed = false;
	char buf[65536];
	sigset_t pipe;
	ssize_t n;

	/* a workload that stops reading its stdin is EPIPE here, not a signal */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	/* outputs: until the last of runsc's processes closed the pipe; what
	 * cannot be written is still read, so the sandbox never blocks on it */
	while ((n = read(c->from, buf, sizeof(buf))) != 0 && !(failed && c->fd == 0)) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (ssize_t off = 0, w; off < n && !failed; off += w > 0 ? w : 0) {
			w = write(c->to, buf + off, (size_t)(n - off));
			if (w < 0 && errno != EINTR) {
				failed = true;
				if (c->fd != 0)
					dprintf(2, "sandtrail: the workload's %s: write: %s\n", names[c->fd],
						strerror(errno));
			}
		}
	}
	if (n < 0 && c->fd == 0)
		dprintf(2, "sandtrail: the workload's stdin: read: %s\n", strerror(errno));
	/* stdin: the end of the file is the workload's end of input */
	if (c->fd == 0) {
		close(c->own);
		c->own = -1;
	}
	return NULL;
}

/* In the manager once runsc runs: its pipe ends closed, the copies go. */
static int gv_copy_start(struct gvisor *g, char *err, size_t errlen)
{
	for (int fd = 0; fd < 3; fd++) {
		struct gv_copy *c = &g->copy[fd];
		int rc;

		if (c->child_fd >= 0)
			close(c->child_fd);
		c->child_fd = -1;
		if (c->own < 0)
			continue;
		rc = pthread_create(&c->th, NULL, gv_copy_run, c);
		if (rc) {
			snprintf(err, errlen, "pthread_create: %s", strerror(rc));
			return -1;
		}
		c->running = true;
	}
	return 0;
}

/* Waits for the copies to end (every runsc process gone), at most ms
 * milliseconds unless ms < 0. */
static void gv_copy_finish(struct gvisor *g, int ms)
{
	for (int fd = 0; fd < 3; fd++) {
		struct gv_copy *c = &g->copy[fd];
		struct timespec ts;

		if (c->running) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += ms / 1000;
			ts.tv_nsec += (ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if ((ms < 0 ? pthread_join(c->th, NULL) : pthread_timedjoin_np(c->th, NULL, &ts)) == 0)
				c->running = false;
		}
		if (!c->running && c->own >= 0) {
			close(c->own);
			c->own = -1;
		}
		if (c->child_fd >= 0)
			close(c->child_fd);
		c->child_fd = -1;
	}
}

static void __attribute__((noreturn)) child(struct gvisor *g, const struct backend_spec *s, int go, int report)
{
	char root[sizeof(g->dir) + 16], bundle[sizeof(g->dir) + 16], pod[sizeof(g->dir) + 32], b;
	char stage[sizeof(g->dir) + 16], log[sizeof(g->dir) + 40], err[640];
	const char *net = s->p->network == POLICY_NET_NONE ? "--network=none" : "--network=host";
	char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	bool proxy = s->p->network == POLICY_NET_PROXY;
	char *argv[16];
	int n = 0, rc;

	/* the manager's death ends runsc, which ends the sandbox */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	gv_copy_child(g);
	own_stdio();
	/* runsc and all it starts see the staged root and binds; they go
	 * with the last of them, whatever kills them */
	snprintf(stage, sizeof(stage), "%s/stage", g->dir);
	/* proxy: runsc starts in a network namespace of loopback alone, where
	 * sandtraild opens the proxy's door (proxy_attach) and the connect
	 * hooks send every TCP connect; --network=host keeps runsc in it */
	if (unshare(CLONE_NEWNS | (proxy ? CLONE_NEWNET : 0)) < 0)
		snprintf(err, sizeof(err), "unshare(CLONE_NEWNS%s): %s", proxy ? "|CLONE_NEWNET" : "", strerror(errno));
	else if (proxy && (rc = netns_child()) < 0)
		snprintf(err, sizeof(err), "loopback up in the session's network namespace: %s", strerror(-rc));
	else if (mntns_stage(&g->plan, stage, err, sizeof(err)) == 0)
		err[0] = 0;
	if (write(report, err, strlen(err) + !err[0]) < 0 || err[0] || read(go, &b, 1) != 1)
		_exit(125);
	snprintf(root, sizeof(root), "--root=%s/state", g->dir);
	snprintf(bundle, sizeof(bundle), "%s/bundle", g->dir);
	snprintf(pod, sizeof(pod), "--pod-init-config=%s/pod.json", g->dir);
	argv[n++] = "runsc";
	argv[n++] = root;
	/* limits are the session cgroup's, set by the manager */
	argv[n++] = "--ignore-cgroups";
	argv[n++] = (char *)net;
	/* every write reaches a host file system through the gofer, where
	 * the kernel's programs see it (no in-memory overlay) */
	argv[n++] = "--overlay2=none";
	argv[n++] = "--oci-seccomp";
	/* its own log says how the workload ended (gv_wait) */
	snprintf(log, sizeof(log), "--debug-log=%s/log.%%COMMAND%%", g->dir);
	argv[n++] = log;
	if (s->audited)
		argv[n++] = pod;
	argv[n++] = "run";
	argv[n++] = "--bundle";
	argv[n++] = bundle;
	argv[n++] = g->cid;
	argv[n] = NULL;
	syscall(SYS_close_range, 3, ~0U, 0);
	execve(runsc_path(), argv, envp);
	dprintf(2, "sandtrail: exec %s: %s\n", runsc_path(), strerror(errno));
	_exit(125);
}

/* What the policy asks that a gvisor session could not police. */
static int gv_refuse(const struct policy *p, char *err, size_t errlen)
{
	/* the sandbox's processes are the Sentry's tasks, not host tasks:
	 * the host's pids limit would count runsc's threads instead */
	if (p->pids) {
		snprintf(err, errlen, "--pids-limit: gvisor mode cannot police it (the sandbox's processes are not "
			 "host processes; runsc's own threads are)");
		return -1;
	}
	/* runsc's network is the host's or none: no pasta, nothing to publish through */
	if (p->npublish) {
		snprintf(err, errlen, "-p: gvisor mode cannot publish ports (its allowlist shares the host's network)");
		return -1;
	}
	/* the workload's syscalls never reach the host kernel's filters */
	if (p->seccomp) {
		snprintf(err, errlen, "--security-opt seccomp=%s: gvisor mode does not apply seccomp profiles "
			 "(the Sentry serves the sandbox's syscalls)", p->seccomp);
		return -1;
	}
	return 0;
}

/* The container id, made at first use: the watch request names it. */
static const char *cid(struct gvisor *g)
{
	uint8_t rnd[8] = { 0 };

	if (g->cid[0])
		return g->cid;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		abort(); /* never on Linux >= 3.17 for 8 bytes */
	snprintf(g->cid, sizeof(g->cid), "sandtrail-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	return g->cid;
}

static json_t *gv_watch_fields(void *st)
{
	struct gvisor *g = st;

	cid(g);
	return json_pack("{s:{s:s}}", "gvisor", "container", g->cid);
}

static void gv_release(void *st);

static int gv_start(void *st, const struct backend_spec *s, char *err, size_t errlen)
{
	struct gvisor *g = st;
	struct clone_args args = { 0 };
	int go[2] = { -1, -1 }, rep[2] = { -1, -1 };

	g->pid = -1;
	g->pidfd = g->go_fd = g->report_fd = -1;
	for (int fd = 0; fd < 3; fd++)
		g->copy[fd].own = g->copy[fd].child_fd = -1;
	g->spec = *s;
	cid(g);
	if (access(runsc_path(), X_OK) < 0) {
		snprintf(err, errlen, "gvisor mode needs runsc: %s: %s (apt-get install runsc)", runsc_path(),
			 strerror(errno));
		return -1;
	}
	/* the volumes as the hardened mode takes them: no link followed, no
	 * writable root-owned source unasked, idmapped to the sandbox user */
	g->plan_made = true;
	if (mntns_parent(&g->plan, s->p, MNTNS_HOST, err, errlen) < 0 || make_dir(g, err, errlen) < 0 ||
	    write_json(g, "bundle/config.json", config_json(g, s), err, errlen) < 0)
		goto fail;
	g->plan.ca_bundle = s->ca_bundle;
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		goto fail;
	}
	if (gv_copy_prepare(g, err, errlen) < 0)
		goto fail;
	args.flags = CLONE_PIDFD | CLONE_INTO_CGROUP;
	args.pidfd = (uint64_t)(uintptr_t)&g->pidfd;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)s->cgroup_fd;
	g->pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (g->pid == 0) {
		close(go[1]);
		close(rep[0]);
		child(g, s, go[0], rep[1]);
	}
	close(go[0]);
	close(rep[1]);
	g->go_fd = go[1];
	g->report_fd = rep[0];
	if (g->pid < 0) {
		snprintf(err, errlen, "clone3(CLONE_INTO_CGROUP): %s", strerror(errno));
		goto fail;
	}
	if (gv_copy_start(g, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0 && go[i] != g->go_fd)
			close(go[i]);
		if (rep[i] >= 0 && rep[i] != g->report_fd)
			close(rep[i]);
	}
	gv_release(g);
	return -1;
}

static int gv_ready_fd(void *st)
{
	return ((struct gvisor *)st)->report_fd;
}

static int gv_ready(void *st, json_t *ack, char *err, size_t errlen)
{
	struct gvisor *g = st;
	const char *sink = json_string_value(json_object_get(ack, "gvisor_sink"));
	char msg[640];
	ssize_t n;

	do
		n = read(g->report_fd, msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || msg[0]) {
		msg[n > 0 ? n : 0] = 0;
		snprintf(err, errlen, "%s", n > 0 ? msg : "runsc's staging died");
		return -1;
	}
	if (!g->spec.audited)
		return 0;
	if (!sink) {
		snprintf(err, errlen, "sandtraild has no gVisor sink: it cannot record a gvisor session");
		return -1;
	}
	return write_json(g, "pod.json", pod_json(sink), err, errlen);
}

static int gv_go(void *st)
{
	struct gvisor *g = st;
	int rc = write(g->go_fd, "g", 1) == 1 ? 0 : -errno;

	close(g->go_fd);
	g->go_fd = -1;
	return rc;
}

static pid_t gv_pid(void *st)
{
	return ((struct gvisor *)st)->pid;
}

static int gv_pidfd(void *st)
{
	return ((struct gvisor *)st)->pidfd;
}

/* runsc run does not pass signals on: runsc kill does, to the container's
 * init, as the caller meant them. */
static void gv_signal(void *st, int sig)
{
	struct gvisor *g = st;
	char root[sizeof(g->dir) + 16], signo[16];
	char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	pid_t pid;

	snprintf(root, sizeof(root), "--root=%s/state", g->dir);
	snprintf(signo, sizeof(signo), "%d", sig);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "runsc", root, "kill", g->cid, signo, NULL };

		/* runsc's control socket is an abstract name, which lives in a
		 * network namespace: the session's own under proxy */
		if (g->spec.p->network == POLICY_NET_PROXY && setns(g->pidfd, CLONE_NEWNET) < 0)
			_exit(127);
		syscall(SYS_close_range, 3, ~0U, 0);
		execve(runsc_path(), argv, envp);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* The wait status `runsc run` had of the workload, as its log says it
 * ("Exiting with status: WS", glog's line); -1 without one. */
static int logged_status(const struct gvisor *g, int *ws)
{
	static const char key[] = "] Exiting with status: ";
	char path[sizeof(g->dir) + 16], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log.run", g->dir);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		const char *k = strstr(line, key);

		if (k)
			found = sscanf(k + sizeof(key) - 1, "%d", ws) == 1;
	}
	if (f)
		fclose(f);
	return found ? 0 : -1;
}

static int gv_wait(void *st, int *status)
{
	struct gvisor *g = st;
	siginfo_t si = { 0 };
	int ws;

	if (waitid(P_PIDFD, (id_t)g->pidfd, &si, WEXITED) < 0)
		return -errno;
	g->pid = -1;
	/* runsc run ends after its sandbox and gofer: what they wrote is
	 * copied before the manager writes its own lines (release waits for
	 * the rest, once the session cgroup is killed) */
	gv_copy_finish(g, 1000);
	*status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : W_EXITCODE(0, si.si_status);
	/* runsc ends with 128+N both when a signal ended the workload and when
	 * it exited 128+N: the wait status runsc logged tells them apart, taken
	 * only when it agrees with the exit code */
	if (si.si_code == CLD_EXITED && si.si_status > 128 && logged_status(g, &ws) == 0 && WIFSIGNALED(ws) &&
	    128 + WTERMSIG(ws) == si.si_status)
		*status = ws;
	return 0;
}

static void gv_release(void *st)
{
	struct gvisor *g = st;

	if (g->pid > 0) {
		syscall(SYS_pidfd_send_signal, g->pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)g->pidfd, &(siginfo_t){ 0 }, WEXITED);
		g->pid = -1;
	}
	if (g->pidfd >= 0)
		close(g->pidfd);
	if (g->go_fd >= 0)
		close(g->go_fd);
	if (g->report_fd >= 0)
		close(g->report_fd);
	g->pidfd = g->go_fd = g->report_fd = -1;
	gv_copy_finish(g, -1);
	if (g->plan_made)
		mntns_release(&g->plan);
	g->plan_made = false;
	/* the gofer and the sandbox are in the session cgroup, killed with it;
	 * runsc's state goes with the manager's mount namespace (make_dir) */
}

const struct backend_ops gvisor_backend = {
	.mode = "gvisor",
	.no_host_unix = true,
	.refuse = gv_refuse,
	.size = sizeof(struct gvisor),
	.watch_fields = gv_watch_fields,
	.start = gv_start,
	.ready = gv_ready,
	.ready_fd = gv_ready_fd,
	.go = gv_go,
	.pid = gv_pid,
	.pidfd = gv_pidfd,
	.signal = gv_signal,
	.wait = gv_wait,
	.release = gv_release,
};
