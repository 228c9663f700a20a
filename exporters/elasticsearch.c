/* elasticsearch://[USER:PASSWORD@]HOST:PORT/INDEX: every record as an ECS
 * document (schemas/ecs.md), POSTed to INDEX/_bulk with op_type create and
 * _id "<journal>-<seq>", so that a record shipped again after a crash is a
 * 409 that counts as delivered.  The body is gzipped (zlib); per-item 429
 * and 5xx are retried alone, other refusals become export_error records. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ecs.h"
#include "es_bulk.h"
#include "sink.h"

#define RESPONSE_MAX (64u << 20) /* a larger answer is not Elasticsearch's */

struct es_config {
	char *api_key, *cacert;
	bool gzip, tls, verify;
	uint64_t timeout_ms, level;
};

#define EOFF(f) offsetof(struct es_config, f)

static const struct exp_option es_options[] = {
	{ .key = "tls", .type = EXP_OPT_BOOL, .off = EOFF(tls), .def = "false", .help = "https instead of http" },
	{ .key = "cacert", .type = EXP_OPT_STR, .off = EOFF(cacert), .help = "CA bundle that signs the server (tls)" },
	{ .key = "verify", .type = EXP_OPT_BOOL, .off = EOFF(verify), .def = "true",
	  .help = "check the server's certificate and name (tls)" },
	{ .key = "api_key", .type = EXP_OPT_STR, .off = EOFF(api_key),
	  .help = "API key (Authorization: ApiKey ...), instead of USER:PASSWORD@" },
	{ .key = "gzip", .type = EXP_OPT_BOOL, .off = EOFF(gzip), .def = "true", .help = "gzip request bodies" },
	{ .key = "gzip_level", .type = EXP_OPT_UINT, .off = EOFF(level), .def = "1", .min = 1, .max = 9,
	  .help = "zlib level of gzip bodies" },
	{ .key = "timeout", .type = EXP_OPT_MS, .off = EOFF(timeout_ms), .def = "30s", .min = 100, .max = 600000,
	  .help = "a request not answered within this is sent again" },
	{ 0 },
};

struct es_sink {
	struct exp_sink *sink;
	const struct es_config *cfg;
	CURL *curl;
	struct curl_slist *headers, *get_headers; /* for _bulk; for GET (credentials only) */
	char base[512];       /* scheme://authority */
	char bulk[1024];      /* base/INDEX/_bulk */
	char hostname[256];
	char curl_err[CURL_ERROR_SIZE];
	msgpack_zone zone;
	char *line;           /* the rendered record */
	size_t line_len;
	char *body, *gz;      /* the request, plain and gzipped */
	size_t body_len, gz_cap;
	char *resp;           /* the response */
	size_t resp_len, resp_cap;
	bool resp_over;
	struct exp_record **sent; /* the records in the request, in order */
	char (*ids)[64];
	char (*why)[ES_WHY_LEN];
	size_t cap;
};

/* An index name Elasticsearch accepts: lowercase, none of the characters
 * below, not starting with -_+, not . or .. */
static bool index_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255 || strchr("-_+", s[0]) || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (isupper((unsigned char)*s) || (unsigned char)*s <= ' ' || strchr("\\/*?\"<>|,#:", *s))
			return false;
	return true;
}

static int es_configure(void *config, const struct exp_url *url, char *err, size_t errlen)
{
	struct es_config *c = config;
	const char *colon = strrchr(url->authority, ':');

	if (!*url->authority || strchr(url->authority, ',') || !colon || colon == url->authority || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return exp_errf(err, errlen, "expected elasticsearch://HOST:PORT/INDEX (one host, with its port)");
	if (!index_name_ok(url->path + (url->path[0] == '/')))
		return exp_errf(err, errlen, "'%s': not an index or data stream name (lowercase, no \\/*?\"<>|,#: )",
				url->path + (url->path[0] == '/'));
	if (c->api_key && url->user)
		return exp_errf(err, errlen, "api_key and USER:PASSWORD@ together: choose one");
	if (c->cacert && !c->tls)
		return exp_errf(err, errlen, "cacert without tls=true");
	return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct es_sink *e = arg;
	size_t n = size * nmemb;

	if (e->resp_len + n + 1 > RESPONSE_MAX) {
		e->resp_over = true;
		return 0;
	}
	if (e->resp_len + n + 1 > e->resp_cap) {
		size_t cap = (e->resp_len + n + 1) * 2;
		char *r = realloc(e->resp, cap);

		if (!r)
			return 0;
		e->resp = r;
		e->resp_cap = cap;
	}
	memcpy(e->resp + e->resp_len, p, n);
	e->resp_len += n;
	e->resp[e->resp_len] = 0;
	return n;
}

/* The first line of the server's answer, printable, for an error message. */
static const char *resp_snippet(struct es_sink *e, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; e->resp && i < e->resp_len && i + 1 < cap && e->resp[i] != '\n'; i++)
		buf[i] = (unsigned char)e->resp[i] < 0x20 || e->resp[i] == 0x7f ? '?' : e->resp[i];
	buf[i] = 0;
	return buf;
}

/* One request; the HTTP status, or -errno when none came. */
static long request(struct es_sink *e, const char *url, const void *body, size_t len)
{
	long status = 0;
	CURLcode rc;

	e->resp_len = 0;
	e->resp_over = false;
	e->curl_err[0] = 0;
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	if (body) {
		curl_easy_setopt(e->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->headers);
	} else {
		curl_easy_setopt(e->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->get_headers);
	}
	rc = curl_easy_perform(e->curl);
	if (rc != CURLE_OK) {
		exp_connected(e->sink, false);
		exp_error(e->sink, "%s: %s", url, e->resp_over ? "answer too large" : e->curl_err[0] ? e->curl_err : curl_easy_strerror(rc));
		return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	exp_connected(e->sink, true);
	return status;
}

static void es_close(void *state, int timeout_ms)
{
	struct es_sink *e = state;

	if (e->curl)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->headers);
	curl_slist_free_all(e->get_headers);
	msgpack_zone_destroy(&e->zone);
	free(e->line);
	free(e->body);
	free(e->gz);
	free(e->resp);
	free(e->sent);
	free(e->ids);
	free(e->why);
	free(e);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_global;

static void global_init(void)
{
	curl_global = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int es_init(struct exp_sink *sink, const void *config, const struct exp_url *url, void **state)
{
	const struct es_config *c = config;
	struct es_sink *e;
	char auth[1024], snip[160];
	long status;

	pthread_once(&curl_once, global_init);
	if (curl_global != CURLE_OK) {
		exp_error(sink, "curl_global_init: %s", curl_easy_strerror(curl_global));
		return -EIO;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->sink = sink;
	e->cfg = c;
	msgpack_zone_init(&e->zone, 4096);
	if (gethostname(e->hostname, sizeof(e->hostname) - 1) < 0)
		e->hostname[0] = 0;
	snprintf(e->base, sizeof(e->base), "%s://%s", c->tls ? "https" : "http", url->authority);
	snprintf(e->bulk, sizeof(e->bulk), "%s%s/_bulk", e->base, url->path);
	e->curl = curl_easy_init();
	e->headers = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
	if (e->headers && c->gzip)
		e->headers = curl_slist_append(e->headers, "Content-Encoding: gzip");
	if (c->api_key) {
		snprintf(auth, sizeof(auth), "Authorization: ApiKey %s", c->api_key);
		e->headers = e->headers ? curl_slist_append(e->headers, auth) : NULL;
		e->get_headers = curl_slist_append(NULL, auth);
	}
	if (!e->curl || !e->headers || (c->api_key && !e->get_headers)) {
		es_close(e, 0);
		return -ENOMEM;
	}
	curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, e->curl_err);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e->curl, CURLOPT_FOLLOWLOCATION, 0L);
	if (url->user) {
		curl_easy_setopt(e->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(e->curl, CURLOPT_USERNAME, url->user);
		curl_easy_setopt(e->curl, CURLOPT_PASSWORD, url->password ? url->password : "");
	}
	if (c->cacert)
		curl_easy_setopt(e->curl, CURLOPT_CAINFO, c->cacert);
	if (!c->verify) {
		curl_easy_setopt(e->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	/* the server answers before anything is shipped: a wrong address or
	 * credentials show in sandtrail ps at once */
	status = request(e, e->base, NULL, 0);
	if (status != 200) {
		exp_connected(sink, false);
		if (status > 0)
			exp_error(sink, "GET %s: HTTP %ld: %s", e->base, status, resp_snippet(e, snip, sizeof(snip)));
		es_close(e, 0);
		return status < 0 ? (int)status : -EACCES;
	}
	*state = e;
	return 0;
}

static int grow(struct es_sink *e, size_t n)
{
	void *a, *b, *c;

	if (n <= e->cap)
		return 0;
	a = realloc(e->sent, n * sizeof(*e->sent));
	if (a)
		e->sent = a;
	b = realloc(e->ids, n * sizeof(*e->ids));
	if (b)
		e->ids = b;
	c = realloc(e->why, n * sizeof(*e->why));
	if (c)
		e->why = c;
	if (!a || !b || !c)
		return -ENOMEM;
	e->cap = n;
	return 0;
}

static int gzip_body(struct es_sink *e)
{
	z_stream z = { 0 };
	size_t cap = compressBound((uLong)e->body_len) + 32;
	int rc;

	if (cap > e->gz_cap) {
		char *g = realloc(e->gz, cap);

		if (!g)
			return -ENOMEM;
		e->gz = g;
		e->gz_cap = cap;
	}
	/* windowBits 15 + 16: a gzip wrapper, as Content-Encoding: gzip says */
	if (deflateInit2(&z, (int)e->cfg->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)e->body;
	z.avail_in = (uInt)e->body_len;
	z.next_out = (Bytef *)e->gz;
	z.avail_out = (uInt)e->gz_cap;
	rc = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	return rc == Z_STREAM_END ? (int)z.total_out : -ENOMEM;
}

static int es_send(void *state, struct exp_record **recs, size_t n)
{
	struct es_sink *e = state;
	char err[256], snip[160];
	size_t k = 0;
	long status;
	FILE *m;
	int rc, zlen;

	if (grow(e, n) < 0)
		return -ENOMEM;
	free(e->body);
	e->body = NULL;
	m = open_memstream(&e->body, &e->body_len);
	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *rec = ecs_record_json(exp_journal_id(e->sink), recs[i], &e->zone, &e->line, &e->line_len);
		json_t *doc = rec ? ecs_document(rec, e->line, e->line_len, e->hostname) : NULL;

		json_decref(rec);
		if (!doc) {
			recs[i]->result = EXP_FAIL;
			recs[i]->why = "the record does not decode (msgpack)";
			continue;
		}
		ecs_id(e->ids[k], exp_journal_id(e->sink), recs[i]->seq);
		rc = es_bulk_append(m, e->ids[k], doc);
		json_decref(doc);
		if (rc < 0) {
			fclose(m);
			return rc;
		}
		e->sent[k++] = recs[i];
	}
	if (fclose(m) != 0)
		return -ENOMEM;
	if (k == 0)
		return (int)n;
	if (e->cfg->gzip) {
		zlen = gzip_body(e);
		if (zlen < 0)
			return zlen;
		status = request(e, e->bulk, e->gz, (size_t)zlen);
	} else {
		status = request(e, e->bulk, e->body, e->body_len);
	}
	if (status < 0)
		return (int)status;
	if (status != 200) {
		/* the whole request refused (overloaded, credentials, a proxy):
		 * nothing is taken as refused for good, it all comes again */
		exp_error(e->sink, "POST %s: HTTP %ld: %s", e->bulk, status, resp_snippet(e, snip, sizeof(snip)));
		return -EAGAIN;
	}
	rc = es_bulk_answer(e->resp, e->resp_len, e->sent, e->ids, k, e->why, err, sizeof(err));
	if (rc < 0) {
		exp_error(e->sink, "POST %s: %s", e->bulk, err);
		return rc;
	}
	return (int)n;
}

const struct exporter_ops exp_elasticsearch_ops = {
	.scheme = "elasticsearch",
	.synopsis = "elasticsearch://[USER:PASSWORD@]HOST:PORT/INDEX[?...]  ECS documents, _bulk with op_type create",
	.options = es_options,
	.config_size = sizeof(struct es_config),
	.configure = es_configure,
	.init = es_init,
	.send = es_send,
	.close = es_close,
};
