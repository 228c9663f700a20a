/* Symbolic names of syscall flag words, as records carry them. */
#ifndef SANDTRAIL_FLAGNAMES_H
#define SANDTRAIL_FLAGNAMES_H

#include <stdint.h>

#include "journal/journal.h"

/* key: ["O_WRONLY", "O_CREAT", ...]; unknown bits as one "0x..." entry. */
void flagnames_open(struct rec *r, const char *key, uint64_t flags);
/* key: ["RENAME_NOREPLACE", ...] */
void flagnames_rename(struct rec *r, const char *key, uint32_t flags);
/* key: ["AT_SYMLINK_NOFOLLOW", "AT_EMPTY_PATH", ...] */
void flagnames_at(struct rec *r, const char *key, uint32_t flags);
/* key: ["XATTR_CREATE"] or ["XATTR_REPLACE"] */
void flagnames_xattr(struct rec *r, const char *key, uint32_t flags);
/* key: ["MS_BIND", "MS_REC", ...] */
void flagnames_mount(struct rec *r, const char *key, uint32_t flags);
/* key: ["MNT_DETACH", ...] */
void flagnames_umount(struct rec *r, const char *key, uint32_t flags);
/* key: ["MOVE_MOUNT_F_EMPTY_PATH", ...] */
void flagnames_move_mount(struct rec *r, const char *key, uint32_t flags);
/* The file type in a mode: "regular", "fifo", "char", "block", "socket",
 * "directory", "symlink"; NULL for none of those. */
const char *flagnames_file_type(uint32_t mode);
/* The kernel's name of an io_uring opcode ("READ", "OPENAT", ...), NULL
 * for one it did not have (6.18). */
const char *flagnames_io_uring_op(unsigned op);
/* "AF_INET", "AF_INET6", "AF_UNIX", or NULL for others. */
const char *flagnames_family(int family);

#endif
