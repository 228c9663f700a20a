/* What the sink fuzz targets ask of every record a sink writes: it unpacks,
 * its type is an event type of the schema or loss, and the session's secret
 * (SECRET) is in none of its values.  Decoded values: in the raw bytes a
 * length byte may join a value's first bytes, as 'f' (0x66, a bin8 of 102
 * bytes) before "uzz-secret-value". */
#ifndef SANDTRAIL_FUZZ_RECORD_CHECK_H
#define SANDTRAIL_FUZZ_RECORD_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "collector/event.h"
#include "journal/record.h"

#define SECRET "fuzz-secret-value"

static bool holds_secret(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return memmem(o->via.str.ptr, o->via.str.size, SECRET, strlen(SECRET)) != NULL;
	case MSGPACK_OBJECT_BIN:
		return memmem(o->via.bin.ptr, o->via.bin.size, SECRET, strlen(SECRET)) != NULL;
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if (holds_secret(&o->via.array.ptr[i]))
				return true;
		return false;
	case MSGPACK_OBJECT_MAP:
		for (uint32_t i = 0; i < o->via.map.size; i++)
			if (holds_secret(&o->via.map.ptr[i].key) || holds_secret(&o->via.map.ptr[i].val))
				return true;
		return false;
	default:
		return false;
	}
}

/* aborts (the fuzzer's finding) unless the record in r passes */
static void check_record(struct rec *r)
{
	msgpack_zone zone;
	msgpack_object o;
	size_t len;
	const uint8_t *p = rec_finish(r, &len);
	bool known;

	msgpack_zone_init(&zone, 4096);
	if (rec_unpack(p, len, &zone, &o) < 0)
		abort();
	known = rec_is(&o, "type", "loss");
	for (uint32_t t = 0; t < ST_EV_MAX; t++)
		known |= event_type_name(t) && rec_is(&o, "type", event_type_name(t));
	if (!known || holds_secret(&o))
		abort();
	msgpack_zone_destroy(&zone);
}

#endif
