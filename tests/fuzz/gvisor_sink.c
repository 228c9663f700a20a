/* Arbitrary bytes as one datagram of a gvisor session's Sentry: header,
 * protobuf decoding from the bounded arena, and the mapping to records.
 * Nothing may crash; every record written must unpack as a record of a type
 * the schema lists, and the session's secret must never appear in one of
 * its values (record_check.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/gvisor_sink.h"
#include "record_check.h"

static struct enrich enrich;
static struct rec rec;
static struct session *s;
static struct gvisor_sink *g;
static struct session_table table;

static void written(void *ctx)
{
	(void)ctx;
	check_record(&rec);
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
