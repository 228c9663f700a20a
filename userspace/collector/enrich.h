/* Turns decoded kernel events into records: session and labels, process
 * fields, the process's current program (exec lineage), symbolic flags,
 * joined kernel paths, secrets redacted. */
#ifndef SANDTRAIL_ENRICH_H
#define SANDTRAIL_ENRICH_H

#include <stdint.h>

#include "event.h"
#include "proctable.h"
#include "journal/journal.h"
#include "redact.h"
#include "session.h"

struct enrich {
	struct proctable procs;
	struct redact_buf rb;
	uint8_t path[EVENT_PATH_MAX + 16]; /* a path built, and room for " (memfd)" */
};

void enrich_init(struct enrich *e);
void enrich_free(struct enrich *e);
/* Starts a record of type for session s (NULL: not attributable): ts,
 * session id and labels. */
void enrich_begin(struct rec *r, const char *type, uint64_t wall_ns, const struct session *s);
/* The whole record of one event; wall_ns is the event's time. */
void enrich_event(struct enrich *e, const struct event *ev, const struct session *s, uint64_t wall_ns,
		  struct rec *r);
/* Packs one bin value (no key) from the sandbox, with secrets of s redacted. */
void enrich_pack_bin(struct enrich *e, struct rec *r, const struct session *s, const void *p, size_t len);
/* key and a byte string from the sandbox, with secrets of s redacted. */
void enrich_bytes(struct enrich *e, struct rec *r, const struct session *s, const char *key, const void *p,
		  size_t len);

#endif
