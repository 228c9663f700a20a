/* sandtraild's metrics in Prometheus' text exposition format (version
 * 0.0.4), served over HTTP on a root-only unix socket and, opt-in, a TCP
 * address.  The loop increments plain counters (one thread: no atomics);
 * a scrape renders them with what the collector knows at that moment. */
#ifndef SANDTRAIL_METRICS_H
#define SANDTRAIL_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "events.h"

#define METRICS_LOSS_KEYS 64 /* (kind, reason) pairs kept; beyond, one "other" */
#define METRICS_CONN_MAX 16  /* scrapes served at once */
#define METRICS_REQ_MAX 8192 /* bytes of one request's head */

/* Seal latency: a record's arrival at the collector to its seal being
 * durable (sealed, and synced as --fsync says).  Records are grouped by the
 * millisecond they arrive in; a group is observed once all of it is
 * durable.  A full queue folds later records into its newest group, whose
 * earlier time overstates their latency rather than understate it. */
#define METRICS_PENDING_MAX 1024
#define METRICS_SEAL_BUCKETS 13 /* 1 ms .. 10 s, then +Inf */

struct metrics_pending {
	uint64_t below;  /* every record of the group has a seq below this */
	uint64_t t_ns;   /* when its first record arrived (CLOCK_MONOTONIC) */
	uint64_t n;      /* records */
};

struct metrics_loss {
	char kind[32], reason[16];
	uint64_t count;
};

struct metrics {
	uint64_t events[ST_EV_MAX]; /* kernel events by type; [0]: undecodable */
	uint64_t records, record_bytes;
	struct metrics_loss loss[METRICS_LOSS_KEYS];
	size_t nloss;
	uint64_t requests, refusals, scrapes;
	struct metrics_pending pending[METRICS_PENDING_MAX]; /* a ring, oldest at phead */
	size_t phead, npending;
	uint64_t seal_le[METRICS_SEAL_BUCKETS + 1]; /* per bucket (not cumulative); the last: +Inf */
	uint64_t seal_count, seal_sum_ns;
};

/* A loss record of count events of kind, for reason. */
void metrics_loss(struct metrics *m, const char *kind, const char *reason, uint64_t count);

/* The record of seq arrived at now_ns. */
void metrics_arrived(struct metrics *m, uint64_t seq, uint64_t now_ns);
/* Every record below through is durable at now_ns: its group is observed. */
void metrics_durable(struct metrics *m, uint64_t through, uint64_t now_ns);

/* A sample line: name{labels} value; label values escaped as the format says. */
void metrics_sample(FILE *f, const char *name, const char *labels, uint64_t v);
/* "# HELP" and "# TYPE" of a family. */
void metrics_family(FILE *f, const char *name, const char *type, const char *help);
/* key="value" with \\, \" and \n escaped, appended to buf (len cap). */
void metrics_label(char *buf, size_t cap, const char *key, const char *value);
/* The counters the loop keeps, as families. */
void metrics_render(FILE *f, const struct metrics *m);

/* Listening sockets: a unix path (0600, root's) or "ADDR:PORT" / "[ADDR]:PORT".
 * Returns the fd or -errno; err says what was wrong with spec. */
int metrics_listen_unix(const char *path);
int metrics_listen_tcp(const char *spec, char *err, size_t errlen);
/* Whether the bytes read so far end an HTTP request head; -1 when they
 * cannot (too long), 1 for GET /metrics, 2 for another path. */
int metrics_request(const char *buf, size_t len);

#endif
