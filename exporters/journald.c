/* journald://: every seal, as an anchor, to the systemd journal
 * (sd_journal_send, structured fields), so that a host without Kafka still
 * has its seals kept apart from the journal directory: journald forwards to
 * syslog or journal-upload where configured, and `sandtrail verify --anchor
 * journald` (or --anchor FILE, from journalctl) reads them back.  Records
 * other than seals are answered OK at once: the anchor is all it ships. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "sink.h"

/* where sd_journal_send writes (libsystemd has no other) */
#define JOURNALD_SOCKET "/run/systemd/journal/socket"

struct journald_config {
	const char *identifier;
};

static const struct exp_option journald_options[] = {
	{ .key = "identifier", .type = EXP_OPT_STR, .off = offsetof(struct journald_config, identifier),
	  .def = "sandtrail", .help = "SYSLOG_IDENTIFIER of the anchors" },
	{ 0 },
};

struct journald_sink {
	struct exp_sink *sink;
	const struct journald_config *cfg;
	char line[JOURNAL_ANCHOR_LINE_MAX];
};

static int journald_configure(void *config, const struct exp_url *url, char *err, size_t errlen)
{
	const struct journald_config *c = config;

	if (*url->authority || *url->path) {
		snprintf(err, errlen, "a journald URL names no host and no path: journald://[?identifier=NAME]");
		return -EINVAL;
	}
	if (!*c->identifier || strpbrk(c->identifier, " \t\n=")) {
		snprintf(err, errlen, "identifier: one word, no '='");
		return -EINVAL;
	}
	return 0;
}

static int journald_init(struct exp_sink *sink, const void *config, const struct exp_url *url, void **state)
{
	struct journald_sink *j;

	if (access(JOURNALD_SOCKET, W_OK) < 0) {
		int rc = -errno;

		exp_error(sink, "%s: %s (is systemd-journald running?)", JOURNALD_SOCKET, strerror(errno));
		return rc;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->sink = sink;
	j->cfg = config;
	exp_connected(sink, true);
	*state = j;
	return 0;
}

static int journald_send(void *state, struct exp_record **recs, size_t n)
{
	struct journald_sink *j = state;
	const char *journal = exp_journal_id(j->sink);

	for (size_t i = 0; i < n; i++) {
		struct exp_record *r = recs[i];
		int rc;

		r->result = EXP_OK;
		if (r->kind != JOURNAL_KIND_SEAL)
			continue;
		rc = journal_anchor_format(j->line, sizeof(j->line), journal, r->seq, r->rec, r->len);
		if (rc < 0) {
			r->result = EXP_FAIL;
			r->why = "the seal record is too large for an anchor";
			continue;
		}
		/* MESSAGE is the anchor line whole (for syslog and journalctl
		 * -o cat); the fields are for journalctl and sd_journal matches */
		rc = sd_journal_send("MESSAGE=%s", j->line, "PRIORITY=6", "SYSLOG_IDENTIFIER=%s", j->cfg->identifier,
				     "SANDTRAIL_JOURNAL=%s", journal, "SANDTRAIL_SEQ=%llu", (unsigned long long)r->seq,
				     NULL);
		if (rc < 0) {
			/* what went before is delivered; this and the rest come again after the backoff */
			exp_error(j->sink, "sd_journal_send(%s): %s", JOURNALD_SOCKET, strerror(-rc));
			exp_connected(j->sink, false);
			for (size_t k = i; k < n; k++)
				recs[k]->result = EXP_RETRY;
			return (int)n;
		}
	}
	exp_connected(j->sink, true);
	return (int)n;
}

static void journald_close(void *state, int timeout_ms)
{
	free(state);
}

const struct exporter_ops exp_journald_ops = {
	.scheme = "journald",
	.synopsis = "journald://[?identifier=NAME]  every seal as an anchor to the systemd journal",
	.options = journald_options,
	.config_size = sizeof(struct journald_config),
	.configure = journald_configure,
	.init = journald_init,
	.send = journald_send,
	.close = journald_close,
};
