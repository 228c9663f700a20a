/* Retention: the oldest closed segments removed once past --retain-bytes or
 * --retain-days (and shipped by every exporter), the removal itself a record
 * that a later seal signs (schemas/journal.md, "Retention").  Private to the
 * journal: the writer cuts (journal_retain), the reader accepts a journal
 * whose head was cut only when such a record vouches for the cut. */
#ifndef SANDTRAIL_RETENTION_H
#define SANDTRAIL_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "journal_format.h"

/* A `retention` record's fields. */
struct retention_info {
	uint64_t first, last;          /* the seqs removed by this cut */
	uint64_t seal_from;            /* the first segment left: its header's seal_from */
	uint32_t epoch;                /* ... its epoch, */
	uint8_t head[JF_HASH_LEN];     /* ... hash(last), */
	uint8_t pub[JOURNAL_PUB_LEN];  /* ... and its epoch's key */
	uint64_t epochs;               /* entries of the epochs file it relies on */
	uint8_t epochs_hash[JF_HASH_LEN]; /* SHA-256 of those entries */
};

/* 0 and *ri filled; -ENOENT: not a retention record; -EBADMSG: malformed. */
int retention_parse(const void *p, size_t len, struct retention_info *ri);
/* The epochs file of dirfd against the trusted epoch-0 key: entries are
 * epochs 1, 2, ... each certified by the key before it, the first
 * ri->epochs of them hash to ri->epochs_hash, and the chain gives ri->pub
 * for ri->epoch.  0, or -EBADMSG with a one-line reason in why. */
int retention_check_epochs(int dirfd, const uint8_t root[JOURNAL_PUB_LEN], const struct retention_info *ri,
			   char *why, size_t whylen);

/* What retention needs of the writer (journal.c). */
int journal_dirfd(const struct journal *j);
const char *journal_dirname(const struct journal *j);
uint64_t journal_active_first(const struct journal *j);
/* Flushes the block being filled and fdatasyncs the active segment, now. */
int journal_sync_now(struct journal *j);

#endif
