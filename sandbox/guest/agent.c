/* The microVM guest's agent, pid 1 after /init: reads the command from the
 * control port, attaches the capture programs (capture.c), builds the
 * command's root and runs the command as its user with the output port as its stdout and stderr, streams the programs' events
 * to the event port in frames (userspace/vmframe.h), reports the command's
 * wait status on the control port and powers the guest off.  Everything it
 * fails at ends in a FAIL frame and a power-off: the host never waits for a
 * guest that gave up. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "seccomp_profile.h"
#include "clock.h"
#include "vmframe.h"

#define CTL_PORT   "sandtrail.ctl"
#define EV_PORT    "sandtrail.ev"
#define OUT_PORT   "sandtrail.out"
#define ARGS_MAX   1024

static int ctl_fd = -1;
static uint32_t ctl_seq;

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void ctl_send(uint16_t type, const void *p, size_t len)
{
	static uint8_t buf[VMFRAME_HDR + VMFRAME_MAX];

	if (ctl_fd >= 0)
		write_all(ctl_fd, buf, vmframe_encode(buf, type, 0, ctl_seq++, p, len));
}

static void __attribute__((noreturn)) power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "sandtrail-agent: %s\n", msg);
	ctl_send(VMFRAME_FAIL, msg, n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	power_off();
}

/* /dev/vportNpM of the virtio-serial port the host named name. */
static int open_port(const char *name, int flags)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int fd = -1;

	while (d && fd < 0 && (e = readdir(d))) {
		char path[300], got[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		f = fopen(path, "re");
		if (f && fgets(got, sizeof(got), f) && !strcmp(strtok(got, "\n") ? got : "", name)) {
			snprintf(path, sizeof(path), "/dev/%s", e->d_name);
			fd = open(path, flags | O_CLOEXEC);
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return fd;
}

static void read_spec(struct vmframe_dec *dec, struct vmspec *s, char **argv, char **envp, char **mounts)
{
	struct vmframe f;
	uint8_t buf[4096];

	for (;;) {
		ssize_t n;

		if (vmframe_next(dec, &f)) {
			if (f.type != VMFRAME_SPEC ||
			    vmspec_decode((uint8_t *)f.p, f.len, s, argv, envp, mounts, ARGS_MAX) < 0)
				fail("the control port sent no valid command (frame type %u, %zu bytes)", f.type, f.len);
			return;
		}
		n = read(ctl_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("control port: %s", n < 0 ? strerror(errno) : "closed before the command came");
		vmframe_feed(dec, buf, (size_t)n);
	}
}

static void mkdirs(const char *path)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s", path);
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		mkdir(p, 0755);
		*c = '/';
	}
	mkdir(p, 0755);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fail("write %s: %s", path, strerror(errno));
	close(fd);
}

static void must_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
	mkdirs(dst);
	if (mount(src, dst, type, flags, data) < 0)
		fail("mount(\"%s\", \"%s\", \"%s\"): %s", src, dst, type, strerror(errno));
}

/* Loopback up, as in hardened mode's network namespace: the guest has no
 * other interface (network none). */
static void loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		fail("SIOCGIFFLAGS(\"lo\"): %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		fail("SIOCSIFFLAGS(\"lo\"): %s", strerror(errno));
	close(fd);
}

#define NEWROOT "/newroot"
#define P9      "trans=virtio,version=9p2000.L,msize=512000"

/* The command's root, as hardened mode's: a tmpfs holding the host's /usr
 * (read-only, nosuid) with the merged-/usr links, an /etc of its own, a
 * fresh /proc, /dev and the session's mounts; read-only once filled, then
 * made the root of everything (the agent's too: walks end at it). */
static void make_root(const struct vmspec *s)
{
	static const char *const links[][2] = { { "bin", "usr/bin" }, { "sbin", "usr/sbin" }, { "lib", "usr/lib" },
						{ "lib64", "usr/lib64" } };
	char path[4200], text[256];

	must_mount("root", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m");
	must_mount("usr", NEWROOT "/usr", "9p", MS_RDONLY | MS_NOSUID | MS_NODEV, P9 ",cache=loose");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), NEWROOT "/%s", links[i][0]);
		if (symlink(links[i][1], path) < 0)
			fail("symlink(\"%s\"): %s", path, strerror(errno));
	}
	mkdirs(NEWROOT "/etc");
	snprintf(text, sizeof(text), "root:x:0:0:root:/root:/bin/sh\nsandbox:x:%u:%u:sandbox:/tmp:/bin/sh\n"
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", s->uid, s->gid);
	write_file(NEWROOT "/etc/passwd", text);
	snprintf(text, sizeof(text), "root:x:0:\nsandbox:x:%u:\nnogroup:x:65534:\n", s->gid);
	write_file(NEWROOT "/etc/group", text);
	write_file(NEWROOT "/etc/hostname", "sandtrail\n");
	must_mount("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	must_mount("dev", NEWROOT "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, NULL);
	for (size_t i = 0; s->mounts[i]; i++) {
		char kind, arg[64], dst[4096];

		if (sscanf(s->mounts[i], "%c %63s %4095[^\n]", &kind, arg, dst) != 3 || dst[0] != '/' ||
		    strstr(dst, "/..") || (kind != '9' && kind != 'r' && kind != 't'))
			fail("mount %zu of the command: \"%s\" is not one", i, s->mounts[i]);
		snprintf(path, sizeof(path), NEWROOT "%s", dst);
		if (kind != 't') {
			must_mount(arg, path, "9p", MS_NOSUID | MS_NODEV | (kind == 'r' ? MS_RDONLY : 0), P9 ",access=any");
		} else {
			snprintf(text, sizeof(text), "mode=1777,size=%s", arg);
			must_mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, text);
		}
	}
	if (mount("root", NEWROOT, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		fail("remount %s read-only: %s", NEWROOT, strerror(errno));
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
		fail("switching the root to %s: %s", NEWROOT, strerror(errno));
}

static void __attribute__((noreturn)) child(const struct vmspec *s, int in, int out)
{
	gid_t g = s->gid;

	setsid();
	if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(125);
	if (setgroups(1, &g) < 0 || setresgid(s->gid, s->gid, s->gid) < 0 || setresuid(s->uid, s->uid, s->uid) < 0)
		_exit(125);
	if (chdir(s->workdir[0] ? s->workdir : "/") < 0) {
		dprintf(2, "sandtrail-agent: chdir(\"%s\"): %s\n", s->workdir, strerror(errno));
		_exit(125);
	}
	/* the fixed filter of every session (sandbox/seccomp_fixed.c): what the
	 * guest's capture cannot see (i386 and x32 calls, io_uring) or what
	 * could leave something on the host (setuid bits) is refused, as in
	 * hardened mode; last, so that the agent's own setup is not under it */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_fixed_apply() < 0)
		_exit(125);
	/* execvp searches the command's PATH, not the agent's */
	environ = (char **)s->envp;
	execvp(s->argv[0], s->argv);
	dprintf(2, "sandtrail-agent: exec %s: %s\n", s->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int main(void)
{
	static char *argv[ARGS_MAX + 1], *envp[ARGS_MAX + 1], *mounts[ARGS_MAX + 1];
	static struct vmframe_dec dec;
	struct capture *cap = NULL;
	struct vmspec s;
	int in, out, ev_fd, status = 0, rc;
	uint32_t st, load_us;
	uint64_t t0;
	pid_t pid;

	ctl_fd = open_port(CTL_PORT, O_RDWR);
	if (ctl_fd < 0)
		fail("no virtio-serial port named %s", CTL_PORT);
	read_spec(&dec, &s, argv, envp, mounts);
	out = open_port(OUT_PORT, O_WRONLY);
	if (out < 0)
		fail("no virtio-serial port named %s", OUT_PORT);
	ev_fd = open_port(EV_PORT, O_WRONLY | O_NONBLOCK);
	/* no event port: an unrecorded session (--no-audit) */
	t0 = clock_ns(CLOCK_MONOTONIC);
	if (ev_fd >= 0 && (rc = capture_start(&cap, ev_fd)) < 0)
		fail("capture: %s", strerror(-rc));
	/* the programs' load and verification, for the host's bench */
	load_us = (uint32_t)((clock_ns(CLOCK_MONOTONIC) - t0) / 1000);
	/* after the load: libbpf reads the kernel's BTF in /sys, which the command's root has not */
	make_root(&s);
	loopback_up();
	/* opened here: the command's own records start at its exec */
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ctl_send(VMFRAME_READY, &load_us, sizeof(load_us));
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		child(&s, in, out);
	/* pid 1 reaps every orphan; the session ends with its command */
	for (;;) {
		int wst;
		pid_t w;

		/* unrecorded, the command may not go on */
		if (cap && capture_poll(cap, 100) < 0) {
			kill(-1, SIGKILL);
			fail("the event port closed: the session can no longer be recorded");
		}
		while ((w = waitpid(-1, &wst, cap ? WNOHANG : 0)) > 0)
			if (w == pid) {
				status = wst;
				goto done;
			}
	}
done:
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	if (cap)
		capture_stop(cap);
	st = (uint32_t)status;
	ctl_send(VMFRAME_EXIT, &st, sizeof(st));
	power_off();
}
