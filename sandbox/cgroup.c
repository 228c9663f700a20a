#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "collector/collector.h"

static const char *const ctl_v2[CGROUP_NCTL] = { "memory", "pids", "cpu" };
/* v1 mount points of the same controllers (cpu may be co-mounted as cpu,cpuacct) */
static const char *const ctl_v1[CGROUP_NCTL] = { "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids",
						 "/sys/fs/cgroup/cpu" };

const char *cgroup_v2_root(void)
{
	struct statfs s;

	if (statfs("/sys/fs/cgroup", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
		return "/sys/fs/cgroup";
	if (statfs("/sys/fs/cgroup/unified", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
		return "/sys/fs/cgroup/unified";
	return NULL;
}

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[4200];
	int fd, rc = 0;
	size_t len = strlen(val);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != (ssize_t)len)
		rc = -errno;
	close(fd);
	return rc;
}

static int read_file(const char *dir, const char *file, char *buf, size_t cap)
{
	char path[4200];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* "key N" line of a flat-keyed file (memory.events, cpu.stat, oom_control) */
static int read_key(const char *dir, const char *file, const char *key, uint64_t *out)
{
	char buf[4096], *line, *save = NULL;
	size_t klen = strlen(key);

	if (read_file(dir, file, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			*out = strtoull(line + klen + 1, NULL, 10);
			return 0;
		}
	return -1;
}

static int read_u64(const char *dir, const char *file, uint64_t *out)
{
	char buf[64];

	if (read_file(dir, file, buf, sizeof(buf)) < 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	*out = strtoull(buf, NULL, 10);
	return 0;
}

/* Which of our controllers a v2 list names (cgroup.controllers: offered
 * to the children, cgroup.subtree_control: enabled for them). */
static void v2_controllers(const char *dir, const char *file, bool on[CGROUP_NCTL])
{
	char buf[512], *tok, *save = NULL;

	if (read_file(dir, file, buf, sizeof(buf)) < 0)
		return;
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		for (int c = 0; c < CGROUP_NCTL; c++)
			if (!strcmp(tok, ctl_v2[c]))
				on[c] = true;
}

static int mkdir_p1(const char *path)
{
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static uint64_t oom_kills(struct cgroup_session *cg)
{
	uint64_t n = 0;

	if (cg->on_v2[CGROUP_MEMORY])
		read_key(cg->v2, "memory.events", "oom_kill", &n);
	else if (cg->v1[CGROUP_MEMORY][0])
		read_key(cg->v1[CGROUP_MEMORY], "memory.oom_control", "oom_kill", &n);
	return n;
}

static int set_limits(struct cgroup_session *cg, const struct cgroup_limits *lim, char *err, size_t errlen)
{
	char val[64];
	const char *dir, *file = NULL;
	int rc = 0;

	if (lim->memory) {
		snprintf(val, sizeof(val), "%llu", (unsigned long long)lim->memory);
		if (cg->on_v2[CGROUP_MEMORY]) {
			dir = cg->v2;
			rc = write_file(dir, file = "memory.max", val);
			/* swap would let a hog outlive its limit */
			if (!rc)
				write_file(dir, "memory.swap.max", "0");
		} else {
			dir = cg->v1[CGROUP_MEMORY];
			rc = write_file(dir, file = "memory.limit_in_bytes", val);
			if (!rc)
				write_file(dir, "memory.memsw.limit_in_bytes", val);
		}
		if (rc)
			goto fail;
	}
	if (lim->pids) {
		snprintf(val, sizeof(val), "%llu", (unsigned long long)lim->pids);
		dir = cg->on_v2[CGROUP_PIDS] ? cg->v2 : cg->v1[CGROUP_PIDS];
		rc = write_file(dir, file = "pids.max", val);
		if (rc)
			goto fail;
	}
	if (lim->cpus_milli) {
		/* quota per 100 ms period */
		unsigned long long quota = (unsigned long long)lim->cpus_milli * 100;

		if (cg->on_v2[CGROUP_CPU]) {
			dir = cg->v2;
			snprintf(val, sizeof(val), "%llu 100000", quota);
			rc = write_file(dir, file = "cpu.max", val);
		} else {
			dir = cg->v1[CGROUP_CPU];
			rc = write_file(dir, "cpu.cfs_period_us", "100000");
			snprintf(val, sizeof(val), "%llu", quota);
			if (!rc)
				rc = write_file(dir, file = "cpu.cfs_quota_us", val);
		}
		if (rc)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "write %s/%s: %s", dir, file ? file : "cpu.cfs_period_us", strerror(-rc));
	return -1;
}

int cgroup_create(struct cgroup_session *cg, const char *name, const struct cgroup_limits *lim,
		  char *err, size_t errlen)
{
	const char *root = cgroup_v2_root();
	bool enabled[CGROUP_NCTL] = { false };
	char parent[4096];
	int rc;

	memset(cg, 0, sizeof(*cg));
	cg->v2_fd = -1;
	if (!root) {
		snprintf(err, errlen, "no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified");
		return -1;
	}
	v2_controllers(root, "cgroup.controllers", cg->on_v2);
	snprintf(parent, sizeof(parent), "%s/" CGROUP2_SESSION_PARENT, root);
	if ((rc = mkdir_p1(parent)) < 0) {
		snprintf(err, errlen, "mkdir %s: %s", parent, strerror(-rc));
		return -1;
	}
	/* the controllers must reach sandtrail/<name> through sandtrail/: the
	 * first session enables them, the others find them enabled */
	if (cg->on_v2[CGROUP_MEMORY] || cg->on_v2[CGROUP_PIDS] || cg->on_v2[CGROUP_CPU])
		v2_controllers(parent, "cgroup.subtree_control", enabled);
	for (int c = 0; c < CGROUP_NCTL; c++) {
		char plus[16];

		snprintf(plus, sizeof(plus), "+%s", ctl_v2[c]);
		if (cg->on_v2[c] && !enabled[c] && write_file(parent, "cgroup.subtree_control", plus) < 0)
			cg->on_v2[c] = false;
	}
	if ((size_t)snprintf(cg->v2, sizeof(cg->v2), "%s/%s", parent, name) >= sizeof(cg->v2))
		errno = ENAMETOOLONG;
	else if (mkdir(cg->v2, 0755) == 0)
		errno = 0;
	if (errno) {
		snprintf(err, errlen, "mkdir %s: %s", cg->v2, strerror(errno));
		cg->v2[0] = 0;
		return -1;
	}
	cg->v2_fd = open(cg->v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->v2_fd < 0) {
		snprintf(err, errlen, "open %s: %s", cg->v2, strerror(errno));
		goto fail;
	}
	for (int c = 0; c < CGROUP_NCTL; c++) {
		struct statfs s;

		bool needed = (c == CGROUP_MEMORY && lim->memory) || (c == CGROUP_PIDS && lim->pids) ||
			      (c == CGROUP_CPU && lim->cpus_milli);

		/* v1 only for a limit: the first move into a v1 hierarchy waits for an
		 * RCU grace period (cgroup_threadgroup_rwsem), 10-15 ms of start time */
		if (cg->on_v2[c] || !needed)
			continue;
		if (statfs(ctl_v1[c], &s) < 0 || s.f_type != CGROUP_SUPER_MAGIC) {
			snprintf(err, errlen, "no %s controller in cgroup v2 or v1 on this host", ctl_v2[c]);
			goto fail;
		}
		snprintf(parent, sizeof(parent), "%s/" CGROUP2_SESSION_PARENT, ctl_v1[c]);
		if ((rc = mkdir_p1(parent)) < 0) {
			snprintf(err, errlen, "mkdir %s: %s", parent, strerror(-rc));
			goto fail;
		}
		if ((size_t)snprintf(cg->v1[c], sizeof(cg->v1[c]), "%s/%s", parent, name) >= sizeof(cg->v1[c]))
			errno = ENAMETOOLONG;
		else if (mkdir(cg->v1[c], 0755) == 0)
			errno = 0;
		if (errno) {
			snprintf(err, errlen, "mkdir %s: %s", cg->v1[c], strerror(errno));
			cg->v1[c][0] = 0;
			goto fail;
		}
	}
	if (set_limits(cg, lim, err, errlen) < 0)
		goto fail;
	cg->oom_before = oom_kills(cg);
	return 0;
fail:
	cgroup_destroy(cg);
	return -1;
}

int cgroup_attach_parent(struct cgroup_session *cg, pid_t pid)
{
	char val[32];

	snprintf(val, sizeof(val), "%d", (int)pid);
	for (int c = 0; c < CGROUP_NCTL; c++) {
		int rc;

		if (!cg->v1[c][0])
			continue;
		rc = write_file(cg->v1[c], "cgroup.procs", val);
		if (rc)
			return rc;
	}
	return 0;
}

/* SIGKILL to every pid listed in dir/cgroup.procs; returns how many were listed. */
static int kill_listed(const char *dir)
{
	char path[4200], line[32];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		pid_t pid = (pid_t)atoi(line);

		if (pid > 0 && kill(pid, SIGKILL) == 0)
			n++;
	}
	fclose(f);
	return n;
}

void cgroup_kill(struct cgroup_session *cg)
{
	if (cg->v2[0] && write_file(cg->v2, "cgroup.kill", "1") == 0)
		return;
	if (cg->v2[0])
		kill_listed(cg->v2);
	for (int c = 0; c < CGROUP_NCTL; c++)
		if (cg->v1[c][0])
			kill_listed(cg->v1[c]);
}

void cgroup_usage(struct cgroup_session *cg, struct cgroup_usage *u)
{
	const char *mem = cg->on_v2[CGROUP_MEMORY] ? cg->v2 : cg->v1[CGROUP_MEMORY];
	const char *pids = cg->on_v2[CGROUP_PIDS] ? cg->v2 : cg->v1[CGROUP_PIDS];

	memset(u, 0, sizeof(*u));
	u->oom = oom_kills(cg) > cg->oom_before;
	if (mem[0])
		u->has_memory_peak = read_u64(mem, cg->on_v2[CGROUP_MEMORY] ? "memory.peak" : "memory.max_usage_in_bytes",
					      &u->memory_peak) == 0;
	/* v1 pids has no peak; v2 has pids.peak since 6.1 */
	if (pids[0])
		u->has_pids_peak = read_u64(pids, "pids.peak", &u->pids_peak) == 0;
	/* cpu.stat's usage_usec exists in every v2 cgroup, controller or not */
	u->has_cpu = cg->v2[0] && read_key(cg->v2, "cpu.stat", "usage_usec", &u->cpu_usec) == 0;
}

static int populated(const char *dir)
{
	char buf[64];

	if (read_file(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
		return 0;
	return buf[0] != 0;
}

static void remove_dir(char *dir)
{
	struct timespec ts = { 0, 1000000 };

	if (!dir[0])
		return;
	/* a dying task still counts in cgroup.procs for a moment */
	for (int i = 0; i < 5000 && populated(dir); i++) {
		if (i % 100 == 0)
			kill_listed(dir);
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < 1000 && rmdir(dir) < 0 && errno == EBUSY; i++)
		nanosleep(&ts, NULL);
	dir[0] = 0;
}

void cgroup_destroy(struct cgroup_session *cg)
{
	if (cg->v2[0] || cg->v1[0][0] || cg->v1[1][0] || cg->v1[2][0])
		cgroup_kill(cg);
	if (cg->v2_fd >= 0)
		close(cg->v2_fd);
	cg->v2_fd = -1;
	remove_dir(cg->v2);
	for (int c = 0; c < CGROUP_NCTL; c++)
		remove_dir(cg->v1[c]);
}
