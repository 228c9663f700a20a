#include <errno.h>
#include <stdlib.h>

#include "proctree.h"

/* Kernel pids stay below PID_MAX_LIMIT (2^22): one slot per pid, depth + 1
 * (0 = unknown).  calloc'd pages cost nothing until a pid in them is used.
 * Pids from a damaged record beyond the limit are treated as roots. */
#define PROCTREE_PIDS (1u << 22)
#define PROCTREE_DEPTH_MAX 0xfffe

struct proctree {
	uint16_t *depth1;
};

int proctree_new(struct proctree **out)
{
	struct proctree *t = malloc(sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->depth1 = calloc(PROCTREE_PIDS, sizeof(*t->depth1));
	if (!t->depth1) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void proctree_free(struct proctree *t)
{
	if (!t)
		return;
	free(t->depth1);
	free(t);
}

static unsigned known(const struct proctree *t, uint32_t pid)
{
	return pid < PROCTREE_PIDS ? t->depth1[pid] : 0;
}

static void set(struct proctree *t, uint32_t pid, unsigned depth)
{
	if (pid < PROCTREE_PIDS)
		t->depth1[pid] = (uint16_t)(depth > PROCTREE_DEPTH_MAX ? PROCTREE_DEPTH_MAX : depth) + 1;
}

unsigned proctree_depth(struct proctree *t, uint32_t pid, uint32_t ppid)
{
	unsigned d = known(t, pid), pd;

	if (d)
		return d - 1;
	pd = ppid != pid ? known(t, ppid) : 0;
	d = pd ? pd : 0; /* pd is the parent's depth + 1: our depth */
	set(t, pid, d);
	return d;
}

void proctree_fork(struct proctree *t, uint32_t parent, uint32_t child)
{
	unsigned pd = known(t, parent);

	if (child == parent)
		return;
	set(t, child, pd ? pd : 1);
}

void proctree_exit(struct proctree *t, uint32_t pid)
{
	if (pid < PROCTREE_PIDS)
		t->depth1[pid] = 0;
}
