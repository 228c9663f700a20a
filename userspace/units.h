/* Numbers as people write them in flags, config files and URLs: sizes with
 * a binary suffix ("64K", "16M") and durations ("250ms", "5s", "2m"); and
 * plain decimals written without printf, for hot paths. */
#ifndef SANDTRAIL_UNITS_H
#define SANDTRAIL_UNITS_H

#include <stdint.h>

/* A decimal count with an optional K, M or G (powers of 1024): 0 or -EINVAL. */
int units_size(const char *s, uint64_t *out);
/* Milliseconds: a decimal count with an optional ms, s, m or h (bare: ms). */
int units_ms(const char *s, uint64_t *out);

/* v in decimal, written backwards to end just before end (at most 20
 * digits): returns its first digit. */
static inline char *units_decimal(char *end, uint64_t v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

#endif
