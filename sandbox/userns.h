/* The user namespace: the sandbox's uid/gid map to an unprivileged host id
 * (USERNS_HOST_BASE + id), never to the caller, so host files owned by the
 * caller or by root get no owner rights from inside. */
#ifndef SANDTRAIL_USERNS_H
#define SANDTRAIL_USERNS_H

#include <sys/types.h>

/* Host ids of sandboxes: 0x5eed0000 + the id inside. */
#define USERNS_HOST_BASE 0x5eed0000u

/* Writes uid_map/gid_map of the child's new user namespace. */
int userns_parent(pid_t child, uid_t uid, gid_t gid);
/* In the child: drops supplementary groups and becomes uid/gid.  The caps of
 * the namespace stay, since the old uid was not this namespace's root. */
int userns_child(uid_t uid, gid_t gid);
/* A user namespace fd mapping host id `from` to USERNS_HOST_BASE + uid/gid:
 * the idmapping that makes the caller's files appear as the sandbox user's. */
int userns_idmap_fd(uid_t from_uid, gid_t from_gid, uid_t uid, gid_t gid);

#endif
