/* Secret redaction: every occurrence of a session secret's value in bytes
 * that go into a record becomes "[secret:NAME]". */
#ifndef SANDTRAIL_REDACT_H
#define SANDTRAIL_REDACT_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

struct redact_buf {
	uint8_t *p; /* the last redacted copy */
};

/* Returns p itself when nothing matched, else the redacted copy in buf
 * (NULL on ENOMEM); *len is updated. */
const uint8_t *redact(const struct secret *secrets, size_t n, const uint8_t *p, size_t *len,
		      struct redact_buf *buf);
void redact_buf_free(struct redact_buf *buf);

#endif
