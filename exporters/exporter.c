/* The shared loop: one thread per sink reads the sealed journal from the
 * sink's cursor on, hands records to the sink in order, retries what it
 * could not deliver after a backoff with jitter, advances and saves the
 * cursor over what is delivered, and on shutdown ships what remains for a
 * grace period.  The design and its reasons are in exporters/README.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "clock.h"
#include "exporter.h"
#include "options.h"
#include "sink.h"
#include "url.h"

#define WAIT_MAX_MS 1000      /* a missed inotify event costs at most this */
#define LOG_REPEAT_MS 60000   /* the same error is logged again after this */
#define NOTICES_MAX 1024      /* beyond: merged into the last one */
#define SINK_FULL_WAIT_MS 10  /* a full asynchronous sink is offered more after this */

/* What the loop itself reads from every URL's options. */
struct exp_common {
	char *name;
	uint64_t batch, batch_bytes, window;
	uint64_t backoff_ms, backoff_max_ms, grace_ms, cursor_ms;
};

#define COFF(f) offsetof(struct exp_common, f)

static const struct exp_option common_options[] = {
	{ .key = "name", .type = EXP_OPT_STR, .off = COFF(name),
	  .help = "the sink's name: its cursor file and its line in sandtrail ps (default: scheme-<hash of the URL>)" },
	{ .key = "batch", .type = EXP_OPT_UINT, .off = COFF(batch), .def = "10000", .min = 1, .max = 1u << 20,
	  .help = "records per send at most" },
	{ .key = "batch_bytes", .type = EXP_OPT_UINT, .off = COFF(batch_bytes), .def = "4M", .min = 1, .max = 1u << 30,
	  .help = "bytes per send at most" },
	{ .key = "window", .type = EXP_OPT_UINT, .off = COFF(window), .def = "200000", .min = 1, .max = 1u << 24,
	  .help = "records read ahead of the cursor at most (in flight or waiting)" },
	{ .key = "backoff", .type = EXP_OPT_MS, .off = COFF(backoff_ms), .def = "100ms", .min = 1, .max = 3600000,
	  .help = "first wait before a retry; doubles up to backoff_max, with jitter" },
	{ .key = "backoff_max", .type = EXP_OPT_MS, .off = COFF(backoff_max_ms), .def = "30s", .min = 1, .max = 3600000,
	  .help = "longest wait before a retry" },
	{ .key = "grace", .type = EXP_OPT_MS, .off = COFF(grace_ms), .def = "5s", .min = 0, .max = 3600000,
	  .help = "at shutdown, time left to ship what remains" },
	{ .key = "cursor_interval", .type = EXP_OPT_MS, .off = COFF(cursor_ms), .def = "1s", .min = 1, .max = 3600000,
	  .help = "how often the cursor file is saved (and at shutdown); after a crash what came since is shipped again" },
	{ 0 },
};

/* The window's bytes come from chunks, not a malloc per record: records
 * leave the window in order, so a chunk is unmapped once all of its records
 * did (a malloc and a free per record were a fifth of a Kafka sink's CPU).
 * Chunks are mapped, not malloc'd: a free of a MiB from the heap
 * consolidates it, which cost as much again. */
struct chunk {
	size_t size, used, live; /* live: records of the window in it */
	char data[];
};

#define CHUNK_BYTES (1u << 20)

struct entry {
	struct exp_record r;
	uint64_t pos;
	bool offered;        /* handed to the sink and not answered RETRY since */
	struct chunk *buf;   /* holds the record's bytes and strings */
};

struct failure {         /* consecutive records refused for the same reason */
	uint64_t first, last, count;
	char reason[200];
};

struct exp_status {
	bool connected, initialised;
	uint64_t cursor;           /* next seq to ship */
	uint64_t saved;            /* the cursor in the cursor file */
	uint64_t oldest_ts;        /* ts of the record at the cursor, 0 when caught up */
	uint64_t read, delivered, failed, retries, bytes;
	char error[256];
	uint64_t error_ts;         /* wall clock, ns */
};

struct exp_sink {
	struct exporters *set;
	const struct exporter_ops *ops;
	char *url_shown;
	struct exp_url_parts url;
	char name[64];
	struct exp_common common;
	void *config;
	void *state;
	pthread_t thread;
	bool running;
	int stop_fd;
	/* the loop's own */
	const struct exporters_env *env;
	struct journal_reader *reader;
	bool reader_dry;           /* the last read found nothing new */
	int inotify_fd, epfd, state_dirfd;
	char journal[JOURNAL_ID_STR];
	struct entry *win;
	size_t cap;
	uint64_t delivered, failed, bytes; /* the loop's counts (exp_done), for ps at each publish */
	struct chunk *chunk;       /* the one records are put in now */
	struct chunk *spare;       /* an empty one kept: freeing 1 MiB costs a heap consolidation */
	uint64_t head, tail, send_pos; /* positions: slot = pos % cap */
	uint64_t cursor, read_next, saved;
	uint64_t backoff_ms, retry_at, init_at, last_save_ms;
	bool sink_full, journal_checked;
	size_t faults_logged;
	struct failure fail;
	char logged[256];
	uint64_t logged_ms;
	pthread_mutex_t lock;      /* guards st */
	struct exp_status st;
};

struct exporters {
	struct exp_sink **v;
	size_t n;
	struct exporters_env env; /* its strings: */
	char *journal_dir, *state_dir, *pubkey;
	int notice_fd;
	pthread_mutex_t lock;      /* guards the notices */
	struct exporters_notice *notices;
	size_t nnotices;
};

__attribute__((format(printf, 2, 3))) static void log_sink(struct exp_sink *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "sandtraild: export %s: %s\n", s->name, line);
}

/* ---- what sinks call ---- */

void exp_connected(struct exp_sink *s, bool up)
{
	pthread_mutex_lock(&s->lock);
	if (s->st.connected != up && s->st.initialised)
		log_sink(s, "%s", up ? "connected" : "disconnected");
	s->st.connected = up;
	pthread_mutex_unlock(&s->lock);
}

void exp_error(struct exp_sink *s, const char *fmt, ...)
{
	char msg[256];
	uint64_t now = mono_ms();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&s->lock);
	snprintf(s->st.error, sizeof(s->st.error), "%s", msg);
	s->st.error_ts = clock_ns(CLOCK_REALTIME);
	pthread_mutex_unlock(&s->lock);
	/* a sink that is down says so at every attempt: the log gets it once */
	if (strcmp(msg, s->logged) || now - s->logged_ms >= LOG_REPEAT_MS) {
		snprintf(s->logged, sizeof(s->logged), "%s", msg);
		s->logged_ms = now;
		log_sink(s, "%s", msg);
	}
}

const char *exp_journal_id(const struct exp_sink *s)
{
	return s->journal;
}

const char *exp_name(const struct exp_sink *s)
{
	return s->name;
}

static void notice(struct exp_sink *s, uint64_t first, uint64_t last, uint64_t count, const char *reason)
{
	struct exporters *ex = s->set;
	struct exporters_notice *n = NULL;
	uint64_t one = 1;

	pthread_mutex_lock(&ex->lock);
	if (ex->nnotices < NOTICES_MAX) {
		struct exporters_notice *v = realloc(ex->notices, (ex->nnotices + 1) * sizeof(*v));

		if (v) {
			ex->notices = v;
			n = &v[ex->nnotices++];
			*n = (struct exporters_notice){ .first = first };
			snprintf(n->sink, sizeof(n->sink), "%s", s->name);
			snprintf(n->reason, sizeof(n->reason), "%s", reason);
		}
	}
	if (!n && ex->nnotices) {
		/* the collector is behind: widen the last notice rather than lose one */
		n = &ex->notices[ex->nnotices - 1];
		snprintf(n->reason, sizeof(n->reason), "%s (and other reasons)", reason);
	}
	if (n) {
		n->last = last > n->last ? last : n->last;
		n->count += count;
	}
	pthread_mutex_unlock(&ex->lock);
	if (write(ex->notice_fd, &one, sizeof(one)) < 0)
		return; /* the counter is already non-zero */
}

static void flush_failure(struct exp_sink *s)
{
	if (!s->fail.count)
		return;
	log_sink(s, "records %" PRIu64 "..%" PRIu64 " refused for good: %s", s->fail.first, s->fail.last,
		 s->fail.reason);
	notice(s, s->fail.first, s->fail.last, s->fail.count, s->fail.reason);
	s->fail.count = 0;
}

static void record_failure(struct exp_sink *s, const struct exp_record *r, const char *why)
{
	why = why && *why ? why : "refused by the sink";
	/* a refused export_error record is counted, not recorded again: no loop */
	if (!strcmp(r->type, "export_error"))
		return;
	if (s->fail.count && (strcmp(s->fail.reason, why) || s->fail.last + 1 != r->seq))
		flush_failure(s);
	if (!s->fail.count) {
		s->fail.first = r->seq;
		snprintf(s->fail.reason, sizeof(s->fail.reason), "%s", why);
	}
	s->fail.last = r->seq;
	s->fail.count++;
}

static uint64_t jitter(uint64_t ms)
{
	uint32_t rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
		rnd = (uint32_t)clock_ns(CLOCK_MONOTONIC);
	/* half fixed, half random: sinks that failed together do not retry together */
	return ms / 2 + (ms / 2 ? rnd % (ms / 2 + 1) : 0);
}

static void schedule_retry(struct exp_sink *s)
{
	uint64_t now = mono_ms();

	if (s->retry_at > now)
		return; /* one backoff step per failed round, not per record */
	s->retry_at = now + jitter(s->backoff_ms);
	s->backoff_ms = s->backoff_ms * 2 > s->common.backoff_max_ms ? s->common.backoff_max_ms : s->backoff_ms * 2;
	pthread_mutex_lock(&s->lock);
	s->st.retries++;
	pthread_mutex_unlock(&s->lock);
}

void exp_done(struct exp_sink *s, struct exp_record *r, enum exp_result result, const char *why)
{
	struct entry *e = (struct entry *)((char *)r - offsetof(struct entry, r));

	/* the sink's answer, whatever it did to the record before */
	r->result = result;
	switch (result) {
	case EXP_OK:
		s->backoff_ms = s->common.backoff_ms;
		s->delivered++;
		s->bytes += r->len;
		break;
	case EXP_FAIL:
		record_failure(s, r, why);
		s->failed++;
		break;
	case EXP_RETRY:
		e->offered = false;
		if (e->pos < s->send_pos)
			s->send_pos = e->pos;
		schedule_retry(s);
		break;
	case EXP_PENDING:
		break;
	}
}

/* ---- the window of records read ahead of the cursor ---- */

static struct entry *slot(struct exp_sink *s, uint64_t pos)
{
	return &s->win[pos % s->cap];
}

static size_t window_len(const struct exp_sink *s)
{
	return (size_t)(s->tail - s->head);
}

static void chunk_unmap(struct chunk *c)
{
	if (c)
		munmap(c, sizeof(*c) + c->size);
}

/* An empty chunk that is not the current one: kept as the spare, or unmapped. */
static void chunk_drop(struct exp_sink *s, struct chunk *c)
{
	if (!s->spare && c->size == CHUNK_BYTES)
		s->spare = c;
	else
		chunk_unmap(c);
}

static char *chunk_alloc(struct exp_sink *s, size_t n, struct chunk **out)
{
	struct chunk *c = s->chunk;
	char *p;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->size - c->used < n) {
		size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;
		struct chunk *next = s->spare && s->spare->size >= size ? s->spare : NULL;

		if (!next) {
			next = mmap(NULL, sizeof(*next) + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (next == MAP_FAILED)
				return NULL;
		}
		if (next == s->spare)
			s->spare = NULL;
		else
			*next = (struct chunk){ .size = size };
		next->used = next->live = 0;
		if (c && !c->live)
			chunk_drop(s, c);
		s->chunk = c = next;
	}
	p = c->data + c->used;
	c->used += n;
	c->live++;
	*out = c;
	return p;
}

static void chunk_release(struct exp_sink *s, struct chunk *c)
{
	if (--c->live)
		return;
	if (c == s->chunk)
		c->used = 0;
	else
		chunk_drop(s, c);
}

/* Copies what the sink needs of a journal entry into the window. */
static int push(struct exp_sink *s, const struct journal_entry *je)
{
	struct entry *e = slot(s, s->tail);
	const char *type = "", *session = "";
	size_t tlen = 0, slen = 0;
	struct rec_head h = { 0 };
	struct chunk *c;
	char *p;

	/* a record that does not decode is shipped as read, with no type or session */
	if (rec_peek(je->rec, je->len, &h) == 0) {
		if (h.type && h.type_len <= 64)
			type = h.type, tlen = h.type_len;
		if (h.session && h.session_len <= 64)
			session = h.session, slen = h.session_len;
	}
	p = chunk_alloc(s, je->len + tlen + slen + 2, &c);
	if (!p)
		return -ENOMEM;
	memcpy(p, je->rec, je->len);
	memcpy(p + je->len, type, tlen);
	p[je->len + tlen] = 0;
	memcpy(p + je->len + tlen + 1, session, slen);
	p[je->len + tlen + 1 + slen] = 0;
	*e = (struct entry){
		.r = { .seq = je->seq, .ts_ns = h.has_ts ? h.ts : 0, .kind = je->kind, .seal = je->seal, .type = p + je->len,
		       .session = p + je->len + tlen + 1, .rec = p, .len = je->len },
		.pos = s->tail++,
		.buf = c,
	};
	return 0;
}

/* ---- reading the journal ---- */

static int open_reader(struct exp_sink *s, uint64_t from)
{
	int rc;

	journal_reader_close(s->reader);
	s->reader = NULL;
	rc = journal_reader_open(&s->reader, s->env->journal_dir, s->env->pubkey);
	if (rc == 0)
		rc = journal_reader_follow(s->reader, from);
	if (rc < 0) {
		journal_reader_close(s->reader);
		s->reader = NULL;
		exp_error(s, "journal %s: %s", s->env->journal_dir, strerror(-rc));
	}
	s->read_next = from;
	s->faults_logged = 0;
	return rc;
}

static void log_faults(struct exp_sink *s)
{
	const struct journal_fault *f;
	size_t n = journal_reader_faults(s->reader, &f);

	for (; s->faults_logged < n; s->faults_logged++)
		log_sink(s, "journal fault at segment %s, offset %" PRIu64 ", seq %" PRIu64 ": %s (shipped as read; "
			 "run sandtrail verify)", f[s->faults_logged].segment, f[s->faults_logged].offset,
			 f[s->faults_logged].seq, f[s->faults_logged].what);
}

/* Checks the journal id against the cursor's once it is known: a cursor of
 * another journal (the directory was replaced) ships the new one whole. */
static int check_journal(struct exp_sink *s)
{
	uint8_t id[JOURNAL_ID_LEN];
	char hex[JOURNAL_ID_STR];

	if (s->journal_checked || journal_reader_id(s->reader, id) < 0)
		return 0;
	s->journal_checked = true;
	journal_id_hex(id, hex);
	if (!s->journal[0] || !strcmp(hex, s->journal)) {
		memcpy(s->journal, hex, sizeof(hex));
		return 0;
	}
	log_sink(s, "the cursor is of journal %s, the journal is now %s: shipping it from its start", s->journal, hex);
	memcpy(s->journal, hex, sizeof(hex));
	s->cursor = s->saved = 0; /* the other journal's cursor holds nothing back here */
	return 1;
}

/* Reads until the window is full or the sealed journal has no more. */
static int fill(struct exp_sink *s)
{
	struct journal_entry je;
	int rc;

	s->reader_dry = false;
	if (!s->reader && open_reader(s, s->read_next) < 0)
		return -EAGAIN;
	while (window_len(s) < s->cap) {
		rc = journal_reader_next(s->reader, &je);
		log_faults(s);
		if (rc == 0) {
			s->reader_dry = true;
			return check_journal(s) ? open_reader(s, 0) : 0;
		}
		if (rc < 0) {
			/* a segment vanished or an I/O error: start again where reading stopped */
			exp_error(s, "reading the journal: %s", strerror(-rc));
			open_reader(s, s->read_next);
			return rc;
		}
		if (check_journal(s))
			return open_reader(s, 0);
		if (je.seq > s->read_next) {
			char why[160];

			snprintf(why, sizeof(why), "missing from the journal before they were shipped (removed or damaged)");
			log_sink(s, "records %" PRIu64 "..%" PRIu64 " %s", s->read_next, je.seq - 1, why);
			notice(s, s->read_next, je.seq - 1, je.seq - s->read_next, why);
		}
		s->read_next = je.seq + 1;
		rc = push(s, &je);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- shipping ---- */

static struct entry *entry_of(struct exp_record *r)
{
	return (struct entry *)((char *)r - offsetof(struct entry, r));
}

static bool waiting(const struct entry *e)
{
	return !e->offered && e->r.result != EXP_OK && e->r.result != EXP_FAIL;
}

/* Hands the sink, in seq order, the records it has not taken yet, in
 * batches, until it is full, something waits for a retry, or none is left. */
static void send_some(struct exp_sink *s)
{
	struct exp_record *batch[512];
	uint64_t budget = s->common.batch;

	while (s->state && s->retry_at <= mono_ms() && !s->sink_full && budget > 0) {
		uint64_t bytes = 0, p;
		size_t n = 0, max = budget < 512 ? (size_t)budget : 512;
		int taken;

		while (s->send_pos < s->tail && !waiting(slot(s, s->send_pos)))
			s->send_pos++;
		for (p = s->send_pos; p < s->tail && n < max; p++) {
			struct entry *e = slot(s, p);

			if (!waiting(e))
				continue;
			if (n && bytes + e->r.len > s->common.batch_bytes)
				break;
			bytes += e->r.len;
			e->offered = true;
			e->r.result = EXP_PENDING;
			batch[n++] = &e->r;
		}
		if (n == 0)
			return;
		taken = s->ops->send(s->state, batch, n);
		if (taken < 0) {
			exp_error(s, "send: %s", strerror(-taken));
			taken = 0;
			for (size_t i = 0; i < n; i++)
				exp_done(s, batch[i], EXP_RETRY, NULL);
		}
		for (size_t i = 0; i < n; i++) {
			if (i >= (size_t)taken) {
				entry_of(batch[i])->offered = false; /* offered again next round */
				batch[i]->result = EXP_PENDING;
				if (entry_of(batch[i])->pos < s->send_pos)
					s->send_pos = entry_of(batch[i])->pos;
			} else if (batch[i]->result != EXP_PENDING) {
				exp_done(s, batch[i], batch[i]->result, batch[i]->why);
			}
		}
		s->sink_full = (size_t)taken < n;
		budget -= n;
	}
}

/* Passes the cursor over what is delivered or refused for good. */
static void advance(struct exp_sink *s)
{
	while (s->head < s->tail) {
		struct entry *e = slot(s, s->head);

		if (e->r.result != EXP_OK && e->r.result != EXP_FAIL)
			break;
		s->cursor = e->r.seq + 1;
		chunk_release(s, e->buf);
		e->buf = NULL;
		s->head++;
	}
	if (s->send_pos < s->head)
		s->send_pos = s->head;
	flush_failure(s);
}

static void cursor_name(const struct exp_sink *s, char *out, size_t len)
{
	snprintf(out, len, "%s.cursor", s->name);
}

static int save_cursor(struct exp_sink *s)
{
	char name[96], text[160];
	int n, rc;

	if (s->cursor == s->saved || !s->journal[0])
		return 0;
	cursor_name(s, name, sizeof(name));
	n = snprintf(text, sizeof(text), "{\"journal\":\"%s\",\"next\":%" PRIu64 "}\n", s->journal, s->cursor);
	rc = atomicfile_write(s->state_dirfd, name, text, (size_t)n);
	if (rc < 0) {
		exp_error(s, "saving the cursor %s/%s: %s", s->env->state_dir, name, strerror(-rc));
		return rc;
	}
	s->saved = s->cursor;
	s->last_save_ms = mono_ms();
	return 0;
}

/* The saved cursor: 0 and *next/journal set, or 0 with next 0 when there is
 * none; -EBADMSG for a file that is not one. */
static int load_cursor(struct exp_sink *s)
{
	char name[96], text[256];
	json_error_t jerr;
	ssize_t n;
	json_t *o;
	const char *jid;
	json_int_t next;

	cursor_name(s, name, sizeof(name));
	n = atomicfile_read(s->state_dirfd, name, text, sizeof(text));
	if (n == -ENOENT)
		return 0;
	if (n < 0)
		return (int)n;
	o = json_loads(text, 0, &jerr);
	jid = json_string_value(json_object_get(o, "journal"));
	next = json_integer_value(json_object_get(o, "next"));
	if (!o || !jid || strlen(jid) != JOURNAL_ID_STR - 1 || !json_is_integer(json_object_get(o, "next")) || next < 0) {
		json_decref(o);
		return -EBADMSG;
	}
	memcpy(s->journal, jid, JOURNAL_ID_STR);
	s->cursor = s->saved = s->read_next = (uint64_t)next;
	json_decref(o);
	return 0;
}

static void publish(struct exp_sink *s)
{
	pthread_mutex_lock(&s->lock);
	s->st.cursor = s->cursor;
	s->st.saved = s->saved;
	s->st.oldest_ts = s->head < s->tail ? slot(s, s->head)->r.ts_ns : 0;
	s->st.read = s->read_next;
	s->st.delivered = s->delivered;
	s->st.failed = s->failed;
	s->st.bytes = s->bytes;
	pthread_mutex_unlock(&s->lock);
}

static void try_init(struct exp_sink *s)
{
	uint64_t now = mono_ms();
	int rc;

	if (s->state || s->init_at > now)
		return;
	rc = s->ops->init(s, s->config, &s->url.url, &s->state);
	if (rc < 0) {
		s->state = NULL;
		s->init_at = now + jitter(s->backoff_ms);
		s->backoff_ms = s->backoff_ms * 2 > s->common.backoff_max_ms ? s->common.backoff_max_ms : s->backoff_ms * 2;
		pthread_mutex_lock(&s->lock);
		s->st.retries++;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	log_sink(s, "shipping to %s from seq %" PRIu64, s->url_shown, s->cursor);
	pthread_mutex_lock(&s->lock);
	s->st.initialised = true;
	pthread_mutex_unlock(&s->lock);
	if (s->ops->poll_fd) {
		struct epoll_event ee = { .events = EPOLLIN, .data.u32 = 2 };

		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->ops->poll_fd(s->state), &ee) < 0)
			exp_error(s, "epoll: %s", strerror(errno));
	}
}

/* How long the loop may sleep: until a retry, an init, a cursor save or a
 * shutdown deadline is due. */
static int wait_ms(struct exp_sink *s, uint64_t deadline)
{
	uint64_t now = mono_ms(), until = now + WAIT_MAX_MS;
	bool sendable = s->state && s->send_pos < s->tail;

	if (s->sink_full)
		return SINK_FULL_WAIT_MS; /* or until its descriptor says it took some */
	if (sendable && s->retry_at > now && s->retry_at < until)
		until = s->retry_at;
	if (sendable && s->retry_at <= now)
		return 0;
	if (!s->state && s->init_at < until)
		until = s->init_at;
	if (s->cursor != s->saved && s->last_save_ms + s->common.cursor_ms < until)
		until = s->last_save_ms + s->common.cursor_ms;
	if (deadline && deadline < until)
		until = deadline;
	if (!s->reader_dry && window_len(s) < s->cap)
		return 0;
	return until > now ? (int)(until - now) : 0;
}

static void drain_fd(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static int setup(struct exp_sink *s)
{
	struct epoll_event ee = { .events = EPOLLIN };
	int rc;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->epfd < 0 || s->inotify_fd < 0)
		return -errno;
	if (inotify_add_watch(s->inotify_fd, s->env->journal_dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
		return -errno;
	ee.data.u32 = 0;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stop_fd, &ee) < 0)
		return -errno;
	ee.data.u32 = 1;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->inotify_fd, &ee) < 0)
		return -errno;
	s->state_dirfd = open(s->env->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->state_dirfd < 0)
		return -errno;
	rc = load_cursor(s);
	if (rc == -EBADMSG)
		log_sink(s, "%s/%s.cursor is not a cursor file: shipping the journal from its start", s->env->state_dir,
			 s->name);
	else if (rc < 0)
		return rc;
	s->cap = s->common.window;
	s->win = calloc(s->cap, sizeof(*s->win));
	return s->win ? 0 : -ENOMEM;
}

static void *run(void *arg)
{
	struct exp_sink *s = arg;
	uint64_t deadline = 0;
	sigset_t all;
	int rc;

	/* signals are the collector's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	s->backoff_ms = s->common.backoff_ms;
	rc = setup(s);
	if (rc < 0) {
		exp_error(s, "cannot start: %s", strerror(-rc));
		goto out;
	}
	for (;;) {
		struct epoll_event evs[4];
		int n;

		try_init(s);
		if (fill(s) == -ENOMEM)
			exp_error(s, "out of memory");
		send_some(s);
		if (s->state && s->ops->poll)
			s->ops->poll(s->state);
		advance(s);
		if (s->cursor != s->saved &&
		    (deadline || mono_ms() - s->last_save_ms >= s->common.cursor_ms || s->head == s->tail))
			save_cursor(s);
		publish(s);
		if (deadline && ((s->reader_dry && s->head == s->tail) || mono_ms() >= deadline))
			break;
		n = epoll_wait(s->epfd, evs, 4, wait_ms(s, deadline));
		s->sink_full = false;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == 0 && !deadline) {
				deadline = mono_ms() + s->common.grace_ms + 1;
				epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->stop_fd, NULL); /* it stays readable */
			}
			else if (evs[i].data.u32 == 1)
				drain_fd(s->inotify_fd);
		}
	}
	if (s->head < s->tail)
		log_sink(s, "stopping with %zu records not delivered (%" PRIu64 " ms grace): they are shipped at the "
			 "next start", window_len(s), s->common.grace_ms);
out:
	if (s->state) {
		uint64_t now = mono_ms();

		s->ops->close(s->state, deadline > now ? (int)(deadline - now) : 0);
		s->state = NULL;
		advance(s);
	}
	save_cursor(s);
	publish(s);
	flush_failure(s);
	for (uint64_t p = s->head; p < s->tail; p++)
		chunk_release(s, slot(s, p)->buf);
	chunk_unmap(s->chunk);
	chunk_unmap(s->spare);
	s->chunk = s->spare = NULL;
	return NULL;
}

/* ---- the set of sinks ---- */

static uint64_t fnv1a(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return h;
}

static bool good_name(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 48 || n[0] == '.')
		return false;
	return strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

static void sink_free(struct exp_sink *s)
{
	if (!s)
		return;
	if (s->config) {
		exp_options_free(s->ops->options, s->config);
		free(s->config);
	}
	exp_options_free(common_options, &s->common);
	exp_url_free(&s->url);
	journal_reader_close(s->reader);
	free(s->win);
	free(s->url_shown);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	if (s->state_dirfd >= 0)
		close(s->state_dirfd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* One URL into a sink, checked whole; -EINVAL with the reason in err. */
static int sink_parse(const char *text, struct exp_sink **out, char *err, size_t errlen)
{
	struct exp_sink *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->stop_fd = s->epfd = s->inotify_fd = s->state_dirfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->url_shown = exp_url_redact(text);
	rc = s->url_shown ? exp_url_parse(text, &s->url, err, errlen) : -ENOMEM;
	if (rc == 0 && !(s->ops = exp_sink_find(s->url.url.scheme))) {
		char known[128] = "";

		for (size_t i = 0; exp_sinks[i]; i++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
				 exp_sinks[i]->scheme);
		snprintf(err, errlen, "no sink for scheme '%s' (known: %s)", s->url.url.scheme, known);
		rc = -EINVAL;
	}
	if (rc == 0 && !(s->config = calloc(1, s->ops->config_size)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = exp_options_defaults(common_options, &s->common, err, errlen);
	if (rc == 0)
		rc = exp_options_defaults(s->ops->options, s->config, err, errlen);
	for (size_t i = 0; rc == 0 && i < s->url.nquery; i++) {
		const struct exp_pass *q = &s->url.query[i];

		rc = exp_options_set(common_options, &s->common, q->key, q->value, err, errlen);
		if (rc == 0)
			rc = exp_options_set(s->ops->options, s->config, q->key, q->value, err, errlen);
		if (rc == 0) {
			snprintf(err, errlen, "unknown option '%s' for %s (see sandtraild --help)", q->key, s->ops->scheme);
			rc = -EINVAL;
		}
		rc = rc > 0 ? 0 : rc;
	}
	if (rc == 0)
		rc = s->ops->configure(s->config, &s->url.url, err, errlen);
	if (rc == 0 && !s->common.name) {
		/* stable across restarts and unique per target: the cursor file's name */
		char *q = strchr(text, '?');
		uint64_t h = fnv1a(text, q ? (size_t)(q - text) : strlen(text));

		snprintf(s->name, sizeof(s->name), "%s-%08x", s->ops->scheme, (unsigned)(h ^ (h >> 32)));
	} else if (rc == 0) {
		snprintf(s->name, sizeof(s->name), "%s", s->common.name);
		if (!good_name(s->common.name)) {
			snprintf(err, errlen, "name=%s: 1 to 48 of A-Z a-z 0-9 . _ -, not starting with '.'", s->common.name);
			rc = -EINVAL;
		}
	}
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (rc < 0) {
		sink_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int exporters_parse(struct exporters **out, char *const *urls, size_t n, char *err, size_t errlen)
{
	struct exporters *ex = calloc(1, sizeof(*ex));
	char why[384];
	int rc = 0;

	if (!ex || (n && !(ex->v = calloc(n, sizeof(*ex->v))))) {
		free(ex);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ex->notice_fd = -1;
	pthread_mutex_init(&ex->lock, NULL);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = sink_parse(urls[i], &ex->v[ex->n], why, sizeof(why));
		for (size_t k = 0; rc == 0 && k < ex->n; k++) {
			if (!strcmp(ex->v[k]->name, ex->v[ex->n]->name)) {
				snprintf(why, sizeof(why), "a second sink named %s (give one name=...)", ex->v[k]->name);
				rc = -EINVAL;
				sink_free(ex->v[ex->n]);
			}
		}
		if (rc < 0) {
			char *shown = exp_url_redact(urls[i]);

			snprintf(err, errlen, "%s: %s", shown ? shown : "URL", why);
			free(shown);
		} else {
			ex->n++;
		}
	}
	if (rc < 0) {
		exporters_free(ex);
		return rc;
	}
	*out = ex;
	return 0;
}

size_t exporters_count(const struct exporters *ex)
{
	return ex ? ex->n : 0;
}

void exporters_free(struct exporters *ex)
{
	if (!ex)
		return;
	for (size_t i = 0; i < ex->n; i++)
		sink_free(ex->v[i]);
	free(ex->v);
	free(ex->notices);
	free(ex->journal_dir);
	free(ex->state_dir);
	free(ex->pubkey);
	if (ex->notice_fd >= 0)
		close(ex->notice_fd);
	pthread_mutex_destroy(&ex->lock);
	free(ex);
}

int exporters_start(struct exporters *ex, const struct exporters_env *env, char *err, size_t errlen)
{
	int rc;

	if (!ex || ex->n == 0)
		return 0;
	if (mkdir(env->state_dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "mkdir(\"%s\"): %s", env->state_dir, strerror(errno));
		return rc;
	}
	ex->env.journal_dir = ex->journal_dir = strdup(env->journal_dir);
	ex->env.state_dir = ex->state_dir = strdup(env->state_dir);
	ex->env.pubkey = ex->pubkey = env->pubkey ? strdup(env->pubkey) : NULL;
	if (!ex->journal_dir || !ex->state_dir || (env->pubkey && !ex->pubkey)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ex->notice_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ex->notice_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return rc;
	}
	for (size_t i = 0; i < ex->n; i++) {
		struct exp_sink *s = ex->v[i];

		s->set = ex;
		s->env = &ex->env;
		s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->stop_fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "eventfd: %s", strerror(errno));
			exporters_stop(ex);
			return rc;
		}
		rc = -pthread_create(&s->thread, NULL, run, s);
		if (rc < 0) {
			snprintf(err, errlen, "export %s: thread: %s", s->name, strerror(-rc));
			exporters_stop(ex);
			return rc;
		}
		s->running = true;
	}
	return 0;
}

void exporters_stop(struct exporters *ex)
{
	uint64_t one = 1;

	for (size_t i = 0; ex && i < ex->n; i++)
		if (ex->v[i]->running && write(ex->v[i]->stop_fd, &one, sizeof(one)) < 0)
			log_sink(ex->v[i], "cannot signal the stop: %s", strerror(errno));
	for (size_t i = 0; ex && i < ex->n; i++) {
		if (!ex->v[i]->running)
			continue;
		pthread_join(ex->v[i]->thread, NULL);
		ex->v[i]->running = false;
	}
}

json_t *exporters_status(struct exporters *ex, uint64_t journal_next)
{
	json_t *list = json_array();
	uint64_t now = clock_ns(CLOCK_REALTIME);

	for (size_t i = 0; ex && i < ex->n; i++) {
		struct exp_sink *s = ex->v[i];
		struct exp_status st;
		json_t *o;

		pthread_mutex_lock(&s->lock);
		st = s->st;
		pthread_mutex_unlock(&s->lock);
		o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:f, s:I, s:I, s:I, s:I}", "exporter", s->name, "url",
			      s->url_shown, "connected", st.connected, "next", (json_int_t)st.cursor, "lag_records",
			      (json_int_t)(journal_next > st.cursor ? journal_next - st.cursor : 0), "lag_seconds",
			      st.oldest_ts && now > st.oldest_ts ? (double)(now - st.oldest_ts) / 1e9 : 0.0,
			      "delivered", (json_int_t)st.delivered, "failed", (json_int_t)st.failed, "retries",
			      (json_int_t)st.retries, "bytes", (json_int_t)st.bytes);
		if (o && st.error[0]) {
			json_object_set_new(o, "last_error", json_string(st.error));
			json_object_set_new(o, "last_error_ts", json_integer((json_int_t)(st.error_ts / 1000000000ull)));
		}
		if (o)
			json_array_append_new(list, o);
	}
	return list;
}

uint64_t exporters_shipped_below(struct exporters *ex)
{
	uint64_t low = UINT64_MAX;

	/* the saved cursors: after a crash, a sink starts again from there */
	for (size_t i = 0; ex && i < ex->n; i++) {
		pthread_mutex_lock(&ex->v[i]->lock);
		if (ex->v[i]->st.saved < low)
			low = ex->v[i]->st.saved;
		pthread_mutex_unlock(&ex->v[i]->lock);
	}
	return low;
}

int exporters_notice_fd(const struct exporters *ex)
{
	return ex ? ex->notice_fd : -1;
}

void exporters_notices(struct exporters *ex, void (*fn)(void *arg, const struct exporters_notice *n), void *arg)
{
	struct exporters_notice *v;
	uint64_t count;
	size_t n;

	if (!ex || ex->notice_fd < 0)
		return;
	if (read(ex->notice_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&ex->lock);
	v = ex->notices;
	n = ex->nnotices;
	ex->notices = NULL;
	ex->nnotices = 0;
	pthread_mutex_unlock(&ex->lock);
	for (size_t i = 0; i < n; i++)
		fn(arg, &v[i]);
	free(v);
}

void exporters_help(FILE *f)
{
	fprintf(f, "\nExport (repeatable --export URL, or \"export\": [URL, ...] in the config file):\n"
		   "  every sink ships the sealed journal from its own cursor, at least once.\n");
	for (size_t i = 0; exp_sinks[i]; i++) {
		fprintf(f, "  %s\n", exp_sinks[i]->synopsis);
		exp_options_help(exp_sinks[i]->options, f);
	}
	fprintf(f, "  options of every sink:\n");
	exp_options_help(common_options, f);
}
