/* Secret redaction: every occurrence of a session secret's value in bytes
 * that go into a record becomes "[secret:NAME]"; in a value that was cut
 * (truncated), so does a piece of a secret at either end, from
 * REDACT_MIN_PIECE bytes on. */
#ifndef SANDTRAIL_REDACT_H
#define SANDTRAIL_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

struct redact_buf {
	uint8_t *p; /* the last redacted copy */
};

/* Shorter pieces of a secret at the ends of a cut value stay: they say too
 * little of it, and marking them would mark much that is no secret. */
#define REDACT_MIN_PIECE 4

/* Returns p itself when nothing matched, else the redacted copy in buf
 * (NULL on ENOMEM); *len is updated.  cut: the value was truncated, so a
 * secret may lie across its start or its end. */
const uint8_t *redact(const struct secret *secrets, size_t n, const uint8_t *p, size_t *len, bool cut,
		      struct redact_buf *buf);
void redact_buf_free(struct redact_buf *buf);

#endif
