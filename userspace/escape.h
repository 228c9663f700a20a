/* Escaping of untrusted byte strings for logs, JSON and terminals
 * (rules in schemas/record.md, "Rendering"). */
#ifndef SANDTRAIL_ESCAPE_H
#define SANDTRAIL_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* Appends the escaped form of p[0..len) to a malloc'd buffer; NULL on ENOMEM. */
char *escape_bytes(const void *p, size_t len);
/* Writes the escaped form to f. */
void escape_fput(FILE *f, const void *p, size_t len);
/* Reverses escape_bytes; returns the length, -1 on a malformed escape. */
long unescape_bytes(const char *s, void *out, size_t cap);

#endif
