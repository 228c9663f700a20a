/* syslog+tcp://HOST:PORT?format=rfc5424|cef: every record as one syslog
 * message (siem_format.c) over TCP with octet-counting framing (RFC 6587
 * 3.4.1: "LEN SP MSG", so a message may hold any byte).  Syslog over TCP has
 * no acknowledgement: a batch counts as delivered once the peer's TCP has
 * acknowledged every byte of it (SIOCOUTQ reaches 0), not merely once it was
 * written; a connection lost before that sends the batch again. */
#include <errno.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "ecs.h"
#include "siem_format.h"
#include "sink.h"

struct syslog_config {
	unsigned format;
	uint64_t facility, timeout_ms;
	char *app;
	bool anchors;
};

#define SOFF(f) offsetof(struct syslog_config, f)

static const struct exp_option syslog_options[] = {
	{ .key = "format", .type = EXP_OPT_ENUM, .off = SOFF(format), .def = "rfc5424", .choices = "rfc5424|cef",
	  .help = "RFC 5424 with the record in structured data, or CEF" },
	{ .key = "facility", .type = EXP_OPT_UINT, .off = SOFF(facility), .def = "13", .min = 0, .max = 23,
	  .help = "syslog facility (13: log audit)" },
	{ .key = "app", .type = EXP_OPT_STR, .off = SOFF(app), .def = "sandtrail", .help = "APP-NAME" },
	{ .key = "anchors", .type = EXP_OPT_BOOL, .off = SOFF(anchors), .def = "true",
	  .help = "after each seal, its anchor (MSGID anchor) for sandtrail verify --anchor FILE" },
	{ .key = "timeout", .type = EXP_OPT_MS, .off = SOFF(timeout_ms), .def = "10s", .min = 100, .max = 600000,
	  .help = "connect, and the peer's acknowledgement of a batch, within this" },
	{ 0 },
};

struct syslog_sink {
	struct exp_sink *sink;
	const struct syslog_config *cfg;
	char host[256], port[16], hostname[256];
	int fd;
	msgpack_zone zone;
	char *line, *msg, *buf;
	size_t line_len, msg_len, len;
};

static int syslog_configure(void *config, const struct exp_url *url, char *err, size_t errlen)
{
	const char *colon = strrchr(url->authority, ':');

	if (!*url->authority || strchr(url->authority, ',') || !colon || colon == url->authority || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || colon - url->authority >= 256 ||
	    strlen(colon + 1) > 5)
		return exp_errf(err, errlen, "expected syslog+tcp://HOST:PORT (one host, with its port)");
	if (*url->path && strcmp(url->path, "/"))
		return exp_errf(err, errlen, "a syslog URL has no path");
	if (url->user)
		return exp_errf(err, errlen, "syslog over TCP takes no credentials");
	return 0;
}

static void disconnect(struct syslog_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	exp_connected(s->sink, false);
}

static int connect_peer(struct syslog_sink *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *res, *ai;
	struct timeval tv = { .tv_sec = (time_t)(s->cfg->timeout_ms / 1000),
			      .tv_usec = (suseconds_t)(s->cfg->timeout_ms % 1000 * 1000) };
	int rc = getaddrinfo(s->host, s->port, &hints, &res), err = 0;

	if (rc) {
		exp_error(s->sink, "%s: %s", s->host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		s->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (s->fd < 0) {
			err = errno;
			continue;
		}
		/* a peer that stops reading holds a write for the timeout at most */
		setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(s->fd);
		s->fd = -1;
	}
	freeaddrinfo(res);
	if (s->fd < 0) {
		exp_error(s->sink, "connect(%s:%s): %s", s->host, s->port, strerror(err));
		return -err;
	}
	exp_connected(s->sink, true);
	return 0;
}

static void syslog_close(void *state, int timeout_ms)
{
	struct syslog_sink *s = state;

	if (s->fd >= 0)
		close(s->fd);
	msgpack_zone_destroy(&s->zone);
	free(s->line);
	free(s->msg);
	free(s->buf);
	free(s);
}

static int syslog_init(struct exp_sink *sink, const void *config, const struct exp_url *url, void **state)
{
	struct syslog_sink *s = calloc(1, sizeof(*s));
	const char *colon = strrchr(url->authority, ':');
	int rc;

	if (!s)
		return -ENOMEM;
	s->sink = sink;
	s->cfg = config;
	s->fd = -1;
	msgpack_zone_init(&s->zone, 4096);
	/* [v6]:port: the brackets are not the host's */
	if (url->authority[0] == '[' && colon[-1] == ']')
		snprintf(s->host, sizeof(s->host), "%.*s", (int)(colon - url->authority - 2), url->authority + 1);
	else
		snprintf(s->host, sizeof(s->host), "%.*s", (int)(colon - url->authority), url->authority);
	snprintf(s->port, sizeof(s->port), "%s", colon + 1);
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
		s->hostname[0] = 0;
	rc = connect_peer(s);
	if (rc < 0) {
		syslog_close(s, 0);
		return rc;
	}
	*state = s;
	return 0;
}

/* Writes everything, then waits until the peer's TCP acknowledged it all,
 * watching for the peer closing (a syslog receiver never speaks). */
static int write_acked(struct syslog_sink *s, const char *p, size_t len)
{
	uint64_t deadline = mono_ms() + s->cfg->timeout_ms;
	int queued;

	while (len > 0) {
		ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	for (;;) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN | POLLRDHUP };

		if (ioctl(s->fd, SIOCOUTQ, &queued) < 0)
			return -errno;
		if (queued == 0)
			return 0;
		if (mono_ms() >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, 1) > 0)
			return -ECONNRESET;
	}
}

/* The seal's anchor as a message of its own, after the seal's. */
static int put_anchor(struct syslog_sink *s, FILE *m, const struct siem_header *h, const struct exp_record *r)
{
	char line[JOURNAL_ANCHOR_LINE_MAX];
	FILE *one;
	int rc;

	if (journal_anchor_format(line, sizeof(line), exp_journal_id(s->sink), r->seq, r->rec, r->len) < 0) {
		exp_error(s->sink, "seal %" PRIu64 ": %zu bytes, too large for an anchor", r->seq, r->len);
		return 0; /* the seal itself went */
	}
	free(s->msg);
	s->msg = NULL;
	one = open_memstream(&s->msg, &s->msg_len);
	rc = one ? siem_format_anchor(one, h, line) : -ENOMEM;
	if (!one || fclose(one) != 0 || rc < 0)
		return -ENOMEM;
	fprintf(m, "%zu ", s->msg_len);
	fwrite(s->msg, 1, s->msg_len, m);
	return 0;
}

static int syslog_send(void *state, struct exp_record **recs, size_t n)
{
	struct syslog_sink *s = state;
	struct siem_header h = { .facility = (unsigned)s->cfg->facility, .hostname = s->hostname, .app = s->cfg->app };
	FILE *m;
	int rc;

	if (s->fd < 0 && (rc = connect_peer(s)) < 0)
		return rc;
	free(s->buf);
	s->buf = NULL;
	m = open_memstream(&s->buf, &s->len);
	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *rec = ecs_record_json(exp_journal_id(s->sink), recs[i], &s->zone, &s->line, &s->line_len);
		FILE *one;

		recs[i]->result = EXP_OK;
		if (!rec) {
			recs[i]->result = EXP_FAIL;
			recs[i]->why = "the record does not decode (msgpack)";
			continue;
		}
		h.ts_ns = recs[i]->ts_ns;
		free(s->msg);
		s->msg = NULL;
		one = open_memstream(&s->msg, &s->msg_len);
		rc = one ? siem_format(one, (enum siem_format)s->cfg->format, &h, rec, s->line, s->line_len) : -ENOMEM;
		json_decref(rec);
		if (!one || fclose(one) != 0 || rc < 0) {
			fclose(m);
			return -ENOMEM;
		}
		fprintf(m, "%zu ", s->msg_len); /* octet counting */
		fwrite(s->msg, 1, s->msg_len, m);
		if (recs[i]->kind == JOURNAL_KIND_SEAL && s->cfg->anchors && (rc = put_anchor(s, m, &h, recs[i])) < 0) {
			fclose(m);
			return rc;
		}
	}
	if (fclose(m) != 0)
		return -ENOMEM;
	rc = write_acked(s, s->buf, s->len);
	if (rc < 0) {
		exp_error(s->sink, "%s:%s: %s", s->host, s->port,
			  rc == -ETIMEDOUT ? "the peer did not acknowledge the batch in time" : strerror(-rc));
		disconnect(s);
		return rc;
	}
	return (int)n;
}

const struct exporter_ops exp_syslog_ops = {
	.scheme = "syslog+tcp",
	.synopsis = "syslog+tcp://HOST:PORT[?format=rfc5424|cef&...]  RFC 5424 or CEF, octet-counted frames",
	.options = syslog_options,
	.config_size = sizeof(struct syslog_config),
	.configure = syslog_configure,
	.init = syslog_init,
	.send = syslog_send,
	.close = syslog_close,
};
