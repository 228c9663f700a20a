/* The session list of a journal: per session its mode, labels, start,
 * duration, how it ended, event counts by type, losses and seal state,
 * aggregated from every record while the journal streams by. */
#ifndef SANDTRAIL_SESSLIST_H
#define SANDTRAIL_SESSLIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <msgpack.h>

#include "journal/journal.h"

struct sesslist;

int sesslist_new(struct sesslist **out);
void sesslist_free(struct sesslist *s);
/* Accounts one record; records without a session (seal, ...) are skipped.
 * 0 or -ENOMEM. */
int sesslist_add(struct sesslist *s, uint64_t seq, enum journal_seal_state seal,
		 const msgpack_object *rec);
size_t sesslist_count(const struct sesslist *s);
/* The list, in order of first appearance, of the sessions active at some
 * time in [since, until]: a table, or one JSON object per line.  0 or -ENOMEM. */
int sesslist_print_text(const struct sesslist *s, FILE *f, uint64_t since, uint64_t until);
int sesslist_print_json(const struct sesslist *s, FILE *f, uint64_t since, uint64_t until);

#endif
