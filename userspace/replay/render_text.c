#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "recfmt.h"
#include "journal/journal.h"
#include "render_json.h"
#include "render_text.h"

/* Fields every record or every process event has: the generic rendering of
 * unknown types leaves them out. */
static const char *const common_keys[] = { "v", "ts", "type", "session", "labels", "pid", "tid",
					   "ppid", "uid", "gid", "comm", "cgroup", "syscall" };

static int plain_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_@%+=:,./-[]", c) != NULL;
}

int render_text_word(FILE *f, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;
	char *esc;

	for (i = 0; i < len && b[i] && plain_byte(b[i]); i++)
		;
	if (len > 0 && i == len) {
		fwrite(p, 1, len, f);
		return 0;
	}
	esc = escape_bytes(p, len);
	if (!esc)
		return -ENOMEM;
	/* escapes never produce \" so a quote inside stays unambiguous */
	fputc('"', f);
	for (const char *s = esc; *s; s++) {
		if (*s == '"')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
	free(esc);
	return 0;
}

int render_text_field(FILE *f, const msgpack_object *rec, const char *key)
{
	const char *p;
	size_t len;

	if (!rec_get_bytes(rec, key, &p, &len)) {
		fputc('?', f);
		return 0;
	}
	return render_text_word(f, p, len);
}

int render_text_value(FILE *f, const msgpack_object *v)
{
	if (v->type == MSGPACK_OBJECT_STR)
		return render_text_word(f, v->via.str.ptr, v->via.str.size);
	if (v->type == MSGPACK_OBJECT_BIN)
		return render_text_word(f, v->via.bin.ptr, v->via.bin.size);
	fputc('?', f);
	return 0;
}

int render_text_labels(FILE *f, const msgpack_object *labels)
{
	int rc = 0;

	for (uint32_t i = 0; labels->type == MSGPACK_OBJECT_MAP && i < labels->via.map.size && rc == 0; i++) {
		if (i)
			fputc(' ', f);
		rc = render_text_value(f, &labels->via.map.ptr[i].key);
		fputc('=', f);
		if (rc == 0)
			rc = render_text_value(f, &labels->via.map.ptr[i].val);
	}
	return rc;
}

static void colour_on(FILE *f, bool colour, const char *code)
{
	if (colour)
		fputs(code, f);
}

static void colour_off(FILE *f, bool colour)
{
	if (colour)
		fputs(RENDER_TEXT_RESET, f);
}

static bool flag(const msgpack_object *rec, const char *key)
{
	const msgpack_object *o = rec_get(rec, key);

	return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

/* " (failed: ENOENT)" after an operation whose ret is negative. */
static void failure(FILE *f, const msgpack_object *rec, bool colour)
{
	int64_t ret;
	char eb[24];

	if (!rec_get_int(rec, "ret", &ret) || ret >= 0)
		return;
	fputc(' ', f);
	colour_on(f, colour, RENDER_TEXT_RED);
	fprintf(f, "(failed: %s)", recfmt_errno(ret, eb, sizeof(eb)));
	colour_off(f, colour);
}

static void truncated(FILE *f, const msgpack_object *rec, const char *key, const char *what)
{
	if (flag(rec, key))
		fprintf(f, " [%s truncated]", what);
}

static int exec_event(FILE *f, const msgpack_object *rec, bool colour)
{
	const msgpack_object *argv = rec_get(rec, "argv");
	const char *fn, *exe;
	size_t fnlen, exelen;
	int rc;

	colour_on(f, colour, RENDER_TEXT_BOLD);
	fputs("exec ", f);
	rc = render_text_field(f, rec, "filename");
	for (uint32_t i = 0; rc == 0 && argv && argv->type == MSGPACK_OBJECT_ARRAY && i < argv->via.array.size; i++) {
		fputc(' ', f);
		rc = render_text_value(f, &argv->via.array.ptr[i]);
	}
	colour_off(f, colour);
	truncated(f, rec, "filename_truncated", "filename");
	truncated(f, rec, "argv_truncated", "argv");
	/* the file the kernel ran, when it is not the one named (symlinks, PATH) */
	if (rc == 0 && rec_get_bytes(rec, "exe", &exe, &exelen) &&
	    !(rec_get_bytes(rec, "filename", &fn, &fnlen) && fnlen == exelen && memcmp(fn, exe, exelen) == 0)) {
		fputs(" (exe ", f);
		rc = render_text_word(f, exe, exelen);
		fputc(')', f);
	}
	failure(f, rec, colour);
	return rc;
}

static int open_event(FILE *f, const msgpack_object *rec, bool colour)
{
	static const char *const verb[] = { [RECFMT_READ] = "read", [RECFMT_WRITE] = "write",
					    [RECFMT_CREATE] = "create" };
	enum recfmt_access acc = recfmt_open_access(rec_get(rec, "flags"));
	int rc;

	fprintf(f, "%s ", verb[acc]);
	rc = render_text_field(f, rec, "path");
	truncated(f, rec, "path_truncated", "path");
	failure(f, rec, colour);
	return rc;
}

static int connect_event(FILE *f, const msgpack_object *rec, bool colour)
{
	uint64_t port = 0;
	bool has_port = rec_get_uint(rec, "port", &port);
	int rc = 0;

	fputs("connect ", f);
	if (rec_is(rec, "family", "AF_UNIX")) {
		fputs("unix:", f);
		rc = render_text_field(f, rec, "addr");
	} else {
		bool v6 = rec_is(rec, "family", "AF_INET6");

		if (!rec_is(rec, "family", "AF_INET") && !v6) {
			rc = render_text_field(f, rec, "family");
			fputc(' ', f);
		}
		if (v6)
			fputc('[', f);
		if (rc == 0)
			rc = render_text_field(f, rec, "addr");
		if (v6)
			fputc(']', f);
		if (has_port)
			fprintf(f, ":%" PRIu64, port);
	}
	fputc(' ', f);
	if (rec_is(rec, "verdict", "deny")) {
		colour_on(f, colour, RENDER_TEXT_BOLD_RED);
		fputs("DENY", f);
		colour_off(f, colour);
	} else if (rc == 0) {
		rc = render_text_field(f, rec, "verdict");
	}
	failure(f, rec, colour);
	return rc;
}

static void exit_event(FILE *f, const msgpack_object *rec)
{
	int64_t v;

	fputs("exit", f);
	if (rec_get_int(rec, "code", &v))
		fprintf(f, " code %" PRId64, v);
	if (rec_get_int(rec, "signal", &v)) {
		const char *name = v > 0 && v < 128 ? sigabbrev_np((int)v) : NULL;

		fprintf(f, " signal %" PRId64, v);
		if (name)
			fprintf(f, " (SIG%s)", name);
	}
	if (flag(rec, "core"))
		fputs(" core dumped", f);
}

static int session_end_event(FILE *f, const msgpack_object *rec)
{
	int64_t v;
	int rc;

	fputs("session end: ", f);
	rc = render_text_field(f, rec, "reason");
	if (rec_get_int(rec, "exit_status", &v))
		fprintf(f, ", exit status %" PRId64, v);
	if (rec_get_int(rec, "signal", &v))
		fprintf(f, ", signal %" PRId64, v);
	return rc;
}

static int is_common(const msgpack_object *k)
{
	for (size_t i = 0; i < sizeof(common_keys) / sizeof(common_keys[0]); i++)
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(common_keys[i]) &&
		    memcmp(k->via.str.ptr, common_keys[i], k->via.str.size) == 0)
			return 1;
	return 0;
}

/* Types without a sentence of their own: "TYPE key=value ...". */
static int generic_event(FILE *f, const msgpack_object *rec)
{
	int rc = render_text_field(f, rec, "type");

	for (uint32_t i = 0; rc == 0 && i < rec->via.map.size; i++) {
		const msgpack_object *k = &rec->via.map.ptr[i].key, *v = &rec->via.map.ptr[i].val;

		if (is_common(k))
			continue;
		fputc(' ', f);
		rc = render_text_value(f, k);
		fputc('=', f);
		if (rc == 0 && (v->type == MSGPACK_OBJECT_STR || v->type == MSGPACK_OBJECT_BIN))
			rc = render_text_value(f, v);
		else if (rc == 0)
			rc = render_json_value(f, v);
	}
	return rc;
}

int render_text_event(FILE *f, const msgpack_object *rec, bool colour)
{
	uint64_t n;
	int rc = 0;

	if (rec_is(rec, "type", "exec"))
		return exec_event(f, rec, colour);
	if (rec_is(rec, "type", "open"))
		return open_event(f, rec, colour);
	if (rec_is(rec, "type", "connect"))
		return connect_event(f, rec, colour);
	if (rec_is(rec, "type", "fork")) {
		fputs("fork", f);
		if (rec_get_uint(rec, "child_pid", &n))
			fprintf(f, " child %" PRIu64, n);
		return 0;
	}
	if (rec_is(rec, "type", "exit")) {
		exit_event(f, rec);
		return 0;
	}
	if (rec_is(rec, "type", "unlink")) {
		fputs(flag(rec, "dir") ? "rmdir " : "delete ", f);
		rc = render_text_field(f, rec, "path");
		truncated(f, rec, "path_truncated", "path");
		failure(f, rec, colour);
		return rc;
	}
	if (rec_is(rec, "type", "rename")) {
		fputs("rename ", f);
		rc = render_text_field(f, rec, "from");
		fputs(" -> ", f);
		if (rc == 0)
			rc = render_text_field(f, rec, "to");
		truncated(f, rec, "from_truncated", "from");
		truncated(f, rec, "to_truncated", "to");
		failure(f, rec, colour);
		return rc;
	}
	if (rec_is(rec, "type", "loss")) {
		colour_on(f, colour, RENDER_TEXT_BOLD_RED);
		fprintf(f, "LOST %" PRIu64 " ", rec_get_uint(rec, "count", &n) ? n : 0);
		rc = render_text_field(f, rec, "kind");
		fputs(" events (", f);
		if (rc == 0)
			rc = render_text_field(f, rec, "reason");
		fputc(')', f);
		colour_off(f, colour);
		return rc;
	}
	if (rec_is(rec, "type", "session_start")) {
		fputs("session start: mode ", f);
		return render_text_field(f, rec, "mode");
	}
	if (rec_is(rec, "type", "session_end"))
		return session_end_event(f, rec);
	return generic_event(f, rec);
}
