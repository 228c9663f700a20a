/* Symbolic names of syscall flag words, as records carry them. */
#ifndef SANDTRAIL_FLAGNAMES_H
#define SANDTRAIL_FLAGNAMES_H

#include <stdint.h>

#include "journal/journal.h"

/* key: ["O_WRONLY", "O_CREAT", ...]; unknown bits as one "0x..." entry. */
void flagnames_open(struct rec *r, const char *key, uint64_t flags);
/* key: ["RENAME_NOREPLACE", ...] */
void flagnames_rename(struct rec *r, const char *key, uint32_t flags);
/* "AF_INET", "AF_INET6", "AF_UNIX", or NULL for others. */
const char *flagnames_family(int family);

#endif
