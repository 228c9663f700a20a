/* Small state files replaced whole: a reader finds the old content or the
 * new one, never a mix, also after a crash (write to a temporary name,
 * fsync, rename over, fsync the directory). */
#ifndef SANDTRAIL_ATOMICFILE_H
#define SANDTRAIL_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Replaces name in dirfd with p[0..len), mode 0600: 0 or -errno. */
int atomicfile_write(int dirfd, const char *name, const void *p, size_t len);
/* Reads at most cap - 1 bytes of name and NUL-terminates them: the length,
 * -ENOENT when there is no such file, -EFBIG when it is larger, -errno. */
ssize_t atomicfile_read(int dirfd, const char *name, char *buf, size_t cap);

#endif
