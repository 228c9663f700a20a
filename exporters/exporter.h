/* The exporters' public face, for sandtraild: every configured sink ships
 * the sealed journal from a thread of its own, with its own journal reader
 * and its own cursor file, so that a slow or absent sink only makes the
 * journal grow and never holds the recording up (exporters/README.md). */
#ifndef SANDTRAIL_EXPORTER_H
#define SANDTRAIL_EXPORTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

struct exporters;

/* Parses and checks every --export URL, without connecting anywhere: 0, or
 * -EINVAL with "URL: reason" (one line, credentials hidden) in err.  n may
 * be 0. */
int exporters_parse(struct exporters **out, char *const *urls, size_t n, char *err, size_t errlen);
void exporters_free(struct exporters *ex);
size_t exporters_count(const struct exporters *ex);

struct exporters_env {
	const char *journal_dir;
	const char *pubkey;    /* checks the seals of what is shipped; NULL: not checked */
	const char *state_dir; /* cursor files, created if missing */
};

/* Starts one thread per sink: 0 or -errno with a reason in err. */
int exporters_start(struct exporters *ex, const struct exporters_env *env, char *err, size_t errlen);
/* Once the journal is closed: every sink ships what remains for up to its
 * grace period, saves its cursor and stops; returns when all have. */
void exporters_stop(struct exporters *ex);

/* The state of every sink for `sandtrail ps`: a JSON array of objects
 * (schemas/record.md, "sandtrail ps").  journal_next: the writer's next seq. */
json_t *exporters_status(struct exporters *ex, uint64_t journal_next);

/* The lowest saved cursor of all sinks: every record below it is shipped
 * (or refused for good) by every one, for good; 0 until each has saved one. */
uint64_t exporters_shipped_below(struct exporters *ex);

/* Something the journal must record: records a sink refused for good, or
 * records removed before a sink shipped them. */
struct exporters_notice {
	char sink[64];
	uint64_t first, last, count;
	char reason[256];
};

/* Readable (an eventfd) while notices wait; -1 before exporters_start. */
int exporters_notice_fd(const struct exporters *ex);
/* Hands every waiting notice to fn, oldest first. */
void exporters_notices(struct exporters *ex, void (*fn)(void *arg, const struct exporters_notice *n), void *arg);
/* The URL forms and options of every sink, for sandtraild --help. */
void exporters_help(FILE *f);

#endif
