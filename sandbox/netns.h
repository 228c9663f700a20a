/* The network namespace: with --network none the sandbox gets its own,
 * holding only loopback; host and allowlist share the host's (allowlist is
 * enforced per cgroup by sandtraild's connect/sendmsg programs). */
#ifndef SANDTRAIL_NETNS_H
#define SANDTRAIL_NETNS_H

/* In the child, inside its new network namespace: brings lo up. */
int netns_child(void);

#endif
