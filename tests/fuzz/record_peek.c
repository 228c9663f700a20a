/* Arbitrary bytes through rec_peek, the exporters' look at each record, and
 * through rec_unpack + rec_get: whatever unpacks must peek, with the same ts,
 * type and session; whatever does not peek must not unpack.  (Deeper nesting
 * than msgpack-c's stack may peek and not unpack: a damaged record is shipped
 * as read either way.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal/journal.h"

static bool same_bytes(const msgpack_object *o, const char *key, const char *p, size_t n)
{
	const char *q;
	size_t m;

	if (!rec_get_bytes(o, key, &q, &m))
		return p == NULL;
	return p && n == m && (n == 0 || p == q); /* the same place in the input (msgpack-c may give an empty string no place) */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static msgpack_zone zone;
	static bool ready;
	struct rec_head h;
	msgpack_object o;
	uint64_t ts;
	int peek, unpack;

	if (!ready) {
		msgpack_zone_init(&zone, 4096);
		ready = true;
	}
	msgpack_zone_clear(&zone);
	peek = rec_peek(data, size, &h);
	unpack = rec_unpack(data, size, &zone, &o);
	if (peek < 0 && unpack == 0)
		abort();
	if (unpack < 0)
		return 0;
	if (rec_get_uint(&o, "ts", &ts) != h.has_ts || (h.has_ts && ts != h.ts))
		abort();
	if (!same_bytes(&o, "type", h.type, h.type_len) || !same_bytes(&o, "session", h.session, h.session_len))
		abort();
	return 0;
}
