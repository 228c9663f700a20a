/* The session list of a journal: per session its mode, labels, start,
 * duration, how it ended, event counts by type, losses and seal state,
 * aggregated from every record while the journal streams by. */
#ifndef SANDTRAIL_SESSIONS_H
#define SANDTRAIL_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <msgpack.h>

#include "journal.h"

struct sessions;

int sessions_new(struct sessions **out);
void sessions_free(struct sessions *s);
/* Accounts one record; records without a session (seal, ...) are skipped.
 * 0 or -ENOMEM. */
int sessions_add(struct sessions *s, uint64_t seq, enum journal_seal_state seal,
		 const msgpack_object *rec);
size_t sessions_count(const struct sessions *s);
/* The list, in order of first appearance, of the sessions active at some
 * time in [since, until]: a table, or one JSON object per line.  0 or -ENOMEM. */
int sessions_print_text(const struct sessions *s, FILE *f, uint64_t since, uint64_t until);
int sessions_print_json(const struct sessions *s, FILE *f, uint64_t since, uint64_t until);

#endif
