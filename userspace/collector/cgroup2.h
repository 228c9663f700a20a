/* cgroup v2 facts the collector needs: where the tree is mounted, the id
 * of a cgroup directory, and killing a whole cgroup. */
#ifndef SANDTRAIL_CGROUP2_H
#define SANDTRAIL_CGROUP2_H

#include <stddef.h>
#include <stdint.h>

/* Where `sandtrail run` makes its session cgroups, below the cgroup2 mount:
 * sandtraild attaches the egress hooks there once for all of them. */
#define CGROUP2_SESSION_PARENT "sandtrail"

/* The cgroup2 mount point (/sys/fs/cgroup or /sys/fs/cgroup/unified). */
int cgroup2_mount(char *out, size_t len);
/* The calling process's cgroup2 path below the mount ("/" for the root). */
int cgroup2_self(char *out, size_t len);
/* Opens path as a cgroup v2 directory: fd (O_DIRECTORY) and its id.  On
 * failure -errno with a one-line reason naming the path in err. */
int cgroup2_open(const char *path, int *fd, uint64_t *id, char *err, size_t errlen);
/* 1 when the cgroup or a descendant has a live process, 0 if not, -errno. */
int cgroup2_populated(int cgfd);
/* The cgroup2 path (below root, the cgroup2 mount) of the root process
 * connected on the unix socket fd, read through a pidfd so that a recycled
 * pid cannot stand in for it; -1 with why (a peer that is not root, gone). */
int cgroup2_peer(int fd, const char *root, char *out, size_t len, const char **why);
/* Kills every process in the cgroup and below (cgroup.kill where the
 * kernel has it, else SIGKILL to each process listed). */
int cgroup2_kill(int cgfd);

#endif
