#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "recfmt.h"
#include "journal/journal.h"
#include "render_text.h"
#include "strmap.h"
#include "summary.h"

/* Distinct entries kept per list (a hostile session can touch millions of
 * files); beyond that only counted.  Entries printed per list. */
#define SUMMARY_KEEP_MAX 100000
#define SUMMARY_PRINT_MAX 200
#define SUMMARY_KEY_MAX   (2 * 4096 + 64) /* "mount PATH (ERRNO)" */

enum { WRITTEN, DELETED, CHANGED, PRIVILEGED, MOUNTS, ALLOWED, FAILED, DENIED, BLOCKED, LOST, NLISTS };

static const char *const titles[NLISTS] = {
	[WRITTEN] = "files written",
	[DELETED] = "files deleted",
	[CHANGED] = "files whose mode, owner, times or xattrs changed",
	[PRIVILEGED] = "setuid/setgid modes set",
	[MOUNTS] = "mount, umount and pivot_root attempts",
	[ALLOWED] = "destinations allowed",
	[FAILED] = "destinations allowed, connect failed",
	[DENIED] = "destinations denied",
	[BLOCKED] = "file operations refused (EACCES, EPERM, EROFS)",
	[LOST] = "events lost",
};

/* Record types that create or fill the file at `path`, and those that
 * change its metadata only. */
static const char *const writers[] = { "truncate", "mkdir", "mknod", "symlink", "link" };
static const char *const changers[] = { "chmod", "chown", "utimes", "setxattr", "removexattr" };
static const char *const mounters[] = { "mount", "umount", "pivot_root" };

struct summary {
	struct strmap *list[NLISTS];
	uint64_t more[NLISTS];  /* distinct entries not kept */
	uint64_t hits[NLISTS];  /* operations counted, kept or not */
};

int summary_new(struct summary **out)
{
	struct summary *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (int i = 0; i < NLISTS; i++) {
		if (strmap_new(&s->list[i]) < 0) {
			summary_free(s);
			return -ENOMEM;
		}
	}
	*out = s;
	return 0;
}

void summary_free(struct summary *s)
{
	if (!s)
		return;
	for (int i = 0; i < NLISTS; i++)
		strmap_free(s->list[i]);
	free(s);
}

static int count(struct summary *s, int list, const void *key, size_t len, uint64_t n)
{
	uint64_t *v = strmap_find(s->list[list], key, len);

	s->hits[list] += n;
	if (!v && strmap_count(s->list[list]) >= SUMMARY_KEEP_MAX) {
		s->more[list]++;
		return 0;
	}
	if (!v)
		v = strmap_get(s->list[list], key, len);
	if (!v)
		return -ENOMEM;
	*v += n;
	return 0;
}

static int count_field(struct summary *s, int list, const msgpack_object *rec, const char *key)
{
	const char *p;
	size_t len;

	if (!rec_get_bytes(rec, key, &p, &len))
		return 0;
	return count(s, list, p, len, 1);
}

/* "10.0.0.1:443", "[::1]:53", "unix:/run/x.sock": raw bytes, escaped when printed. */
static int destination(const msgpack_object *rec, char *buf, size_t cap, size_t *len)
{
	const char *addr;
	size_t alen;
	uint64_t port = 0;
	bool v6 = rec_is(rec, "family", "AF_INET6"), unix_ = rec_is(rec, "family", "AF_UNIX");
	int n;

	if (!rec_get_bytes(rec, "addr", &addr, &alen) || alen + 32 > cap)
		return -1;
	rec_get_uint(rec, "port", &port);
	n = snprintf(buf, cap, "%s", unix_ ? "unix:" : v6 ? "[" : "");
	memcpy(buf + n, addr, alen);
	n += (int)alen;
	if (!unix_)
		n += snprintf(buf + n, cap - (size_t)n, "%s:%" PRIu64, v6 ? "]" : "", port);
	*len = (size_t)n;
	return 0;
}

static bool refused(const msgpack_object *rec)
{
	int64_t ret;

	return rec_get_int(rec, "ret", &ret) && (ret == -EACCES || ret == -EPERM || ret == -EROFS);
}

static bool succeeded(const msgpack_object *rec)
{
	int64_t ret;

	return rec_get_int(rec, "ret", &ret) && ret >= 0;
}

static bool type_in(const msgpack_object *rec, const char *const *types, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rec_is(rec, "type", types[i]))
			return true;
	return false;
}

#define TYPE_IN(rec, types) type_in(rec, types, sizeof(types) / sizeof(types[0]))

/* A file operation: listed when it succeeded, refused when it was. */
static int file_op(struct summary *s, int list, const msgpack_object *rec, const char *key)
{
	if (succeeded(rec))
		return count_field(s, list, rec, key);
	return refused(rec) ? count_field(s, BLOCKED, rec, key) : 0;
}

/* "mount /mnt (EPERM)": every attempt, with what became of it. */
static int mount_attempt(struct summary *s, const msgpack_object *rec)
{
	char buf[SUMMARY_KEY_MAX], eb[24];
	const char *type, *path;
	size_t tlen, plen;
	int64_t ret = 0;
	int n;

	if (!rec_get_bytes(rec, "type", &type, &tlen) || !rec_get_bytes(rec, "path", &path, &plen) ||
	    tlen + plen + 40 > sizeof(buf))
		return 0;
	rec_get_int(rec, "ret", &ret);
	n = snprintf(buf, sizeof(buf), "%.*s ", (int)tlen, type);
	memcpy(buf + n, path, plen);
	n += (int)plen;
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, " (%s)", ret < 0 ? recfmt_errno(ret, eb, sizeof(eb)) : "done");
	return count(s, MOUNTS, buf, (size_t)n, 1);
}
int summary_add(struct summary *s, const msgpack_object *rec)
{
	char dest[4200];
	size_t dlen;
	uint64_t n;

	if (rec_is(rec, "type", "open")) {
		enum recfmt_access acc = recfmt_open_access(rec_get(rec, "flags"));

		if (succeeded(rec) && acc != RECFMT_READ && acc != RECFMT_PATH)
			return count_field(s, WRITTEN, rec, "path");
		return refused(rec) ? count_field(s, BLOCKED, rec, "path") : 0;
	}
	if (rec_is(rec, "type", "unlink"))
		return file_op(s, DELETED, rec, "path");
	/* the new name holds content the session put there */
	if (rec_is(rec, "type", "rename"))
		return file_op(s, WRITTEN, rec, "to");
	if (TYPE_IN(rec, writers))
		return file_op(s, WRITTEN, rec, "path");
	if (TYPE_IN(rec, changers)) {
		if (succeeded(rec) && (rec_flag(rec, "setuid") || rec_flag(rec, "setgid")) &&
		    count_field(s, PRIVILEGED, rec, "path") < 0)
			return -ENOMEM;
		return file_op(s, CHANGED, rec, "path");
	}
	if (TYPE_IN(rec, mounters))
		return mount_attempt(s, rec);
	if (rec_is(rec, "type", "exec"))
		return refused(rec) ? count_field(s, BLOCKED, rec, rec_get(rec, "path") ? "path" : "filename") : 0;
	if (rec_is(rec, "type", "connect")) {
		int64_t ret = 0;

		if (destination(rec, dest, sizeof(dest), &dlen) < 0)
			return 0;
		if (rec_is(rec, "verdict", "deny"))
			return count(s, DENIED, dest, dlen, 1);
		/* a non-blocking connect under way was let through */
		rec_get_int(rec, "ret", &ret);
		return count(s, ret >= 0 || ret == -EINPROGRESS ? ALLOWED : FAILED, dest, dlen, 1);
	}
	if (rec_is(rec, "type", "loss") && rec_get_uint(rec, "count", &n)) {
		const char *kind = "?";
		size_t klen = 1;

		rec_get_bytes(rec, "kind", &kind, &klen);
		return count(s, LOST, kind, klen, n);
	}
	return 0;
}

int summary_print(const struct summary *s, FILE *f, bool colour)
{
	int rc = 0;

	fprintf(f, "\nsummary\n");
	for (int i = 0; i < NLISTS && rc == 0; i++) {
		size_t nkeys = strmap_count(s->list[i]);
		bool loud = (i == DENIED || i == BLOCKED || i == LOST || i == PRIVILEGED || i == MOUNTS) && s->hits[i] > 0;

		if (colour && loud)
			fputs(RENDER_TEXT_BOLD_RED, f);
		fprintf(f, "  %s: %" PRIu64 "%s", titles[i], i == LOST ? s->hits[i] : nkeys + s->more[i],
			s->hits[i] ? "\n" : " (none)\n");
		if (colour && loud)
			fputs(RENDER_TEXT_RESET, f);
		for (size_t k = 0; k < nkeys && k < SUMMARY_PRINT_MAX && rc == 0; k++) {
			uint64_t *v;
			size_t len;
			const void *key = strmap_key(s->list[i], k, &len, &v);

			fputs("    ", f);
			rc = render_text_word(f, key, len);
			if (*v > 1 || i == LOST)
				fprintf(f, "  x%" PRIu64, *v);
			fputc('\n', f);
		}
		if (nkeys > SUMMARY_PRINT_MAX || s->more[i])
			fprintf(f, "    ... and %" PRIu64 " more (see the timeline)\n",
				(uint64_t)(nkeys > SUMMARY_PRINT_MAX ? nkeys - SUMMARY_PRINT_MAX : 0) + s->more[i]);
	}
	return rc;
}
