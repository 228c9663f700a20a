/* Landlock (where the kernel has it): the filesystem rights match the mounts
 * (read and execute everywhere, write only where a writable mount is), and on
 * ABI 6+ abstract unix sockets and signals are scoped to the sandbox. */
#ifndef SANDTRAIL_LANDLOCK_H
#define SANDTRAIL_LANDLOCK_H

#include "policy.h"

/* The kernel's Landlock ABI version; 0 when absent or disabled. */
int landlock_abi(void);
/* In the child, with the final mounts in place and no_new_privs set.
 * 0 also when Landlock is absent (*abi tells which ABI was applied). */
int landlock_child(const struct policy *p, int *abi);

#endif
