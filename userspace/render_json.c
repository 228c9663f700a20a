#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "recfmt.h"
#include "render_json.h"

/* Keys the renderer writes itself; a payload key of the same name is dropped
 * so that no record can claim its own seal state. */
static const char *const owned_keys[] = { "seq", "error", "sealed", "tampered" };

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

/* A map key that is not a string still has to become one. */
static int put_key(FILE *f, const msgpack_object *k)
{
	char num[32];

	switch (k->type) {
	case MSGPACK_OBJECT_STR: return render_json_bytes(f, k->via.str.ptr, k->via.str.size);
	case MSGPACK_OBJECT_BIN: return render_json_bytes(f, k->via.bin.ptr, k->via.bin.size);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(num, sizeof(num), "\"%" PRIu64 "\"", k->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(num, sizeof(num), "\"%" PRId64 "\"", k->via.i64);
		break;
	case MSGPACK_OBJECT_BOOLEAN: snprintf(num, sizeof(num), "\"%s\"", k->via.boolean ? "true" : "false"); break;
	case MSGPACK_OBJECT_NIL: snprintf(num, sizeof(num), "\"null\""); break;
	default: snprintf(num, sizeof(num), "\"<%s>\"", k->type == MSGPACK_OBJECT_MAP ? "map" : k->type == MSGPACK_OBJECT_ARRAY ? "array" : "value"); break;
	}
	fputs(num, f);
	return 0;
}

/* msgpack-c refuses nesting deeper than 32, so the recursion is bounded. */
int render_json_value(FILE *f, const msgpack_object *o)
{
	int rc = 0;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL: fputs("null", f); break;
	case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%" PRIu64, o->via.u64); break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%" PRId64, o->via.i64); break;
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
	case MSGPACK_OBJECT_MAP:
		fputc('{', f);
		for (uint32_t i = 0; i < o->via.map.size && rc == 0; i++) {
			if (i)
				fputc(',', f);
			rc = put_key(f, &o->via.map.ptr[i].key);
			fputc(':', f);
			if (rc == 0)
				rc = render_json_value(f, &o->via.map.ptr[i].val);
		}
		fputc('}', f);
		break;
	default: fputs("null", f); break;
	}
	return rc;
}

static int key_is(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, name, n) == 0;
}

static int owned(const msgpack_object *k)
{
	for (size_t i = 0; i < sizeof(owned_keys) / sizeof(owned_keys[0]); i++)
		if (key_is(k, owned_keys[i]))
			return 1;
	return 0;
}

int render_json_record(FILE *f, uint64_t seq, enum journal_seal_state seal,
		       const msgpack_object *rec)
{
	int rc = 0;

	fprintf(f, "{\"seq\":%" PRIu64, seq);
	for (uint32_t i = 0; rec->type == MSGPACK_OBJECT_MAP && i < rec->via.map.size && rc == 0; i++) {
		const msgpack_object *k = &rec->via.map.ptr[i].key, *v = &rec->via.map.ptr[i].val;
		char ts[RECFMT_TS_LEN], eb[24];

		if (owned(k))
			continue;
		fputc(',', f);
		rc = put_key(f, k);
		fputc(':', f);
		if (rc)
			break;
		if (key_is(k, "ts") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			recfmt_ts(v->via.u64, ts);
			fprintf(f, "\"%s\"", ts);
			continue;
		}
		rc = render_json_value(f, v);
		if (key_is(k, "ret") && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			fprintf(f, ",\"error\":\"%s\"", recfmt_errno(v->via.i64, eb, sizeof(eb)));
	}
	fprintf(f, ",\"sealed\":%s%s}\n", seal == JOURNAL_SEALED ? "true" : "false",
		seal == JOURNAL_BAD ? ",\"tampered\":true" : "");
	return rc;
}
