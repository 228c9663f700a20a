#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/landlock.h>

#include "landlock.h"

/* The kernel's newer ABI, beyond what the distribution's headers describe. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define LL_FS_TRUNCATE (1ULL << 14)
#define LL_FS_IOCTL_DEV (1ULL << 15)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)
#define LL_CREATE_RULESET_VERSION (1U << 0)

#define LL_READ (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

int landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);

	return v < 0 ? 0 : (int)v;
}

/* Every filesystem right the ABI knows. */
static uint64_t fs_rights(int abi)
{
	uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= LL_FS_IOCTL_DEV;
	return r;
}

static int allow(int ruleset, const char *path, uint64_t rights)
{
	struct landlock_path_beneath_attr pb = { .allowed_access = rights };
	int rc = 0;

	pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0)
		return -errno;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		rc = -errno;
	close(pb.parent_fd);
	return rc;
}

int landlock_child(const struct policy *p, int *abi)
{
	struct ll_ruleset_attr attr = { 0 };
	uint64_t all;
	size_t attr_size = 8;
	int fd, rc;

	*abi = landlock_abi();
	if (*abi < 1)
		return 0;
	all = fs_rights(*abi);
	attr.handled_access_fs = all;
	if (*abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (fd < 0)
		return -errno;
	rc = allow(fd, "/", LL_READ);
	if (!rc)
		rc = allow(fd, "/dev", LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | (*abi >= 5 ? LL_FS_IOCTL_DEV : 0) |
					  (*abi >= 3 ? LL_FS_TRUNCATE : 0));
	if (!rc)
		rc = allow(fd, "/dev/shm", all);
	for (size_t i = 0; !rc && i < p->nmounts; i++) {
		struct stat st;

		if (p->mounts[i].ro)
			continue;
		if (stat(p->mounts[i].dst, &st) < 0)
			rc = -errno;
		else if (S_ISDIR(st.st_mode))
			rc = allow(fd, p->mounts[i].dst, all);
		else /* directory rights on a file are EINVAL */
			rc = allow(fd, p->mounts[i].dst, LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |
						       LANDLOCK_ACCESS_FS_WRITE_FILE | (*abi >= 3 ? LL_FS_TRUNCATE : 0));
	}
	if (!rc && syscall(SYS_landlock_restrict_self, fd, 0) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
