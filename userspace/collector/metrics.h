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
};

/* A loss record of count events of kind, for reason. */
void metrics_loss(struct metrics *m, const char *kind, const char *reason, uint64_t count);

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
