/* Which records a replay read that are not covered by a valid seal: runs of
 * unsealed and of BAD (chain or seal failure) records, for the banners that
 * close a replay. */
#ifndef SANDTRAIL_SEALMARK_H
#define SANDTRAIL_SEALMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "journal/journal.h"

struct sealmark_range {
	uint64_t first, last, count;
	enum journal_seal_state state;
};

struct sealmark {
	struct sealmark_range *r;
	size_t n, cap;
	size_t dropped;               /* ranges beyond SEALMARK_RANGES_MAX */
	uint64_t total, unsealed, bad;
	enum journal_seal_state prev; /* of the last record added */
};

void sealmark_init(struct sealmark *m);
void sealmark_free(struct sealmark *m);
/* One record, in journal order.  0 or -ENOMEM. */
int sealmark_add(struct sealmark *m, uint64_t seq, enum journal_seal_state st);
/* "!! records 120-140 FAIL seal verification ..." and "! records 141-150 are
 * not covered by a valid seal", one line a run; nothing when all is sealed. */
void sealmark_print(const struct sealmark *m, FILE *f, bool colour);

#endif
