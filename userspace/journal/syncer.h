/* The journal's disk waits on a thread of their own: fdatasync of the
 * segments, fsync of their directory, close of a rotated segment.  The
 * writer queues what it wrote and goes on; the thread syncs in batches
 * (one fdatasync covers every write made before it started) and says how
 * far it got through an eventfd, so that an event loop never waits on a
 * disk. */
#ifndef SANDTRAIL_SYNCER_H
#define SANDTRAIL_SYNCER_H

#include <stdbool.h>
#include <stdint.h>

struct syncer;

int syncer_start(struct syncer **out);
/* An eventfd, readable when syncer_done may have advanced or failed; the
 * caller reads it to rearm it. */
int syncer_fd(const struct syncer *s);
/* Queues: fdatasync(fd) (fd >= 0), fsync(dirfd) (dirfd >= 0), close(fd)
 * when close_fd (the syncer owns it then), after which mark counts as done.
 * Marks must not decrease.  -ENOMEM leaves nothing queued (fd not taken). */
int syncer_push(struct syncer *s, int fd, int dirfd, bool close_fd, uint64_t mark);
/* *mark: the highest mark whose job and every earlier one are done; -errno
 * of the first failed sync (nothing is done after it). */
int syncer_done(struct syncer *s, uint64_t *mark);
/* Finishes what is queued, stops the thread, frees; the first error. */
int syncer_stop(struct syncer *s);

#endif
