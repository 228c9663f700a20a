/* The user namespace: the sandbox's uid/gid map to an unprivileged host id
 * (USERNS_HOST_BASE + id), never to the caller, so host files owned by the
 * caller or by root get no owner rights from inside. */
#ifndef SANDTRAIL_USERNS_H
#define SANDTRAIL_USERNS_H

#include <stdbool.h>
#include <sys/types.h>

/* Host ids of sandboxes: 0x5eed0000 + the id inside. */
#define USERNS_HOST_BASE 0x5eed0000u

/* Writes uid_map/gid_map of the child's new user namespace. */
int userns_parent(pid_t child, uid_t uid, gid_t gid);
/* In the child: drops supplementary groups and becomes uid/gid.  The caps of
 * the namespace stay, since the old uid was not this namespace's root. */
int userns_child(uid_t uid, gid_t gid);
/* Where host root's own creations land on disk through a host_root idmap,
 * until it chowns them (gVisor's gofer creates, then chowns to the task's
 * ids): an id nobody owns, never host root. */
#define USERNS_GOFER_ID (USERNS_HOST_BASE - 1)

/* A user namespace fd for an idmapped mount: files of host id `from` appear
 * as to_uid/to_gid (the sandbox user's view: USERNS_HOST_BASE + its id under
 * a user namespace, its id itself for gVisor).  host_root: host root's
 * creations through the mount land as USERNS_GOFER_ID, not as host root. */
int userns_idmap_fd(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid, bool host_root);

#endif
