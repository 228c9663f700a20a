#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "proctree.h"
#include "recfmt.h"
#include "journal/journal.h"
#include "render_text.h"
#include "summary.h"
#include "timeline.h"

/* Deeper processes line up at this depth: a fork chain must not push the
 * text off the screen. */
#define TIMELINE_INDENT_MAX 16

struct timeline {
	FILE *f;
	struct timeline_opts o;
	struct proctree *tree;
	struct summary *sum;
	enum journal_seal_state prev;
};

int timeline_new(struct timeline **out, FILE *f, const struct timeline_opts *o)
{
	struct timeline *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->f = f;
	t->o = *o;
	t->prev = JOURNAL_SEALED;
	if (proctree_new(&t->tree) < 0 || summary_new(&t->sum) < 0) {
		timeline_free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void timeline_free(struct timeline *t)
{
	if (!t)
		return;
	proctree_free(t->tree);
	summary_free(t->sum);
	free(t);
}

static void on(struct timeline *t, const char *code)
{
	if (t->o.colour)
		fputs(code, t->f);
}

static void off(struct timeline *t)
{
	if (t->o.colour)
		fputs(RENDER_TEXT_RESET, t->f);
}

/* session 3f2a...  mode hardened  started 2026-...Z, then labels, policy, argv. */
int timeline_header(FILE *f, const msgpack_object *rec, bool colour)
{
	const msgpack_object *labels = rec_get(rec, "labels"), *argv = rec_get(rec, "argv");
	char ts[RECFMT_TS_LEN];
	uint64_t v = 0;
	int rc;

	if (colour)
		fputs(RENDER_TEXT_BOLD, f);
	fputs("session ", f);
	rc = render_text_field(f, rec, "session");
	fputs("  mode ", f);
	if (rc == 0)
		rc = render_text_field(f, rec, "mode");
	rec_get_uint(rec, "ts", &v);
	recfmt_ts(v, ts);
	fprintf(f, "  started %s", ts);
	if (colour)
		fputs(RENDER_TEXT_RESET, f);
	fputc('\n', f);
	if (rc == 0 && labels && labels->type == MSGPACK_OBJECT_MAP && labels->via.map.size) {
		fputs("  labels: ", f);
		rc = render_text_labels(f, labels);
		fputc('\n', f);
	}
	if (rc == 0 && rec_get(rec, "cgroup")) {
		fputs("  cgroup: ", f);
		rc = render_text_field(f, rec, "cgroup");
		fputc('\n', f);
	}
	if (rc == 0 && rec_get(rec, "policy_digest")) {
		fputs("  policy: ", f);
		rc = render_text_field(f, rec, "policy_digest");
		fputc('\n', f);
	}
	if (argv && argv->type == MSGPACK_OBJECT_ARRAY) {
		fputs("  command:", f);
		for (uint32_t i = 0; rc == 0 && i < argv->via.array.size; i++) {
			fputc(' ', f);
			rc = render_text_value(f, &argv->via.array.ptr[i]);
		}
		fputc('\n', f);
	}
	return rc;
}

/* A run of records failing verification starts: say so before its first line. */
static void bad_banner(struct timeline *t, uint64_t seq)
{
	on(t, RENDER_TEXT_BOLD_RED);
	fprintf(t->f, "!! from seq %" PRIu64 " the journal FAILS seal verification (hash chain or signature): records marked !! may be forged\n",
		seq);
	off(t);
}

static int line(struct timeline *t, uint64_t seq, enum journal_seal_state seal,
		const msgpack_object *rec, uint64_t start, unsigned depth)
{
	uint64_t ts = 0, pid;
	bool has_pid = rec_get_uint(rec, "pid", &pid);
	int rc = 0;

	rec_get_uint(rec, "ts", &ts);
	if (seal == JOURNAL_BAD)
		on(t, RENDER_TEXT_BOLD_RED);
	else if (seal == JOURNAL_UNSEALED)
		on(t, RENDER_TEXT_YELLOW);
	fputs(seal == JOURNAL_BAD ? "!!" : seal == JOURNAL_UNSEALED ? "! " : "  ", t->f);
	if (seal != JOURNAL_BAD)
		off(t);
	if (t->o.all) {
		char when[RECFMT_TS_LEN];

		recfmt_ts(ts, when);
		fprintf(t->f, "%7" PRIu64 " %s ", seq, when);
		rc = rec_get(rec, "session") ? render_text_field(t->f, rec, "session") : (fputc('-', t->f), 0);
		fputc(' ', t->f);
	} else {
		char rel[40];

		rel[0] = '+';
		recfmt_duration(ts > start ? ts - start : 0, rel + 1, sizeof(rel) - 1);
		fprintf(t->f, "%11s  %*s", rel, (int)(2 * (depth < TIMELINE_INDENT_MAX ? depth : TIMELINE_INDENT_MAX)), "");
	}
	if (has_pid && rc == 0) {
		fprintf(t->f, "%" PRIu64 " ", pid);
		rc = render_text_field(t->f, rec, "comm");
		fputs("  ", t->f);
	}
	if (rc == 0)
		rc = render_text_event(t->f, rec, t->o.colour);
	if (seal == JOURNAL_BAD)
		off(t);
	fputc('\n', t->f);
	return rc;
}

int timeline_record(struct timeline *t, uint64_t seq, enum journal_seal_state seal,
		    const msgpack_object *rec, uint64_t start, bool show)
{
	uint64_t pid = 0, ppid = 0, child;
	unsigned depth = 0;
	int rc = 0;

	if (seal == JOURNAL_BAD && t->prev != JOURNAL_BAD)
		bad_banner(t, seq);
	t->prev = seal;
	if (rec_get_uint(rec, "pid", &pid)) {
		rec_get_uint(rec, "ppid", &ppid);
		depth = proctree_depth(t->tree, (uint32_t)pid, (uint32_t)ppid);
	}
	/* the header gives the filtered lines their context: always shown */
	if (!t->o.all && rec_is(rec, "type", "session_start")) {
		rc = timeline_header(t->f, rec, t->o.colour);
	} else if (show) {
		rc = line(t, seq, seal, rec, start, depth);
		if (rc == 0)
			rc = summary_add(t->sum, rec);
	}
	if (rec_is(rec, "type", "fork") && rec_get_uint(rec, "child_pid", &child))
		proctree_fork(t->tree, (uint32_t)pid, (uint32_t)child);
	else if (rec_is(rec, "type", "exit"))
		proctree_exit(t->tree, (uint32_t)pid);
	return rc;
}

int timeline_finish(struct timeline *t)
{
	return summary_print(t->sum, t->f, t->o.colour);
}
