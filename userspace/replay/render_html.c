#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "recfmt.h"
#include "render_html.h"
#include "render_text.h"
#include "strmap.h"
#include "summary.h"
#include "timeline.h"

/* A hostile session can fork millions of processes: the tree keeps this
 * many and counts the rest.  Deeper processes are drawn at the last depth. */
#define HTML_PROCS_MAX 100000
#define HTML_DEPTH_MAX 32
#define HTML_CMD_MAX 512

struct proc {
	uint32_t pid;
	int32_t parent, first_child, last_child, next; /* -1: none */
	unsigned depth;
	char *cmd;  /* what it last exec'd, rendered */
	char *exit; /* how it ended, rendered */
};

struct render_html {
	char *head, *rows;
	size_t head_len, rows_len;
	FILE *hf, *rf;          /* memstreams over head and rows */
	struct summary *sum;
	struct strmap *types;   /* record types shown, for the filter */
	struct strmap *pids;    /* pid -> index + 1 in procs of its current process */
	struct proc *procs;
	size_t nprocs, cap;
	uint64_t procs_more;    /* processes beyond HTML_PROCS_MAX */
	uint64_t shown, denied, lost;
};

/* The CSP forbids every fetch (no default-src), so the page cannot reach the
 * network even if a string escaped: styles and script are inline only. */
static const char page_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	"style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
	"<meta name=\"referrer\" content=\"no-referrer\">\n<title>sandtrail replay</title>\n<style>\n"
	"body{font:14px/1.4 sans-serif;margin:1.5em;color:#222}\n"
	"pre,td.ev,td.comm,.proc{font-family:monospace;white-space:pre-wrap;word-break:break-all}\n"
	"h1{font-size:1.3em}h2{font-size:1.1em;border-bottom:1px solid #ccc}\n"
	"table{border-collapse:collapse;width:100%}td,th{padding:2px 6px;text-align:left;vertical-align:top}\n"
	"tr:nth-child(even){background:#f6f6f6}\n"
	"tr.deny td,tr.refused td{background:#fde2e2;color:#900;font-weight:bold}\n"
	"tr.loss td{background:#ffe9b3;color:#900;font-weight:bold}\n"
	"tr.bad td{background:#900;color:#fff}tr.unsealed td.seal{color:#a60}\n"
	".ok{color:#060}.warn{color:#a60;font-weight:bold}.fail{color:#900;font-weight:bold}\n"
	"ul.tree{list-style:none;padding-left:0}ul.tree li{margin:0}\n"
	"#filters label{margin-right:.8em;white-space:nowrap}\n"
	"</style></head><body>\n";

static const char page_script[] =
	"<script>\n"
	"(function(){\n"
	"var f=document.getElementById('filters'),p=document.getElementById('pid');\n"
	"function apply(){var on={};\n"
	"f.querySelectorAll('input[type=checkbox]').forEach(function(c){on[c.value]=c.checked;});\n"
	"document.querySelectorAll('#events tbody tr').forEach(function(r){\n"
	"r.hidden=!(on[r.dataset.type]&&(p.value===''||r.dataset.pid===p.value));});}\n"
	"f.addEventListener('change',apply);\n"
	"document.querySelectorAll('button[data-pid]').forEach(function(b){\n"
	"b.addEventListener('click',function(){p.value=b.dataset.pid;apply();});});\n"
	"})();\n</script>\n";

void render_html_escape(FILE *f, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (p[i]) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(p[i], f);
		}
	}
}

/* What fn renders as text, escaped for HTML into f. */
static int escaped(FILE *f, int (*fn)(FILE *, const msgpack_object *, bool), const msgpack_object *rec)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc;

	if (!m)
		return -ENOMEM;
	rc = fn(m, rec, false);
	if (fclose(m) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc == 0)
		render_html_escape(f, buf, len);
	free(buf);
	return rc;
}

static int field_text(FILE *f, const msgpack_object *rec, bool colour)
{
	(void)colour;
	return render_text_field(f, rec, "comm");
}

static int type_text(FILE *f, const msgpack_object *rec, bool colour)
{
	(void)colour;
	return render_text_field(f, rec, "type");
}

/* A rendered string of at most HTML_CMD_MAX bytes (cut ones end in "..."). */
static char *rendered(const msgpack_object *rec)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc;

	if (!m)
		return NULL;
	rc = render_text_event(m, rec, false);
	if (fclose(m) != 0 || rc < 0) {
		free(buf);
		return NULL;
	}
	if (len > HTML_CMD_MAX)
		memcpy(buf + HTML_CMD_MAX - 3, "...", 4);
	return buf;
}

int render_html_new(struct render_html **out)
{
	struct render_html *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->hf = open_memstream(&h->head, &h->head_len);
	h->rf = open_memstream(&h->rows, &h->rows_len);
	if (!h->hf || !h->rf || summary_new(&h->sum) < 0 || strmap_new(&h->types) < 0 ||
	    strmap_new(&h->pids) < 0) {
		render_html_free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void render_html_free(struct render_html *h)
{
	if (!h)
		return;
	if (h->hf)
		fclose(h->hf);
	if (h->rf)
		fclose(h->rf);
	free(h->head);
	free(h->rows);
	summary_free(h->sum);
	strmap_free(h->types);
	strmap_free(h->pids);
	for (size_t i = 0; i < h->nprocs; i++) {
		free(h->procs[i].cmd);
		free(h->procs[i].exit);
	}
	free(h->procs);
	free(h);
}

static uint64_t *pid_slot(struct render_html *h, uint32_t pid, bool add)
{
	return add ? strmap_get(h->pids, &pid, sizeof(pid)) : strmap_find(h->pids, &pid, sizeof(pid));
}

/* A new process node below parent (-1: a root).  Its index, -1 when the
 * tree is full (counted) and -ENOMEM as -2. */
static int32_t proc_add(struct render_html *h, uint32_t pid, int32_t parent)
{
	struct proc *p;
	uint64_t *slot;

	if (h->nprocs >= HTML_PROCS_MAX) {
		h->procs_more++;
		return -1;
	}
	if (h->nprocs == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct proc *n = realloc(h->procs, cap * sizeof(*n));

		if (!n)
			return -2;
		h->procs = n;
		h->cap = cap;
	}
	slot = pid_slot(h, pid, true);
	if (!slot)
		return -2;
	p = &h->procs[h->nprocs];
	*p = (struct proc){ .pid = pid, .parent = parent, .first_child = -1, .last_child = -1, .next = -1 };
	if (parent >= 0) {
		struct proc *up = &h->procs[parent];

		p->depth = up->depth + 1;
		if (up->last_child >= 0)
			h->procs[up->last_child].next = (int32_t)h->nprocs;
		else
			up->first_child = (int32_t)h->nprocs;
		up->last_child = (int32_t)h->nprocs;
	}
	*slot = h->nprocs + 1;
	return (int32_t)h->nprocs++;
}

/* The node of pid's current process; a process first seen without a fork
 * hangs below ppid's when that is known. */
static int32_t proc_of(struct render_html *h, uint32_t pid, uint32_t ppid)
{
	uint64_t *slot = pid_slot(h, pid, false);

	if (slot && *slot)
		return (int32_t)(*slot - 1);
	slot = ppid ? pid_slot(h, ppid, false) : NULL;
	return proc_add(h, pid, slot && *slot ? (int32_t)(*slot - 1) : -1);
}

static int tree_record(struct render_html *h, const msgpack_object *rec)
{
	uint64_t pid, ppid = 0, child;
	int32_t i;
	char **dst;

	if (!rec_get_uint(rec, "pid", &pid))
		return 0;
	rec_get_uint(rec, "ppid", &ppid);
	i = proc_of(h, (uint32_t)pid, (uint32_t)ppid);
	if (i == -2)
		return -ENOMEM;
	if (rec_is(rec, "type", "fork") && rec_get_uint(rec, "child_pid", &child)) {
		uint64_t *slot = pid_slot(h, (uint32_t)child, false);

		if (slot)
			*slot = 0; /* a reused pid starts a new process */
		return proc_add(h, (uint32_t)child, i) == -2 ? -ENOMEM : 0;
	}
	if (i < 0)
		return 0;
	if (rec_is(rec, "type", "exec"))
		dst = &h->procs[i].cmd;
	else if (rec_is(rec, "type", "exit"))
		dst = &h->procs[i].exit;
	else
		return 0;
	free(*dst);
	*dst = rendered(rec);
	if (!*dst)
		return -ENOMEM;
	if (rec_is(rec, "type", "exit"))
		*pid_slot(h, (uint32_t)pid, false) = 0;
	return 0;
}

static const char *seal_class(enum journal_seal_state seal)
{
	return seal == JOURNAL_BAD ? "bad" : seal == JOURNAL_UNSEALED ? "unsealed" : "sealed";
}

/* deny: the policy said no; refused: the kernel or sandbox did (EPERM, EACCES). */
static const char *row_class(const msgpack_object *rec)
{
	int64_t ret;

	if (rec_is(rec, "type", "loss"))
		return "loss";
	if (rec_is(rec, "verdict", "deny"))
		return "deny";
	if (rec_get_int(rec, "ret", &ret) && (ret == -EPERM || ret == -EACCES))
		return "refused";
	return "";
}

static int row(struct render_html *h, uint64_t seq, enum journal_seal_state seal, const msgpack_object *rec,
	       uint64_t start)
{
	const char *p, *cls = row_class(rec);
	FILE *f = h->rf;
	char rel[40];
	uint64_t ts = 0, pid;
	size_t len;
	uint64_t *seen;
	int rc;

	if (rec_get_bytes(rec, "type", &p, &len)) {
		seen = strmap_get(h->types, p, len);
		if (!seen)
			return -ENOMEM;
		(*seen)++;
	}
	h->denied += !strcmp(cls, "deny") || !strcmp(cls, "refused");
	h->lost += !strcmp(cls, "loss");
	rec_get_uint(rec, "ts", &ts);
	recfmt_duration(ts > start ? ts - start : 0, rel, sizeof(rel));
	fprintf(f, "<tr class=\"%s %s\" data-type=\"", cls, seal_class(seal));
	rc = escaped(f, type_text, rec);
	fputs("\" data-pid=\"", f);
	if (rec_get_uint(rec, "pid", &pid))
		fprintf(f, "%" PRIu64, pid);
	fprintf(f, "\"><td>+%s</td><td>%" PRIu64 "</td><td>", rel, seq);
	if (rec_get_uint(rec, "pid", &pid))
		fprintf(f, "%" PRIu64, pid);
	fputs("</td><td class=\"comm\">", f);
	if (rc == 0 && rec_get(rec, "comm"))
		rc = escaped(f, field_text, rec);
	fputs("</td><td class=\"ev\">", f);
	if (rc == 0)
		rc = escaped(f, render_text_event, rec);
	fprintf(f, "</td><td class=\"seal\">%s</td></tr>\n",
		seal == JOURNAL_BAD ? "FAILS verification" : seal == JOURNAL_UNSEALED ? "not sealed" : "sealed");
	return rc;
}

int render_html_record(struct render_html *h, uint64_t seq, enum journal_seal_state seal,
		       const msgpack_object *rec, uint64_t start, bool show)
{
	int rc = 0;

	if (rec_is(rec, "type", "session_start")) {
		rc = timeline_header(h->hf, rec, false);
	} else if (show) {
		h->shown++;
		rc = row(h, seq, seal, rec, start);
		if (rc == 0)
			rc = summary_add(h->sum, rec);
	}
	return rc ? rc : tree_record(h, rec);
}

/* A memstream's bytes, escaped, in a <pre>. */
static int pre(FILE *out, const char *id, int (*fill)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc;

	if (!m)
		return -ENOMEM;
	rc = fill(m, arg);
	if (fclose(m) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc == 0) {
		fprintf(out, "<pre id=\"%s\">", id);
		render_html_escape(out, buf, len);
		fputs("</pre>\n", out);
	}
	free(buf);
	return rc;
}

static int fill_summary(FILE *f, const void *sum)
{
	return summary_print(sum, f, false);
}

static int fill_seals(FILE *f, const void *seals)
{
	sealmark_print(seals, f, false);
	return 0;
}

static void verification(FILE *f, const struct sealmark *s, bool checked)
{
	fputs("<section id=\"verification\"><h2>Verification</h2><p>", f);
	if (s->bad)
		fprintf(f, "<span class=\"fail\">%" PRIu64 " of %" PRIu64
			   " records FAIL seal verification: they may be forged.</span>", s->bad, s->total);
	else if (!checked)
		fprintf(f, "<span class=\"warn\">Seals not checked: no public key (--pubkey FILE); %" PRIu64
			   " records shown unverified.</span>", s->total);
	else if (s->unsealed)
		fprintf(f, "<span class=\"warn\">%" PRIu64 " of %" PRIu64 " records are not covered by a valid seal.</span>",
			s->unsealed, s->total);
	else
		fprintf(f, "<span class=\"ok\">All %" PRIu64 " records are sealed and verified.</span>", s->total);
	fputs("</p>\n", f);
}

/* The tree, depth first without recursion: a fork chain cannot exhaust the stack. */
static void tree(FILE *f, const struct render_html *h)
{
	fputs("<section id=\"tree\"><h2>Process tree</h2><ul class=\"tree\">\n", f);
	for (size_t root = 0; root < h->nprocs; root++) {
		int32_t i = (int32_t)root;

		if (h->procs[root].parent >= 0)
			continue;
		while (i >= 0) {
			const struct proc *p = &h->procs[i];
			unsigned d = p->depth < HTML_DEPTH_MAX ? p->depth : HTML_DEPTH_MAX;

			fprintf(f, "<li class=\"proc\" style=\"padding-left:%uem\"><button data-pid=\"%" PRIu32 "\">%" PRIu32
				   "</button> ", 2 * d, p->pid, p->pid);
			if (p->cmd)
				render_html_escape(f, p->cmd, strlen(p->cmd));
			if (p->exit) {
				fputs(" &rarr; ", f);
				render_html_escape(f, p->exit, strlen(p->exit));
			}
			fputs("</li>\n", f);
			if (p->first_child >= 0) {
				i = p->first_child;
				continue;
			}
			/* up to the nearest node with a next sibling, stopping at the root */
			while (i != (int32_t)root && h->procs[i].next < 0)
				i = h->procs[i].parent;
			i = i == (int32_t)root ? -1 : h->procs[i].next;
		}
	}
	fputs("</ul>", f);
	if (h->procs_more)
		fprintf(f, "<p class=\"warn\">%" PRIu64 " more processes not drawn.</p>", h->procs_more);
	fputs("</section>\n", f);
}

/* The filter: a checkbox per record type shown, and a process. */
static void filters(FILE *f, const struct render_html *h)
{
	fputs("<div id=\"filters\">", f);
	for (size_t i = 0; i < strmap_count(h->types); i++) {
		uint64_t *n;
		size_t len;
		const char *t = strmap_key(h->types, i, &len, &n);

		fputs("<label><input type=\"checkbox\" checked value=\"", f);
		render_html_escape(f, t, len);
		fputs("\"> ", f);
		render_html_escape(f, t, len);
		fprintf(f, " (%" PRIu64 ")</label>", *n);
	}
	fputs("<label>process <input id=\"pid\" size=\"8\" placeholder=\"any pid\"></label></div>\n", f);
}

int render_html_finish(struct render_html *h, FILE *f, const struct sealmark *seals, bool checked)
{
	int rc = 0;

	if (fflush(h->hf) != 0 || fflush(h->rf) != 0)
		return -ENOMEM;
	fputs(page_head, f);
	fputs("<header><h1>sandtrail replay</h1><pre id=\"session\">", f);
	render_html_escape(f, h->head, h->head_len);
	fputs("</pre></header>\n", f);
	verification(f, seals, checked);
	if (seals->unsealed || seals->bad)
		rc = pre(f, "seal-ranges", fill_seals, seals);
	fputs("</section>\n<section id=\"summary\"><h2>Summary</h2>", f);
	if (h->denied || h->lost)
		fprintf(f, "<p class=\"fail\">%" PRIu64 " denied or refused operations, %" PRIu64 " loss records.</p>",
			h->denied, h->lost);
	if (rc == 0)
		rc = pre(f, "summary-text", fill_summary, h->sum);
	fputs("</section>\n", f);
	tree(f, h);
	fprintf(f, "<section id=\"timeline\"><h2>Timeline (%" PRIu64 " records)</h2>\n", h->shown);
	filters(f, h);
	fputs("<table id=\"events\"><thead><tr><th>time</th><th>seq</th><th>pid</th><th>comm</th><th>event</th>"
	      "<th>seal</th></tr></thead><tbody>\n", f);
	fwrite(h->rows, 1, h->rows_len, f);
	fputs("</tbody></table></section>\n", f);
	fputs(page_script, f);
	fputs("</body></html>\n", f);
	return rc;
}
