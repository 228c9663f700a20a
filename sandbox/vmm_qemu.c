#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_profile.h"
#include "vmm.h"

#define QEMU_DEFAULT "/usr/bin/qemu-system-x86_64"
#define ARGS_MAX     (48 + 4 * VMM_SHARES_MAX)
/* fds the VMM's process holds for QEMU */
#define FD_CTL       3
#define FD_EVENTS    4
#define FD_SHARES    5

static const char *qemu_path(void)
{
	const char *p = getenv("SANDTRAIL_QEMU");

	return p && *p ? p : QEMU_DEFAULT;
}

bool vmm_kvm_usable(void)
{
	const char *force = getenv("SANDTRAIL_MICROVM_ACCEL");
	int fd;

	if (force && *force)
		return !strcmp(force, "kvm");
	if (access("/sys/module/kvm_intel", F_OK) < 0 && access("/sys/module/kvm_amd", F_OK) < 0)
		return false;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Connects to the unix socket at path: the VMM's process is the peer, in
 * the session cgroup, as root (the listener checks both). */
static int connect_events(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return fd;
}

static int read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	return (int)n;
}

static void __attribute__((noreturn)) qemu_child(const struct vmm_spec *s, int go)
{
	static char strs[ARGS_MAX][512];
	char *argv[ARGS_MAX + 1], events[4096];
	char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	/* out of the way of the numbers they are moved to */
	int ctl = fcntl(s->ctl_fd, F_DUPFD_CLOEXEC, 10), con = fcntl(s->console_fd, F_DUPFD_CLOEXEC, 10);
	int n = 0, k = 0, got, fd, ev = -1, share_fd[VMM_SHARES_MAX];
	char share_path[VMM_SHARES_MAX][32];

#define ARG(...) (snprintf(strs[k], sizeof(strs[k]), __VA_ARGS__), argv[n++] = strs[k++])
	/* the manager's death ends the VM */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* the go message: the event socket's path, or nothing */
	got = read_all(go, events, sizeof(events) - 1);
	if (got < 1 || events[0] != 'g')
		_exit(125);
	events[got] = 0;
	if (got > 1) {
		fd = connect_events(events + 1);
		ev = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 10);
		if (ev < 0) {
			dprintf(2, "sandtrail: connect(\"%s\"): %s\n", events + 1, strerror(errno));
			_exit(125);
		}
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (ctl < 0 || con < 0 || fd < 0 || dup2(fd, 0) < 0 || dup2(con, 1) < 0 || dup2(ctl, FD_CTL) < 0 ||
	    (ev >= 0 && dup2(ev, FD_EVENTS) < 0))
		_exit(125);
	/* a share opened by the caller is served through its fd, at 5 and up:
	 * QEMU opens /proc/self/fd/N, the very directory that was checked */
	for (size_t i = 0; i < s->nshares; i++)
		share_fd[i] = s->shares[i].fd < 0 ? -1 : fcntl(s->shares[i].fd, F_DUPFD_CLOEXEC, 100);
	for (size_t i = 0; i < s->nshares; i++) {
		if (s->shares[i].fd < 0)
			continue;
		if (share_fd[i] < 0 || dup2(share_fd[i], FD_SHARES + (int)i) < 0)
			_exit(125);
		snprintf(share_path[i], sizeof(share_path[i]), "/proc/self/fd/%d", FD_SHARES + (int)i);
	}
	ARG("qemu-system-x86_64");
	ARG("-M");
	/* ACPI on: the guest's poweroff ends QEMU */
	ARG("microvm,acpi=on");
	ARG("-accel");
	/* a bounded translation cache: TCG's default is 1 GiB of the cgroup's memory */
	ARG(s->kvm ? "kvm" : "tcg,tb-size=64");
	if (s->kvm) {
		ARG("-cpu");
		ARG("host");
	}
	ARG("-m");
	ARG("%u", s->memory_mib);
	ARG("-smp");
	ARG("%u", s->cpus);
	ARG("-nodefaults");
	ARG("-no-user-config");
	ARG("-display");
	ARG("none");
	ARG("-no-reboot");
	ARG("-kernel");
	ARG("%s", s->kernel);
	ARG("-initrd");
	ARG("%s", s->initrd);
	ARG("-append");
	ARG("%s", s->cmdline);
	/* the kernel's messages are not the command's output: the serial
	 * console goes nowhere, the command's output to a port of its own
	 * (a port's write returns once QEMU has the bytes: nothing is in
	 * flight when the guest powers off, as on a console) */
	ARG("-serial");
	ARG("null");
	ARG("-chardev");
	ARG("file,id=con,path=/proc/self/fd/1,append=on");
	ARG("-device");
	ARG("virtio-serial-device,max_ports=4");
	ARG("-device");
	ARG("virtserialport,chardev=con,name=sandtrail.out");
	ARG("-chardev");
	ARG("socket,id=ctl,fd=%d", FD_CTL);
	ARG("-device");
	ARG("virtserialport,chardev=ctl,name=sandtrail.ctl");
	if (ev >= 0) {
		ARG("-chardev");
		ARG("socket,id=ev,fd=%d", FD_EVENTS);
		ARG("-device");
		ARG("virtserialport,chardev=ev,name=sandtrail.ev");
	}
	for (size_t i = 0; i < s->nshares; i++) {
		/* none: the files are the VMM's user's, their modes as the guest set them */
		ARG("-fsdev");
		ARG("local,id=fs%zu,path=%s,security_model=none%s", i,
		    s->shares[i].fd < 0 ? s->shares[i].path : share_path[i], s->shares[i].ro ? ",readonly=on" : "");
		ARG("-device");
		ARG("virtio-9p-device,fsdev=fs%zu,mount_tag=%s", i, s->shares[i].tag);
	}
	/* QEMU's own seccomp filter (set*id allowed: -runas needs them; once
	 * every id is the unprivileged one, nothing regains root), then the
	 * ids, which also make QEMU undumpable: the volume owner's processes
	 * cannot ptrace it */
	ARG("-sandbox");
	ARG("on,obsolete=deny,spawn=deny,resourcecontrol=deny");
	ARG("-runas");
	ARG("%u:%u", (unsigned)s->uid, (unsigned)s->gid);
	argv[n] = NULL;
#undef ARG
	syscall(SYS_close_range, FD_SHARES + s->nshares, ~0U, 0);
	/* the fixed filter of every session (seccomp_fixed.c), on the VMM:
	 * the guest's chmod of a 9p file is QEMU's, and no setuid or setgid
	 * bit may reach a host file; no new privileges for QEMU either */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_fixed_apply() < 0) {
		dprintf(2, "sandtrail: seccomp(fixed filter) for QEMU: %s\n", strerror(errno));
		_exit(125);
	}
	execve(qemu_path(), argv, envp);
	dprintf(2, "sandtrail: exec %s: %s\n", qemu_path(), strerror(errno));
	_exit(125);
}

static int qemu_start(struct vmm *v, const struct vmm_spec *s, char *err, size_t errlen)
{
	struct clone_args args = { 0 };
	int go[2];

	v->pid = -1;
	v->pidfd = v->go_fd = -1;
	if (access(qemu_path(), X_OK) < 0) {
		snprintf(err, errlen, "microvm mode needs QEMU: %s: %s (apt-get install qemu-system-x86)",
			 qemu_path(), strerror(errno));
		return -1;
	}
	if (pipe2(go, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		return -1;
	}
	args.flags = CLONE_PIDFD | CLONE_INTO_CGROUP;
	args.pidfd = (uint64_t)(uintptr_t)&v->pidfd;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)s->cgroup_fd;
	v->pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (v->pid == 0) {
		close(go[1]);
		qemu_child(s, go[0]);
	}
	close(go[0]);
	if (v->pid < 0) {
		snprintf(err, errlen, "clone3(CLONE_INTO_CGROUP): %s", strerror(errno));
		close(go[1]);
		return -1;
	}
	v->go_fd = go[1];
	return 0;
}

static int qemu_go(struct vmm *v, const char *events)
{
	char msg[4096];
	int n = snprintf(msg, sizeof(msg), "g%s", events ? events : "");
	int rc = n > 0 && (size_t)n < sizeof(msg) && write(v->go_fd, msg, (size_t)n) == n ? 0 : -1;

	close(v->go_fd);
	v->go_fd = -1;
	return rc;
}

static int qemu_wait(struct vmm *v, int *status)
{
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)v->pidfd, &si, WEXITED) < 0)
		return -errno;
	v->pid = -1;
	*status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : W_EXITCODE(0, si.si_status);
	return 0;
}

static void qemu_stop(struct vmm *v)
{
	if (v->pid > 0) {
		syscall(SYS_pidfd_send_signal, v->pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)v->pidfd, &(siginfo_t){ 0 }, WEXITED);
		v->pid = -1;
	}
	if (v->pidfd >= 0)
		close(v->pidfd);
	if (v->go_fd >= 0)
		close(v->go_fd);
	v->pidfd = v->go_fd = -1;
}

const struct vmm_ops vmm_qemu = {
	.name = "qemu",
	.start = qemu_start,
	.go = qemu_go,
	.wait = qemu_wait,
	.stop = qemu_stop,
};
