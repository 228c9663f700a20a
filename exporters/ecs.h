/* Records as SIEMs want them: the JSON rendering every sink shares, mapped
 * to Elastic Common Schema documents (schemas/ecs.md) with the OCSF class of
 * each record type (schemas/ocsf.md).  One table holds both, so the
 * Elasticsearch and syslog sinks classify a record the same way. */
#ifndef SANDTRAIL_EXP_ECS_H
#define SANDTRAIL_EXP_ECS_H

#include <jansson.h>
#include <msgpack.h>

#include "sink.h"

#define ECS_VERSION "8.11.0"

struct ecs_class {
	const char *type;          /* the record's type; NULL: the row for any other type */
	const char *category;      /* event.category */
	const char *ecs_type;      /* event.type */
	int ocsf_class;            /* OCSF class_uid */
	const char *ocsf_name;     /* OCSF class_name */
	int ocsf_activity;         /* OCSF activity_id */
};

/* The row of a record type (the catch-all row for a type it does not know). */
const struct ecs_class *ecs_class_of(const char *type);

/* The record as `sandtrail replay --format json` renders it (journal first),
 * parsed: NULL when it does not decode.  zone is cleared and reused; *line
 * (malloc'd, reused across calls) keeps the rendered text, without newline. */
json_t *ecs_record_json(const char *journal, const struct exp_record *r, msgpack_zone *zone, char **line,
			size_t *len);

/* The ECS document of a rendered record (schemas/ecs.md); original is the
 * rendered line (event.original).  NULL on allocation failure. */
json_t *ecs_document(const json_t *rec, const char *original, size_t len, const char *hostname);

/* event.outcome: "success", "failure" (ret < 0, a denied connect) or "unknown". */
const char *ecs_outcome(const json_t *rec);

/* "<journal>-<seq>": the record's name everywhere it is shipped (_id). */
#define ECS_ID_LEN (32 + 1 + 20 + 1)
void ecs_id(char out[ECS_ID_LEN], const char *journal, uint64_t seq);

#endif
