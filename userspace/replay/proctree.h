/* The process tree of a replayed session, rebuilt from fork, exec and exit
 * records (pid, ppid, child_pid): the depth of each process, for indenting
 * the timeline by parent. */
#ifndef SANDTRAIL_PROCTREE_H
#define SANDTRAIL_PROCTREE_H

#include <stdint.h>

struct proctree;

int proctree_new(struct proctree **out);
void proctree_free(struct proctree *t);
/* Depth of pid (0: a root of the session).  A process first seen without a
 * fork record hangs below ppid when ppid is known. */
unsigned proctree_depth(struct proctree *t, uint32_t pid, uint32_t ppid);
/* child was forked by parent: one level below it. */
void proctree_fork(struct proctree *t, uint32_t parent, uint32_t child);
/* pid exited; a later process with the same pid starts afresh. */
void proctree_exit(struct proctree *t, uint32_t pid);

#endif
