/* libFuzzer: the answer of an Elasticsearch _bulk request, bytes from the
 * network.  The first byte is the number of records sent (0-63, _ids "j-0",
 * "j-1", ...).  The parser may refuse, never crash, never leave a result
 * half set, and gives a reason of one line when it refuses. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "es_bulk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct exp_record recs[64], *p[64];
	char ids[64][64], why[64][ES_WHY_LEN], err[256];
	size_t n;

	if (size < 1)
		return 0;
	n = data[0] & 63;
	for (size_t i = 0; i < n; i++) {
		recs[i] = (struct exp_record){ .seq = i, .result = EXP_PENDING };
		p[i] = &recs[i];
		snprintf(ids[i], sizeof(ids[i]), "j-%zu", i);
	}
	if (es_bulk_answer((const char *)data + 1, size - 1, p, ids, n, why, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++)
			if (recs[i].result == EXP_PENDING ||
			    (recs[i].result == EXP_FAIL && (!recs[i].why || strchr(recs[i].why, '\n'))))
				__builtin_trap();
	} else {
		for (size_t i = 0; i < n; i++)
			if (recs[i].result != EXP_PENDING)
				__builtin_trap();
		if (!memchr(err, 0, sizeof(err)) || strchr(err, '\n'))
			__builtin_trap();
	}
	return 0;
}
