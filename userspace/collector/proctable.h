/* Processes seen in sessions: pid -> the program it runs now and its parent,
 * inherited at fork, replaced at exec, dropped at exit.  Bounded: past the limit new
 * processes are not tracked (their records just lack `image`). */
#ifndef SANDTRAIL_PROCTABLE_H
#define SANDTRAIL_PROCTABLE_H

#include <stddef.h>
#include <stdint.h>

#define PROCTABLE_BUCKETS 16384
#define PROCTABLE_MAX     262144

struct proc {
	uint32_t pid;
	uint32_t image_len;
	uint32_t ppid;   /* 0: unknown (the kernel's events carry their own) */
	uint8_t *image;
	uint64_t gen;    /* new at each set: an entry's image, told apart from any before it */
	struct proc *next;
};

struct proctable {
	struct proc *b[PROCTABLE_BUCKETS];
	size_t n;
	uint64_t gen;
	uint64_t untracked; /* inserts refused at the limit */
};

struct proc *proctable_get(struct proctable *t, uint32_t pid);
/* Sets pid's image (creating the entry); -ENOSPC at the limit. */
int proctable_set(struct proctable *t, uint32_t pid, const uint8_t *image, size_t len);
/* child starts as a copy of parent (its image, parent as ppid). */
int proctable_fork(struct proctable *t, uint32_t parent, uint32_t child);
void proctable_del(struct proctable *t, uint32_t pid);
void proctable_free(struct proctable *t);

#endif
