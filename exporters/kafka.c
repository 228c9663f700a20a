/* kafka://HOST:PORT[,HOST:PORT...]/TOPIC: every sealed record as one Kafka
 * message (librdkafka), from an idempotent producer with acks=all that never
 * gives a message up (message.timeout.ms=0): librdkafka retries broker
 * outages and produce errors itself, in order, without duplicates, so a
 * session's records keep their order in its partition.  Key: the session id
 * (the journal's id for the journal's own records: seals and epochs share a
 * partition, in order); value: the msgpack record byte for byte, or its JSON;
 * headers: sandtrail-schema, -journal, -seq and -kind, so that a consumer
 * names every record by (journal, seq) and can rebuild the chain
 * (sandtrail verify --kafka).  A record is answered when its delivery report
 * comes; the loop moves the cursor only over an in-order prefix of them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/replay.h"
#include "sink.h"
#include "units.h"

#define STATS_MS "1000" /* how often the brokers' states are looked at (connected or not) */

enum kafka_format { KAFKA_MSGPACK, KAFKA_JSON };

struct kafka_config {
	unsigned format;
	struct exp_pass_list rdkafka;
};

#define KOFF(f) offsetof(struct kafka_config, f)

static const struct exp_option kafka_options[] = {
	{ .key = "format", .type = EXP_OPT_ENUM, .off = KOFF(format), .def = "msgpack", .choices = "msgpack|json",
	  .help = "message value: the msgpack record as journaled, or its JSON (as replay --format json)" },
	{ .key = "rdkafka.", .type = EXP_OPT_PASS, .off = KOFF(rdkafka),
	  .help = "a librdkafka producer property (CONFIGURATION.md), e.g. rdkafka.compression.codec=lz4" },
	{ 0 },
};

/* What at-least-once without loss or reordering stands on: not for the URL. */
static const char *const fixed[][2] = {
	{ "enable.idempotence", "true" },
	{ "acks", "all" },
	{ "message.timeout.ms", "0" }, /* never give a message up: the journal is the buffer */
	{ "statistics.interval.ms", STATS_MS },
};

struct kafka_sink {
	struct exp_sink *sink;
	const struct kafka_config *cfg;
	const struct exp_url *url; /* the loop's, alive as long as the sink */
	char topic[256];
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	int pipe[2];            /* readable when the main queue holds events */
	bool closing;           /* purged reports at close are no answer */
	bool fatal;             /* the producer must be made anew */
	msgpack_zone zone;
};

static bool topic_name_ok(const char *t)
{
	size_t n = strlen(t);

	return n > 0 && n <= 249 && strcmp(t, ".") && strcmp(t, "..") &&
	       strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* A configuration with the URL's brokers, its credentials, the fixed
 * properties and the rdkafka.* ones; NULL with the reason in err. */
static rd_kafka_conf_t *make_conf(const struct kafka_config *cfg, const struct exp_url *url, char *err,
				  size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char why[256];

	if (rd_kafka_conf_set(conf, "bootstrap.servers", url->authority, why, sizeof(why)) != RD_KAFKA_CONF_OK)
		goto bad;
	if (url->user && (rd_kafka_conf_set(conf, "sasl.username", url->user, why, sizeof(why)) != RD_KAFKA_CONF_OK ||
			  rd_kafka_conf_set(conf, "sasl.password", url->password ? url->password : "", why,
					    sizeof(why)) != RD_KAFKA_CONF_OK))
		goto bad;
	for (size_t i = 0; i < cfg->rdkafka.n; i++) {
		const struct exp_pass *p = &cfg->rdkafka.v[i];

		for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++) {
			if (!strcmp(p->key, fixed[k][0])) {
				snprintf(err, errlen, "rdkafka.%s: fixed to %s (at-least-once, in order)", p->key,
					 fixed[k][1]);
				rd_kafka_conf_destroy(conf);
				return NULL;
			}
		}
		if (rd_kafka_conf_set(conf, p->key, p->value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
			snprintf(err, errlen, "rdkafka.%s: %s", p->key, why);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		if (rd_kafka_conf_set(conf, fixed[k][0], fixed[k][1], why, sizeof(why)) != RD_KAFKA_CONF_OK)
			goto bad;
	return conf;
bad:
	snprintf(err, errlen, "%s", why);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static int kafka_configure(void *config, const struct exp_url *url, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf;

	if (!*url->authority)
		return exp_errf(err, errlen, "expected kafka://HOST:PORT[,HOST:PORT...]/TOPIC");
	if (url->path[0] != '/' || !topic_name_ok(url->path + 1))
		return exp_errf(err, errlen, "topic '%s': 1 to 249 of A-Z a-z 0-9 . _ -",
				url->path[0] ? url->path + 1 : "");
	conf = make_conf(config, url, err, errlen);
	if (!conf)
		return -EINVAL;
	rd_kafka_conf_destroy(conf);
	return 0;
}

/* Permanent: the broker will refuse this message whatever is retried. */
static bool permanent(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
	       e == RD_KAFKA_RESP_ERR_INVALID_MSG || e == RD_KAFKA_RESP_ERR_INVALID_RECORD;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_sink *k = opaque;
	struct exp_record *r = m->_private;

	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		exp_done(k->sink, r, EXP_OK, NULL);
		return;
	}
	if (k->closing && (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT))
		return; /* left undelivered: shipped at the next start */
	exp_error(k->sink, "record %" PRIu64 ": %s", r->seq, rd_kafka_err2str(m->err));
	exp_done(k->sink, r, permanent(m->err) ? EXP_FAIL : EXP_RETRY, rd_kafka_err2str(m->err));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_sink *k = opaque;
	char fatal[256];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		exp_error(k->sink, "fatal: %s (the producer is made anew)", fatal);
		k->fatal = true;
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		exp_connected(k->sink, false);
	exp_error(k->sink, "%s", reason);
}

/* Connected: some broker of the cluster (not a bootstrap entry) is up. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct kafka_sink *k = opaque;
	json_t *o = json_loadb(json, len, 0, NULL), *b;
	const char *name;
	bool up = false;

	json_object_foreach(json_object_get(o, "brokers"), name, b) {
		const char *state = json_string_value(json_object_get(b, "state"));

		if (json_integer_value(json_object_get(b, "nodeid")) >= 0 && state && !strcmp(state, "UP"))
			up = true;
	}
	json_decref(o);
	exp_connected(k->sink, up);
	return 0; /* librdkafka frees json */
}

/* closing: what is left is not answered (the cursor stays before it);
 * else it is answered RETRY, to be shipped again. */
static void producer_free(struct kafka_sink *k, int timeout_ms, bool closing)
{
	if (!k->rk)
		return;
	k->closing = closing;
	if (timeout_ms > 0)
		rd_kafka_flush(k->rk, timeout_ms);
	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(k->rk, 0);
	if (k->rkt)
		rd_kafka_topic_destroy(k->rkt);
	rd_kafka_destroy(k->rk);
	k->rk = NULL;
	k->rkt = NULL;
	k->closing = false;
}

static int producer_new(struct kafka_sink *k)
{
	char err[512];
	rd_kafka_conf_t *conf = make_conf(k->cfg, k->url, err, sizeof(err));

	if (!conf) {
		exp_error(k->sink, "%s", err);
		return -EINVAL;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_stats_cb(conf, on_stats);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!k->rk) {
		rd_kafka_conf_destroy(conf);
		exp_error(k->sink, "%s", err);
		return -EINVAL;
	}
	k->rkt = rd_kafka_topic_new(k->rk, k->topic, NULL);
	if (!k->rkt) {
		exp_error(k->sink, "topic %s: %s", k->topic, rd_kafka_err2str(rd_kafka_last_error()));
		producer_free(k, 0, true);
		return -EINVAL;
	}
	rd_kafka_queue_io_event_enable(rd_kafka_queue_get_main(k->rk), k->pipe[1], "1", 1);
	return 0;
}

static void kafka_close(void *state, int timeout_ms)
{
	struct kafka_sink *k = state;

	producer_free(k, timeout_ms, true);
	if (k->pipe[0] >= 0) {
		close(k->pipe[0]);
		close(k->pipe[1]);
	}
	msgpack_zone_destroy(&k->zone);
	free(k);
}

static int kafka_init(struct exp_sink *sink, const void *config, const struct exp_url *url, void **state)
{
	struct kafka_sink *k = calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return -ENOMEM;
	k->sink = sink;
	k->cfg = config;
	k->url = url;
	k->pipe[0] = k->pipe[1] = -1;
	snprintf(k->topic, sizeof(k->topic), "%s", url->path + 1);
	msgpack_zone_init(&k->zone, 4096);
	if (pipe2(k->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		exp_error(sink, "pipe: %s", strerror(errno));
		kafka_close(k, 0);
		return rc;
	}
	rc = producer_new(k);
	if (rc < 0) {
		kafka_close(k, 0);
		return rc;
	}
	*state = k;
	return 0;
}

/* The record as JSON, malloc'd (librdkafka frees it); NULL when it does not decode. */
static char *to_json(struct kafka_sink *k, const struct exp_record *r, size_t *len)
{
	msgpack_object o;
	char *buf = NULL;
	FILE *m;

	msgpack_zone_clear(&k->zone);
	if (rec_unpack(r->rec, r->len, &k->zone, &o) < 0)
		return NULL;
	m = open_memstream(&buf, len);
	if (!m)
		return NULL;
	if (render_json_shipped(m, exp_journal_id(k->sink), r->seq, r->seal, &o) < 0) {
		fclose(m);
		free(buf);
		return NULL;
	}
	if (fclose(m) != 0)
		return NULL;
	if (*len && buf[*len - 1] == '\n')
		(*len)--; /* one message, one object: no line ending */
	return buf;
}

/* v in decimal, NUL-terminated, at the end of buf[24] (three snprintf calls
 * per record showed in the sink's profile) */
static const char *decimal(char *buf, uint64_t v)
{
	buf[23] = 0;
	return units_decimal(buf + 23, v);
}

static int kafka_send(void *state, struct exp_record **recs, size_t n)
{
	struct kafka_sink *k = state;
	const char *journal = exp_journal_id(k->sink);
	char schema_buf[24], seq[24], kind[24];
	const char *schema;

	if (k->fatal || !k->rk)
		return -EIO;
	schema = decimal(schema_buf, RECORD_VERSION);
	for (size_t i = 0; i < n; i++) {
		struct exp_record *r = recs[i];
		const char *key = *r->session ? r->session : journal;
		void *value = (void *)r->rec;
		size_t len = r->len;
		int flags = 0; /* the record outlives the message: kafka_close purges before it returns */
		rd_kafka_resp_err_t e;

		if (k->cfg->format == KAFKA_JSON) {
			value = to_json(k, r, &len);
			if (!value) {
				r->result = EXP_FAIL;
				r->why = "the record does not decode (msgpack)";
				continue;
			}
			flags = RD_KAFKA_MSG_F_FREE;
		}
		e = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->rkt), RD_KAFKA_V_KEY(key, strlen(key)),
				      RD_KAFKA_V_VALUE(value, len), RD_KAFKA_V_MSGFLAGS(flags),
				      RD_KAFKA_V_HEADER("sandtrail-schema", schema, -1),
				      RD_KAFKA_V_HEADER("sandtrail-journal", journal, -1),
				      RD_KAFKA_V_HEADER("sandtrail-seq", decimal(seq, r->seq), -1),
				      RD_KAFKA_V_HEADER("sandtrail-kind", decimal(kind, r->kind), -1), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
			r->result = EXP_PENDING;
			continue;
		}
		if (flags)
			free(value);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return (int)i; /* the rest when reports free room */
		if (permanent(e)) {
			r->result = EXP_FAIL;
			r->why = rd_kafka_err2str(e);
			continue;
		}
		exp_error(k->sink, "produce: %s", rd_kafka_err2str(e));
		if (i == 0)
			return -EAGAIN;
		return (int)i;
	}
	return (int)n;
}

static int kafka_poll_fd(void *state)
{
	return ((struct kafka_sink *)state)->pipe[0];
}

static void kafka_poll(void *state)
{
	struct kafka_sink *k = state;
	char buf[256];

	while (read(k->pipe[0], buf, sizeof(buf)) > 0)
		;
	if (k->rk)
		rd_kafka_poll(k->rk, 0);
	if (k->fatal) {
		/* what was in flight is answered RETRY by the purge and shipped
		 * again, in order, by the new producer */
		producer_free(k, 0, false);
		k->fatal = false;
		if (producer_new(k) < 0)
			k->fatal = true; /* send answers RETRY until it can be made */
	}
}

const struct exporter_ops exp_kafka_ops = {
	.scheme = "kafka",
	.synopsis = "kafka://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/TOPIC[?format=msgpack|json&rdkafka.NAME=VALUE]"
		    "  idempotent producer, acks=all, key = session",
	.options = kafka_options,
	.config_size = sizeof(struct kafka_config),
	.configure = kafka_configure,
	.init = kafka_init,
	.send = kafka_send,
	.poll_fd = kafka_poll_fd,
	.poll = kafka_poll,
	.close = kafka_close,
};
