/* The hardened backend: namespaces, read-only root, no capabilities,
 * no_new_privs, Landlock and seccomp around CMD, started inside the session
 * cgroup and held before its first instruction until hardened_go(). */
#ifndef SANDTRAIL_HARDENED_H
#define SANDTRAIL_HARDENED_H

#include <stddef.h>
#include <sys/types.h>

#include "mntns.h"
#include "netns.h"
#include "policy.h"
#include "seccomp_profile.h"

struct hardened_spec {
	const struct policy *p;
	char *const *argv;
	char *const *envp;
	const struct seccomp_prog *seccomp;
	int cgroup_fd; /* cgroup v2 directory the child is born in */
	const struct netpolicy *net; /* allowlist: the host loopback ports it opens */
	const char *ca_bundle; /* --inspect-tls: /etc/sandtrail-ca.crt's content */
};

struct hardened {
	pid_t pid; /* the sandbox's init, as the host sees it */
	int pidfd;
	int go_fd, status_fd, report_fd;
	struct mntns_plan plan;
	struct netns_pasta net; /* allowlist: the way off the network namespace */
};

/* Prepares the mounts and clones the contained child.  -1 with err. */
int hardened_start(struct hardened *h, const struct hardened_spec *s, char *err, size_t errlen);
/* Waits until the child is fully contained; -1 with the child's error. */
int hardened_ready(struct hardened *h, char *err, size_t errlen);
/* Lets CMD start. */
int hardened_go(struct hardened *h);
/* Once the init exited (pidfd readable): CMD's wait status, or the init's
 * own when it was killed before CMD ended. */
int hardened_wait(struct hardened *h, int *status);
void hardened_release(struct hardened *h);

#endif
