/* The _bulk request lines and the parsing of its answer.  A response that is
 * not exactly one item per record, in order, with the _id sent, is refused
 * whole: the batch is sent again rather than a record taken as delivered on
 * the strength of an answer about another. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es_bulk.h"
#include "options.h"

int es_bulk_append(FILE *m, const char *id, const json_t *doc)
{
	json_t *action = json_pack("{s{ss}}", "create", "_id", id);
	int rc;

	if (!action)
		return -ENOMEM;
	rc = json_dumpf(action, m, JSON_COMPACT);
	json_decref(action);
	if (rc < 0 || fputc('\n', m) == EOF || json_dumpf(doc, m, JSON_COMPACT) < 0 || fputc('\n', m) == EOF)
		return -ENOMEM;
	return 0;
}

/* The server's words as one printable line. */
static void printable(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < cap; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = 0;
}

static void reason(char *why, json_int_t status, const json_t *error)
{
	char type[64], text[ES_WHY_LEN];

	if (json_is_object(error)) {
		printable(type, sizeof(type), json_string_value(json_object_get(error, "type")));
		printable(text, sizeof(text), json_string_value(json_object_get(error, "reason")));
	} else {
		snprintf(type, sizeof(type), "error");
		printable(text, sizeof(text), json_string_value(error));
	}
	snprintf(why, ES_WHY_LEN, "%d %.60s: %.120s", (int)status, type, text);
}

int es_bulk_answer(const char *body, size_t len, struct exp_record **recs, char (*ids)[64], size_t n,
		   char (*why)[ES_WHY_LEN], char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je), *items;
	enum exp_result *res = NULL;
	int rc = -EPROTO;
	size_t i;

	if (!root) {
		char text[JSON_ERROR_TEXT_LENGTH];

		printable(text, sizeof(text), je.text); /* it quotes the input */
		exp_errf(err, errlen, "response: not JSON (byte %d: %s)", je.position, text);
		return -EPROTO;
	}
	items = json_object_get(root, "items");
	if (!json_is_array(items) || json_array_size(items) != n) {
		exp_errf(err, errlen, "response: %zu items for %zu records",
			 json_is_array(items) ? json_array_size(items) : 0, n);
		goto out;
	}
	res = calloc(n ? n : 1, sizeof(*res));
	if (!res) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		json_t *item = json_array_get(items, i), *op = json_object_get(item, "create");
		json_t *status = json_object_get(op, "status");
		const char *id = json_string_value(json_object_get(op, "_id"));
		json_int_t s;

		if (!json_is_object(item) || json_object_size(item) != 1 || !json_is_integer(status)) {
			exp_errf(err, errlen, "response: item %zu is not a create with a status", i);
			goto out;
		}
		if (!id || strcmp(id, ids[i])) {
			exp_errf(err, errlen, "response: item %zu answers another _id than %s", i, ids[i]);
			goto out;
		}
		s = json_integer_value(status);
		if ((s >= 200 && s < 300) || s == 409) {
			res[i] = EXP_OK;
		} else if (s == 429 || s >= 500) {
			res[i] = EXP_RETRY;
		} else {
			res[i] = EXP_FAIL;
			reason(why[i], s, json_object_get(op, "error"));
		}
	}
	for (i = 0; i < n; i++) {
		recs[i]->result = res[i];
		if (res[i] == EXP_FAIL)
			recs[i]->why = why[i];
	}
	rc = 0;
out:
	free(res);
	json_decref(root);
	return rc;
}
