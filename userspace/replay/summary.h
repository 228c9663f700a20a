/* The closing summary of a session's timeline: files written and deleted,
 * network destinations, denied operations, losses. */
#ifndef SANDTRAIL_SUMMARY_H
#define SANDTRAIL_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>
#include <msgpack.h>

struct summary;

int summary_new(struct summary **out);
void summary_free(struct summary *s);
/* Accounts one shown record.  0 or -ENOMEM. */
int summary_add(struct summary *s, const msgpack_object *rec);
/* Prints the summary block.  0 or -ENOMEM. */
int summary_print(const struct summary *s, FILE *f, bool colour);

#endif
