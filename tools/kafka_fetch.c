/* Reads a journal back from the Kafka topic the kafka sink ships to: every
 * partition from its start to its end, the records named by their headers
 * (sandtrail-journal, -seq, -kind; exporters/README.md), duplicates left
 * out, then written as a journal directory (journal_rebuild) that replay and
 * verify read as any other.
 *
 * librdkafka is opened here with dlopen: it pulls about ten libraries in,
 * which every `sandtrail run` would otherwise load and relocate at start. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_fetch.h"

#define TIMEOUT_MS 10000 /* metadata, watermarks, and the wait for more messages */

/* The librdkafka calls used here, resolved by name. */
#define RDK_CALLS(X)                                                                                              \
	X(rd_kafka_conf_new) X(rd_kafka_conf_set) X(rd_kafka_conf_destroy) X(rd_kafka_new) X(rd_kafka_destroy)       \
	X(rd_kafka_err2str) X(rd_kafka_topic_new) X(rd_kafka_topic_destroy) X(rd_kafka_metadata)                     \
	X(rd_kafka_metadata_destroy) X(rd_kafka_query_watermark_offsets) X(rd_kafka_topic_partition_list_new)        \
	X(rd_kafka_topic_partition_list_add) X(rd_kafka_topic_partition_list_destroy) X(rd_kafka_assign)             \
	X(rd_kafka_consumer_poll) X(rd_kafka_message_destroy) X(rd_kafka_message_headers)                            \
	X(rd_kafka_header_get_last) X(rd_kafka_consumer_close)

static struct {
#define FIELD(name) __typeof__(name) *name;
	RDK_CALLS(FIELD)
#undef FIELD
} rdk;

static int load(char *err, size_t errlen)
{
	void *h = dlopen("librdkafka.so.1", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(err, errlen, "librdkafka is not installed (%s)", dlerror());
		return -ENOENT;
	}
#define RESOLVE(name)                                                                                             \
	if (!(rdk.name = (__typeof__(name) *)dlsym(h, #name))) {                                                 \
		snprintf(err, errlen, "librdkafka has no %s", #name);                                             \
		return -ENOENT;                                                                                   \
	}
	RDK_CALLS(RESOLVE)
#undef RESOLVE
	return 0;
}

/* A header's value as a decimal number, or a journal id. */
static bool header_uint(rd_kafka_headers_t *h, const char *name, uint64_t *v)
{
	const void *p;
	size_t len;
	char buf[24], *end;

	if (!h || rdk.rd_kafka_header_get_last(h, name, &p, &len) || !p || len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, p, len);
	buf[len] = 0;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return !errno && !*end && buf[0] >= '0' && buf[0] <= '9';
}

static bool header_id(rd_kafka_headers_t *h, char out[JOURNAL_ID_STR])
{
	const void *p;
	size_t len;

	if (!h || rdk.rd_kafka_header_get_last(h, "sandtrail-journal", &p, &len) || len != JOURNAL_ID_STR - 1)
		return false;
	memcpy(out, p, len);
	out[len] = 0;
	return strspn(out, "0123456789abcdef") == len;
}

static int add(struct kafka_copy *c, const char *journal, uint64_t seq, uint8_t kind, const void *p, size_t len)
{
	struct kafka_record *r;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		struct kafka_record *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	r = &c->v[c->n];
	r->rec = malloc(len ? len : 1);
	if (!r->rec)
		return -ENOMEM;
	memcpy(r->rec, p, len);
	memcpy(r->journal, journal, JOURNAL_ID_STR);
	r->seq = seq;
	r->kind = kind;
	r->len = len;
	c->n++;
	return 0;
}

static int by_journal_seq(const void *a, const void *b)
{
	const struct kafka_record *x = a, *y = b;
	int k = strcmp(x->journal, y->journal);

	return k ? k : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorted by (journal, seq); a record seen twice (shipped again after a
 * crash) kept once. */
static void dedup(struct kafka_copy *c)
{
	size_t w = 0;

	qsort(c->v, c->n, sizeof(*c->v), by_journal_seq);
	for (size_t i = 0; i < c->n; i++) {
		if (w && !strcmp(c->v[w - 1].journal, c->v[i].journal) && c->v[w - 1].seq == c->v[i].seq) {
			c->duplicates++;
			free(c->v[i].rec);
			continue;
		}
		c->v[w++] = c->v[i];
	}
	c->n = w;
}

int kafka_fetch(const char *brokers, const char *topic, struct kafka_copy *c, char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = NULL;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk = NULL;
	rd_kafka_resp_err_t e;
	char why[512];
	int rc = 0, open_parts = 0;

	*c = (struct kafka_copy){ 0 };
	if ((rc = load(err, errlen)) < 0)
		return rc;
	conf = rdk.rd_kafka_conf_new();
	if (rdk.rd_kafka_conf_set(conf, "bootstrap.servers", brokers, why, sizeof(why)) != RD_KAFKA_CONF_OK ||
	    rdk.rd_kafka_conf_set(conf, "group.id", "sandtrail-replay", why, sizeof(why)) != RD_KAFKA_CONF_OK ||
	    rdk.rd_kafka_conf_set(conf, "enable.auto.commit", "false", why, sizeof(why)) != RD_KAFKA_CONF_OK ||
	    rdk.rd_kafka_conf_set(conf, "enable.partition.eof", "true", why, sizeof(why)) != RD_KAFKA_CONF_OK ||
	    rdk.rd_kafka_conf_set(conf, "log_level", "3", why, sizeof(why)) != RD_KAFKA_CONF_OK) {
		rdk.rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	rk = rdk.rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	if (!rk) {
		rdk.rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	rkt = rdk.rd_kafka_topic_new(rk, topic, NULL);
	e = rkt ? rdk.rd_kafka_metadata(rk, 0, rkt, &md, TIMEOUT_MS) : RD_KAFKA_RESP_ERR__INVALID_ARG;
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		snprintf(err, errlen, "%s: topic %s: %s", brokers, topic,
			 rdk.rd_kafka_err2str(e ? e : md->topic_cnt != 1 ? RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC : md->topics[0].err));
		rc = -EIO;
		goto out;
	}
	parts = rdk.rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (int i = 0; i < md->topics[0].partition_cnt; i++) {
		int32_t p = md->topics[0].partitions[i].id;
		int64_t lo, hi;

		e = rdk.rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, TIMEOUT_MS);
		if (e) {
			snprintf(err, errlen, "%s: topic %s partition %d: %s", brokers, topic, p, rdk.rd_kafka_err2str(e));
			rc = -EIO;
			goto out;
		}
		if (hi > lo) {
			rdk.rd_kafka_topic_partition_list_add(parts, topic, p)->offset = lo;
			open_parts++;
		}
	}
	if (open_parts && (e = rdk.rd_kafka_assign(rk, parts))) {
		snprintf(err, errlen, "%s: assign: %s", brokers, rdk.rd_kafka_err2str(e));
		rc = -EIO;
		goto out;
	}
	/* every partition to the end it had when asked (enable.partition.eof) */
	while (open_parts > 0) {
		rd_kafka_message_t *m = rdk.rd_kafka_consumer_poll(rk, TIMEOUT_MS);
		rd_kafka_headers_t *h = NULL;
		char journal[JOURNAL_ID_STR];
		uint64_t seq, kind;

		if (!m) {
			snprintf(err, errlen, "%s: topic %s: no message for %d s", brokers, topic, TIMEOUT_MS / 1000);
			rc = -ETIMEDOUT;
			goto out;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			open_parts--;
		} else if (m->err) {
			snprintf(err, errlen, "%s: topic %s: %s", brokers, topic, rdk.rd_kafka_err2str(m->err));
			rdk.rd_kafka_message_destroy(m);
			rc = -EIO;
			goto out;
		} else if (!m->len || *(const char *)m->payload == '{' || /* format=json: a record is a msgpack map */
			   rdk.rd_kafka_message_headers(m, &h) || !header_id(h, journal) ||
			   !header_uint(h, "sandtrail-seq", &seq) || !header_uint(h, "sandtrail-kind", &kind) || kind > 255) {
			c->foreign++; /* not shipped by sandtrail, or format=json: not a record to check */
		} else if ((rc = add(c, journal, seq, (uint8_t)kind, m->payload, m->len)) < 0) {
			rdk.rd_kafka_message_destroy(m);
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		rdk.rd_kafka_message_destroy(m);
	}
	dedup(c);
out:
	if (parts)
		rdk.rd_kafka_topic_partition_list_destroy(parts);
	if (md)
		rdk.rd_kafka_metadata_destroy(md);
	if (rkt)
		rdk.rd_kafka_topic_destroy(rkt);
	rdk.rd_kafka_consumer_close(rk);
	rdk.rd_kafka_destroy(rk);
	if (rc < 0)
		kafka_copy_free(c);
	return rc;
}

void kafka_copy_free(struct kafka_copy *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].rec);
	free(c->v);
	*c = (struct kafka_copy){ 0 };
}

int kafka_copy_journal(const struct kafka_copy *c, const char *want, char out[JOURNAL_ID_STR], char *err,
		       size_t errlen)
{
	size_t journals = 0;

	out[0] = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (want && strcmp(c->v[i].journal, want))
			continue;
		if (strcmp(out, c->v[i].journal)) {
			journals++;
			if (journals > 1) {
				snprintf(err, errlen, "the topic holds journals %s and %s: name one (--journal-id)", out,
					 c->v[i].journal);
				return -EINVAL;
			}
			memcpy(out, c->v[i].journal, JOURNAL_ID_STR);
		}
	}
	if (!journals) {
		snprintf(err, errlen, want ? "no record of journal %s in the topic" : "no sandtrail record in the topic",
			 want);
		return -ENOENT;
	}
	return 0;
}

static int rebuild(const struct kafka_copy *c, const char *journal, const char *dir)
{
	static const uint8_t no_pub[JOURNAL_PUB_LEN]; /* seq 0's key comes from the epoch 0 record */
	const uint8_t *root_pub = no_pub;
	struct journal_import *v = calloc(c->n ? c->n : 1, sizeof(*v));
	uint8_t id[JOURNAL_ID_LEN];
	size_t n = 0;
	int rc;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < JOURNAL_ID_LEN; i++)
		sscanf(journal + 2 * i, "%2hhx", &id[i]);
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].journal, journal))
			v[n++] = (struct journal_import){ .seq = c->v[i].seq, .kind = c->v[i].kind, .rec = c->v[i].rec,
							  .len = c->v[i].len };
	rc = journal_rebuild(dir, id, root_pub, v, n);
	free(v);
	return rc;
}

int kafka_journal_dir(const char *brokers, const char *topic, const char *want, struct kafka_copy *c,
		      char journal[JOURNAL_ID_STR], char dir[PATH_MAX], char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	int rc = kafka_fetch(brokers, topic, c, err, errlen);

	if (rc < 0)
		return rc;
	rc = kafka_copy_journal(c, want, journal, err, errlen);
	if (rc < 0)
		goto fail;
	snprintf(dir, PATH_MAX, "%s/sandtrail-kafka.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		rc = -errno;
		snprintf(err, errlen, "mkdtemp(\"%s\"): %s", dir, strerror(errno));
		goto fail;
	}
	rc = rebuild(c, journal, dir);
	if (rc < 0) {
		snprintf(err, errlen, "writing the copy into %s: %s", dir, strerror(-rc));
		kafka_journal_dir_remove(dir);
		goto fail;
	}
	return 0;
fail:
	kafka_copy_free(c);
	return rc;
}

void kafka_journal_dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}
