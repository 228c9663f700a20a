/* The mount namespace.  The parent (host root) resolves every host path and
 * makes detached mount trees with open_tree(): the read-only pieces of the
 * root (the host's /usr, /bin, /sbin, /lib*, a filtered /etc; or the
 * top-level entries of --rootfs), the device nodes, the binds (idmapped so
 * the workspace owner's files belong to the sandbox user).  The child
 * attaches them into a tmpfs root of its own, where any mount point can be
 * made: it never looks up a host path itself. */
#ifndef SANDTRAIL_MNTNS_H
#define SANDTRAIL_MNTNS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

#define MNTNS_DEVS 6
#define MNTNS_ENTRIES_MAX 128

/* One entry of the new root: a read-only tree, or a symbolic link. */
struct mntns_entry {
	char path[NAME_MAX + 8]; /* relative to the root: "usr", "etc/hosts" */
	int fd;                  /* detached tree; -1 for a link */
	char *link;              /* the link's target */
	bool dir;
};

struct mntns_plan {
	const struct policy *p;
	struct mntns_entry entries[MNTNS_ENTRIES_MAX];
	size_t nentries;
	bool own_etc;                    /* host root: /etc is filtered, passwd/group made */
	int dev_fds[MNTNS_DEVS];
	int bind_fds[POLICY_MOUNTS_MAX]; /* by index in p->mounts; -1 for tmpfs */
	size_t order[POLICY_MOUNTS_MAX]; /* p->mounts indexes, parents before children */
};

/* Before clone: opens every tree the child will attach.  -1 with err. */
int mntns_parent(struct mntns_plan *plan, const struct policy *p, char *err, size_t errlen);
/* In the child (new user + mount namespace): builds the tmpfs root, pivots
 * into it, fresh /proc, minimal /dev, tmpfs and binds, then makes the root
 * read-only.  -1 with err naming the call. */
int mntns_child(const struct mntns_plan *plan, char *err, size_t errlen);
void mntns_release(struct mntns_plan *plan);
/* An O_PATH fd on an absolute host path opened without following any
 * symbolic link; -errno, -ELOOP with the path up to the link in link. */
int mntns_open_nofollow(const char *path, char *link, size_t linklen);

#endif
