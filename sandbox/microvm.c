#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "microvm.h"
#include "mntns.h"

#define BOOT_TIMEOUT_MS   60000     /* TCG boots in seconds; a hung one ends here */
#define GUEST_MEMORY_MIB  512       /* without --memory */
#define VMM_OVERHEAD_MIB  192       /* of --memory, left to QEMU itself (TCG's cache: 64 MiB) */
#define NOBODY            65534
#define READ_MAX_FRAMES   64        /* control frames read after the guest ended */

/* The guest: $SANDTRAIL_MICROVM_DIR, else microvm/ beside the binary
 * (build/), else ../lib/sandtrail/microvm from it (make install). */
static void guest_dir(char *out, size_t len)
{
	const char *env = getenv("SANDTRAIL_MICROVM_DIR");
	char exe[PATH_MAX - 64];
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	if (strrchr(exe, '/'))
		*strrchr(exe, '/') = 0;
	snprintf(out, len, "%s/microvm", exe);
	if (access(out, F_OK) < 0)
		snprintf(out, len, "%s/../lib/sandtrail/microvm", exe);
}

static uint64_t boot_timeout_ms(void)
{
	const char *v = getenv("SANDTRAIL_BOOT_TIMEOUT");
	char *end;
	unsigned long long ms = v && *v ? strtoull(v, &end, 10) : 0;

	return v && *v && !*end && ms > 0 ? ms : BOOT_TIMEOUT_MS;
}

/* The host's TSC rate, for tsc_early_khz: without it about one boot in ten
 * hung at the guest's TSC calibration under TCG. */
static unsigned long tsc_khz(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];
	double mhz = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "cpu MHz : %lf", &mhz) == 1)
			break;
	if (f)
		fclose(f);
	return mhz > 0 ? (unsigned long)(mhz * 1000) : 2000000;
}

/* The host ids QEMU serves the writable volumes as: every one has the same
 * owner (--volume-owner, the sudo caller or the source's), never root.  The
 * guest sees the host's owners over 9p (no idmapping there): a writable
 * source must be the command's uid's, or the command could not write it. */
static int vmm_ids(const struct policy *p, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	bool any = false;

	*uid = NOBODY;
	*gid = NOBODY;
	if (p->volume_owner_set) {
		*uid = p->volume_uid;
		*gid = p->volume_gid;
		any = true;
	}
	for (size_t i = 0; i < p->nmounts; i++) {
		const struct policy_mount *m = &p->mounts[i];
		struct stat st;

		char link[PATH_MAX];
		int fd;

		if (m->type != POLICY_MOUNT_BIND || m->ro)
			continue;
		fd = mntns_open_nofollow(m->src, link, sizeof(link));
		if (fd == -ELOOP) {
			snprintf(err, errlen, "-v %s: %s is a symbolic link: volume sources are opened without following "
				 "links (name the real directory)", m->src, link);
			return -1;
		}
		if (fd < 0 || fstat(fd, &st) < 0) {
			snprintf(err, errlen, "-v %s: %s", m->src, strerror(fd < 0 ? -fd : errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		if (st.st_uid != p->uid) {
			snprintf(err, errlen, "-v %s: owned by uid %u, and microvm mode's guest sees the host's owners "
				 "(9p): the command, uid %u, could not write it (-u %u runs it as the owner)", m->src,
				 (unsigned)st.st_uid, (unsigned)p->uid, (unsigned)st.st_uid);
			return -1;
		}
		if (p->volume_owner_set)
			continue;
		if (any && (st.st_uid != *uid || st.st_gid != *gid)) {
			snprintf(err, errlen, "-v %s: microvm mode serves every writable volume as one owner; this one is "
				 "%u:%u, another %u:%u (--volume-owner sets one)", m->src, (unsigned)st.st_uid,
				 (unsigned)st.st_gid, (unsigned)*uid, (unsigned)*gid);
			return -1;
		}
		*uid = st.st_uid;
		*gid = st.st_gid;
		any = true;
	}
	if (any && *uid == 0) {
		snprintf(err, errlen, "microvm mode will not serve a writable volume as root (QEMU would run as root): "
			 "--volume-owner UID names a user");
		return -1;
	}
	return 0;
}

/* What the policy asks that a microvm session could not police. */
static int mv_refuse(const struct policy *p, char *err, size_t errlen)
{
	const char *what = NULL;
	char why[512];

	if (p->network != POLICY_NET_NONE)
		what = "--network: microvm mode has network none only (the guest has no network device)";
	else if (p->caps_add)
		what = "--cap-add: microvm mode runs CMD without capabilities";
	else if (p->seccomp)
		what = "--security-opt seccomp=: microvm mode does not apply seccomp profiles in the guest";
	else if (p->rootfs)
		what = "--rootfs: microvm mode's root is the host's /usr, read-only";
	else if (p->pids)
		what = "--pids-limit: microvm mode cannot police it (the guest's processes are not host processes)";
	else if (p->hostname)
		what = "--hostname: not set in the guest yet";
	else if (p->memory && p->memory < ((uint64_t)VMM_OVERHEAD_MIB + 128) << 20)
		what = "--memory: microvm mode needs 320m or more (192m of it is QEMU's own)";
	for (int r = 0; !what && r < POLICY_RLIMITS; r++)
		if (p->rlimits[r].set)
			what = "--ulimit: not applied in the guest yet";
	for (size_t i = 0; !what && i < p->nmounts; i++)
		if (p->mounts[i].type == POLICY_MOUNT_BIND && (strchr(p->mounts[i].src, ',') || p->mounts[i].follow))
			what = "-v: microvm mode takes no source with a comma (QEMU's option syntax) nor follow";
	if (what) {
		snprintf(err, errlen, "%s", what);
		return -1;
	}
	return vmm_ids(p, &(uid_t){ 0 }, &(gid_t){ 0 }, why, sizeof(why)) < 0 ? (snprintf(err, errlen, "%s", why), -1)
									      : 0;
}

static json_t *mv_watch_fields(void *st)
{
	struct microvm *m = st;

	m->kvm = vmm_kvm_usable();
	return json_pack("{s:{s:s, s:s}}", "microvm", "vmm", vmm_qemu.name, "accel", m->kvm ? "kvm" : "tcg");
}

/* The command, its user and the guest's mounts, over the control port:
 * sent now, read by the agent once the guest has booted. */
static int send_spec(struct microvm *m, const struct backend_spec *s, char *err, size_t errlen)
{
	static uint8_t payload[VMFRAME_MAX], frame[VMFRAME_HDR + VMFRAME_MAX];
	char *mounts[POLICY_MOUNTS_MAX + 1];
	const struct policy *p = s->p;
	size_t nm = 0, nvol = 0;
	int n;

	for (size_t i = 0; i < p->nmounts; i++) {
		const struct policy_mount *pm = &p->mounts[i];

		/* "9 TAG DST" a share ("r": read-only, as QEMU serves it), "t SIZE DST" a tmpfs */
		if (pm->type == POLICY_MOUNT_BIND)
			n = asprintf(&mounts[nm], "%c vol%zu %s", pm->ro ? 'r' : '9', nvol++, pm->dst);
		else
			n = asprintf(&mounts[nm], "t %llu %s", (unsigned long long)pm->size, pm->dst);
		if (n < 0)
			break;
		nm++;
	}
	mounts[nm] = NULL;
	n = vmspec_encode(payload, &(struct vmspec){ .uid = p->uid, .gid = p->gid, .workdir = p->workdir ? p->workdir : "",
						    .argv = s->argv, .envp = s->envp, .mounts = mounts });
	for (size_t i = 0; i < nm; i++)
		free(mounts[i]);
	if (n < 0) {
		snprintf(err, errlen, "the command, its environment and mounts take more than %d bytes", VMFRAME_MAX);
		return -1;
	}
	n = (int)vmframe_encode(frame, VMFRAME_SPEC, 0, 0, payload, (size_t)n);
	if (send(m->ctl, frame, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(err, errlen, "control port: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int mv_start(void *st, const struct backend_spec *s, char *err, size_t errlen)
{
	struct microvm *m = st;
	const struct policy *p = s->p;
	struct vmm_spec vs = { .cgroup_fd = s->cgroup_fd, .console_fd = 1, .kvm = m->kvm };
	char dir[PATH_MAX - 32], kernel[PATH_MAX], initrd[PATH_MAX], cmdline[256];
	int sv[2], rc;

	m->ctl = -1;
	m->kvm = vmm_kvm_usable();
	vs.kvm = m->kvm;
	m->vm = (struct vmm){ .ops = &vmm_qemu, .pid = -1, .pidfd = -1, .go_fd = -1 };
	m->spec = *s;
	guest_dir(dir, sizeof(dir));
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio", dir);
	if (access(kernel, R_OK) < 0 || access(initrd, R_OK) < 0) {
		snprintf(err, errlen, "microvm mode needs its guest: %s: %s (make microvm)", access(kernel, R_OK) < 0 ?
			 kernel : initrd, strerror(errno));
		return -1;
	}
	if (vmm_ids(p, &vs.uid, &vs.gid, err, errlen) < 0)
		return -1;
	snprintf(cmdline, sizeof(cmdline), "console=ttyS0 quiet loglevel=1 panic=-1 pci=off tsc_early_khz=%lu",
		 tsc_khz());
	vs.kernel = kernel;
	vs.initrd = initrd;
	vs.cmdline = cmdline;
	vs.memory_mib = p->memory ? (unsigned)(p->memory >> 20) - VMM_OVERHEAD_MIB : GUEST_MEMORY_MIB;
	vs.cpus = p->cpus_milli ? (unsigned)((p->cpus_milli + 999) / 1000) : 1;
	/* the guest's programs are the host's, as in hardened mode's root */
	vs.shares[vs.nshares++] = (struct vmm_share){ .tag = "usr", .path = "/usr", .fd = -1, .ro = true };
	for (size_t i = 0, v = 0; i < p->nmounts; i++) {
		static char tags[VMM_SHARES_MAX][16];
		const struct policy_mount *pm = &p->mounts[i];
		char link[PATH_MAX];
		struct stat sb;
		int fd;

		if (pm->type != POLICY_MOUNT_BIND)
			continue;
		if (vs.nshares == VMM_SHARES_MAX) {
			snprintf(err, errlen, "-v: microvm mode serves at most %d volumes", VMM_SHARES_MAX - 1);
			return -1;
		}
		/* as hardened mode's volumes: a link planted in a workspace by an
		 * earlier session redirects nothing (QEMU gets the directory's fd) */
		fd = mntns_open_nofollow(pm->src, link, sizeof(link));
		if (fd == -ELOOP) {
			snprintf(err, errlen, "-v %s: %s is a symbolic link: volume sources are opened without following "
				 "links (name the real directory)", pm->src, link);
			return -1;
		}
		if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISDIR(sb.st_mode) || (!pm->ro && sb.st_uid != p->uid)) {
			snprintf(err, errlen, "-v %s: %s", pm->src, fd < 0 ? strerror(-fd) : "not a directory the command's "
				 "uid owns (as checked before)");
			if (fd >= 0)
				close(fd);
			return -1;
		}
		m->vol_fds[m->nvol_fds++] = fd;
		snprintf(tags[v], sizeof(tags[v]), "vol%zu", v);
		vs.shares[vs.nshares++] = (struct vmm_share){ .tag = tags[v], .path = pm->src, .fd = fd, .ro = pm->ro };
		v++;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	m->ctl = sv[0];
	vs.ctl_fd = sv[1];
	rc = m->vm.ops->start(&m->vm, &vs, err, errlen);
	close(sv[1]);
	/* the VMM's process has its copies */
	while (m->nvol_fds)
		close(m->vol_fds[--m->nvol_fds]);
	if (rc < 0)
		return -1;
	return send_spec(m, s, err, errlen);
}

static int mv_ready(void *st, json_t *ack, char *err, size_t errlen)
{
	struct microvm *m = st;
	const char *sink = json_string_value(json_object_get(ack, "microvm_sink"));

	if (!m->spec.audited)
		return 0;
	if (!sink || strlen(sink) >= sizeof(m->sink)) {
		snprintf(err, errlen, "sandtraild has no microvm sink: it cannot record a microvm session");
		return -1;
	}
	snprintf(m->sink, sizeof(m->sink), "%s", sink);
	return 0;
}

/* A frame of the control port: false when the guest gave up (or lied). */
static bool on_frame(struct microvm *m, const struct vmframe *f, bool *ready)
{
	uint32_t v;

	switch (f->type) {
	case VMFRAME_READY:
		if (f->len == 4)
			memcpy(&m->load_us, f->p, 4);
		*ready = true;
		return true;
	case VMFRAME_EXIT:
		memcpy(&v, f->p, f->len == 4 ? 4 : 0);
		/* a wait status: exited 0-255, or killed by a signal 1-64 */
		if (f->len != 4 || m->exited || (v & ~0xff7fu) || ((v & 0x7f) && (v >> 8)) || (v & 0x7f) > 64) {
			snprintf(m->why, sizeof(m->why), "the guest reported no valid exit status");
			return false;
		}
		m->exited = true;
		m->status = v;
		return true;
	case VMFRAME_FAIL:
		snprintf(m->why, sizeof(m->why), "the guest could not run the command: %.*s", (int)(f->len < 400 ? f->len : 400),
			 (const char *)f->p);
		for (char *c = m->why; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		return false;
	}
	snprintf(m->why, sizeof(m->why), "the guest sent a control frame of type %u", f->type);
	return false;
}

/* Reads what the control port holds; -1 when the guest failed. */
static int read_ctl(struct microvm *m, bool *ready)
{
	uint8_t buf[4096];
	struct vmframe f;
	ssize_t n = recv(m->ctl, buf, sizeof(buf), MSG_DONTWAIT);

	if (n <= 0)
		return n == 0 || (errno != EAGAIN && errno != EINTR) ? 1 : 0;
	for (size_t off = 0; off < (size_t)n;) {
		off += vmframe_feed(&m->dec, buf + off, (size_t)n - off);
		while (vmframe_next(&m->dec, &f))
			if (!on_frame(m, &f, ready))
				return -1;
	}
	return 0;
}

/* Lets the guest boot, and waits (bounded) until it runs CMD. */
static int mv_go(void *st)
{
	struct microvm *m = st;
	uint64_t deadline = mono_ms() + boot_timeout_ms();
	bool ready = false;

	if (m->vm.ops->go(&m->vm, m->sink[0] ? m->sink : NULL) < 0) {
		snprintf(m->why, sizeof(m->why), "the VMM did not start");
		m->failure = "boot_failed";
		m->vm.ops->stop(&m->vm);
		return -1;
	}
	while (!ready) {
		struct pollfd pf[2] = { { m->ctl, POLLIN, 0 }, { m->vm.pidfd, POLLIN, 0 } };
		uint64_t now = mono_ms();
		int rc;

		if (now >= deadline) {
			snprintf(m->why, sizeof(m->why), "the guest did not start the command within %llu ms",
				 (unsigned long long)boot_timeout_ms());
			m->failure = "boot_timeout";
			break;
		}
		if (poll(pf, 2, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		rc = pf[0].revents ? read_ctl(m, &ready) : 0;
		if (rc < 0 || (rc > 0 && !ready) || (!pf[0].revents && pf[1].revents)) {
			if (!m->why[0])
				snprintf(m->why, sizeof(m->why), "the guest ended before it ran the command");
			m->failure = "boot_failed";
			break;
		}
	}
	/* for the bench: how long the boot and the guest's verifier took */
	if (ready && getenv("SANDTRAIL_MICROVM_TIMES"))
		fprintf(stderr, "sandtrail: microvm: CMD starts %llu ms after go; capture loaded in %u ms (%s)\n",
			(unsigned long long)(mono_ms() + boot_timeout_ms() - deadline), m->load_us / 1000, m->kvm ? "kvm" : "tcg");
	if (ready)
		return 0;
	fprintf(stderr, "sandtrail: %s\n", m->why);
	/* the manager sees the VMM end and asks for its status */
	syscall(SYS_pidfd_send_signal, m->vm.pidfd, SIGKILL, NULL, 0);
	return -1;
}

static pid_t mv_pid(void *st)
{
	return ((struct microvm *)st)->vm.pid;
}

static int mv_pidfd(void *st)
{
	return ((struct microvm *)st)->vm.pidfd;
}

/* The guest's processes are beyond the host's signals: a stop signal ends
 * the VM (the manager's grace period then has nothing left to kill). */
static void mv_signal(void *st, int sig)
{
	struct microvm *m = st;

	if ((sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) && !m->stopped_by) {
		m->stopped_by = sig;
		syscall(SYS_pidfd_send_signal, m->vm.pidfd, SIGKILL, NULL, 0);
	}
}

static int mv_wait(void *st, int *status)
{
	struct microvm *m = st;
	bool ready = false;
	int vmm_status, rc = m->vm.ops->wait(&m->vm, &vmm_status);

	if (rc < 0)
		return rc;
	/* the VMM is gone: what the guest said before is all there is; a
	 * guest that gave up after CMD started (its event port closed) says so */
	for (int i = 0; i < READ_MAX_FRAMES && !m->failure && !m->exited; i++) {
		int got = read_ctl(m, &ready);

		if (got < 0) {
			m->failure = "guest_failed";
			fprintf(stderr, "sandtrail: %s\n", m->why);
		}
		if (got != 0)
			break;
	}
	if (m->failure)
		*status = W_EXITCODE(125, 0);
	else if (m->exited)
		*status = (int)m->status;
	else if (m->stopped_by)
		*status = W_EXITCODE(0, m->stopped_by);
	else
		*status = WIFSIGNALED(vmm_status) ? vmm_status : W_EXITCODE(0, SIGKILL);
	return 0;
}

static const char *mv_end_reason(void *st)
{
	return ((struct microvm *)st)->failure;
}

static void mv_release(void *st)
{
	struct microvm *m = st;

	while (m->nvol_fds)
		close(m->vol_fds[--m->nvol_fds]);
	m->vm.ops->stop(&m->vm);
	if (m->ctl >= 0)
		close(m->ctl);
	m->ctl = -1;
}

const struct backend_ops microvm_backend = {
	.mode = "microvm",
	.refuse = mv_refuse,
	.size = sizeof(struct microvm),
	.watch_fields = mv_watch_fields,
	.start = mv_start,
	.ready = mv_ready,
	.go = mv_go,
	.pid = mv_pid,
	.pidfd = mv_pidfd,
	.signal = mv_signal,
	.wait = mv_wait,
	.end_reason = mv_end_reason,
	.release = mv_release,
};
