#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "userns.h"

/* One write: the kernel takes a map whole or not at all.  second: a second
 * line, inside2 as host root's id. */
static int write_map2(pid_t pid, const char *file, unsigned inside, unsigned host, unsigned inside2, bool second)
{
	char path[64], line[96];
	int fd, len, rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	len = snprintf(line, sizeof(line), "%u %u 1\n", inside, host);
	if (second)
		len += snprintf(line + len, sizeof(line) - (size_t)len, "%u 0 1\n", inside2);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)len) != len)
		rc = -errno;
	close(fd);
	return rc;
}

static int write_map(pid_t pid, const char *file, unsigned inside, unsigned host)
{
	return write_map2(pid, file, inside, host, 0, false);
}

int userns_parent(pid_t child, uid_t uid, gid_t gid)
{
	int rc = write_map(child, "uid_map", uid, USERNS_HOST_BASE + uid);

	return rc ? rc : write_map(child, "gid_map", gid, USERNS_HOST_BASE + gid);
}

int userns_child(uid_t uid, gid_t gid)
{
	/* the caller's groups (root's gid 0 among them) would still count on host files */
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

int userns_idmap_fd(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid, bool host_root)
{
	char path[64], c;
	int sync[2], fd, rc;
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC) < 0)
		return -errno;
	/* a throwaway process only to own the namespace; the fd keeps it alive */
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		rc = -errno;
		close(sync[0]);
		close(sync[1]);
		return rc;
	}
	if (pid == 0) {
		close(sync[1]);
		(void)!read(sync[0], &c, 1);
		_exit(0);
	}
	close(sync[0]);
	rc = write_map2(pid, "uid_map", from_uid, to_uid, USERNS_GOFER_ID, host_root && to_uid != 0);
	if (!rc)
		rc = write_map2(pid, "gid_map", from_gid, to_gid, USERNS_GOFER_ID, host_root && to_gid != 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	fd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	if (!rc && fd < 0)
		rc = -errno;
	close(sync[1]);
	waitpid(pid, NULL, 0);
	return rc ? rc : fd;
}
