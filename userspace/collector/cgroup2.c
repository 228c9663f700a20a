#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup2.h"

int cgroup2_mount(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;

	if (!f)
		return -errno;
	/* "id parent maj:min root mountpoint opts [optional...] - fstype src superopts" */
	while (getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - ");
		char mnt[4096];

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if (strlen(mnt) >= len) {
			rc = -ENAMETOOLONG;
			break;
		}
		strcpy(out, mnt);
		rc = 0;
		break;
	}
	free(line);
	fclose(f);
	return rc;
}

int cgroup2_self(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		rc = strlen(line + 3) < len ? 0 : -ENAMETOOLONG;
		if (!rc)
			strcpy(out, line + 3);
		break;
	}
	free(line);
	fclose(f);
	return rc;
}

int cgroup2_open(const char *path, int *fdp, uint64_t *id, char *err, size_t errlen)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	struct statfs sfs;
	int fd, mnt_id, rc;

	if (path[0] != '/') {
		snprintf(err, errlen, "cgroup %s: not an absolute path", path);
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cgroup %s: %s", path, strerror(errno));
		return rc;
	}
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		char root[512] = "";

		cgroup2_mount(root, sizeof(root));
		snprintf(err, errlen, "cgroup %s: not a cgroup v2 directory (cgroup2 is mounted at %s)", path,
			 root[0] ? root : "no place");
		close(fd);
		return -ENOTDIR;
	}
	/* for kernfs the file handle is the 64-bit cgroup id */
	if (name_to_handle_at(fd, "", &h.fh, &mnt_id, AT_EMPTY_PATH) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cgroup %s: name_to_handle_at: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	memcpy(id, h.fh.f_handle, sizeof(*id));
	*fdp = fd;
	return 0;
}

int cgroup2_populated(int cgfd)
{
	char buf[256];
	ssize_t n;
	int fd = openat(cgfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	char *p;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	p = strstr(buf, "populated ");
	return p ? p[10] == '1' : -EBADMSG;
}

/* SIGKILL to every process listed in cgfd and its descendants. */
static int kill_listed(int cgfd)
{
	int fd = openat(cgfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	FILE *f;
	int pid;

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -errno;
	}
	while (fscanf(f, "%d", &pid) == 1)
		kill(pid, SIGKILL);
	fclose(f);
	fd = openat(cgfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d)
		return fd < 0 ? -errno : (close(fd), -errno);
	while ((de = readdir(d))) {
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(cgfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) {
			kill_listed(sub);
			close(sub);
		}
	}
	closedir(d);
	return 0;
}

int cgroup2_kill(int cgfd)
{
	int fd = openat(cgfd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return errno == ENOENT ? kill_listed(cgfd) : -errno;
	if (write(fd, "1", 1) != 1)
		rc = -errno;
	close(fd);
	return rc;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

int cgroup2_peer(int fd, const char *root, char *out, size_t len, const char **why)
{
	struct ucred cred;
	socklen_t sl = sizeof(cred);
	char proc[64], line[4200];
	int pidfd = -1;
	FILE *f;

	out[0] = 0;
	*why = "not root";
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0 || cred.uid != 0)
		return -1;
	*why = "its process is gone";
	sl = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &sl) < 0)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/%d/cgroup", (int)cred.pid);
	f = fopen(proc, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::/", 4))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(out, len, "%s%s", root, line[4] ? line + 3 : "");
	}
	if (f)
		fclose(f);
	/* still alive after the read: the pid was not reused meanwhile */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 || !out[0]) {
		close(pidfd);
		return -1;
	}
	close(pidfd);
	return 0;
}
