/* Elasticsearch's _bulk contract, without the transport: the NDJSON request
 * (op_type create, _id = journal id and seq) and the per-item answers of a
 * response, which come from the network and are parsed as untrusted bytes
 * (tests/fuzz/es_bulk.c). */
#ifndef SANDTRAIL_EXP_ES_BULK_H
#define SANDTRAIL_EXP_ES_BULK_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "sink.h"

#define ES_WHY_LEN 200

/* Writes the action line and the document of one record. */
int es_bulk_append(FILE *m, const char *id, const json_t *doc);

/* Sets the result of recs[0..n) from a _bulk response body: 2xx and 409 (a
 * create of an _id already there: shipped before) are OK, 429 and 5xx RETRY,
 * any other status FAIL with why[i] ("400 mapper_parsing_exception: ...").
 * ids[i] is the _id recs[i] was sent with; the items must answer them in
 * order.  0, or -EPROTO with a one-line reason in err (no result set). */
int es_bulk_answer(const char *body, size_t len, struct exp_record **recs, char (*ids)[64], size_t n,
		   char (*why)[ES_WHY_LEN], char *err, size_t errlen);

#endif
