/* The gvisor backend: the workload runs under gVisor's runsc, started in
 * the session cgroup from an OCI bundle made from the policy (read-only
 * root, the policy's mounts, env and secrets, uid, rlimits, capabilities).
 * The Sentry reports the sandbox's own syscalls to sandtraild's remote sink
 * (userspace/collector/gvisor_sink.h); the kernel's programs see runsc.
 * runsc's state is private to the session: in a tmpfs of the manager's own
 * mount namespace, gone with it. */
#ifndef SANDTRAIL_GVISOR_H
#define SANDTRAIL_GVISOR_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "backend.h"
#include "mntns.h"

struct gvisor {
	struct backend_spec spec;
	char cid[64];        /* container id: sandtrail-<16 hex> */
	char dir[256];       /* the session's runsc directory (in that tmpfs) */
	pid_t pid;           /* `runsc run` */
	int pidfd, go_fd;
	int report_fd;       /* the child's staging: "" or the error */
	/* the root and binds as the hardened mode's, staged for runsc in
	 * the child's own mount namespace (mntns_stage) */
	struct mntns_plan plan;
	bool plan_made;
	/* the caller's stdin/stdout/stderr when a regular file: the Sentry
	 * has a pipe, copied by a thread of the manager's (gv_copy_start) */
	struct gv_copy {
		int fd;         /* 0, 1 or 2 */
		int from, to;   /* what the thread reads and writes */
		int own;        /* the manager's pipe end, closed at the end */
		int child_fd;   /* the other end: runsc's fd */
		pthread_t th;
		bool running;
	} copy[3];
};

#endif
