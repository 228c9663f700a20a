/* The mount namespace.  The parent (host root) resolves every host path and
 * makes detached mount trees with open_tree(): the read-only root, the device
 * nodes, the binds (idmapped so the workspace owner's files belong to the
 * sandbox user).  The child only attaches them: it never looks up a host
 * path itself. */
#ifndef SANDTRAIL_MNTNS_H
#define SANDTRAIL_MNTNS_H

#include <stddef.h>

#include "policy.h"

#define MNTNS_DEVS 6
#define MNTNS_HIDE_MAX 4

struct mntns_plan {
	const struct policy *p;
	int root_fd;
	int dev_fds[MNTNS_DEVS];
	int bind_fds[POLICY_MOUNTS_MAX]; /* by index in p->mounts; -1 for tmpfs */
	size_t order[POLICY_MOUNTS_MAX]; /* p->mounts indexes, parents before children */
	char *hide[MNTNS_HIDE_MAX];      /* the caller's home directories */
	size_t nhide;
};

/* Before clone: opens every tree the child will attach.  -1 with err. */
int mntns_parent(struct mntns_plan *plan, const struct policy *p, char *err, size_t errlen);
/* In the child (new user + mount namespace): pivot_root into the read-only
 * root, hide the caller's homes, fresh /proc, minimal /dev, tmpfs and binds.
 * -1 with err naming the call. */
int mntns_child(const struct mntns_plan *plan, char *err, size_t errlen);
void mntns_release(struct mntns_plan *plan);
/* An O_PATH fd on an absolute host path opened without following any
 * symbolic link; -errno, -ELOOP with the path up to the link in link. */
int mntns_open_nofollow(const char *path, char *link, size_t linklen);

#endif
