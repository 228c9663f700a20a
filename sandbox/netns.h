/* The network namespace: every session but --network host gets its own.
 * none: loopback only.  allowlist: loopback and a tap device that Debian's
 * pasta (passt) connects to the host's network; the session's connects and
 * datagrams are policed by sandtraild's cgroup programs before they reach the
 * tap, pasta carries what passed, and the only way in is a published port
 * (-p).  DESIGN.md's threat model says why pasta and not a veth pair. */
#ifndef SANDTRAIL_NETNS_H
#define SANDTRAIL_NETNS_H

#include <stddef.h>
#include <sys/types.h>

#include "collector/collector.h"
#include "policy.h"

#define NETNS_PASTA "/usr/bin/pasta"

struct netns_pasta {
	pid_t pid; /* -1: none */
	int pidfd;
};

/* In the child, inside its new network namespace: brings lo up. */
int netns_child(void);
/* pasta's -T: the TCP ports of the host's loopback that allow rules open
 * (127.0.0.1, ::1), "auto" when a rule opens every port, "none". */
void netns_host_ports(const struct netpolicy *np, char *out, size_t len);
/* Connects the network namespace of child (its user namespace's) through
 * pasta, publishing p's ports; returns once pasta configured it.  pasta dies
 * with the caller (PR_SET_PDEATHSIG) or at netns_pasta_stop.  -1 with err. */
int netns_pasta_start(struct netns_pasta *n, pid_t child, const struct policy *p, const struct netpolicy *np,
		      char *err, size_t errlen);
void netns_pasta_stop(struct netns_pasta *n);

#endif
