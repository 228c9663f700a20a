/* The highest seq sandtraild knows its journal reached on disk, kept in the
 * state directory (outside the journal's), so that a journal put back from
 * an older copy, or with its tail removed, is refused at start instead of
 * being written on as if nothing had happened. */
#ifndef SANDTRAIL_HIGHWATER_H
#define SANDTRAIL_HIGHWATER_H

#include <stddef.h>
#include <stdint.h>

#define HIGHWATER_FILE "journal.highwater"

/* Before the journal is opened: 0 when dir reaches the seq the state file
 * names (or either is new), -ESTALE with the reason in err when it ends
 * before; -errno when the state cannot be read. */
int highwater_check(const char *journal_dir, const char *state_dir, char *err, size_t errlen);
/* Records that journal id's records below next are on disk. */
int highwater_save(const char *state_dir, const char *id_hex, uint64_t next);

#endif
