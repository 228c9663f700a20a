/* JSON rendering of records (schemas/record.md, "Rendering"): one object per
 * line; every str and bin value escaped, then JSON-encoded. */
#ifndef SANDTRAIL_RENDER_JSON_H
#define SANDTRAIL_RENDER_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <msgpack.h>

#include "journal/journal.h"

/* One record and a newline: seq first, then the payload's keys (ts as
 * RFC 3339, error after a negative ret), then sealed (and tampered when the
 * state is JOURNAL_BAD).  0 or -ENOMEM. */
int render_json_record(FILE *f, uint64_t seq, enum journal_seal_state seal,
		       const msgpack_object *rec);
/* The same for a record shipped off the host: "journal" (the journal's id,
 * hex; any payload key of that name dropped) before "seq". */
int render_json_shipped(FILE *f, const char *journal, uint64_t seq, enum journal_seal_state seal,
			const msgpack_object *rec);
/* Any value: maps and arrays recursively, str/bin/ext as escaped strings. */
int render_json_value(FILE *f, const msgpack_object *o);
/* Bytes as a JSON string holding their escaped form. */
int render_json_bytes(FILE *f, const void *p, size_t len);

#endif
