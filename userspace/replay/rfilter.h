/* Replay filters: --type, --pid, --since/--until, --path GLOB. */
#ifndef SANDTRAIL_RFILTER_H
#define SANDTRAIL_RFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define RFILTER_TYPES_MAX 16

struct rfilter_time {
	enum { RFILTER_NONE = 0, RFILTER_ABS, RFILTER_REL } kind;
	uint64_t ns; /* since the epoch (ABS) or since the session start (REL) */
};

struct rfilter {
	const char *types[RFILTER_TYPES_MAX]; /* static names */
	size_t ntypes;
	bool has_pid;
	uint32_t pid;
	struct rfilter_time since, until;
	const char *glob;
};

/* Adds a comma-separated list of record types; -EINVAL with a one-line
 * reason in err for an unknown or empty name. */
int rfilter_types(struct rfilter *f, const char *list, char *err, size_t errlen);
/* A decimal pid; -EINVAL with a reason in err. */
int rfilter_pid(struct rfilter *f, const char *s, char *err, size_t errlen);
/* RFC 3339 ("2026-11-27T17:08:54Z", fractions and +hh:mm offsets allowed) or
 * a duration from the session start ("90s", "1m30s", "500ms", "2h").
 * -EINVAL with a reason in err. */
int rfilter_time(struct rfilter_time *t, const char *s, char *err, size_t errlen);
/* The time as nanoseconds since the epoch; start is the session's start. */
uint64_t rfilter_time_ns(const struct rfilter_time *t, uint64_t start);
/* Does rec pass every filter that is set? */
bool rfilter_match(const struct rfilter *f, const msgpack_object *rec, uint64_t start);

#endif
