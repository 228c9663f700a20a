#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "recfmt.h"
#include "render_json.h"
#include "units.h"

/* Keys the renderer writes itself; a payload key of the same name is dropped
 * so that no record can claim its own seal state (or, shipped, its journal). */
static const char *const owned_keys[] = { "seq", "error", "sealed", "tampered", "journal" };

/* The output is one stream owned by one thread: stdio's per-call locking
 * and format parsing were half of the time of a million-record replay. */
#define fputc fputc_unlocked
#define fwrite fwrite_unlocked
#define fputs fputs_unlocked

static void put_u64(FILE *f, uint64_t v)
{
	char buf[20], *s = units_decimal(buf + sizeof(buf), v);

	fwrite(s, 1, (size_t)(buf + sizeof(buf) - s), f);
}

static void put_i64(FILE *f, int64_t v)
{
	if (v < 0) {
		fputc('-', f);
		put_u64(f, 0 - (uint64_t)v);
		return;
	}
	put_u64(f, (uint64_t)v);
}

/* Bytes that need neither escaping nor JSON encoding: most paths and names. */
static int plain(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
			return 0;
	return 1;
}

int render_json_bytes(FILE *f, const void *p, size_t len)
{
	char *esc;

	fputc('"', f);
	if (plain(p, len)) {
		fwrite(p, 1, len, f);
		fputc('"', f);
		return 0;
	}
	esc = escape_bytes(p, len);
	if (!esc)
		return -ENOMEM;
	/* the escaped form holds no control bytes and valid UTF-8 only */
	for (const char *s = esc; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	free(esc);
	fputc('"', f);
	return 0;
}

static void put_double(FILE *f, double d)
{
	if (isfinite(d))
		fprintf(f, "%.17g", d);
	else
		fputs("null", f);
}

/* A map's key as it is written: str and bin as they are, other types as
 * text; a name already taken in the same object gets "#2", "#3", ...  so
 * that every consumer reads the same object (the builder never writes a
 * duplicate; a damaged or forged record can). */
struct jkey {
	const char *p; /* NULL: not written (a renderer-owned key) */
	size_t len;
	char *own;     /* a renamed duplicate */
	char text[24];
};

static void key_text(const msgpack_object *k, struct jkey *out)
{
	out->p = out->text;
	switch (k->type) {
	case MSGPACK_OBJECT_STR: out->p = k->via.str.ptr, out->len = k->via.str.size; return;
	case MSGPACK_OBJECT_BIN: out->p = k->via.bin.ptr, out->len = k->via.bin.size; return;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: snprintf(out->text, sizeof(out->text), "%" PRIu64, k->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: snprintf(out->text, sizeof(out->text), "%" PRId64, k->via.i64); break;
	case MSGPACK_OBJECT_BOOLEAN: snprintf(out->text, sizeof(out->text), "%s", k->via.boolean ? "true" : "false"); break;
	case MSGPACK_OBJECT_NIL: snprintf(out->text, sizeof(out->text), "null"); break;
	case MSGPACK_OBJECT_ARRAY: snprintf(out->text, sizeof(out->text), "<array>"); break;
	case MSGPACK_OBJECT_MAP: snprintf(out->text, sizeof(out->text), "<map>"); break;
	default: snprintf(out->text, sizeof(out->text), "<value>"); break;
	}
	out->len = strlen(out->text);
}

static bool same(const struct jkey *a, const char *p, size_t len)
{
	return a->p && a->len == len && (len == 0 || memcmp(a->p, p, len) == 0);
}

/* Is name taken by a key before i (final names) or after i (as given)? */
static bool taken(const struct jkey *keys, uint32_t n, uint32_t i, const char *p, size_t len)
{
	for (uint32_t j = 0; j < n; j++)
		if (j != i && same(&keys[j], p, len))
			return true;
	return false;
}

static int unique_keys(struct jkey *keys, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		bool dup = false;

		for (uint32_t j = 0; j < i && keys[i].p && !dup; j++)
			dup = same(&keys[j], keys[i].p, keys[i].len);
		for (unsigned k = 2; dup; k++) {
			char *name;
			int len = asprintf(&name, "%.*s#%u", (int)keys[i].len, keys[i].p, k);

			if (len < 0)
				return -ENOMEM;
			dup = taken(keys, n, i, name, (size_t)len);
			if (dup) {
				free(name);
				continue;
			}
			keys[i].own = name;
			keys[i].p = name;
			keys[i].len = (size_t)len;
		}
	}
	return 0;
}

static bool key_is(const struct jkey *k, const char *name)
{
	return same(k, name, strlen(name));
}

static bool owned(const struct jkey *k, bool with_journal)
{
	for (size_t i = 0; i < sizeof(owned_keys) / sizeof(owned_keys[0]) - !with_journal; i++)
		if (key_is(k, owned_keys[i]))
			return true;
	return false;
}

/* A map as a JSON object.  top: the record itself, written after "seq":
 * renderer-owned keys dropped, ts as RFC 3339, error after a negative ret.
 * with_journal: the renderer wrote "journal" too. */
static int put_map(FILE *f, const msgpack_object *m, bool top, bool with_journal)
{
	uint32_t n = m->via.map.size;
	struct jkey stack[32] = { 0 }, *keys = n <= 32 ? stack : calloc(n, sizeof(*keys));
	bool first = !top;
	int rc;

	if (!keys)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		key_text(&m->via.map.ptr[i].key, &keys[i]);
		if (top && owned(&keys[i], with_journal))
			keys[i].p = NULL;
	}
	rc = unique_keys(keys, n);
	if (!top)
		fputc('{', f);
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const msgpack_object *v = &m->via.map.ptr[i].val;
		char ts[RECFMT_TS_LEN], eb[24];

		if (!keys[i].p)
			continue;
		if (!first)
			fputc(',', f);
		first = false;
		rc = render_json_bytes(f, keys[i].p, keys[i].len);
		fputc(':', f);
		if (rc)
			break;
		if (top && key_is(&keys[i], "ts") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			recfmt_ts(v->via.u64, ts);
			fputc('"', f);
			fputs(ts, f);
			fputc('"', f);
			continue;
		}
		rc = render_json_value(f, v);
		if (top && key_is(&keys[i], "ret") && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			fprintf(f, ",\"error\":\"%s\"", recfmt_errno(v->via.i64, eb, sizeof(eb)));
	}
	if (!top)
		fputc('}', f);
	for (uint32_t i = 0; i < n; i++)
		free(keys[i].own);
	if (keys != stack)
		free(keys);
	return rc;
}

/* msgpack-c refuses nesting deeper than 32, so the recursion is bounded. */
int render_json_value(FILE *f, const msgpack_object *o)
{
	int rc = 0;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL: fputs("null", f); break;
	case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: put_u64(f, o->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: put_i64(f, o->via.i64); break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: put_double(f, o->via.f64); break;
	case MSGPACK_OBJECT_STR: return render_json_bytes(f, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN: return render_json_bytes(f, o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_EXT: return render_json_bytes(f, o->via.ext.ptr, o->via.ext.size);
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', f);
		for (uint32_t i = 0; i < o->via.array.size && rc == 0; i++) {
			if (i)
				fputc(',', f);
			rc = render_json_value(f, &o->via.array.ptr[i]);
		}
		fputc(']', f);
		break;
	case MSGPACK_OBJECT_MAP: return put_map(f, o, false, false);
	default: fputs("null", f); break;
	}
	return rc;
}

int render_json_record(FILE *f, uint64_t seq, enum journal_seal_state seal,
		       const msgpack_object *rec)
{
	return render_json_shipped(f, NULL, seq, seal, rec);
}

int render_json_shipped(FILE *f, const char *journal, uint64_t seq, enum journal_seal_state seal,
			const msgpack_object *rec)
{
	int rc = 0;

	if (journal)
		fprintf(f, "{\"journal\":\"%s\",\"seq\":", journal);
	else
		fputs("{\"seq\":", f);
	put_u64(f, seq);
	if (rec->type == MSGPACK_OBJECT_MAP)
		rc = put_map(f, rec, true, journal != NULL);
	fprintf(f, ",\"sealed\":%s%s}\n", seal == JOURNAL_SEALED ? "true" : "false",
		seal == JOURNAL_BAD ? ",\"tampered\":true" : "");
	return rc;
}
