/* What a sink implements, and what it may call: one struct exporter_ops per
 * sink, filled with designated initialisers (exporters/README.md).  The
 * shared loop (exporter.c) owns reading the journal, batching, retries with
 * backoff and jitter, the cursor and shutdown; a sink only ships records and
 * says, for each, whether it was delivered. */
#ifndef SANDTRAIL_SINK_H
#define SANDTRAIL_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/journal.h"
#include "options.h"

enum exp_result {
	EXP_PENDING = 0, /* taken, answered later through exp_done (asynchronous sinks) */
	EXP_OK,          /* delivered: the cursor may pass it */
	EXP_RETRY,       /* not delivered, may be next time: offered again after a backoff */
	EXP_FAIL,        /* refused for good: recorded as an export_error record, then passed */
};

/* One journal record as the loop hands it to a sink. */
struct exp_record {
	uint64_t seq;
	uint64_t ts_ns;
	uint8_t kind;             /* the journal frame's kind (JOURNAL_KIND_*) */
	enum journal_seal_state seal;
	const char *type;         /* "exec", "seal", ...: NUL-terminated */
	const char *session;      /* 16 hex digits, or "" for the journal's own records */
	const void *rec;          /* the msgpack record, byte for byte as in the journal */
	size_t len;
	enum exp_result result;   /* set by send, or later by exp_done */
	const char *why;          /* with FAIL from send: the reason (static, or alive until the next send) */
};

struct exp_sink; /* the loop's side of one configured sink */

/* The target part of a URL: scheme://[user[:password]@]authority/path (the
 * query is the options). */
struct exp_url {
	const char *scheme;
	const char *user, *password; /* NULL when absent; percent-decoded */
	const char *authority;       /* host:port[,host:port...] */
	const char *path;            /* percent-decoded, with its leading '/'; "" when absent */
};

struct exporter_ops {
	const char *scheme;   /* the URL scheme this sink serves */
	const char *synopsis; /* the URL form, for --help */
	const struct exp_option *options; /* ends with { 0 } */
	size_t config_size;   /* the struct the options fill */
	/* Checks the URL's target and the options together, at start: 0, or
	 * -EINVAL with a one-line reason in err. */
	int (*configure)(void *config, const struct exp_url *url, char *err, size_t errlen);
	/* Opens the sink: 0 or -errno, with a reason set by exp_error.  Called
	 * again after a backoff when it fails. */
	int (*init)(struct exp_sink *sink, const void *config, const struct exp_url *url, void **state);
	/* Ships recs[0..n) in that order.  Sets each one's result (PENDING for
	 * an answer to come through exp_done); returns how many it took (the
	 * rest are offered again at once) or -errno (all of them RETRY). */
	int (*send)(void *state, struct exp_record **recs, size_t n);
	/* Asynchronous sinks: a descriptor that is readable when answers wait,
	 * and the call that delivers them.  NULL for synchronous sinks. */
	int (*poll_fd)(void *state);
	void (*poll)(void *state);
	/* Delivers what it can within timeout_ms, then releases everything;
	 * records still PENDING stay undelivered (the cursor stays before them). */
	void (*close)(void *state, int timeout_ms);
};

/* The answer for a PENDING record, from within send or poll. */
void exp_done(struct exp_sink *sink, struct exp_record *r, enum exp_result result, const char *why);
/* Connection state and the last error, shown by `sandtrail ps`; errors are
 * also logged (at most one line per reason change). */
void exp_connected(struct exp_sink *sink, bool up);
__attribute__((format(printf, 2, 3))) void exp_error(struct exp_sink *sink, const char *fmt, ...);
/* The journal's id (32 hex digits) and the sink's name, for what it ships. */
const char *exp_journal_id(const struct exp_sink *sink);
const char *exp_name(const struct exp_sink *sink);

/* The sinks, by scheme (sinks.c). */
const struct exporter_ops *exp_sink_find(const char *scheme);
extern const struct exporter_ops *const exp_sinks[];

#endif
