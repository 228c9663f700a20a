#include <errno.h>
#include <sys/resource.h>

#include "rlimits.h"

int rlimits_child(const struct policy *p, int *which)
{
	for (int r = 0; r < POLICY_RLIMITS; r++) {
		struct rlimit rl = { p->rlimits[r].soft, p->rlimits[r].hard };

		if (!p->rlimits[r].set) {
			if (r != RLIMIT_CORE)
				continue;
			rl.rlim_cur = rl.rlim_max = 0;
		}
		if (setrlimit(r, &rl) < 0) {
			*which = r;
			return -errno;
		}
	}
	return 0;
}
