/* Arbitrary bytes as a microvm session's event port: frame decoding
 * (resync, bounds, checksum, sequence), the samples as the host's event
 * decoder reads them, and the mapping to records.  Nothing may crash or
 * hang; every record written must unpack as a record of a type the schema
 * lists, and the session's secret must never appear in one of its values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/microvm_sink.h"

#define SECRET "fuzz-secret-value"

static struct rec rec;
static struct session *s;
static struct microvm_sink *m;
static struct session_table table;

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

static void written(void *ctx)
{
	static const char *const types[] = { "exec", "fork", "exit", "open", "unlink", "rename", "connect", "loss" };
	msgpack_zone zone;
	msgpack_object o;
	size_t len;
	const uint8_t *p = rec_finish(&rec, &len);
	bool known = false;

	(void)ctx;
	msgpack_zone_init(&zone, 4096);
	if (rec_unpack(p, len, &zone, &o) < 0)
		abort();
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		known |= rec_is(&o, "type", types[i]);
	if (!known || holds_secret(&o))
		abort();
	msgpack_zone_destroy(&zone);
}

static void setup(void)
{
	struct microvm_sink_config cfg = { .sessions = &table, .rec = &rec, .write = written };

	rec_init(&rec);
	s = session_new("microvm", "/sys/fs/cgroup/sandtrail/run-fuzz", json_object());
	session_add_secret(s, "TOKEN", SECRET);
	session_table_add(&table, s);
	if (microvm_sink_open(&m, &cfg) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned n;

	if (!m)
		setup();
	microvm_sink_feed(m, s, data, size);
	/* now and then the session's end: its decoder, process table and loss counts go */
	if (++n % 64 == 0)
		microvm_sink_end(m, s);
	return 0;
}
