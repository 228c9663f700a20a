/* What the session manager asks of a sandbox backend (hardened, gvisor,
 * microvm): start the workload inside the session cgroup, held before its first
 * instruction; let it go once sandtraild traces the session; say when it
 * ended and how.  The manager owns the cgroup, sandtraild and the end. */
#ifndef SANDTRAIL_BACKEND_H
#define SANDTRAIL_BACKEND_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#include "policy.h"
#include "seccomp_profile.h"

struct backend_spec {
	const struct policy *p;
	char *const *argv;
	char *const *envp;
	const struct seccomp_prog *seccomp;
	int cgroup_fd;  /* cgroup v2 directory the workload is born in */
	const struct netpolicy *net; /* the allowlist as resolved at start */
	bool audited;   /* false: --no-audit, no sandtraild */
	const char *ca_bundle; /* --inspect-tls: the host's bundle and the session CA, PEM, for MANAGER_CA_BUNDLE */
};

struct backend_ops {
	const char *mode;      /* the session's mode, as records name it */
	/* the sandbox cannot make host unix sockets (gVisor's Sentry may not):
	 * runsc's own abstract control socket stays reachable under allowlist */
	bool no_host_unix;
	size_t size;           /* of the backend's state, zeroed by the manager */
	/* What of the policy the backend cannot police: -1 with a one-line
	 * reason, before anything exists; NULL: all of it. */
	int (*refuse)(const struct policy *p, char *err, size_t errlen);
	/* Fields for sandtraild's watch request (the mode's own), or NULL. */
	json_t *(*watch_fields)(void *st);
	/* Prepares and starts the held workload; -1 with err.  pid/pidfd may
	 * be set even on failure (the manager then releases). */
	int (*start)(void *st, const struct backend_spec *s, char *err, size_t errlen);
	/* Once sandtraild acknowledged the session (ack NULL without it):
	 * waits until the workload is ready to go; -1 with err. */
	int (*ready)(void *st, json_t *ack, char *err, size_t errlen);
	/* Readable once the workload's setup reported (ready then answers at
	 * once), so the manager can wait with a deadline; NULL or -1: none. */
	int (*ready_fd)(void *st);
	int (*go)(void *st);
	pid_t (*pid)(void *st);  /* the process the manager attaches to v1 cgroups */
	int (*pidfd)(void *st);  /* readable when the session's process ended */
	/* Delivers a signal the caller sent to the workload. */
	void (*signal)(void *st, int sig);
	/* Once pidfd is readable: the workload's wait status. */
	int (*wait)(void *st, int *status);
	/* Why the session ended when it was the backend's doing (a guest that
	 * never booted: "boot_timeout"), or NULL: the manager's reasons. */
	const char *(*end_reason)(void *st);
	/* Kills what is left of the backend's own and removes its state. */
	void (*release)(void *st);
};

extern const struct backend_ops hardened_backend;
extern const struct backend_ops gvisor_backend;
extern const struct backend_ops microvm_backend;

/* The backend of a mode name; NULL when there is none. */
const struct backend_ops *backend_find(const char *mode);

#endif
