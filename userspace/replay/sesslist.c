#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "recfmt.h"
#include "journal/journal.h"
#include "render_json.h"
#include "render_text.h"
#include "sesslist.h"
#include "strmap.h"

/* One session of the list. */
struct sess {
	char *id;                 /* raw bytes of the session field */
	size_t id_len;
	char *mode, *reason;      /* raw bytes, NULL when unknown */
	size_t mode_len, reason_len;
	char *labels_text;        /* rendered at session_start: escaped already */
	char *labels_json;
	uint64_t first_seq, last_seq;
	uint64_t start, end, last_ts;
	bool started, ended, has_exit, has_signal;
	int64_t exit_status, signal;
	uint64_t events, execs, files, nets, lost, unsealed, bad;
	struct strmap *counts;    /* type -> records */
	struct strmap *losses;    /* kind -> events lost */
};

struct sesslist {
	struct strmap *index;     /* id -> position in s + 1 */
	struct sess *s;
	size_t n, cap;
};

int sesslist_new(struct sesslist **out)
{
	struct sesslist *s = calloc(1, sizeof(*s));

	if (!s || strmap_new(&s->index) < 0) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void sesslist_free(struct sesslist *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct sess *x = &s->s[i];

		free(x->id);
		free(x->mode);
		free(x->reason);
		free(x->labels_text);
		free(x->labels_json);
		strmap_free(x->counts);
		strmap_free(x->losses);
	}
	free(s->s);
	strmap_free(s->index);
	free(s);
}

size_t sesslist_count(const struct sesslist *s)
{
	return s->n;
}

/* A copy of a str/bin field; 0 when absent, -ENOMEM. */
static int copy_field(const msgpack_object *rec, const char *key, char **out, size_t *len)
{
	const char *p;
	size_t n;

	if (!rec_get_bytes(rec, key, &p, &n))
		return 0;
	free(*out);
	*out = malloc(n ? n : 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, p, n);
	*len = n;
	return 0;
}

/* labels as "k=v k2=v2" (escaped words) and as a JSON object. */
static int render_labels(struct sess *x, const msgpack_object *rec)
{
	const msgpack_object *l = rec_get(rec, "labels");
	size_t tlen, jlen;
	FILE *t, *j;
	int rc = 0;

	if (!l || l->type != MSGPACK_OBJECT_MAP)
		return 0;
	free(x->labels_text);
	free(x->labels_json);
	x->labels_text = x->labels_json = NULL;
	t = open_memstream(&x->labels_text, &tlen);
	j = open_memstream(&x->labels_json, &jlen);
	if (!t || !j)
		rc = -ENOMEM;
	if (rc == 0)
		rc = render_text_labels(t, l);
	if (rc == 0)
		rc = render_json_value(j, l);
	if (t && fclose(t) != 0)
		rc = -ENOMEM;
	if (j && fclose(j) != 0)
		rc = -ENOMEM;
	return rc;
}

static struct sess *lookup(struct sesslist *s, const char *id, size_t len, uint64_t seq)
{
	uint64_t *pos = strmap_get(s->index, id, len);
	struct sess *x;

	if (!pos)
		return NULL;
	if (*pos)
		return &s->s[*pos - 1];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct sess *ns = realloc(s->s, cap * sizeof(*ns));

		if (!ns)
			return NULL;
		s->s = ns;
		s->cap = cap;
	}
	x = &s->s[s->n];
	*x = (struct sess){ .first_seq = seq, .id_len = len };
	x->id = malloc(len ? len : 1);
	if (!x->id || strmap_new(&x->counts) < 0 || strmap_new(&x->losses) < 0) {
		free(x->id);
		strmap_free(x->counts);
		return NULL;
	}
	memcpy(x->id, id, len);
	*pos = ++s->n;
	return x;
}

static int add_end(struct sess *x, const msgpack_object *rec, uint64_t ts)
{
	x->ended = true;
	x->end = ts;
	x->has_exit = rec_get_int(rec, "exit_status", &x->exit_status);
	x->has_signal = rec_get_int(rec, "signal", &x->signal);
	return copy_field(rec, "reason", &x->reason, &x->reason_len);
}

int sesslist_add(struct sesslist *s, uint64_t seq, enum journal_seal_state seal,
		 const msgpack_object *rec)
{
	const char *id, *type = "?";
	size_t len, tlen = 1;
	uint64_t ts = 0, n, *c;
	struct sess *x;
	int rc = 0;

	if (!rec_get_bytes(rec, "session", &id, &len))
		return 0;
	x = lookup(s, id, len, seq);
	if (!x)
		return -ENOMEM;
	rec_get_uint(rec, "ts", &ts);
	rec_get_bytes(rec, "type", &type, &tlen);
	if (!x->started && x->events == 0)
		x->start = ts; /* until a session_start says otherwise */
	x->last_seq = seq;
	if (ts > x->last_ts)
		x->last_ts = ts;
	x->events++;
	x->unsealed += seal == JOURNAL_UNSEALED;
	x->bad += seal == JOURNAL_BAD;
	c = strmap_get(x->counts, type, tlen);
	if (!c)
		return -ENOMEM;
	++*c;
	if (rec_is(rec, "type", "session_start")) {
		x->started = true;
		x->start = ts;
		rc = copy_field(rec, "mode", &x->mode, &x->mode_len);
		if (rc == 0)
			rc = render_labels(x, rec);
	} else if (rec_is(rec, "type", "session_end")) {
		rc = add_end(x, rec, ts);
	} else if (rec_is(rec, "type", "exec")) {
		x->execs++;
	} else if (rec_is(rec, "type", "open") || rec_is(rec, "type", "unlink") ||
		   rec_is(rec, "type", "rename")) {
		x->files++;
	} else if (rec_is(rec, "type", "connect")) {
		x->nets++;
	} else if (rec_is(rec, "type", "loss") && rec_get_uint(rec, "count", &n)) {
		const char *kind = "?";
		size_t klen = 1;

		rec_get_bytes(rec, "kind", &kind, &klen);
		c = strmap_get(x->losses, kind, klen);
		if (!c)
			return -ENOMEM;
		*c += n;
		x->lost += n;
	}
	return rc;
}

static bool active(const struct sess *x, uint64_t since, uint64_t until)
{
	return x->start <= until && (x->ended ? x->end : x->last_ts) >= since;
}

static uint64_t duration(const struct sess *x)
{
	uint64_t end = x->ended ? x->end : x->last_ts;

	return end > x->start ? end - x->start : 0;
}

/* A word rendered into a string, for the table's columns; NULL on ENOMEM. */
static char *word(const char *p, size_t len)
{
	char *out = NULL;
	size_t n;
	FILE *m = open_memstream(&out, &n);
	int rc;

	if (!m)
		return NULL;
	rc = p ? render_text_word(m, p, len) : (fputc('-', m), 0);
	if (fclose(m) != 0 || rc < 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* How it ended: "exit 0", "signal 9", the reason, "-" without session_end. */
static char *ending(const struct sess *x)
{
	char *out;

	if (x->has_exit && asprintf(&out, "exit %" PRId64, x->exit_status) >= 0)
		return out;
	if (x->has_signal && asprintf(&out, "signal %" PRId64, x->signal) >= 0)
		return out;
	return word(x->ended ? x->reason : NULL, x->reason_len);
}

static int print_row(const struct sess *x, FILE *f)
{
	char start[RECFMT_TS_LEN], dur[32], seal[32];
	char *id = word(x->id, x->id_len), *mode = word(x->mode, x->mode_len), *end = ending(x);
	int rc = id && mode && end ? 0 : -ENOMEM;

	recfmt_ts(x->start, start);
	start[19] = 'Z'; /* seconds are enough in a table */
	start[20] = 0;
	recfmt_duration(duration(x), dur, sizeof(dur) - 1);
	if (!x->ended)
		strcat(dur, "+"); /* no session_end: lasted at least this long */
	if (x->bad)
		snprintf(seal, sizeof(seal), "BAD %" PRIu64, x->bad);
	else if (x->unsealed)
		snprintf(seal, sizeof(seal), "no %" PRIu64, x->unsealed);
	else
		snprintf(seal, sizeof(seal), "yes");
	if (rc == 0)
		fprintf(f, "%-16s  %-8s  %-20s  %10s  %-10s  %7" PRIu64 "  %6" PRIu64 "  %6" PRIu64
			   "  %6" PRIu64 "  %6" PRIu64 "  %-7s  %s\n",
			id, mode, start, dur, end, x->events, x->execs, x->files, x->nets, x->lost, seal,
			x->labels_text ? x->labels_text : "");
	free(id);
	free(mode);
	free(end);
	return rc;
}

int sesslist_print_text(const struct sesslist *s, FILE *f, uint64_t since, uint64_t until)
{
	int rc = 0;

	fprintf(f, "%-16s  %-8s  %-20s  %10s  %-10s  %7s  %6s  %6s  %6s  %6s  %-7s  %s\n", "SESSION",
		"MODE", "START", "DURATION", "END", "EVENTS", "EXEC", "FILES", "NET", "LOST", "SEALED",
		"LABELS");
	for (size_t i = 0; i < s->n && rc == 0; i++)
		if (active(&s->s[i], since, until))
			rc = print_row(&s->s[i], f);
	return rc;
}

/* {"open": 3, ...} */
static int print_counts(FILE *f, const struct strmap *m)
{
	int rc = 0;

	fputc('{', f);
	for (size_t i = 0; i < strmap_count(m) && rc == 0; i++) {
		uint64_t *v;
		size_t len;
		const void *k = strmap_key(m, i, &len, &v);

		if (i)
			fputc(',', f);
		rc = render_json_bytes(f, k, len);
		fprintf(f, ":%" PRIu64, *v);
	}
	fputc('}', f);
	return rc;
}

static int print_object(const struct sess *x, FILE *f)
{
	char ts[RECFMT_TS_LEN];
	int rc;

	fputs("{\"session\":", f);
	rc = render_json_bytes(f, x->id, x->id_len);
	fputs(",\"mode\":", f);
	if (rc == 0)
		rc = x->mode ? render_json_bytes(f, x->mode, x->mode_len) : (fputs("null", f), 0);
	fprintf(f, ",\"labels\":%s", x->labels_json ? x->labels_json : "{}");
	recfmt_ts(x->start, ts);
	fprintf(f, ",\"start\":\"%s\"", ts);
	recfmt_ts(x->end, ts);
	fprintf(f, ",\"end\":%s%s%s", x->ended ? "\"" : "", x->ended ? ts : "null", x->ended ? "\"" : "");
	fprintf(f, ",\"duration_ns\":%" PRIu64 ",\"ended\":%s", duration(x), x->ended ? "true" : "false");
	fputs(",\"reason\":", f);
	if (rc == 0)
		rc = x->reason ? render_json_bytes(f, x->reason, x->reason_len) : (fputs("null", f), 0);
	if (x->has_exit)
		fprintf(f, ",\"exit_status\":%" PRId64, x->exit_status);
	else
		fputs(",\"exit_status\":null", f);
	if (x->has_signal)
		fprintf(f, ",\"signal\":%" PRId64, x->signal);
	else
		fputs(",\"signal\":null", f);
	fprintf(f, ",\"events\":%" PRIu64 ",\"counts\":", x->events);
	if (rc == 0)
		rc = print_counts(f, x->counts);
	fprintf(f, ",\"losses\":%" PRIu64 ",\"lost\":", x->lost);
	if (rc == 0)
		rc = print_counts(f, x->losses);
	fprintf(f, ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"unsealed\":%" PRIu64
		   ",\"tampered\":%" PRIu64 ",\"sealed\":%s}\n",
		x->first_seq, x->last_seq, x->unsealed, x->bad, x->unsealed || x->bad ? "false" : "true");
	return rc;
}

int sesslist_print_json(const struct sesslist *s, FILE *f, uint64_t since, uint64_t until)
{
	int rc = 0;

	for (size_t i = 0; i < s->n && rc == 0; i++)
		if (active(&s->s[i], since, until))
			rc = print_object(&s->s[i], f);
	return rc;
}
