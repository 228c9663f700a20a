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
#define MNTNS_DEBIAN_BUNDLE "etc/ssl/certs/ca-certificates.crt" /* relative to the root */

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
	const char *ca_bundle;           /* written as /etc/sandtrail-ca.crt and bound over
					  * MNTNS_DEBIAN_BUNDLE when set (own_etc only) */
	int dev_fds[MNTNS_DEVS];
	int bind_fds[POLICY_MOUNTS_MAX]; /* by index in p->mounts; -1 for tmpfs */
	size_t order[POLICY_MOUNTS_MAX]; /* p->mounts indexes, parents before children */
};

/* Who looks at the binds' files: the sandbox user in its own user namespace
 * (hardened), or host processes with the sandbox's ids (gVisor: the gofer is
 * host root, the Sentry's tasks keep their ids on the host). */
enum mntns_viewer { MNTNS_USERNS, MNTNS_HOST };

/* Before clone: opens every tree the child will attach.  -1 with err. */
int mntns_parent(struct mntns_plan *plan, const struct policy *p, enum mntns_viewer v, char *err, size_t errlen);
/* In the child (new user + mount namespace): builds the tmpfs root, pivots
 * into it, fresh /proc, minimal /dev, tmpfs and binds, then makes the root
 * read-only.  -1 with err naming the call. */
int mntns_child(const struct mntns_plan *plan, char *err, size_t errlen);
/* For a runtime that builds the sandbox's mounts itself (gVisor), in a
 * mount namespace of the caller's own (unshared before): a tmpfs on dir
 * holding the same root as mntns_child's at dir/root (the root read-only,
 * the binds and the tmpfs mounts, host tmpfs, at their destinations, for
 * the runtime to bind onto themselves) and a tmpfs for /dev/shm at
 * dir/shm.  Nothing of it is visible on the host.  -1 with err. */
int mntns_stage(const struct mntns_plan *plan, const char *dir, char *err, size_t errlen);
void mntns_release(struct mntns_plan *plan);
/* An O_PATH fd on an absolute host path opened without following any
 * symbolic link; -errno, -ELOOP with the path up to the link in link. */
int mntns_open_nofollow(const char *path, char *link, size_t linklen);

#endif
