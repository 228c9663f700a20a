/* The text timeline of a replay: one line per shown record, indented by the
 * process tree, times relative to the session start, the seal state as a
 * mark in front ("! " unsealed, "!!" failing verification), a header from
 * session_start and a closing summary. */
#ifndef SANDTRAIL_TIMELINE_H
#define SANDTRAIL_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <msgpack.h>

#include "journal/journal.h"

struct timeline_opts {
	bool colour;
	bool all; /* every session: absolute times, a session column, no tree */
};

struct timeline;

int timeline_new(struct timeline **out, FILE *f, const struct timeline_opts *o);
void timeline_free(struct timeline *t);
/* Every record in scope, in journal order; start: the session's start;
 * show: it passed the filters.  Hidden records still shape the tree, and
 * session_start always prints the header (one session only). */
int timeline_record(struct timeline *t, uint64_t seq, enum journal_seal_state seal,
		    const msgpack_object *rec, uint64_t start, bool show);
/* The header a session_start record gives a timeline: id, mode, start,
 * labels, cgroup, policy digest, command.  0 or -ENOMEM. */
int timeline_header(FILE *f, const msgpack_object *rec, bool colour);
/* The closing summary (one session only).  0 or -ENOMEM. */
int timeline_finish(struct timeline *t);

#endif
