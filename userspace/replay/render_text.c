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
					   "ppid", "uid", "gid", "comm", "cgroup", "syscall", "via", "abi" };

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
	if (rec_flag(rec, key))
		fprintf(f, " [%s truncated]", what);
}

/* " [KEY what]" for each flag a path field may carry. */
static void path_flags(FILE *f, const msgpack_object *rec, const char *key)
{
	static const char *const suffixes[][2] = {
		{ "truncated", "truncated" }, { "unresolved", "unresolved: as passed" },
		{ "unreadable", "unreadable" }, { "detached", "outside the mount namespace" },
	};
	char k[64];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(k, sizeof(k), "%s_%s", key, suffixes[i][0]);
		if (rec_flag(rec, k))
			fprintf(f, " [%s %s]", key, suffixes[i][1]);
	}
}

/* A path field and its flags. */
static int path_field(FILE *f, const msgpack_object *rec, const char *key)
{
	int rc = render_text_field(f, rec, key);

	path_flags(f, rec, key);
	return rc;
}

static bool same_field(const msgpack_object *rec, const char *a, const char *b)
{
	const char *pa, *pb;
	size_t la, lb;

	return rec_get_bytes(rec, a, &pa, &la) && rec_get_bytes(rec, b, &pb, &lb) && la == lb &&
	       memcmp(pa, pb, la) == 0;
}

/* The file run: its absolute path; when the name could not be read (or
 * there was none: an fd), the exe, marked. */
static int exec_event(FILE *f, const msgpack_object *rec, bool colour)
{
	const msgpack_object *argv = rec_get(rec, "argv");
	const char *p;
	size_t len;
	const char *shown = "path", *mark = NULL;
	int rc;

	if (rec_flag(rec, "filename_unreadable")) {
		shown = "exe";
		mark = " [filename unreadable: exe shown]";
	} else if (rec_get_bytes(rec, "filename", &p, &len) && len == 0) {
		shown = "exe";
		mark = " [by fd: exe shown]";
	}
	if (!rec_get(rec, shown))
		shown = rec_get(rec, "path") ? "path" : "filename";
	colour_on(f, colour, RENDER_TEXT_BOLD);
	fputs("exec ", f);
	rc = render_text_field(f, rec, shown);
	for (uint32_t i = 0; rc == 0 && argv && argv->type == MSGPACK_OBJECT_ARRAY && i < argv->via.array.size; i++) {
		fputc(' ', f);
		rc = render_text_value(f, &argv->via.array.ptr[i]);
	}
	colour_off(f, colour);
	if (mark)
		fputs(mark, f);
	path_flags(f, rec, shown);
	truncated(f, rec, "filename_truncated", "filename");
	truncated(f, rec, "argv_truncated", "argv");
	if (rc == 0 && rec_get(rec, "script")) {
		fputs(" (script ", f);
		rc = path_field(f, rec, "script");
		fputc(')', f);
	}
	/* the file the kernel ran, when it is not the one named (symlinks, PATH) */
	if (rc == 0 && strcmp(shown, "exe") && rec_get(rec, "exe") && !same_field(rec, shown, "exe")) {
		fputs(" (exe ", f);
		rc = path_field(f, rec, "exe");
		fputc(')', f);
	}
	failure(f, rec, colour);
	return rc;
}

static int open_event(FILE *f, const msgpack_object *rec, bool colour)
{
	static const char *const verb[] = { [RECFMT_READ] = "read", [RECFMT_WRITE] = "write",
					    [RECFMT_CREATE] = "create", [RECFMT_PATH] = "open O_PATH" };
	const msgpack_object *flags = rec_get(rec, "flags");
	enum recfmt_access acc = recfmt_open_access(flags);
	int rc;

	fprintf(f, "%s ", verb[acc]);
	rc = path_field(f, rec, "path");
	if (acc != RECFMT_PATH && recfmt_has_flag(flags, "O_TRUNC"))
		fputs(" (O_TRUNC: emptied)", f);
	failure(f, rec, colour);
	return rc;
}

/* "1.2.3.4:80", "[::1]:80", "unix:PATH", or "FAMILY ADDR:PORT" for others. */
static int sock_addr(FILE *f, const msgpack_object *rec, const char *addr_key, const char *port_key)
{
	uint64_t port = 0;
	bool has_port = rec_get_uint(rec, port_key, &port);
	bool v6 = rec_is(rec, "family", "AF_INET6");
	int rc = 0;

	if (rec_is(rec, "family", "AF_UNIX")) {
		fputs("unix:", f);
		return render_text_field(f, rec, addr_key);
	}
	if (!rec_is(rec, "family", "AF_INET") && !v6) {
		rc = render_text_field(f, rec, "family");
		fputc(' ', f);
	}
	if (v6)
		fputc('[', f);
	if (rc == 0)
		rc = render_text_field(f, rec, addr_key);
	if (v6)
		fputc(']', f);
	if (has_port)
		fprintf(f, ":%" PRIu64, port);
	return rc;
}

static int connect_event(FILE *f, const msgpack_object *rec, bool colour)
{
	int rc;

	fputs(rec_is(rec, "type", "datagram") ? "datagram " : "connect ", f);
	rc = sock_addr(f, rec, "addr", "port");
	fputc(' ', f);
	if (rec_is(rec, "verdict", "deny")) {
		colour_on(f, colour, RENDER_TEXT_BOLD_RED);
		fputs("DENY", f);
		colour_off(f, colour);
	} else if (rc == 0) {
		rc = render_text_field(f, rec, "verdict");
	}
	if (rec_is(rec, "type", "datagram"))
		fputs(" (first to it; the count is at the session's end)", f);
	failure(f, rec, colour);
	return rc;
}

/* bind ADDR, listen ADDR (backlog N), accept PEER on ADDR */
static int sock_event(FILE *f, const msgpack_object *rec, bool colour)
{
	int64_t backlog;
	int rc = render_text_field(f, rec, "type");

	fputc(' ', f);
	if (rc == 0 && rec_get(rec, "peer_addr")) {
		rc = sock_addr(f, rec, "peer_addr", "peer_port");
		fputs(" on ", f);
	}
	if (rc == 0)
		rc = sock_addr(f, rec, "addr", "port");
	if (rec_get_int(rec, "backlog", &backlog))
		fprintf(f, " (backlog %" PRId64 ")", backlog);
	failure(f, rec, colour);
	return rc;
}

/* The count of datagrams to one destination over the session. */
static int datagrams_event(FILE *f, const msgpack_object *rec)
{
	uint64_t n = 0, limit = 0;
	int rc = 0;

	rec_get_uint(rec, "count", &n);
	if (rec_flag(rec, "untracked")) {
		rec_get_uint(rec, "limit", &limit);
		fprintf(f, "datagrams to destinations beyond the first %" PRIu64 ": %" PRIu64 " (not itemised)", limit,
			n);
		return 0;
	}
	fputs("datagrams to ", f);
	rc = sock_addr(f, rec, "addr", "port");
	fprintf(f, ": %" PRIu64, n);
	return rc;
}

static int cgroup_leave_event(FILE *f, const msgpack_object *rec, bool colour)
{
	uint64_t task = 0;
	int rc;

	rec_get_uint(rec, "task", &task);
	colour_on(f, colour, RENDER_TEXT_BOLD_RED);
	fprintf(f, "cgroup leave: pid %" PRIu64 " moved to ", task);
	rc = render_text_field(f, rec, "dst_path");
	colour_off(f, colour);
	fputs(" (still in the session)", f);
	return rc;
}

/* "[exchange]" and the like: what a rename's flags change in its meaning. */
static int rename_event(FILE *f, const msgpack_object *rec, bool colour)
{
	static const char *const names[][2] = {
		{ "RENAME_EXCHANGE", "exchange" }, { "RENAME_NOREPLACE", "noreplace" }, { "RENAME_WHITEOUT", "whiteout" },
	};
	const msgpack_object *flags = rec_get(rec, "flags");
	int rc;

	fputs("rename ", f);
	rc = path_field(f, rec, "from");
	fputs(recfmt_has_flag(flags, "RENAME_EXCHANGE") ? " <-> " : " -> ", f);
	if (rc == 0)
		rc = path_field(f, rec, "to");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (recfmt_has_flag(flags, names[i][0]))
			fprintf(f, " [%s]", names[i][1]);
	failure(f, rec, colour);
	return rc;
}

static const char *const fileop_types[] = { "truncate", "mkdir", "mknod", "symlink", "link", "chmod", "chown",
					    "utimes", "setxattr", "removexattr", "mount", "umount", "pivot_root" };

static bool is_fileop(const msgpack_object *rec)
{
	for (size_t i = 0; i < sizeof(fileop_types) / sizeof(fileop_types[0]); i++)
		if (rec_is(rec, "type", fileop_types[i]))
			return true;
	return false;
}

/* The names of a flags array, as " [A B]". */
static int flag_names(FILE *f, const msgpack_object *rec, const char *key)
{
	const msgpack_object *flags = rec_get(rec, key);
	int rc = 0;

	if (!flags || flags->type != MSGPACK_OBJECT_ARRAY || flags->via.array.size == 0)
		return 0;
	fputs(" [", f);
	for (uint32_t i = 0; rc == 0 && i < flags->via.array.size; i++) {
		if (i)
			fputc(' ', f);
		rc = render_text_value(f, &flags->via.array.ptr[i]);
	}
	fputc(']', f);
	return rc;
}

/* " mode 4777", with the privilege bits called out. */
static void mode_field(FILE *f, const msgpack_object *rec, bool colour)
{
	uint64_t mode;

	if (!rec_get_uint(rec, "mode", &mode))
		return;
	fprintf(f, " mode %04llo", (unsigned long long)mode);
	if (rec_flag(rec, "setuid") || rec_flag(rec, "setgid")) {
		colour_on(f, colour, RENDER_TEXT_BOLD_RED);
		fputs(!rec_flag(rec, "setgid") ? " [setuid]" : rec_flag(rec, "setuid") ? " [setuid setgid]" : " [setgid]", f);
		colour_off(f, colour);
	}
	if (rec_flag(rec, "sticky"))
		fputs(" [sticky]", f);
}

/* " atime 2026-...Z" / " atime now"; nothing when the time is left. */
static void time_field(FILE *f, const msgpack_object *rec, const char *key)
{
	const msgpack_object *o = rec_get(rec, key);
	char ts[RECFMT_TS_LEN];
	int64_t ns;

	if (o && o->type == MSGPACK_OBJECT_STR && rec_is(rec, key, "omit"))
		return;
	fprintf(f, " %s ", key);
	if (o && o->type == MSGPACK_OBJECT_STR) {
		fputs("now", f);
	} else if (rec_get_int(rec, key, &ns) && ns >= 0) {
		recfmt_ts((uint64_t)ns, ts);
		fputs(ts, f);
	} else if (rec_get_int(rec, key, &ns)) {
		fprintf(f, "%" PRId64 "ns", ns); /* before 1970 */
	} else {
		fputc('?', f);
	}
}

/* truncate, mkdir, mknod, symlink, link, chmod, chown, utimes, setxattr,
 * removexattr, mount, umount, pivot_root: "TYPE PATH details". */
static int fileop_event(FILE *f, const msgpack_object *rec, bool colour)
{
	int64_t v;
	uint64_t u;
	int rc;

	if (rec_is(rec, "type", "mount")) {
		fputs("mount ", f);
		if (rec_get(rec, "source")) {
			rc = path_field(f, rec, "source");
			fputs(" on ", f);
		}
		rc = path_field(f, rec, "path");
		if (rc == 0 && rec_get(rec, "fstype")) {
			fputs(" type ", f);
			rc = render_text_field(f, rec, "fstype");
		}
		if (rc == 0)
			rc = flag_names(f, rec, "flags");
		failure(f, rec, colour);
		return rc;
	}
	rc = render_text_field(f, rec, "type");
	if (rec_is(rec, "type", "mknod") && rec_get(rec, "file_type")) {
		fputc(' ', f);
		rc = render_text_field(f, rec, "file_type");
	}
	fputc(' ', f);
	if (rc == 0)
		rc = path_field(f, rec, "path");
	if (rec_get_int(rec, "fd", &v))
		fprintf(f, " (fd %" PRId64 ")", v);
	if (rc == 0 && (rec_is(rec, "type", "symlink") || rec_is(rec, "type", "link"))) {
		fputs(" -> ", f);
		rc = path_field(f, rec, "target");
	}
	if (rc == 0 && rec_is(rec, "type", "pivot_root")) {
		fputs(" put_old ", f);
		rc = path_field(f, rec, "put_old");
	}
	if (rc == 0 && (rec_is(rec, "type", "setxattr") || rec_is(rec, "type", "removexattr"))) {
		fputc(' ', f);
		rc = render_text_field(f, rec, "name");
		if (rec_get_uint(rec, "size", &u))
			fprintf(f, " (%" PRIu64 " bytes)", u);
	}
	if (rec_get_int(rec, "length", &v))
		fprintf(f, " to %" PRId64 " bytes", v);
	mode_field(f, rec, colour);
	if (rec_get_uint(rec, "major", &u))
		fprintf(f, " dev %" PRIu64 ":%" PRIu64, u, rec_get_uint(rec, "minor", &u) ? u : 0);
	if (rec_get_uint(rec, "owner", &u))
		fprintf(f, " owner %" PRIu64, u);
	if (rec_get_uint(rec, "group", &u))
		fprintf(f, " group %" PRIu64, u);
	if (rec_is(rec, "type", "utimes")) {
		if (rec_flag(rec, "times_unreadable")) {
			fputs(" [times unreadable]", f);
		} else {
			time_field(f, rec, "atime");
			time_field(f, rec, "mtime");
		}
	}
	if (rc == 0)
		rc = flag_names(f, rec, rec_is(rec, "type", "setxattr") ? "xattr_flags" : "flags");
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
	if (rec_flag(rec, "core"))
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

static int event_sentence(FILE *f, const msgpack_object *rec, bool colour)
{
	uint64_t n;
	int rc = 0;

	if (rec_is(rec, "type", "exec"))
		return exec_event(f, rec, colour);
	if (rec_is(rec, "type", "open"))
		return open_event(f, rec, colour);
	if (rec_is(rec, "type", "connect") || rec_is(rec, "type", "datagram"))
		return connect_event(f, rec, colour);
	if (rec_is(rec, "type", "bind") || rec_is(rec, "type", "listen") || rec_is(rec, "type", "accept"))
		return sock_event(f, rec, colour);
	if (rec_is(rec, "type", "datagrams"))
		return datagrams_event(f, rec);
	if (rec_is(rec, "type", "cgroup_leave"))
		return cgroup_leave_event(f, rec, colour);
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
		fputs(rec_flag(rec, "dir") ? "rmdir " : "delete ", f);
		rc = path_field(f, rec, "path");
		failure(f, rec, colour);
		return rc;
	}
	if (rec_is(rec, "type", "rename"))
		return rename_event(f, rec, colour);
	if (is_fileop(rec))
		return fileop_event(f, rec, colour);
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

/* The sentence, and how the kernel got the request when not by a native
 * syscall: "(via io_uring)", "(abi i386)". */
int render_text_event(FILE *f, const msgpack_object *rec, bool colour)
{
	int rc = event_sentence(f, rec, colour);

	if (rc == 0 && rec_get(rec, "via")) {
		fputs(" (via ", f);
		rc = render_text_field(f, rec, "via");
		fputc(')', f);
	}
	if (rc == 0 && rec_get(rec, "abi")) {
		fputs(" (abi ", f);
		rc = render_text_field(f, rec, "abi");
		fputc(')', f);
	}
	return rc;
}
