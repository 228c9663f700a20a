/* Resource limits of the workload: the policy's, plus no core dumps unless
 * asked (a core would land in the workspace with the process's memory). */
#ifndef SANDTRAIL_RLIMITS_H
#define SANDTRAIL_RLIMITS_H

#include "policy.h"

/* In the child, before the capabilities go (raising a hard limit needs
 * CAP_SYS_RESOURCE).  -errno; *which names the failing resource. */
int rlimits_child(const struct policy *p, int *which);

#endif
