/* Every sink, by URL scheme. */
#include <string.h>

#include "sink.h"

extern const struct exporter_ops exp_elasticsearch_ops, exp_file_ops, exp_journald_ops,
	exp_kafka_ops, exp_syslog_ops;

const struct exporter_ops *const exp_sinks[] = {
	&exp_elasticsearch_ops,
	&exp_file_ops,
	&exp_journald_ops,
	&exp_kafka_ops,
	&exp_syslog_ops,
	NULL,
};

const struct exporter_ops *exp_sink_find(const char *scheme)
{
	for (size_t i = 0; exp_sinks[i]; i++)
		if (!strcmp(exp_sinks[i]->scheme, scheme))
			return exp_sinks[i];
	return NULL;
}
