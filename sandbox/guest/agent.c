/* The microVM guest's agent, pid 1 after /init: reads the command from the
 * control port, attaches the capture programs (capture.c), runs the command
 * as its user with the console as its output, streams the programs' events
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
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "capture.h"
#include "clock.h"
#include "vmframe.h"

#define CTL_PORT   "sandtrail.ctl"
#define EV_PORT    "sandtrail.ev"
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

static void read_spec(struct vmframe_dec *dec, struct vmspec *s, char **argv, char **envp)
{
	struct vmframe f;
	uint8_t buf[4096];

	for (;;) {
		ssize_t n;

		if (vmframe_next(dec, &f)) {
			if (f.type != VMFRAME_SPEC ||
			    vmspec_decode((uint8_t *)f.p, f.len, s, argv, envp, ARGS_MAX) < 0)
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

/* The console as the command's output, byte for byte (no \n -> \r\n). */
static int console(void)
{
	int fd = open("/dev/ttyS0", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	struct termios t;

	if (fd >= 0 && tcgetattr(fd, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)OPOST;
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

static void __attribute__((noreturn)) child(const struct vmspec *s, int in, int out)
{
	gid_t g = s->gid;

	setsid();
	if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(125);
	if (setgroups(1, &g) < 0 || setresgid(s->gid, s->gid, s->gid) < 0 || setresuid(s->uid, s->uid, s->uid) < 0)
		_exit(125);
	if (chdir(s->workdir[0] ? s->workdir : s->workspace[0] ? s->workspace : "/") < 0) {
		dprintf(2, "sandtrail-agent: chdir(\"%s\"): %s\n", s->workdir, strerror(errno));
		_exit(125);
	}
	execvpe(s->argv[0], s->argv, s->envp);
	dprintf(2, "sandtrail-agent: exec %s: %s\n", s->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int main(void)
{
	static char *argv[ARGS_MAX + 1], *envp[ARGS_MAX + 1];
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
	read_spec(&dec, &s, argv, envp);
	if (s.workspace[0]) {
		mkdirs(s.workspace);
		if (mount("workspace", s.workspace, "9p", MS_NOSUID | MS_NODEV,
			  "trans=virtio,version=9p2000.L,msize=512000,access=any") < 0)
			fail("mount(\"workspace\", \"%s\", \"9p\"): %s", s.workspace, strerror(errno));
	}
	ev_fd = open_port(EV_PORT, O_WRONLY);
	/* no event port: an unrecorded session (--no-audit) */
	t0 = clock_ns(CLOCK_MONOTONIC);
	if (ev_fd >= 0 && (rc = capture_start(&cap, ev_fd)) < 0)
		fail("capture: %s", strerror(-rc));
	/* the programs' load and verification, for the host's bench */
	load_us = (uint32_t)((clock_ns(CLOCK_MONOTONIC) - t0) / 1000);
	/* opened here: the command's own records start at its exec */
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	out = console();
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

		if (cap)
			capture_poll(cap, 100);
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
