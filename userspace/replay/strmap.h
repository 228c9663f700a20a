/* Byte strings to counters, kept in insertion order: the replay's
 * aggregates (sessions by id, paths, destinations). */
#ifndef SANDTRAIL_STRMAP_H
#define SANDTRAIL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap;

int strmap_new(struct strmap **out);
void strmap_free(struct strmap *m);
/* The counter of key, added as 0 when missing; NULL on ENOMEM. */
uint64_t *strmap_get(struct strmap *m, const void *key, size_t len);
/* The counter of key, NULL when missing. */
uint64_t *strmap_find(const struct strmap *m, const void *key, size_t len);
size_t strmap_count(const struct strmap *m);
/* The i-th key in insertion order; *val gets its counter. */
const void *strmap_key(const struct strmap *m, size_t i, size_t *len, uint64_t **val);

#endif
