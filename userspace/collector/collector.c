#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup2.h"
#include "clock.h"
#include "collector.h"
#include "control.h"
#include "enrich.h"
#include "escape.h"
#include "event.h"
#include "exporter.h"
#include "gvisor_sink.h"
#include "microvm_sink.h"
#include "highwater.h"
#include "journal/journal.h"
#include "labels.h"
#include "metrics.h"
#include "netpolicy.h"
#include "proxy/domain.h"
#include "proxysup.h"
#include "probes.h"
#include "recover.h"
#include "service.h"
#include "session.h"

#define TICK_MS 10          /* seals are due to the millisecond: see --seal-ms */
#define HOUSEKEEPING_MS 250 /* losses, clock, stopped sessions */
#define RETAIN_MS 1000      /* how often retention looks at the segments */
#define HIGHWATER_MS 1000   /* how often the durable end is saved (state/journal.highwater) */
#define CGROUP_CHECK_MS 1000
#define STOP_GRACE_MS 2000
#define ENDED_KEEP_MS 2000 /* events drained after the end still find the session */

enum conn_kind { CONN_PROBES, CONN_LISTEN, CONN_SIGNAL, CONN_TIMER, CONN_JOURNAL, CONN_CLIENT, CONN_GVISOR, CONN_MICROVM,
		 CONN_EXPORT, CONN_METRICS_LISTEN, CONN_SCRAPE, CONN_PROXY, CONN_PROXY_EXIT };

struct conn {
	enum conn_kind kind;
	int fd;
	bool refused; /* not root: its request gets an error, then the door */
	pid_t peer;   /* SO_PEERCRED pid, for the per-process bound */
	bool ps_only; /* a member of --socket-group: reads, no changes */
};

/* One metrics scrape: the request head read so far, and when it began (a
 * client that never finishes its request loses its slot). */
struct scrape {
	struct conn conn; /* first: the loop's pointer is to it */
	uint64_t since_ms;
	size_t len;
	char buf[METRICS_REQ_MAX];
};
#define SCRAPE_DEADLINE_MS 5000

struct collector;
static void expire_scrapes(struct collector *c, uint64_t now);
static void proxy_restart(struct collector *c);
static int add_fd(struct collector *c, struct conn *conn, enum conn_kind kind, int fd);

/* Control connections: a flood of them must never cost the recording its
 * descriptors (journal segments, cgroups, BPF links). */
#define CLIENTS_MAX 1024      /* in all, lowered when RLIMIT_NOFILE is small */
#define CLIENTS_PER_PEER 32   /* of one process: a run holds one, a CLI call one */
#define FDS_RESERVED 512      /* for everything but control connections */

/* A cgroup a lost session manager left: removed once empty. */
struct orphan {
	char path[4200];
	uint64_t since_ms;
};
#define ORPHANS_MAX 256
#define ORPHAN_GIVEUP_MS 30000

/* A reply held until the record it reports on is sealed and on disk. */
struct held_reply {
	struct conn *conn;
	uint64_t seq;
	json_t *rep;
};

struct collector {
	const struct daemon_config *cfg;
	struct probes *probes;
	struct gvisor_sink *gvisor;
	char gvisor_path[4200];
	struct microvm_sink *microvm;
	char microvm_path[4200];
	struct journal *journal;
	struct session_table sessions;
	struct enrich enrich;
	struct rec rec;
	int epfd;
	struct conn probes_conn, listen_conn, signal_conn, timer_conn, journal_conn, gvisor_conn, microvm_conn, export_conn;
	struct held_reply *held;
	size_t nheld, capheld;
	int64_t boot_to_wall;
	uint64_t arrived_ns, batch_events; /* the drain's clock (consume) */
	uint64_t lost_seen[ST_EV_MAX][ST_LOSS_MAX];
	uint64_t undecodable, undecodable_seen;
	uint64_t last_housekeeping, last_cgroup_check, last_retain;
	uint64_t highwater, last_highwater; /* the seq journal.highwater names, when it was saved */
	char journal_id[JOURNAL_ID_STR];
	char retain_err[256];       /* the last retention failure, logged once */
	struct service service;
	struct metrics metrics;
	struct conn metrics_conn, metrics_tcp_conn;
	char metrics_path[4200];
	struct scrape *scrapes[METRICS_CONN_MAX];
	size_t nscrapes;
	char session_parent[4200]; /* <cgroup2 mount>/CGROUP2_SESSION_PARENT, "" if none */
	bool stopping;
	bool failed; /* the journal refused a write */
	struct conn **clients;
	size_t nclients, clients_max;
	int spare_fd; /* given up to accept-and-refuse when descriptors run out */
	struct orphan orphans[ORPHANS_MAX];
	size_t norphans;
	bool probes_pinned;
	bool handover; /* SIGUSR2: the sessions stay open, the pinned kernel side records on */
	uint64_t own_cgroup; /* sandtraild's own cgroup v2 id */
	struct proxysup proxy;
	struct conn proxy_conn, proxy_exit_conn;
	char own_cgroup_path[4200];
};

/* Kernel timestamps are boot time; records carry wall time. */
static void sync_clock(struct collector *c)
{
	uint64_t b0 = clock_ns(CLOCK_BOOTTIME), w = clock_ns(CLOCK_REALTIME), b1 = clock_ns(CLOCK_BOOTTIME);

	c->boot_to_wall = (int64_t)w - (int64_t)(b0 / 2 + b1 / 2);
}

__attribute__((format(printf, 1, 2))) static void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("sandtraild: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The journal refuses everything after a failed write: nothing could be
 * recorded any more, so the collector stops, and the session managers,
 * losing it, kill their sessions (fail closed). */
static void journal_failed(struct collector *c, const char *what, int rc)
{
	if (!c->failed)
		log_msg("journal %s failed in %s: %s (%s); stopping, sessions can no longer be recorded", what,
			c->cfg->journal, strerror(-rc), strerrorname_np(-rc) ? strerrorname_np(-rc) : "?");
	c->failed = true;
	c->stopping = true;
}

/* Appends the record built in c->rec, arrived at arrived_ns (monotonic);
 * returns its seq. */
static uint64_t append_record(struct collector *c, uint64_t arrived_ns)
{
	size_t len;
	const void *p = rec_finish(&c->rec, &len);
	uint64_t seq = 0;
	int rc = journal_append(c->journal, p, len, &seq);

	if (rc < 0)
		journal_failed(c, "append", rc);
	else
		metrics_arrived(&c->metrics, seq, arrived_ns);
	c->metrics.records++;
	c->metrics.record_bytes += len;
	return seq;
}

static uint64_t write_record(struct collector *c)
{
	return append_record(c, clock_ns(CLOCK_MONOTONIC));
}

static void write_loss(struct collector *c, const struct session *s, const char *kind, const char *reason,
		       uint64_t count)
{
	enrich_loss(&c->rec, s, clock_ns(CLOCK_REALTIME), kind, reason, count);
	write_record(c);
	metrics_loss(&c->metrics, kind, reason, count);
}

/* Loss records for every kernel counter that grew past seen. */
static void write_kernel_losses(struct collector *c, const struct session *s,
				const uint64_t lost[ST_EV_MAX][ST_LOSS_MAX], uint64_t seen[ST_EV_MAX][ST_LOSS_MAX])
{
	static const char *const reasons[ST_LOSS_MAX] = { "ringbuf", "pending" };

	for (int t = 1; t < ST_EV_MAX; t++) {
		for (int r = 0; r < ST_LOSS_MAX; r++) {
			if (lost[t][r] == seen[t][r])
				continue;
			write_loss(c, s, event_type_name(t), reasons[r], lost[t][r] - seen[t][r]);
			seen[t][r] = lost[t][r];
		}
	}
}

/* Turns every loss counter that grew since last time into a loss record,
 * of its session where the kernel could tell. */
static void report_losses(struct collector *c)
{
	uint64_t lost[ST_EV_MAX][ST_LOSS_MAX];

	for (size_t i = 0; i < c->sessions.n; i++) {
		struct session *s = c->sessions.v[i];

		if (!s->ended && probes_losses(c->probes, s->cgroup_id, lost) == 0)
			write_kernel_losses(c, s, lost, s->lost_seen);
	}
	if (probes_losses(c->probes, 0, lost) == 0)
		write_kernel_losses(c, NULL, lost, c->lost_seen);
	gvisor_sink_report_losses(c->gvisor);
	microvm_sink_report_losses(c->microvm);
	if (c->undecodable != c->undecodable_seen) {
		write_loss(c, NULL, "unknown", "decode", c->undecodable - c->undecodable_seen);
		c->undecodable_seen = c->undecodable;
	}
}

static void on_event(void *ctx, const void *data, size_t len)
{
	struct collector *c = ctx;
	struct event ev;
	struct session *s;

	if (event_decode(data, len, &ev) < 0) {
		c->undecodable++;
		return;
	}
	c->metrics.events[ev.h->type < ST_EV_MAX ? ev.h->type : 0]++;
	s = session_by_cgroup(&c->sessions, ev.h->session_cgid);
	enrich_event(&c->enrich, &ev, s, ev.h->ts + (uint64_t)c->boot_to_wall, &c->rec);
	/* the clock is read once per 64 events of a batch: an arrival noted up
	 * to 63 events early overstates the seal latency, never understates it */
	if ((c->batch_events++ & 63) == 0)
		c->arrived_ns = clock_ns(CLOCK_MONOTONIC);
	append_record(c, c->arrived_ns);
}

/* One pass over the ring buffer (on_event per event). */
static int consume(struct collector *c)
{
	c->batch_events = 0;
	return probes_consume(c->probes);
}

/* Everything the kernel has sent so far is in the journal afterwards. */
static void drain(struct collector *c)
{
	int n;

	do {
		n = consume(c);
	} while (n > 0);
	report_losses(c);
}

static void json_to_rec_uint(struct rec *r, json_t *from, const char *key)
{
	json_t *v = json_object_get(from, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		rec_uint(r, key, (uint64_t)json_integer_value(v));
}

static void json_to_rec_int(struct rec *r, json_t *from, const char *key)
{
	json_t *v = json_object_get(from, key);

	if (json_is_integer(v))
		rec_int(r, key, json_integer_value(v));
}

struct dgram_ctx {
	struct collector *c;
	const struct session *s;
};

static void write_datagrams(void *arg, const struct st_dgram_key *k, uint64_t count)
{
	struct dgram_ctx *d = arg;

	enrich_datagrams(&d->c->rec, d->s, clock_ns(CLOCK_REALTIME), k->family, k->addr, k->port, count);
	write_record(d->c);
}

/* Stops tracing s, flushes its events, writes session_end; returns its seq.
 * info: what the session manager reported (exit status, peaks), may be NULL. */
static uint64_t end_session(struct collector *c, struct session *s, const char *reason, json_t *info)
{
	uint64_t seq;
	uint64_t lost[ST_EV_MAX][ST_LOSS_MAX];
	int rc = probes_unwatch(c->probes, s->cgroup_id, lost);

	if (rc < 0 && s->cgroup_fd >= 0)
		log_msg("session %s: untrace cgroup %s: %s", s->id, s->cgroup_path, strerror(-rc));
	drain(c);
	if (rc == 0)
		write_kernel_losses(c, s, lost, s->lost_seen);
	probes_datagrams(c->probes, s->cgroup_id, write_datagrams, &(struct dgram_ctx){ c, s });
	if (s->gvisor)
		gvisor_sink_end(c->gvisor, s);
	if (s->microvm)
		microvm_sink_end(c->microvm, s);
	enrich_begin(&c->rec, "session_end", clock_ns(CLOCK_REALTIME), s);
	rec_str(&c->rec, "reason", s->stop_requested ? "stop" : reason);
	if (info) {
		json_to_rec_int(&c->rec, info, "exit_status");
		json_to_rec_int(&c->rec, info, "signal");
		json_to_rec_uint(&c->rec, info, "memory_peak");
		json_to_rec_uint(&c->rec, info, "pids_peak");
		json_to_rec_uint(&c->rec, info, "cpu_usec");
	}
	seq = write_record(c);
	s->ended = true;
	s->ended_mono_ms = mono_ms();
	s->owner_fd = -1;
	if (s->proxy_fd >= 0) {
		json_t *m = json_pack("{s:s, s:s}", "cmd", "session_del", "session", s->id);

		proxysup_send(&c->proxy, m, NULL, 0);
		json_decref(m);
		close(s->proxy_fd);
		close(s->proxy_dns_fd);
		s->proxy_fd = s->proxy_dns_fd = -1;
	}
	if (s->cgroup_fd >= 0) {
		close(s->cgroup_fd);
		s->cgroup_fd = -1;
	}
	return seq;
}

__attribute__((format(printf, 1, 2))) static json_t *reply_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *reply_ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static const char *const modes[] = { "watch", "hardened", "gvisor", "microvm" };

/* The request's mode, labels and keep, checked: NULL when they are valid. */
static json_t *check_watch(json_t *req, const char **mode)
{
	json_t *labels = json_object_get(req, "labels"), *keep = json_object_get(req, "keep"), *v;
	json_t *publish = json_object_get(req, "publish");
	bool known = false;
	size_t j;
	const char *key;
	char msg[512];

	*mode = json_string_value(json_object_get(req, "mode"));
	if (!*mode)
		*mode = "watch";
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		known |= !strcmp(*mode, modes[i]);
	if (!known)
		return reply_error("watch: mode '%s' is not one of watch, hardened, gvisor, microvm", *mode);
	if (labels && !json_is_object(labels))
		return reply_error("watch: labels: expected an object of strings");
	json_object_foreach(labels, key, v) {
		if (!json_is_string(v))
			return reply_error("watch: labels.%s: expected a string", key);
		if (labels_check(key, json_string_value(v), msg, sizeof(msg)) < 0)
			return reply_error("watch: %s", msg);
	}
	if (keep && !json_is_boolean(keep))
		return reply_error("watch: keep: expected true or false");
	if (publish && !json_is_array(publish))
		return reply_error("watch: publish: expected an array");
	json_array_foreach(publish, j, v) {
		const char *spec = json_string_value(v);
		size_t n = spec ? strlen(spec) : 0;

		/* "[IP:]HOST_PORT:PORT/PROTO", as the manager writes it */
		if (!n || n > 64 || strspn(spec, "0123456789abcdefABCDEF.:[]/tcpu") != n)
			return reply_error("watch: publish[%zu]: expected \"[IP:]HOST_PORT:PORT/PROTO\"", j);
	}
	return NULL;
}

/* The secrets of the request into s, its network policy into *np (NULL
 * when it has none): NULL when they are valid. */
static json_t *watch_options(struct session *s, json_t *req, struct netpolicy **np)
{
	json_t *redact = json_object_get(req, "redact"), *net = json_object_get(req, "network"), *v;
	char msg[512];
	size_t i;

	if (redact && !json_is_array(redact))
		return reply_error("watch: redact: expected an array of {name, value}");
	json_array_foreach(redact, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *value = json_string_value(json_object_get(v, "value"));

		if (!name || !value)
			return reply_error("watch: redact[%zu]: expected {name, value} strings", i);
		if (session_add_secret(s, name, value) < 0)
			return reply_error("watch: out of memory");
	}
	if (!net)
		return NULL;
	*np = malloc(sizeof(**np)); /* large: not on the stack */
	if (!*np)
		return reply_error("watch: out of memory");
	if (netpolicy_from_json(net, *np, msg, sizeof(msg)) < 0)
		return reply_error("watch: %s", msg);
	if ((*np)->proxy) {
		json_t *d = json_object_get(net, "domains"), *a = json_object_get(net, "proxy_allow");
		char canon[DOMAIN_MAX + 1];
		struct netpolicy_rule rule;

		if (!json_is_array(d) || (a && !json_is_array(a)) || !(json_array_size(d) + json_array_size(a)))
			return reply_error("watch: network.domains, network.proxy_allow: expected the proxy's domains and addresses");
		json_array_foreach(d, i, v) {
			if (!json_is_string(v) || domain_pattern_parse(json_string_value(v), canon, msg, sizeof(msg)) < 0)
				return reply_error("watch: network.domains[%zu]: %s", i, json_is_string(v) ? msg : "expected a string");
		}
		json_array_foreach(a, i, v) {
			if (!json_is_string(v) || netpolicy_parse_rule(json_string_value(v), &rule, msg, sizeof(msg)) < 0)
				return reply_error("watch: network.proxy_allow[%zu]: %s", i, json_is_string(v) ? msg : "expected a string");
		}
		s->proxy_domains = json_incref(d);
		s->proxy_allow = a ? json_incref(a) : json_array();
		if (json_is_true(json_object_get(net, "inspect"))) {
			json_t *ca = json_object_get(net, "ca"), *inj = json_object_get(net, "inject");

			if (!json_is_string(ca) || (inj && !json_is_array(inj)))
				return reply_error("watch: network.ca, network.inject: expected the session CA and an array");
			s->proxy_tls = json_pack("{s:O, s:O}", "ca", ca, "inject", inj ? inj : json_array());
		}
	}
	return NULL;
}

/* A gvisor session names the container its Sentry will report. */
static json_t *gvisor_options(struct session *s, json_t *req)
{
	const char *id = json_string_value(json_object_get(json_object_get(req, "gvisor"), "container"));
	size_t n = id ? strlen(id) : 0;

	if (!n || n >= sizeof(s->gvisor_container) || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return reply_error("watch: gvisor.container: expected 1-64 of [A-Za-z0-9_.-]");
	memcpy(s->gvisor_container, id, n + 1);
	return NULL;
}

/* A microvm session's VMM and its accelerator (kvm, or tcg: emulation), as
 * the manager chose them; in session_start. */
static void microvm_fields(struct collector *c, json_t *req)
{
	json_t *mv = json_object_get(req, "microvm");
	const char *keys[] = { "vmm", "accel" };

	for (size_t i = 0; i < 2; i++) {
		const char *v = json_string_value(json_object_get(mv, keys[i]));
		char *e = v ? escape_bytes(v, strnlen(v, 64)) : NULL;

		if (e)
			rec_str(&c->rec, keys[i], e);
		free(e);
	}
}

static void write_session_start(struct collector *c, struct session *s, json_t *req)
{
	const char *digest = json_string_value(json_object_get(req, "policy_digest"));
	json_t *argv = json_object_get(req, "argv"), *publish = json_object_get(req, "publish"), *a;
	size_t i;

	enrich_begin(&c->rec, "session_start", s->start_ns, s);
	rec_str(&c->rec, "mode", s->mode);
	rec_str(&c->rec, "cgroup", s->cgroup_path);
	if (s->gvisor)
		rec_str(&c->rec, "container", s->gvisor_container);
	if (s->microvm)
		microvm_fields(c, req);
	if (digest)
		rec_str(&c->rec, "policy_digest", digest);
	if (json_array_size(publish)) {
		/* the session's only inbound path (sandtrail run -p) */
		rec_key(&c->rec, "published");
		msgpack_pack_array(&c->rec.pk, json_array_size(publish));
		json_array_foreach(publish, i, a) {
			const char *spec = json_string_value(a); /* checked by check_watch */

			msgpack_pack_str_with_body(&c->rec.pk, spec, strlen(spec));
		}
	}
	if (json_array_size(argv)) {
		rec_key(&c->rec, "argv");
		msgpack_pack_array(&c->rec.pk, json_array_size(argv));
		json_array_foreach(argv, i, a) {
			const char *esc = json_string_value(a);
			size_t cap = esc ? strlen(esc) + 1 : 1;
			char *raw = malloc(cap);
			long n = raw && esc ? unescape_bytes(esc, raw, cap) : -1;

			if (n >= 0)
				enrich_pack_bin(&c->enrich, &c->rec, s, raw, (size_t)n);
			else
				msgpack_pack_bin_with_body(&c->rec.pk, "[unreadable]", 12);
			free(raw);
		}
	}
	write_record(c);
}

/* Traces the cgroup; sessions below the session parent share its hooks. */
static int watch_cgroup(struct collector *c, int fd, uint64_t id)
{
	uint64_t parent_id = 0;
	int parent_fd = -1, rc;
	char msg[256];

	if (c->session_parent[0] && cgroup2_open(c->session_parent, &parent_fd, &parent_id, msg, sizeof(msg)) < 0)
		parent_fd = -1;
	rc = probes_watch(c->probes, fd, id, parent_fd, parent_id);
	if (parent_fd >= 0)
		close(parent_fd);
	return rc;
}

/* The cgroup sandtraild runs in, and the ids of it and its ancestors:
 * watching one of them would record the collector's own work (and with the
 * root, every process of the machine). */
static json_t *check_not_self(struct collector *c, const char *path, uint64_t id)
{
	char anc[sizeof(c->own_cgroup_path)], msg[256];
	size_t mlen;

	if (!c->own_cgroup_path[0])
		return NULL;
	mlen = strlen(c->session_parent) - strlen("/" CGROUP2_SESSION_PARENT); /* the mount's */
	snprintf(anc, sizeof(anc), "%s", c->own_cgroup_path);
	for (;;) {
		uint64_t aid;
		int fd;
		char *slash;

		if (cgroup2_open(anc, &fd, &aid, msg, sizeof(msg)) == 0) {
			close(fd);
			if (aid == id && strlen(anc) <= mlen)
				return reply_error("watch %s: the root of the cgroup2 hierarchy holds every process of the "
						   "machine, sandtraild included: watch a cgroup below it", path);
			if (aid == id)
				return reply_error("watch %s: sandtraild runs in it (%s): it would record its own work; "
						   "watch a cgroup that does not hold sandtraild", path, c->own_cgroup_path);
		}
		slash = strrchr(anc, '/');
		if (!slash || (size_t)(slash - anc) < mlen)
			return NULL;
		*slash = 0;
		if (strlen(anc) < mlen)
			return NULL;
	}
}

/* cgroups_v1: the v1 directories of a run session's limits (hybrid hosts),
 * removed with the v2 one should its manager be lost.  Each must be the
 * same session name under a "sandtrail" parent. */
static json_t *watch_v1(struct session *s, json_t *req)
{
	json_t *v1 = json_object_get(req, "cgroups_v1"), *v;
	const char *name = strrchr(s->cgroup_path, '/');
	size_t i;

	if (!v1)
		return NULL;
	if (!json_is_array(v1) || json_array_size(v1) > SESSION_V1_MAX)
		return reply_error("watch: cgroups_v1: expected at most %d paths", SESSION_V1_MAX);
	json_array_foreach(v1, i, v) {
		const char *p = json_string_value(v);
		char want[300];

		snprintf(want, sizeof(want), "/" CGROUP2_SESSION_PARENT "%s", name ? name : "");
		if (!p || p[0] != '/' || strlen(p) < strlen(want) || strcmp(p + strlen(p) - strlen(want), want) ||
		    strstr(p, "/../"))
			return reply_error("watch: cgroups_v1[%zu]: expected a path ending in %s", i, want);
		if (session_add_v1(s, p) < 0)
			return reply_error("watch: out of memory");
	}
	return NULL;
}

/* setup_pid: the run manager itself (its peer credentials say so), whose
 * child builds the sandbox before CMD runs. */
static json_t *watch_setup(struct session *s, const struct conn *conn, json_t *req)
{
	json_t *v = json_object_get(req, "setup_pid");

	if (!v)
		return NULL;
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) != conn->peer)
		return reply_error("watch: setup_pid: expected the requesting process's own pid (%d)", (int)conn->peer);
	s->setup_ppid = (uint32_t)json_integer_value(v);
	return NULL;
}

/* What a later collector needs to take the session over: the request
 * (its argv is in session_start, its policy in the kernel) with the id. */
static void save_state(struct collector *c, struct session *s, json_t *req)
{
	json_t *st = json_deep_copy(req);
	char *txt;
	int rc = -ENOMEM;

	if (st) {
		json_object_del(st, "argv");
		json_object_del(st, "network");
		/* its proxy listener goes with this collector: no taking it over */
		if (s->proxy_domains)
			json_object_set_new(st, "proxy", json_true());
		json_object_set_new(st, "id", json_string(s->id));
		json_object_set_new(st, "start_ns", json_integer((json_int_t)s->start_ns));
		txt = json_dumps(st, JSON_COMPACT);
		rc = txt ? probes_state_set(c->probes, s->cgroup_id, txt) : -ENOMEM;
		free(txt);
		json_decref(st);
	}
	if (rc < 0 && rc != -EOPNOTSUPP)
		log_msg("session %s: a restarted sandtraild cannot take it over: %s", s->id, strerror(-rc));
}

static json_t *handle_watch(struct collector *c, struct conn *conn, json_t *req)
{
	const char *path = json_string_value(json_object_get(req, "cgroup")), *mode;
	json_t *labels = json_object_get(req, "labels"), *err;
	struct session *s, *other;
	struct netpolicy *np = NULL;
	char msg[1024];
	uint64_t id;
	int fd, rc;

	if (!path)
		return reply_error("watch: cgroup: expected a path");
	if ((err = check_watch(req, &mode)))
		return err;
	rc = cgroup2_open(path, &fd, &id, msg, sizeof(msg));
	if (rc < 0)
		return reply_error("%s", msg);
	if ((err = check_not_self(c, path, id))) {
		close(fd);
		return err;
	}
	other = session_overlapping(&c->sessions, path);
	if (!other) {
		other = session_by_cgroup(&c->sessions, id);
		if (other && other->ended)
			other = NULL;
	}
	if (other) {
		close(fd);
		if (!strcmp(other->cgroup_path, path) || other->cgroup_id == id)
			return reply_error("cgroup %s is already watched by session %s", path, other->id);
		return reply_error("cgroup %s overlaps %s, watched by session %s", path, other->cgroup_path,
				   other->id);
	}
	labels = labels ? json_incref(labels) : json_object();
	s = session_new(mode, path, labels);
	json_decref(labels);
	if (!s) {
		close(fd);
		return reply_error("watch: out of memory");
	}
	s->cgroup_fd = fd;
	s->cgroup_id = id;
	s->start_ns = clock_ns(CLOCK_REALTIME);
	err = watch_v1(s, req);
	if (!err)
		err = watch_setup(s, conn, req);
	if (!err)
		err = watch_options(s, req, &np);
	if (!err && s->gvisor)
		err = gvisor_options(s, req);
	if (!err && session_table_add(&c->sessions, s) < 0)
		err = reply_error("watch: out of memory");
	if (err)
		goto fail;
	rc = watch_cgroup(c, fd, id);
	if (rc < 0) {
		err = reply_error("cannot trace cgroup %s: %s", path, strerror(-rc));
		goto fail_listed;
	}
	/* the policy holds before the workload's first instruction, like tracing */
	if (np && (rc = probes_set_netpolicy(c->probes, id, np)) < 0) {
		probes_unwatch(c->probes, id, NULL);
		err = reply_error("cannot enforce the network policy on %s: %s", path, strerror(-rc));
		goto fail_listed;
	}
	/* a gVisor session's own connects are judged by it in userspace too */
	if (s->gvisor)
		s->netpolicy = np;
	else
		free(np);
	/* before any event of the session is consumed: they wait in the ring */
	write_session_start(c, s, req);
	save_state(c, s, req);
	s->owner_fd = json_is_false(json_object_get(req, "keep")) ? conn->fd : -1;
	log_msg("session %s: watching %s", s->id, path);
	if (s->gvisor)
		return json_pack("{s:b, s:s, s:s}", "ok", 1, "id", s->id, "gvisor_sink", c->gvisor_path);
	if (s->microvm)
		return json_pack("{s:b, s:s, s:s}", "ok", 1, "id", s->id, "microvm_sink", c->microvm_path);
	return json_pack("{s:b, s:s}", "ok", 1, "id", s->id);
fail_listed:
	c->sessions.n--;
fail:
	session_free(s);
	free(np);
	return err;
}

static struct session *request_session(struct collector *c, json_t *req, json_t **err)
{
	const char *id = json_string_value(json_object_get(req, "id"));
	struct session *s = id ? session_by_id(&c->sessions, id) : NULL;

	*err = NULL;
	if (!id)
		*err = reply_error("id: expected a session id");
	else if (!s)
		*err = reply_error("no live session %s", id);
	return s;
}

/* Holds rep until seq is sealed and on disk (flush_held sends it); the
 * connection is not read meanwhile, so replies keep the order of requests. */
static json_t *hold_reply(struct collector *c, struct conn *conn, uint64_t seq, json_t *rep)
{
	struct epoll_event ee = { .events = 0, .data.ptr = conn };

	if (c->nheld == c->capheld) {
		size_t cap = c->capheld ? 2 * c->capheld : 8;
		struct held_reply *v = realloc(c->held, cap * sizeof(*v));

		if (!v)
			return rep; /* sent at once: the record is written, if not yet sealed */
		c->held = v;
		c->capheld = cap;
	}
	c->held[c->nheld++] = (struct held_reply){ conn, seq, rep };
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, conn->fd, &ee);
	return NULL;
}

static void close_conn(struct collector *c, struct conn *conn);

/* Sends the held replies whose record is durable now (and times the seals:
 * with --fsync none no eventfd says so, the tick does). */
static void flush_held(struct collector *c)
{
	uint64_t through;
	int rc = journal_durable(c->journal, &through);
	size_t k = 0;

	if (rc < 0)
		journal_failed(c, "sync", rc);
	else
		metrics_durable(&c->metrics, through, clock_ns(CLOCK_MONOTONIC));
	for (size_t i = 0; i < c->nheld; i++) {
		struct held_reply *h = &c->held[i];
		struct epoll_event ee = { .events = EPOLLIN, .data.ptr = h->conn };

		if (rc == 0 && h->seq >= through) {
			c->held[k++] = *h;
			continue;
		}
		if (rc < 0) {
			json_decref(h->rep);
			h->rep = reply_error("the journal failed: %s", strerror(-rc));
		}
		if (control_send(h->conn->fd, h->rep) == 0)
			epoll_ctl(c->epfd, EPOLL_CTL_MOD, h->conn->fd, &ee);
		json_decref(h->rep);
	}
	c->nheld = k;
}

/* session_end is sealed and written before the reply: a replay right after
 * it shows the whole session.  The seal's fdatasync goes on on the journal's
 * syncer thread; only --fsync always, where every answer waits for the disk,
 * holds the reply until it is done. */
static json_t *handle_unwatch(struct collector *c, struct conn *conn, json_t *req)
{
	const char *reason = json_string_value(json_object_get(req, "reason"));
	json_t *err;
	struct session *s = request_session(c, req, &err);
	uint64_t seq, through;
	json_t *rep;
	int rc;

	if (!s)
		return err;
	seq = end_session(c, s, reason ? reason : "unwatch", req);
	log_msg("session %s: ended (%s)", s->id, s->stop_requested ? "stop" : reason ? reason : "unwatch");
	if (c->failed)
		return reply_error("session %s: the journal failed", s->id);
	rc = journal_seal(c->journal);
	if (rc < 0) {
		journal_failed(c, "seal", rc);
		return reply_error("session %s: the journal failed: %s", s->id, strerror(-rc));
	}
	rep = json_pack("{s:b, s:I}", "ok", 1, "seq", (json_int_t)seq);
	if (strcmp(c->cfg->fsync, "always") || (journal_durable(c->journal, &through) == 0 && through > seq))
		return rep;
	return hold_reply(c, conn, seq, rep);
}

/* A run manager back after a hand-over: its session, taken over at start,
 * is owned by this connection again (it ends if the manager is lost).  Only
 * the manager that started it (its pid, from the peer credentials) may. */
static json_t *handle_reattach(struct collector *c, struct conn *conn, json_t *req)
{
	json_t *err;
	struct session *s = request_session(c, req, &err);

	if (!s)
		return err;
	if (s->ended)
		return reply_error("session %s has ended", s->id);
	if (!s->claim_by_ms)
		return reply_error("session %s is not waiting for its manager", s->id);
	if (!s->setup_ppid || (pid_t)s->setup_ppid != conn->peer)
		return reply_error("session %s: only its manager (pid %u) may reattach", s->id, s->setup_ppid);
	s->owner_fd = conn->fd;
	s->claim_by_ms = 0;
	log_msg("session %s: its manager is back", s->id);
	return reply_ok();
}

/* The session manager re-resolved its allowlist's host names. */
static json_t *handle_netpolicy(struct collector *c, json_t *req)
{
	json_t *err;
	struct session *s = request_session(c, req, &err);
	struct netpolicy *np;
	char msg[512];
	int rc;

	if (!s)
		return err;
	np = malloc(sizeof(*np));
	if (!np)
		return reply_error("netpolicy: out of memory");
	if (netpolicy_from_json(json_object_get(req, "network"), np, msg, sizeof(msg)) < 0) {
		free(np);
		return reply_error("netpolicy: %s", msg);
	}
	rc = probes_set_netpolicy(c->probes, s->cgroup_id, np);
	free(np);
	if (rc < 0)
		return reply_error("netpolicy %s: %s", s->id, strerror(-rc));
	return reply_ok();
}

/* Hands a proxy session's listener and DNS socket to the proxy (dup'd by
 * the kernel). */
static int proxy_add(struct collector *c, struct session *s)
{
	json_t *m = json_pack("{s:s, s:s, s:I, s:O, s:O}", "cmd", "session_add", "session", s->id, "cgid",
			      (json_int_t)s->cgroup_id, "domains", s->proxy_domains, "allow", s->proxy_allow);

	if (s->proxy_tls) {
		json_object_set_new(m, "inspect", json_true());
		json_object_update(m, s->proxy_tls);
	}
	int fds[] = { s->proxy_fd, s->proxy_dns_fd };
	int rc = proxysup_send(&c->proxy, m, fds, 2);

	json_decref(m);
	return rc;
}

/* A pid in the session's cgroup, as a pidfd: the kernel says which network
 * namespace is the session's, not the requester. */
static int session_pidfd(struct session *s)
{
	char buf[64];
	int fd = openat(s->cgroup_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC), pidfd;
	ssize_t n;
	pid_t pid;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	pid = (pid_t)atoi(buf);
	if (pid <= 0)
		return -ESRCH;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return pidfd < 0 ? -errno : pidfd;
}

/* --network proxy: once the sandbox has its network namespace (and before
 * its command runs), sandtraild binds the proxy's listener and the
 * session's DNS socket (its resolv.conf names 127.0.0.1) in it. */
static json_t *handle_proxy_attach(struct collector *c, json_t *req)
{
	json_t *err;
	struct session *s = request_session(c, req, &err);
	int pidfd, fd, dns, rc;

	if (!s)
		return err;
	if (!s->proxy_domains)
		return reply_error("proxy_attach %s: not a --network proxy session", s->id);
	if (s->proxy_fd >= 0)
		return reply_error("proxy_attach %s: attached already", s->id);
	if (!proxysup_enabled(&c->proxy))
		return reply_error("--network proxy: this sandtraild has no sandtrail-proxy (--proxy)");
	pidfd = session_pidfd(s);
	if (pidfd < 0)
		return reply_error("proxy_attach %s: no process in %s: %s", s->id, s->cgroup_path, strerror(-pidfd));
	fd = proxysup_socket(pidfd, SOCK_STREAM, ST_PROXY_PORT);
	dns = fd < 0 ? fd : proxysup_socket(pidfd, SOCK_DGRAM, PROXYSUP_DNS_PORT);
	close(pidfd);
	if (dns < 0) {
		if (fd >= 0)
			close(fd);
		return reply_error("proxy_attach %s: %s in the session's network namespace: %s", s->id,
				   fd < 0 ? "listener" : "DNS socket", strerror(-dns));
	}
	/* listening before the reply lets CMD run: its first connect waits in
	 * the backlog for the proxy to take the listener over, rather than be
	 * refused; the proxy down (restarting): connects are refused until it
	 * is back, as it listens again then */
	if (c->proxy.pid > 0 && listen(fd, ST_PROXY_BACKLOG) < 0) {
		rc = -errno;
		close(fd);
		close(dns);
		return reply_error("proxy_attach %s: listen in the session's network namespace: %s", s->id,
				   strerror(-rc));
	}
	s->proxy_fd = fd;
	s->proxy_dns_fd = dns;
	if (c->proxy.pid > 0 && (rc = proxy_add(c, s)) < 0)
		log_msg("session %s: handing the listener to the proxy: %s", s->id, strerror(-rc));
	return reply_ok();
}

static json_t *handle_stop(struct collector *c, json_t *req)
{
	json_t *err;
	struct session *s = request_session(c, req, &err);
	int rc;

	if (!s)
		return err;
	rc = cgroup2_kill(s->cgroup_fd);
	if (rc < 0)
		return reply_error("stop %s: kill cgroup %s: %s", s->id, s->cgroup_path, strerror(-rc));
	/* the session ends when its processes are gone (or its manager says so) */
	s->stop_requested = true;
	s->ended_mono_ms = mono_ms();
	return reply_ok();
}

static json_t *handle_ps(struct collector *c)
{
	json_t *list = json_array();
	json_t *exporters = exporters_status(c->cfg->exporters, journal_next_seq(c->journal));

	for (size_t i = 0; i < c->sessions.n; i++) {
		struct session *s = c->sessions.v[i];

		if (s->ended)
			continue;
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:O, s:I}", "id", s->id, "mode", s->mode,
						      "cgroup", s->cgroup_path, "labels", s->labels, "start",
						      (json_int_t)(s->start_ns / 1000000000ull)));
	}
	return json_pack("{s:b, s:o, s:o}", "ok", 1, "sessions", list, "exporters", exporters);
}

/* What a sink refused for good, or never got, is written down. */
static void write_export_error(void *arg, const struct exporters_notice *n)
{
	struct collector *c = arg;

	rec_begin(&c->rec, "export_error", clock_ns(CLOCK_REALTIME));
	rec_str(&c->rec, "sink", n->sink);
	rec_uint(&c->rec, "first", n->first);
	rec_uint(&c->rec, "last", n->last);
	rec_uint(&c->rec, "count", n->count);
	rec_str(&c->rec, "reason", n->reason);
	write_record(c);
}

/* path for removal once its processes are gone (they were killed). */
static void add_orphan(struct collector *c, const char *path)
{
	if (c->norphans == ORPHANS_MAX) {
		log_msg("cgroup %s: left in place (%d removals pending)", path, ORPHANS_MAX);
		return;
	}
	snprintf(c->orphans[c->norphans].path, sizeof(c->orphans[0].path), "%s", path);
	c->orphans[c->norphans++].since_ms = mono_ms();
}

/* Removes the orphans whose processes are gone; gives up on one after a while. */
static void reap_orphans(struct collector *c, uint64_t now)
{
	for (size_t i = 0; i < c->norphans;) {
		struct orphan *o = &c->orphans[i];

		if (rmdir(o->path) == 0 || errno == ENOENT) {
			log_msg("cgroup %s: removed (its manager was lost)", o->path);
		} else if (now - o->since_ms < ORPHAN_GIVEUP_MS) {
			i++;
			continue;
		} else {
			log_msg("cgroup %s: cannot remove: %s", o->path, strerror(errno));
		}
		*o = c->orphans[--c->norphans];
	}
}

/* A run session whose manager is gone: nobody will remove its cgroups (v2
 * and the v1 ones it named), so the collector kills what runs there and
 * removes them.  Only below the session parent: a watched cgroup of
 * someone else's is never touched. */
static void remove_lost_cgroups(struct collector *c, struct session *s)
{
	size_t plen = strlen(c->session_parent);

	if (!plen || strncmp(s->cgroup_path, c->session_parent, plen) || s->cgroup_path[plen] != '/' ||
	    strchr(s->cgroup_path + plen + 1, '/'))
		return;
	if (s->cgroup_fd >= 0)
		cgroup2_kill(s->cgroup_fd);
	add_orphan(c, s->cgroup_path);
	for (size_t i = 0; i < s->nv1; i++) {
		int fd = open(s->v1[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			continue;
		cgroup2_kill(fd); /* no cgroup.kill in v1: it kills what cgroup.procs lists */
		close(fd);
		add_orphan(c, s->v1[i]);
	}
}

static void close_conn(struct collector *c, struct conn *conn)
{
	size_t k = 0;

	for (size_t i = 0; i < c->nheld; i++) {
		if (c->held[i].conn == conn)
			json_decref(c->held[i].rep);
		else
			c->held[k++] = c->held[i];
	}
	c->nheld = k;
	for (size_t i = 0; i < c->sessions.n; i++) {
		struct session *s = c->sessions.v[i];

		if (!s->ended && s->owner_fd == conn->fd) {
			log_msg("session %s: its manager went away", s->id);
			remove_lost_cgroups(c, s);
			end_session(c, s, "manager_lost", NULL);
		}
	}
	for (size_t i = 0; i < c->nclients; i++)
		if (c->clients[i] == conn) {
			c->clients[i] = c->clients[--c->nclients];
			break;
		}
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
	close(conn->fd);
	free(conn);
}

static void handle_client(struct collector *c, struct conn *conn, uint32_t events)
{
	json_t *req = NULL, *rep;
	const char *cmd;
	int rc = control_recv(conn->fd, &req);

	if (rc == -EAGAIN)
		return;
	if (rc == -EBADMSG || rc == -EMSGSIZE) {
		rep = reply_error("request is not one JSON object of at most %d bytes", CONTROL_MSG_MAX);
		control_send(conn->fd, rep);
		json_decref(rep);
		close_conn(c, conn);
		return;
	}
	if (rc < 0) {
		close_conn(c, conn);
		return;
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	c->metrics.requests++;
	c->metrics.refusals += conn->refused || (conn->ps_only && cmd && strcmp(cmd, "ps"));
	if (conn->refused)
		rep = reply_error("permission denied: only root%s%s may use sandtraild",
				  *c->cfg->socket_group ? " and group " : "", c->cfg->socket_group);
	else if (conn->ps_only && cmd && strcmp(cmd, "ps"))
		rep = reply_error("permission denied: group %s may ask ps only; %s needs root", c->cfg->socket_group, cmd);
	else if (!cmd)
		rep = reply_error("request without \"cmd\"");
	else if (!strcmp(cmd, "watch"))
		rep = handle_watch(c, conn, req);
	else if (!strcmp(cmd, "unwatch"))
		rep = handle_unwatch(c, conn, req);
	else if (!strcmp(cmd, "netpolicy"))
		rep = handle_netpolicy(c, req);
	else if (!strcmp(cmd, "proxy_attach"))
		rep = handle_proxy_attach(c, req);
	else if (!strcmp(cmd, "stop"))
		rep = handle_stop(c, req);
	else if (!strcmp(cmd, "reattach"))
		rep = handle_reattach(c, conn, req);
	else if (!strcmp(cmd, "ps"))
		rep = handle_ps(c);
	else
		rep = reply_error("unknown command '%s'", cmd);
	json_decref(req);
	if (!rep) /* held until its record is durable */
		return;
	if (control_send(conn->fd, rep) < 0 || conn->refused)
		close_conn(c, conn);
	json_decref(rep);
	(void)events;
}

/* One error reply on a connection that will not be served, then the door. */
static void refuse(int fd, const char *why)
{
	json_t *rep = reply_error("%s", why);

	control_send(fd, rep);
	json_decref(rep);
	close(fd);
}

/* Whether the peer (its gid, or a supplementary group: SO_PEERGROUPS, the
 * kernel's copy taken at connect) is in --socket-group. */
static bool in_socket_group(const struct collector *c, int fd, gid_t gid)
{
	static gid_t groups[NGROUPS_MAX]; /* 256K: not on the stack; one loop thread */
	socklen_t len = sizeof(groups);

	if (!*c->cfg->socket_group)
		return false;
	if (gid == (gid_t)c->cfg->socket_gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == (gid_t)c->cfg->socket_gid)
			return true;
	return false;
}

/* The listener stays readable while the backlog holds connections: when
 * descriptors run out, the spare one is given up to take one off and close
 * it, so the loop never spins and the caller is not left waiting. */
static void shed_one(struct collector *c)
{
	int fd;

	if (c->spare_fd < 0)
		return;
	close(c->spare_fd);
	fd = accept4(c->listen_conn.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd >= 0) {
		refuse(fd, "sandtraild is out of file descriptors: try again later");
		c->metrics.refusals++;
	}
	c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static size_t clients_of(struct collector *c, pid_t pid)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nclients; i++)
		n += c->clients[i]->peer == pid;
	return n;
}

static void accept_clients(struct collector *c)
{
	for (;;) {
		int fd = accept4(c->listen_conn.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ucred cred = { .pid = 0 };
		socklen_t len = sizeof(cred);
		struct conn *conn;
		struct epoll_event ee = { .events = EPOLLIN };
		char why[256];
		bool cred_ok, member;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				shed_one(c);
			return;
		}
		cred_ok = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
		if (c->nclients >= c->clients_max || (cred_ok && clients_of(c, cred.pid) >= CLIENTS_PER_PEER)) {
			snprintf(why, sizeof(why), "too many control connections: %zu open from process %d (at most %d), "
				 "%zu in all (at most %zu)", cred_ok ? clients_of(c, cred.pid) : 0, (int)cred.pid,
				 CLIENTS_PER_PEER, c->nclients, c->clients_max);
			refuse(fd, why);
			c->metrics.refusals++;
			continue;
		}
		conn = malloc(sizeof(*conn));
		if (!conn) {
			close(fd);
			continue;
		}
		member = cred_ok && cred.uid != 0 && in_socket_group(c, fd, cred.gid);
		*conn = (struct conn){ CONN_CLIENT, fd, !cred_ok || (cred.uid != 0 && !member), cred.pid, member };
		ee.data.ptr = conn;
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
			close(fd);
			free(conn);
			continue;
		}
		c->clients[c->nclients++] = conn;
	}
}

/* As many descriptors as the hard limit allows; the control connections
 * get what the rest (FDS_RESERVED) leaves. */
static int setup_limits(struct collector *c)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	c->clients_max = rl.rlim_cur > FDS_RESERVED * 2 ? (rl.rlim_cur - FDS_RESERVED) / 2 : 16;
	if (c->clients_max > CLIENTS_MAX)
		c->clients_max = CLIENTS_MAX;
	c->clients = calloc(c->clients_max, sizeof(*c->clients));
	c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return c->clients && c->spare_fd >= 0 ? 0 : -ENOMEM;
}

/* A watched cgroup that was removed ends its session. */
static void check_cgroups(struct collector *c, uint64_t now)
{
	struct stat st;

	for (size_t i = 0; i < c->sessions.n; i++) {
		struct session *s = c->sessions.v[i];

		if (s->ended)
			continue;
		if (s->stop_requested && s->owner_fd < 0 &&
		    (cgroup2_populated(s->cgroup_fd) == 0 || now - s->ended_mono_ms > STOP_GRACE_MS)) {
			end_session(c, s, "stop", NULL);
			continue;
		}
		if (s->claim_by_ms && now > s->claim_by_ms) {
			log_msg("session %s: its manager did not come back after the restart", s->id);
			remove_lost_cgroups(c, s);
			end_session(c, s, "manager_lost", NULL);
			continue;
		}
		if (now - c->last_cgroup_check < CGROUP_CHECK_MS)
			continue;
		if (fstatat(s->cgroup_fd, "cgroup.procs", &st, 0) < 0 && errno == ENOENT)
			end_session(c, s, "cgroup_removed", NULL);
	}
	if (now - c->last_cgroup_check >= CGROUP_CHECK_MS)
		c->last_cgroup_check = now;
}

static size_t live_sessions(const struct collector *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->sessions.n; i++)
		n += !c->sessions.v[i]->ended;
	return n;
}

/* Retention: the oldest segments go once past --retain-bytes or
 * --retain-days and shipped by every sink.  A failure of the journal itself
 * stops the collector as any would; others are logged once and retried. */
static void retain(struct collector *c)
{
	struct journal_retention p = { .bytes = c->cfg->retain_bytes, .age_ns = c->cfg->retain_age_ns };
	uint64_t shipped = exporters_count(c->cfg->exporters) ? exporters_shipped_below(c->cfg->exporters) : UINT64_MAX;
	char err[256];
	int rc;

	if (!p.bytes && !p.age_ns)
		return;
	rc = journal_retain(c->journal, &p, shipped, err, sizeof(err));
	if (rc > 0) {
		log_msg("retention: %d segment%s removed from %s", rc, rc == 1 ? "" : "s", c->cfg->journal);
		c->retain_err[0] = 0;
	}
	if (rc < 0 && journal_tick(c->journal) < 0) {
		journal_failed(c, "retention", rc);
	} else if (rc < 0 && strcmp(err, c->retain_err)) {
		snprintf(c->retain_err, sizeof(c->retain_err), "%s", err);
		log_msg("retention in %s: %s%s", c->cfg->journal, err[0] ? err : strerror(-rc),
			rc == -EAGAIN ? "" : " (retried)");
	}
}

/* What is durable is the journal's least end from now on (highwater.h). */
static void save_highwater(struct collector *c, uint64_t now)
{
	uint64_t through;
	int rc;

	c->last_highwater = now;
	if (journal_durable(c->journal, &through) < 0 || through <= c->highwater)
		return;
	rc = highwater_save(c->cfg->state, c->journal_id, through);
	if (rc < 0)
		log_msg("saving %s/%s: %s", c->cfg->state, HIGHWATER_FILE, strerror(-rc));
	else
		c->highwater = through;
}

/* The records the furthest behind exporter has still to deliver, as ps
 * shows them; -1 without exporters. */
static int64_t export_lag(struct collector *c)
{
	json_t *ex, *e;
	int64_t lag = 0;
	size_t i;

	if (!exporters_count(c->cfg->exporters))
		return -1;
	ex = exporters_status(c->cfg->exporters, journal_next_seq(c->journal));
	json_array_foreach(ex, i, e) {
		json_int_t n = json_integer_value(json_object_get(e, "lag_records"));

		if (n > lag)
			lag = n;
	}
	json_decref(ex);
	return lag;
}

static void tick(struct collector *c)
{
	uint64_t expirations, now = mono_ms();
	int rc;

	if (read(c->timer_conn.fd, &expirations, sizeof(expirations)) < 0)
		return;
	if (service_tick(&c->service, now))
		service_status(live_sessions(c), export_lag(c));
	if (c->nscrapes)
		expire_scrapes(c, now);
	if (now - c->last_housekeeping >= HOUSEKEEPING_MS) {
		c->last_housekeeping = now;
		sync_clock(c);
		report_losses(c);
		check_cgroups(c, now);
		reap_orphans(c, now);
		session_table_reap(&c->sessions, now, ENDED_KEEP_MS);
	}
	rc = journal_tick(c->journal);
	if (rc < 0)
		journal_failed(c, "seal", rc);
	if (rc == 0 && now - c->last_highwater >= HIGHWATER_MS)
		save_highwater(c, now);
	if (rc == 0 && now - c->last_retain >= RETAIN_MS) {
		c->last_retain = now;
		retain(c);
	}
	flush_held(c);
	if (proxysup_enabled(&c->proxy) && c->proxy.pid == 0 && c->proxy.restart_at_ms && now >= c->proxy.restart_at_ms)
		proxy_restart(c);
}

static void rec_downtime(struct collector *c, uint64_t from, uint64_t to);
static void proxy_ready(struct collector *c);

/* A session by id, ended ones included (a connection may outlive its session by a moment). */
static struct session *any_session(struct collector *c, const char *id)
{
	for (size_t i = 0; i < c->sessions.n; i++)
		if (!strcmp(c->sessions.v[i]->id, id))
			return c->sessions.v[i];
	return NULL;
}

/* One record per datagram from the proxy; the session is the one whose
 * listener took the connection (the proxy was told which). */
static void proxy_records(struct collector *c)
{
	static const char *const types[] = { "proxy_request", "proxy_dns", NULL };
	static const char *const flags[] = { "inspected", "path_cut", "shared", NULL };
	static const char *const strs[] = { "domain", "method", "verdict", "rule", "reason", "tls_version", "alpn",
					    "request", "path", "content_type", "error", "qtype", NULL };
	static const char *const uints[] = { "port", "bytes_out", "bytes_in", "duration_ns", "status", "req_body",
					     "resp_body", "count", NULL };
	char buf[8192];
	ssize_t n;

	while ((n = recv(c->proxy_conn.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		json_t *r;
		const char *id, *type, *kind = "proxy";
		struct session *s;

		buf[n] = 0;
		r = json_loads(buf, 0, NULL);
		if (json_is_true(json_object_get(r, "ready"))) {
			proxy_ready(c);
			json_decref(r);
			continue;
		}
		id = json_string_value(json_object_get(r, "session"));
		s = id ? any_session(c, id) : NULL;
		if (!s || !s->proxy_domains) {
			log_msg("a record from the proxy with no proxy session (%s): dropped", id ? id : "no session");
			json_decref(r);
			continue;
		}
		/* a connection, one request of an inspected one, or a DNS question refused */
		type = json_string_value(json_object_get(r, "type"));
		for (size_t i = 0; types[i] && type; i++)
			if (!strcmp(type, types[i]))
				kind = types[i];
		enrich_begin(&c->rec, kind, clock_ns(CLOCK_REALTIME), s);
		for (size_t i = 0; strs[i]; i++) {
			const char *v = json_string_value(json_object_get(r, strs[i]));

			if (v) {
				char *e = escape_bytes(v, strnlen(v, 512));

				rec_str(&c->rec, strs[i], e ? e : "");
				free(e);
			}
		}
		for (size_t i = 0; uints[i]; i++)
			json_to_rec_uint(&c->rec, r, uints[i]);
		if (json_object_get(r, "transparent"))
			rec_bool(&c->rec, "transparent", json_is_true(json_object_get(r, "transparent")));
		for (size_t i = 0; flags[i]; i++)
			if (json_is_true(json_object_get(r, flags[i])))
				rec_bool(&c->rec, flags[i], true);
		write_record(c);
		json_decref(r);
	}
}

/* The proxy exited: its sessions' listeners stop listening (their connects
 * are refused: no way out at all meanwhile), the restart is scheduled. */
static void proxy_exited(struct collector *c)
{
	uint64_t now = mono_ms();

	proxy_records(c); /* what it sent before it went */
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->proxy_conn.fd, NULL);
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->proxy_exit_conn.fd, NULL);
	proxysup_exited(&c->proxy, now, clock_ns(CLOCK_REALTIME));
	if (c->proxy.pid > 0)
		return;
	for (size_t i = 0; i < c->sessions.n; i++) {
		int fd = c->sessions.v[i]->proxy_fd, on = 0;
		socklen_t len = sizeof(on);

		/* a listening one only: the shutdown of a listener ends its LISTEN
		 * state and clears itself; on a closed one it would stay set and
		 * pass to every connection accepted after the next listen() */
		if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on)
			shutdown(fd, SHUT_RDWR);
	}
	log_msg("sandtrail-proxy exited (status 0x%x); restarting in %llu ms", (unsigned)c->proxy.last_status,
		(unsigned long long)(c->proxy.restart_at_ms - now));
}

static int proxy_start(struct collector *c)
{
	int rc = proxysup_start(&c->proxy, mono_ms());

	if (rc == 0)
		rc = add_fd(c, &c->proxy_conn, CONN_PROXY, c->proxy.ctl);
	if (rc == 0)
		rc = add_fd(c, &c->proxy_exit_conn, CONN_PROXY_EXIT, c->proxy.pidfd);
	return rc;
}

/* The proxy again, with every proxy session (they record the gap once it
 * says it is ready). */
static void proxy_restart(struct collector *c)
{
	int rc = proxy_start(c);

	if (rc < 0) {
		log_msg("sandtrail-proxy: cannot start %s: %s", c->proxy.path, strerror(-rc));
		proxysup_stop(&c->proxy);
		proxysup_exited(&c->proxy, mono_ms(), clock_ns(CLOCK_REALTIME));
		return;
	}
	for (size_t i = 0; i < c->sessions.n; i++) {
		struct session *s = c->sessions.v[i];

		if (!s->ended && s->proxy_fd >= 0 && (rc = proxy_add(c, s)) < 0)
			log_msg("session %s: handing the listener to the proxy: %s", s->id, strerror(-rc));
	}
}

/* The proxy is ready: each proxy session records how long it was not. */
static void proxy_ready(struct collector *c)
{
	uint64_t now = clock_ns(CLOCK_REALTIME);

	if (!c->proxy.down_since_ns)
		return; /* the first start */
	for (size_t i = 0; i < c->sessions.n; i++) {
		struct session *s = c->sessions.v[i];

		if (s->ended || s->proxy_fd < 0)
			continue;
		enrich_begin(&c->rec, "proxy_gap", now, s);
		rec_downtime(c, c->proxy.down_since_ns, now);
		if (WIFSIGNALED(c->proxy.last_status))
			rec_int(&c->rec, "signal", WTERMSIG(c->proxy.last_status));
		else
			rec_int(&c->rec, "exit_status", WEXITSTATUS(c->proxy.last_status));
		write_record(c);
	}
	log_msg("sandtrail-proxy back after %llu ms", (unsigned long long)((now - c->proxy.down_since_ns) / 1000000));
	c->proxy.down_since_ns = 0;
}

static void on_journal(struct collector *c)
{
	uint64_t n;

	if (read(c->journal_conn.fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	flush_held(c);
}

static int add_fd(struct collector *c, struct conn *conn, enum conn_kind kind, int fd)
{
	struct epoll_event ee = { .events = EPOLLIN, .data.ptr = conn };

	*conn = (struct conn){ .kind = kind, .fd = fd };
	return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ee) < 0 ? -errno : 0;
}

static int setup_loop(struct collector *c)
{
	struct itimerspec its = { .it_interval.tv_nsec = TICK_MS * 1000000L, .it_value.tv_nsec = TICK_MS * 1000000L };
	sigset_t mask;
	int fd, rc;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	rc = add_fd(c, &c->signal_conn, CONN_SIGNAL, fd);
	if (rc)
		return rc;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0)
		return -errno;
	rc = add_fd(c, &c->timer_conn, CONN_TIMER, fd);
	if (rc)
		return rc;
	fd = journal_fd(c->journal);
	if (fd >= 0 && (rc = add_fd(c, &c->journal_conn, CONN_JOURNAL, fd)) < 0)
		return rc;
	return add_fd(c, &c->probes_conn, CONN_PROBES, probes_fd(c->probes));
}

static bool on_signal(struct collector *c)
{
	struct signalfd_siginfo si;

	while (read(c->signal_conn.fd, &si, sizeof(si)) == sizeof(si)) {
		/* systemctl restart (an upgrade's too) sends SIGTERM: it hands over
		 * when systemd will start the next collector; any other stop ends
		 * the sessions and removes the pins */
		if (si.ssi_signo == SIGTERM && c->probes_pinned && service_restarting()) {
			log_msg("SIGTERM for a restart: handing over");
			c->handover = true;
			return true;
		}
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			return true;
		/* a restart: the kernel side keeps recording, the next collector takes over */
		if (si.ssi_signo == SIGUSR2 && c->probes_pinned) {
			c->handover = true;
			return true;
		}
	}
	return false;
}

/* One family with a sample per exporter: key of its exporters_status() object. */
static void exporter_family(FILE *f, json_t *ex, const char *name, const char *type, const char *help, const char *key)
{
	json_t *e, *v;
	size_t i;
	char l[256];

	metrics_family(f, name, type, help);
	json_array_foreach(ex, i, e) {
		l[0] = 0;
		metrics_label(l, sizeof(l), "exporter", json_string_value(json_object_get(e, "exporter")) ?: "?");
		v = json_object_get(e, key);
		metrics_sample(f, name, l, json_is_boolean(v) ? json_is_true(v) : (uint64_t)json_integer_value(v));
	}
}

/* What only the collector knows at a scrape: sessions by mode, the journal,
 * the exporters. */
static void render_metrics(struct collector *c, FILE *f)
{
	static const char *const modes_shown[] = { "watch", "hardened", "gvisor", "microvm" };
	json_t *ex = exporters_status(c->cfg->exporters, journal_next_seq(c->journal));
	uint64_t through = 0, used, size;
	size_t i;
	char l[256];

	c->metrics.events[0] = c->undecodable;
	metrics_render(f, &c->metrics);
	metrics_family(f, "sandtrail_sessions", "gauge", "Live sessions, by mode.");
	for (size_t m = 0; m < sizeof(modes_shown) / sizeof(modes_shown[0]); m++) {
		uint64_t n = 0;

		for (i = 0; i < c->sessions.n; i++)
			n += !c->sessions.v[i]->ended && !strcmp(c->sessions.v[i]->mode, modes_shown[m]);
		l[0] = 0;
		metrics_label(l, sizeof(l), "mode", modes_shown[m]);
		metrics_sample(f, "sandtrail_sessions", l, n);
	}
	if (probes_ring_fill(c->probes, &used, &size) == 0) {
		metrics_family(f, "sandtrail_ringbuf_used_bytes", "gauge",
			       "Bytes in the kernel ring buffer not yet read by the collector.");
		metrics_sample(f, "sandtrail_ringbuf_used_bytes", NULL, used);
		metrics_family(f, "sandtrail_ringbuf_size_bytes", "gauge", "Size of the kernel ring buffer.");
		metrics_sample(f, "sandtrail_ringbuf_size_bytes", NULL, size);
	}
	metrics_family(f, "sandtrail_journal_next_seq", "gauge", "The seq the next record gets.");
	metrics_sample(f, "sandtrail_journal_next_seq", NULL, journal_next_seq(c->journal));
	journal_durable(c->journal, &through);
	metrics_family(f, "sandtrail_journal_durable_seq", "gauge", "Records below this seq are sealed and on disk.");
	metrics_sample(f, "sandtrail_journal_durable_seq", NULL, through);
	if (journal_disk_bytes(c->journal, &used) == 0) {
		metrics_family(f, "sandtrail_journal_disk_bytes", "gauge", "Bytes of the journal's segment files.");
		metrics_sample(f, "sandtrail_journal_disk_bytes", NULL, used);
	}
	exporter_family(f, ex, "sandtrail_exporter_lag_records", "gauge", "Records not yet delivered, per exporter.",
			"lag_records");
	exporter_family(f, ex, "sandtrail_exporter_failed_total", "counter",
			"Records a sink refused for good, per exporter.", "failed");
	exporter_family(f, ex, "sandtrail_exporter_retries_total", "counter",
			"Temporary failures (the sink down, busy or refusing for now), retried, per exporter.", "retries");
	exporter_family(f, ex, "sandtrail_exporter_connected", "gauge", "1 when the exporter's sink is reachable.",
			"connected");
	json_decref(ex);
}

static void end_scrape(struct collector *c, struct scrape *sc)
{
	for (size_t i = 0; i < c->nscrapes; i++) {
		if (c->scrapes[i] == sc) {
			c->scrapes[i] = c->scrapes[--c->nscrapes];
			break;
		}
	}
	close(sc->conn.fd);
	free(sc);
}

static void accept_scrapes(struct collector *c, int lfd)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct scrape *sc = c->nscrapes < METRICS_CONN_MAX ? malloc(sizeof(*sc)) : NULL;
		struct epoll_event ee = { .events = EPOLLIN };

		if (!sc) {
			close(fd);
			continue;
		}
		*sc = (struct scrape){ .conn = { CONN_SCRAPE, fd, false, 0, false }, .since_ms = mono_ms() };
		ee.data.ptr = sc;
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
			close(fd);
			free(sc);
			continue;
		}
		c->scrapes[c->nscrapes++] = sc;
	}
}

/* Reads the request head; answers once it is whole, in one blocking send
 * bounded by a timeout (a few kilobytes: the socket buffer takes them). */
static void serve_scrape(struct collector *c, struct scrape *sc)
{
	static const char notfound[] = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nonly /metrics\n";
	struct timeval tv = { 1, 0 };
	ssize_t n = read(sc->conn.fd, sc->buf + sc->len, sizeof(sc->buf) - sc->len);
	char *body = NULL;
	size_t blen = 0;
	FILE *f;
	int kind;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			end_scrape(c, sc);
		return;
	}
	sc->len += (size_t)n;
	kind = metrics_request(sc->buf, sc->len);
	if (kind == 0)
		return;
	fcntl(sc->conn.fd, F_SETFL, 0);
	setsockopt(sc->conn.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (kind != 1) {
		send(sc->conn.fd, notfound, sizeof(notfound) - 1, MSG_NOSIGNAL);
		end_scrape(c, sc);
		return;
	}
	c->metrics.scrapes++;
	f = open_memstream(&body, &blen);
	if (f) {
		render_metrics(c, f);
		if (fclose(f) == 0) {
			dprintf(sc->conn.fd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
					     "Content-Length: %zu\r\n\r\n", blen);
			send(sc->conn.fd, body, blen, MSG_NOSIGNAL);
		}
	}
	free(body);
	end_scrape(c, sc);
}

static void expire_scrapes(struct collector *c, uint64_t now)
{
	for (size_t i = c->nscrapes; i-- > 0;)
		if (now - c->scrapes[i]->since_ms >= SCRAPE_DEADLINE_MS)
			end_scrape(c, c->scrapes[i]);
}

/* The root-only unix socket beside the control socket (or --metrics-socket),
 * and the opt-in TCP address. */
static int open_metrics(struct collector *c)
{
	const char *slash = strrchr(c->cfg->socket, '/');
	char err[256];
	int fd, rc;

	if (c->cfg->metrics_socket[0])
		snprintf(c->metrics_path, sizeof(c->metrics_path), "%s", c->cfg->metrics_socket);
	else
		snprintf(c->metrics_path, sizeof(c->metrics_path), "%.*smetrics.sock",
			 slash ? (int)(slash - c->cfg->socket + 1) : 0, c->cfg->socket);
	fd = metrics_listen_unix(c->metrics_path);
	if (fd < 0) {
		log_msg("metrics socket %s: %s", c->metrics_path, strerror(-fd));
		return fd;
	}
	rc = add_fd(c, &c->metrics_conn, CONN_METRICS_LISTEN, fd);
	if (rc < 0 || !c->cfg->metrics_listen[0])
		return rc;
	fd = metrics_listen_tcp(c->cfg->metrics_listen, err, sizeof(err));
	if (fd < 0) {
		log_msg("--metrics-listen %s", err);
		return fd;
	}
	return add_fd(c, &c->metrics_tcp_conn, CONN_METRICS_LISTEN, fd);
}

static void loop(struct collector *c)
{
	struct epoll_event evs[32];

	while (!c->stopping) {
		int n = epoll_wait(c->epfd, evs, 32, -1);

		for (int i = 0; i < n; i++) {
			struct conn *conn = evs[i].data.ptr;

			switch (conn->kind) {
			case CONN_PROBES: consume(c); break;
			case CONN_LISTEN: accept_clients(c); break;
			case CONN_SIGNAL: c->stopping |= on_signal(c); break;
			case CONN_TIMER: tick(c); break;
			case CONN_JOURNAL: on_journal(c); break;
			case CONN_CLIENT: handle_client(c, conn, evs[i].events); break;
			case CONN_GVISOR: gvisor_sink_process(c->gvisor); break;
			case CONN_MICROVM: microvm_sink_process(c->microvm); break;
			case CONN_EXPORT: exporters_notices(c->cfg->exporters, write_export_error, c); break;
			case CONN_METRICS_LISTEN: accept_scrapes(c, conn->fd); break;
			case CONN_SCRAPE: serve_scrape(c, (struct scrape *)conn); break;
			case CONN_PROXY: proxy_records(c); break;
			case CONN_PROXY_EXIT: proxy_exited(c); break;
			}
		}
	}
}

/* Every live session ends with the collector: nothing traces them after. */
static void shutdown_sessions(struct collector *c)
{
	for (size_t i = 0; i < c->sessions.n; i++)
		if (!c->sessions.v[i]->ended)
			end_session(c, c->sessions.v[i], "shutdown", NULL);
	drain(c);
}

/* A hand-over: the run managers reattach to the next collector, they do not
 * take the closed connection for a lost collector. */
static void tell_managers(struct collector *c)
{
	json_t *notice = json_pack("{s:s}", "event", "handover");

	for (size_t i = 0; notice && i < c->sessions.n; i++)
		if (!c->sessions.v[i]->ended && c->sessions.v[i]->owner_fd >= 0)
			control_send(c->sessions.v[i]->owner_fd, notice);
	json_decref(notice);
}

/* A session of the journal that the earlier collector's kernel side still
 * traces, taken over with what it kept (probes_state_get): NULL when it
 * cannot be (no pins, cgroup gone or another, a gVisor or microVM session
 * whose Sentry or VMM spoke to the collector that went, a --network proxy
 * session whose listener went with it).  A run session's manager outlives a hand-over:
 * the session waits for it to reattach (claim_by_ms). */
static struct session *reattach(struct collector *c, const struct open_session *os)
{
	char msg[256], *st;
	json_t *req = NULL, *err = NULL;
	struct netpolicy *np = NULL;
	struct session *s = NULL;
	uint64_t id;
	int fd, rc, parent_fd = -1;
	uint64_t parent_id = 0;

	if (cgroup2_open(os->cgroup, &fd, &id, msg, sizeof(msg)) < 0)
		return NULL;
	st = probes_state_get(c->probes, id);
	if (st)
		req = json_loads(st, 0, NULL);
	free(st);
	if (!req || !json_is_string(json_object_get(req, "id")) ||
	    strcmp(json_string_value(json_object_get(req, "id")), os->id) || !strcmp(os->mode, "gvisor") ||
	    !strcmp(os->mode, "microvm") || json_is_true(json_object_get(req, "proxy")) ||
	    strcmp(json_string_value(json_object_get(req, "mode")) ?: "watch", os->mode))
		goto fail;
	if (!json_is_object(json_object_get(req, "labels")))
		json_object_set_new(req, "labels", json_object());
	s = session_new(os->mode, os->cgroup, json_object_get(req, "labels"));
	if (!s)
		goto fail;
	memcpy(s->id, os->id, sizeof(s->id));
	s->cgroup_fd = fd;
	s->cgroup_id = id;
	s->start_ns = (uint64_t)json_integer_value(json_object_get(req, "start_ns"));
	memcpy(s->lost_seen, os->lost, sizeof(s->lost_seen));
	if (json_is_false(json_object_get(req, "keep"))) {
		s->setup_ppid = (uint32_t)json_integer_value(json_object_get(req, "setup_pid"));
		s->claim_by_ms = mono_ms() + CONTROL_HANDOVER_MS;
	}
	err = watch_v1(s, req);
	if (!err)
		err = watch_options(s, req, &np);
	if (err || session_table_add(&c->sessions, s) < 0)
		goto fail;
	if (c->session_parent[0] && cgroup2_open(c->session_parent, &parent_fd, &parent_id, msg, sizeof(msg)) < 0)
		parent_fd = -1;
	rc = probes_adopt(c->probes, fd, id, parent_fd, parent_id);
	if (parent_fd >= 0)
		close(parent_fd);
	if (rc < 0) {
		c->sessions.n--;
		goto fail;
	}
	json_decref(req);
	return s;
fail:
	json_decref(err);
	json_decref(req);
	free(np);
	if (s)
		session_free(s); /* closes fd */
	else
		close(fd);
	return NULL;
}

static void rec_downtime(struct collector *c, uint64_t from, uint64_t to)
{
	rec_uint(&c->rec, "down_from", from);
	rec_uint(&c->rec, "down_to", to);
	rec_uint(&c->rec, "downtime_ns", to > from ? to - from : 0);
}

/* The taken-over session says so, with what its kernel side could not keep
 * while no collector ran (the ring buffer full): loss records of the downtime. */
static void write_reattach(struct collector *c, struct session *s, uint64_t from, uint64_t to, bool crashed)
{
	static const char *const reasons[ST_LOSS_MAX] = { "ringbuf", "pending" };
	uint64_t lost[ST_EV_MAX][ST_LOSS_MAX];

	enrich_begin(&c->rec, "session_reattach", to, s);
	rec_str(&c->rec, "after", crashed ? "crash" : "restart");
	rec_downtime(c, from, to);
	write_record(c);
	if (probes_losses(c->probes, s->cgroup_id, lost) < 0)
		return;
	for (int t = 1; t < ST_EV_MAX; t++)
		for (int r = 0; r < ST_LOSS_MAX; r++) {
			if (lost[t][r] <= s->lost_seen[t][r])
				continue;
			enrich_loss(&c->rec, s, to, event_type_name(t), reasons[r], lost[t][r] - s->lost_seen[t][r]);
			rec_downtime(c, from, to);
			write_record(c);
			s->lost_seen[t][r] = lost[t][r];
		}
}

/* A session nothing can take over is closed: what happened in it after the
 * collector went is not known. */
static void close_cut_off(struct collector *c, const struct open_session *os, const char *reason)
{
	json_t *none = json_object();
	struct session *s = none ? session_new(os->mode[0] ? os->mode : "watch", os->cgroup, none) : NULL;
	void *labels = malloc(os->labels_len ? os->labels_len : 1);

	if (!s || !labels || session_table_add(&c->sessions, s) < 0) {
		log_msg("session %s: out of memory: left open", os->id);
		session_free(s);
		free(labels);
		json_decref(none);
		return;
	}
	json_decref(none);
	memcpy(s->id, os->id, sizeof(s->id));
	memcpy(labels, os->labels_mp, os->labels_len);
	free(s->labels_mp);
	s->labels_mp = labels;
	s->labels_mp_len = os->labels_len;
	s->gvisor = false; /* its Sentry went with the collector */
	s->microvm = false; /* its VMM too */
	end_session(c, s, reason, NULL);
	log_msg("session %s: closed (%s)", s->id, reason);
}

/* The sessions an earlier collector left open in the journal: taken over
 * where its pinned kernel side still traces them, else closed. */
static int recover_sessions(struct collector *c)
{
	struct open_sessions o;
	bool inherited = probes_inherited(c->probes), crashed = journal_recovered(c->journal);
	uint64_t now = clock_ns(CLOCK_REALTIME);
	int rc;

	if (!inherited && !crashed)
		return 0;
	rc = recover_open_sessions(c->cfg->journal, &o);
	if (rc < 0)
		log_msg("reading the sessions left open in %s: %s", c->cfg->journal, strerror(-rc));
	for (size_t i = 0; i < o.n; i++) {
		struct session *s = inherited ? reattach(c, &o.v[i]) : NULL;

		if (!s) {
			close_cut_off(c, &o.v[i], crashed ? "collector_crash" : "collector_restart");
			continue;
		}
		write_reattach(c, s, o.last_ts, now, crashed);
		log_msg("session %s: taken over (%s)", s->id, s->cgroup_path);
	}
	recover_free(&o);
	return probes_takeover(c->probes);
}

/* After the journal is open: each sink follows it from a thread of its own. */
static int start_exporters(struct collector *c)
{
	char pub[4096], err[512];
	struct exporters_env env = { .journal_dir = c->cfg->journal, .state_dir = c->cfg->state };
	int rc;

	if (!exporters_count(c->cfg->exporters))
		return 0;
	if (keys_pub_path(c->cfg->key, pub, sizeof(pub)) == 0 && access(pub, R_OK) == 0)
		env.pubkey = pub;
	rc = exporters_start(c->cfg->exporters, &env, err, sizeof(err));
	if (rc < 0) {
		log_msg("exporters: %s", err);
		return rc;
	}
	return 0;
}

static void write_record_cb(void *ctx)
{
	write_record(ctx);
}

/* gVisor's remote sink: --gvisor-socket, else beside the control socket. */
static int open_gvisor_sink(struct collector *c)
{
	struct gvisor_sink_config gc = {
		.path = c->gvisor_path, .sessions = &c->sessions, .enrich = &c->enrich, .rec = &c->rec,
		.write = write_record_cb, .ctx = c,
	};
	char root[4096];
	const char *slash = strrchr(c->cfg->socket, '/');
	int rc;

	if (c->cfg->gvisor_socket[0])
		snprintf(c->gvisor_path, sizeof(c->gvisor_path), "%s", c->cfg->gvisor_socket);
	else
		snprintf(c->gvisor_path, sizeof(c->gvisor_path), "%.*sgvisor.sock",
			 slash ? (int)(slash - c->cfg->socket + 1) : 0, c->cfg->socket);
	if (cgroup2_mount(root, sizeof(root)) < 0)
		root[0] = 0;
	gc.cgroup2_root = root;
	rc = gvisor_sink_open(&c->gvisor, &gc);
	if (rc < 0)
		return rc;
	rc = add_fd(c, &c->gvisor_conn, CONN_GVISOR, gvisor_sink_fd(c->gvisor));
	return rc;
}

/* The microVMs' event ports: microvm.sock beside the control socket. */
static int open_microvm_sink(struct collector *c)
{
	struct microvm_sink_config mc = { .path = c->microvm_path, .sessions = &c->sessions, .rec = &c->rec,
					  .write = write_record_cb, .ctx = c };
	const char *slash = strrchr(c->cfg->socket, '/');
	char root[4096];
	int rc;

	snprintf(c->microvm_path, sizeof(c->microvm_path), "%.*smicrovm.sock",
		 slash ? (int)(slash - c->cfg->socket + 1) : 0, c->cfg->socket);
	if (cgroup2_mount(root, sizeof(root)) < 0)
		root[0] = 0;
	mc.cgroup2_root = root;
	rc = microvm_sink_open(&c->microvm, &mc);
	if (rc < 0)
		return rc;
	return add_fd(c, &c->microvm_conn, CONN_MICROVM, microvm_sink_fd(c->microvm));
}

int collector_run(const struct daemon_config *cfg)
{
	struct collector c = { .cfg = cfg, .epfd = -1, .spare_fd = -1, .proxy = { .pidfd = -1, .ctl = -1 } };
	struct journal_config jc;
	struct probes_config pc = { .ringbuf_bytes = (uint32_t)cfg->ringbuf_size, .pending_max = (uint32_t)cfg->pending_max,
				    .pin_dir = strcmp(cfg->pin_dir, "none") ? cfg->pin_dir : NULL };
	char jerr[512] = "";
	int rc, status = 1;

	journal_config_defaults(&jc);
	jc.dir = cfg->journal;
	jc.key_path = cfg->key;
	jc.seal_every = (uint32_t)cfg->seal_records;
	jc.seal_ms = (uint32_t)cfg->seal_ms;
	jc.segment_bytes = cfg->segment_bytes;
	jc.epoch_ms = (uint32_t)(cfg->epoch_seconds * 1000);
	jc.epoch_seals = (uint32_t)cfg->epoch_seals;
	jc.fsync = !strcmp(cfg->fsync, "always") ? JOURNAL_FSYNC_ALWAYS
		   : !strcmp(cfg->fsync, "none") ? JOURNAL_FSYNC_NONE
						 : JOURNAL_FSYNC_SEAL;
	jc.err = jerr;
	jc.err_len = sizeof(jerr);
	rec_init(&c.rec);
	enrich_init(&c.enrich);
	if (cgroup2_mount(c.session_parent, sizeof(c.session_parent) - sizeof("/" CGROUP2_SESSION_PARENT)) == 0) {
		char own[4096];

		if (cgroup2_self(own, sizeof(own)) == 0) {
			size_t m = strlen(c.session_parent), o = strcmp(own, "/") ? strlen(own) : 0;

			if (m + o < sizeof(c.own_cgroup_path)) {
				memcpy(c.own_cgroup_path, c.session_parent, m);
				memcpy(c.own_cgroup_path + m, own, o);
				c.own_cgroup_path[m + o] = 0;
			}
		}
		strcat(c.session_parent, "/" CGROUP2_SESSION_PARENT);
	} else {
		c.session_parent[0] = 0;
	}
	sync_clock(&c);
	if (cfg->create_key && (rc = keys_create(cfg->key)) < 0 && rc != -EEXIST) {
		log_msg("creating the signing key %s: %s", cfg->key, strerror(-rc));
		goto out;
	}
	rc = highwater_check(cfg->journal, cfg->state, jerr, sizeof(jerr));
	if (rc < 0) {
		log_msg("journal %s: %s", cfg->journal, jerr[0] ? jerr : strerror(-rc));
		goto out;
	}
	rc = journal_open(&c.journal, &jc);
	if (rc < 0) {
		log_msg("journal %s: %s", cfg->journal, jerr[0] ? jerr : strerror(-rc));
		goto out;
	}
	{
		uint8_t id[JOURNAL_ID_LEN];

		journal_id(c.journal, id);
		journal_id_hex(id, c.journal_id);
	}
	rc = start_exporters(&c);
	if (rc < 0)
		goto out;
	rc = probes_open(&c.probes, &pc, on_event, &c);
	if (rc < 0) {
		if (pc.pin_dir && (rc == -EBUSY || rc == -ENOTSUP))
			log_msg("--pin-dir %s: %s", pc.pin_dir, rc == -EBUSY ? "another sandtraild uses it" :
				"not on a bpffs (mount -t bpf bpf DIR, or --pin-dir none)");
		log_msg("loading the kernel programs failed: %s", strerror(-rc));
		goto out;
	}
	c.probes_pinned = pc.pin_dir != NULL;
	rc = setup_limits(&c);
	if (rc == 0)
		rc = setup_loop(&c);
	if (rc == 0 && exporters_notice_fd(cfg->exporters) >= 0)
		rc = add_fd(&c, &c.export_conn, CONN_EXPORT, exporters_notice_fd(cfg->exporters));
	if (rc < 0) {
		log_msg("event loop: %s", strerror(-rc));
		goto out;
	}
	rc = control_listen(cfg->socket, *cfg->socket_group ? (gid_t)cfg->socket_gid : (gid_t)-1);
	if (rc < 0) {
		log_msg("control socket %s: %s", cfg->socket, strerror(-rc));
		goto out;
	}
	if (add_fd(&c, &c.listen_conn, CONN_LISTEN, rc) < 0) {
		close(rc);
		goto out;
	}
	rc = open_metrics(&c);
	if (rc < 0)
		goto out;
	rc = open_gvisor_sink(&c);
	if (rc < 0) {
		log_msg("gVisor sink %s: %s", c.gvisor_path, strerror(-rc));
		goto out;
	}
	rc = open_microvm_sink(&c);
	if (rc < 0) {
		log_msg("microvm sink %s: %s", c.microvm_path, strerror(-rc));
		goto out;
	}
	/* before any request is served: a session taken over is not watched anew */
	rc = recover_sessions(&c);
	if (rc < 0) {
		log_msg("taking over from the earlier collector: %s", strerror(-rc));
		goto out;
	}
	/* the egress proxy of --network proxy sessions, one per host */
	proxysup_init(&c.proxy, cfg->proxy, cfg->proxy_user, cfg->proxy_dns, cfg->proxy_upstream_ca,
		      probes_proxy_map_fd(c.probes));
	if (proxysup_enabled(&c.proxy) && (rc = proxy_start(&c)) < 0) {
		log_msg("sandtrail-proxy %s: %s", c.proxy.path, strerror(-rc));
		goto out;
	}
	log_msg("ready");
	service_init(&c.service);
	service_ready(&c.service, live_sessions(&c));
	loop(&c);
	service_stopping();
	if (c.handover) {
		drain(&c);
		/* no manager may reach this collector once told to find the next */
		unlink(cfg->socket);
		tell_managers(&c);
		log_msg("handing over: %zu sessions stay open, recorded by the kernel side pinned in %s",
			live_sessions(&c), cfg->pin_dir);
	} else if (!c.failed) {
		shutdown_sessions(&c);
	}
	gvisor_sink_close(c.gvisor);
	c.gvisor = NULL;
	microvm_sink_close(c.microvm);
	c.microvm = NULL;
	if (c.proxy.pid > 0)
		proxy_records(&c);
	proxysup_stop(&c.proxy);
	unlink(cfg->socket);
	unlink(c.metrics_path);
	status = c.failed ? 1 : 0;
out:
	gvisor_sink_close(c.gvisor);
	microvm_sink_close(c.microvm);
	proxysup_stop(&c.proxy);
	if (c.probes)
		probes_close(c.probes, c.handover);
	if (c.journal) {
		exporters_notices(cfg->exporters, write_export_error, &c);
		uint64_t end = journal_next_seq(c.journal);

		rc = journal_close(c.journal);
		if (rc < 0) {
			log_msg("closing the journal: %s", strerror(-rc));
			status = 1;
		} else if ((rc = highwater_save(cfg->state, c.journal_id, end)) < 0) {
			log_msg("saving %s/%s: %s", cfg->state, HIGHWATER_FILE, strerror(-rc));
			rc = 0;
		}
	}
	/* the final seal is on disk: what was held is answered, or failed */
	for (size_t i = 0; i < c.nheld; i++) {
		if (rc < 0) {
			json_decref(c.held[i].rep);
			c.held[i].rep = reply_error("the journal failed: %s", strerror(-rc));
		}
		control_send(c.held[i].conn->fd, c.held[i].rep);
		json_decref(c.held[i].rep);
	}
	free(c.held);
	/* and the sinks may ship it before they stop */
	exporters_stop(cfg->exporters);
	session_table_free(&c.sessions);
	for (size_t i = 0; i < c.nclients; i++) {
		close(c.clients[i]->fd);
		free(c.clients[i]);
	}
	free(c.clients);
	while (c.nscrapes)
		end_scrape(&c, c.scrapes[0]);
	if (c.spare_fd >= 0)
		close(c.spare_fd);
	enrich_free(&c.enrich);
	rec_free(&c.rec);
	if (c.epfd >= 0)
		close(c.epfd);
	return status;
}
