#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "event.h"
#include "metrics.h"

void metrics_loss(struct metrics *m, const char *kind, const char *reason, uint64_t count)
{
	size_t i;

	for (i = 0; i < m->nloss; i++)
		if (!strcmp(m->loss[i].kind, kind) && !strcmp(m->loss[i].reason, reason))
			break;
	if (i == m->nloss && m->nloss == METRICS_LOSS_KEYS) {
		i = METRICS_LOSS_KEYS - 1; /* the last slot holds what no other could */
		snprintf(m->loss[i].kind, sizeof(m->loss[i].kind), "other");
		snprintf(m->loss[i].reason, sizeof(m->loss[i].reason), "other");
	} else if (i == m->nloss) {
		snprintf(m->loss[i].kind, sizeof(m->loss[i].kind), "%s", kind);
		snprintf(m->loss[i].reason, sizeof(m->loss[i].reason), "%s", reason);
		m->nloss++;
	}
	m->loss[i].count += count;
}

/* Upper bounds of the seal latency buckets, in ns and as rendered. */
static const uint64_t seal_le_ns[METRICS_SEAL_BUCKETS] = {
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000,
	250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const seal_le_str[METRICS_SEAL_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};

void metrics_arrived(struct metrics *m, uint64_t seq, uint64_t now_ns)
{
	struct metrics_pending *last = m->npending ?
		&m->pending[(m->phead + m->npending - 1) % METRICS_PENDING_MAX] : NULL;

	if (last && (now_ns / 1000000 == last->t_ns / 1000000 || m->npending == METRICS_PENDING_MAX)) {
		last->below = seq + 1;
		last->n++;
		return;
	}
	m->pending[(m->phead + m->npending) % METRICS_PENDING_MAX] =
		(struct metrics_pending){ .below = seq + 1, .t_ns = now_ns, .n = 1 };
	m->npending++;
}

void metrics_durable(struct metrics *m, uint64_t through, uint64_t now_ns)
{
	while (m->npending && m->pending[m->phead].below <= through) {
		const struct metrics_pending *g = &m->pending[m->phead];
		uint64_t lat = now_ns > g->t_ns ? now_ns - g->t_ns : 0;
		size_t b = 0;

		while (b < METRICS_SEAL_BUCKETS && lat > seal_le_ns[b])
			b++;
		m->seal_le[b] += g->n;
		m->seal_count += g->n;
		m->seal_sum_ns += g->n * lat;
		m->phead = (m->phead + 1) % METRICS_PENDING_MAX;
		m->npending--;
	}
}

void metrics_label(char *buf, size_t cap, const char *key, const char *value)
{
	size_t n = strlen(buf);

	n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s=\"", n ? "," : "", key);
	for (const char *p = value; *p && n + 3 < cap; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			buf[n++] = '\\';
			buf[n++] = *p == '\n' ? 'n' : *p;
		} else {
			buf[n++] = *p;
		}
	}
	if (n + 2 <= cap) {
		buf[n++] = '"';
		buf[n] = 0;
	}
}

void metrics_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_sample(FILE *f, const char *name, const char *labels, uint64_t v)
{
	fprintf(f, "%s%s%s%s %" PRIu64 "\n", name, labels && *labels ? "{" : "", labels ? labels : "",
		labels && *labels ? "}" : "", v);
}

void metrics_render(FILE *f, const struct metrics *m)
{
	char l[256];
	uint64_t cum = 0;

	metrics_family(f, "sandtrail_events_total", "counter", "Kernel events decoded, by event type.");
	for (uint32_t t = 1; t < ST_EV_MAX; t++) {
		l[0] = 0;
		metrics_label(l, sizeof(l), "type", event_type_name(t));
		metrics_sample(f, "sandtrail_events_total", l, m->events[t]);
	}
	metrics_family(f, "sandtrail_events_undecodable_total", "counter",
		       "Kernel events that did not decode (each becomes a loss record).");
	metrics_sample(f, "sandtrail_events_undecodable_total", NULL, m->events[0]);
	metrics_family(f, "sandtrail_lost_events_total", "counter",
		       "Events lost, as the loss records say: by kind and reason.");
	for (size_t i = 0; i < m->nloss; i++) {
		l[0] = 0;
		metrics_label(l, sizeof(l), "kind", m->loss[i].kind);
		metrics_label(l, sizeof(l), "reason", m->loss[i].reason);
		metrics_sample(f, "sandtrail_lost_events_total", l, m->loss[i].count);
	}
	metrics_family(f, "sandtrail_journal_records_total", "counter", "Records appended to the journal.");
	metrics_sample(f, "sandtrail_journal_records_total", NULL, m->records);
	metrics_family(f, "sandtrail_journal_record_bytes_total", "counter",
		       "Bytes of records appended (encoded, before compression).");
	metrics_sample(f, "sandtrail_journal_record_bytes_total", NULL, m->record_bytes);
	metrics_family(f, "sandtrail_seal_latency_seconds", "histogram",
		       "From a record's arrival at the collector to its seal being durable.");
	for (size_t b = 0; b <= METRICS_SEAL_BUCKETS; b++) {
		cum += m->seal_le[b];
		l[0] = 0;
		metrics_label(l, sizeof(l), "le", b < METRICS_SEAL_BUCKETS ? seal_le_str[b] : "+Inf");
		metrics_sample(f, "sandtrail_seal_latency_seconds_bucket", l, cum);
	}
	fprintf(f, "sandtrail_seal_latency_seconds_sum %" PRIu64 ".%09" PRIu64 "\n", m->seal_sum_ns / 1000000000,
		m->seal_sum_ns % 1000000000);
	metrics_sample(f, "sandtrail_seal_latency_seconds_count", NULL, m->seal_count);
	metrics_family(f, "sandtrail_control_requests_total", "counter", "Control requests answered.");
	metrics_sample(f, "sandtrail_control_requests_total", NULL, m->requests);
	metrics_family(f, "sandtrail_control_refusals_total", "counter",
		       "Control connections or requests refused (permissions, bounds).");
	metrics_sample(f, "sandtrail_control_refusals_total", NULL, m->refusals);
	metrics_family(f, "sandtrail_metrics_scrapes_total", "counter", "Scrapes of these metrics.");
	metrics_sample(f, "sandtrail_metrics_scrapes_total", NULL, m->scrapes);
}

int metrics_listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	/* bound under a umask that lets no one else in before the chmod */
	mode_t old = umask(0177);

	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int metrics_listen_tcp(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char host[64];
	const char *colon = strrchr(spec, ':');
	char *end;
	unsigned long port;
	size_t hlen;
	int fd, one = 1;

	if (!colon || colon == spec) {
		snprintf(err, errlen, "'%s': expected ADDR:PORT (127.0.0.1:9464, [::1]:9464)", spec);
		return -EINVAL;
	}
	port = strtoul(colon + 1, &end, 10);
	hlen = (size_t)(colon - spec);
	if (*end || !colon[1] || port == 0 || port > 65535 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "'%s': expected ADDR:PORT with a port from 1 to 65535", spec);
		return -EINVAL;
	}
	memcpy(host, spec, hlen);
	host[hlen] = 0;
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		host[hlen - 1] = 0;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			ss.ss_family = 0;
	} else {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			ss.ss_family = 0;
	}
	if (!ss.ss_family) {
		snprintf(err, errlen, "'%s': the address must be an IP literal (IPv6 in brackets)", spec);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, ss.ss_family == AF_INET ? sizeof(*in4) : sizeof(*in6)) < 0 ||
	    listen(fd, 16) < 0) {
		int rc = -errno;

		snprintf(err, errlen, "'%s': %s", spec, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

int metrics_request(const char *buf, size_t len)
{
	static const char get[] = "GET /metrics";

	if (!memmem(buf, len, "\r\n\r\n", 4) && !memmem(buf, len, "\n\n", 2))
		return len >= METRICS_REQ_MAX ? -1 : 0;
	if (len >= sizeof(get) && !memcmp(buf, get, sizeof(get) - 1) &&
	    (buf[sizeof(get) - 1] == ' ' || buf[sizeof(get) - 1] == '?'))
		return 1;
	return 2;
}
