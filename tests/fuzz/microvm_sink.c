/* Arbitrary bytes as a microvm session's event port: frame decoding
 * (resync, bounds, checksum, sequence), the samples as the host's event
 * decoder reads them, and the mapping to records.  Nothing may crash or
 * hang; every record written must unpack as a record of a type the schema
 * lists, and the session's secret must never appear in one of its values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/microvm_sink.h"
#include "record_check.h"

static struct rec rec;
static struct session *s;
static struct microvm_sink *m;
static struct session_table table;

static void written(void *ctx)
{
	(void)ctx;
	check_record(&rec);
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
