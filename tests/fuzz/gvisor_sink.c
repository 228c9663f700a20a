/* Arbitrary bytes as one datagram of a gvisor session's Sentry: header,
 * protobuf decoding from the bounded arena, and the mapping to records.
 * Nothing may crash; every record written must unpack as a record of a type
 * the schema lists, and the session's secret must never appear in one of
 * its values (decoded: in the raw bytes a length byte may join a value's
 * first bytes, as 'f' (0x66, a bin8 of 102 bytes) before "uzz-secret-value"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/gvisor_sink.h"

#define SECRET "fuzz-secret-value"

static struct enrich enrich;
static struct rec rec;
static struct session *s;
static struct gvisor_sink *g;
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
	struct gvisor_sink_config cfg = { .sessions = &table, .enrich = &enrich, .rec = &rec, .write = written };
	char err[128];

	enrich_init(&enrich);
	rec_init(&rec);
	s = session_new("gvisor", "/sys/fs/cgroup/sandtrail/run-fuzz", json_object());
	strcpy(s->gvisor_container, "gvexp1"); /* the seeds' container */
	session_add_secret(s, "TOKEN", SECRET);
	s->netpolicy = calloc(1, sizeof(*s->netpolicy));
	s->netpolicy->enforce = true;
	netpolicy_parse_rule("10.0.0.0/8:443", &s->netpolicy->rules[s->netpolicy->n++], err, sizeof(err));
	session_table_add(&table, s);
	if (gvisor_sink_open(&g, &cfg) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned n;

	if (!g)
		setup();
	gvisor_sink_feed(g, s, data, size);
	/* now and then the session's end: its process table and loss counts go */
	if (++n % 64 == 0)
		gvisor_sink_end(g, s);
	return 0;
}
