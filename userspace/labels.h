/* Session labels: k=v pairs given on the command line or in a policy. */
#ifndef SANDTRAIL_LABELS_H
#define SANDTRAIL_LABELS_H

#include <stddef.h>
#include <jansson.h>

#define LABEL_KEY_MAX 63
#define LABEL_VALUE_MAX 1024

/* Adds "k=v" to the labels object; -1 with a one-line reason in err. */
int labels_parse(json_t *labels, const char *kv, char *err, size_t errlen);
/* Checks one pair (for labels that arrive as JSON); -1 with err. */
int labels_check(const char *key, const char *value, char *err, size_t errlen);

#endif
