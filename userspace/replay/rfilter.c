#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal/journal.h"
#include "rfilter.h"

static const char *const known_types[] = {
	"session_start", "session_end", "exec", "fork", "exit", "open", "unlink",
	"rename", "connect", "loss", "seal", "recovery", "epoch",
};

/* The fields --path looks at: byte strings that name files. */
static const char *const path_keys[] = { "path", "from", "to", "filename", "addr" };

int rfilter_types(struct rfilter *f, const char *list, char *err, size_t errlen)
{
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
			if (strlen(known_types[i]) == n && strncmp(known_types[i], p, n) == 0)
				break;
		if (n == 0 || i == sizeof(known_types) / sizeof(known_types[0])) {
			snprintf(err, errlen, "--type %s: unknown record type '%.*s' (exec, fork, exit, open, unlink, rename, connect, loss, session_start, session_end, seal, recovery, epoch)",
				 list, (int)(n > 64 ? 64 : n), p);
			return -EINVAL;
		}
		if (f->ntypes == RFILTER_TYPES_MAX) {
			snprintf(err, errlen, "--type %s: more than %d types", list, RFILTER_TYPES_MAX);
			return -EINVAL;
		}
		f->types[f->ntypes++] = known_types[i];
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

int rfilter_pid(struct rfilter *f, const char *s, char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v == 0 || v > UINT32_MAX || *s == '-' || *s == '+') {
		snprintf(err, errlen, "--pid %s: expected a process id", s);
		return -EINVAL;
	}
	f->has_pid = true;
	f->pid = (uint32_t)v;
	return 0;
}

/* "1m30s", "500ms": a sum of numbers with units. */
static int parse_duration(const char *s, uint64_t *out)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000ull }, { "m", 60000000000ull }, { "h", 3600000000000ull },
	};
	uint64_t total = 0;

	if (!*s)
		return -EINVAL;
	while (*s) {
		uint64_t v = 0;
		size_t i, ulen = 0;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		while (*s >= '0' && *s <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return -EINVAL;
			v = v * 10 + (uint64_t)(*s++ - '0');
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			ulen = strlen(units[i].unit);
			/* "m" must not take the "m" of "ms" */
			if (strncmp(s, units[i].unit, ulen) == 0 && !(s[ulen] >= 'a' && s[ulen] <= 'z'))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]) || v > (UINT64_MAX - total) / units[i].ns)
			return -EINVAL;
		total += v * units[i].ns;
		s += ulen;
	}
	*out = total;
	return 0;
}

static int parse_rfc3339(const char *s, uint64_t *out)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	uint64_t frac = 0, scale = 1000000000ull;
	int64_t off = 0;
	time_t t;

	if (!p || s[4] != '-')
		return -EINVAL;
	if (*p == '.') {
		if (!(*++p >= '0' && *p <= '9'))
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
		   p[3] == ':' && p[4] >= '0' && p[4] <= '9' && p[5] >= '0' && p[5] <= '9') {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm) - off;
	if (t < 0 || (uint64_t)t > UINT64_MAX / 1000000000ull - 1)
		return -EINVAL;
	*out = (uint64_t)t * 1000000000ull + frac;
	return 0;
}

int rfilter_time(struct rfilter_time *t, const char *s, char *err, size_t errlen)
{
	if (parse_rfc3339(s, &t->ns) == 0) {
		t->kind = RFILTER_ABS;
		return 0;
	}
	if (parse_duration(s, &t->ns) == 0) {
		t->kind = RFILTER_REL;
		return 0;
	}
	snprintf(err, errlen, "'%s': expected RFC 3339 (2026-11-27T17:08:54Z) or a duration (90s, 1m30s, 500ms)", s);
	return -EINVAL;
}

uint64_t rfilter_time_ns(const struct rfilter_time *t, uint64_t start)
{
	if (t->kind != RFILTER_REL)
		return t->ns;
	return t->ns > UINT64_MAX - start ? UINT64_MAX : start + t->ns;
}

/* fnmatch on a byte string: a NUL inside cannot name a file, so no match. */
static bool glob_bytes(const char *glob, const char *p, size_t len)
{
	char buf[4352];

	if (len >= sizeof(buf) || memchr(p, 0, len))
		return false;
	memcpy(buf, p, len);
	buf[len] = 0;
	return fnmatch(glob, buf, 0) == 0;
}

static bool path_match(const char *glob, const msgpack_object *rec)
{
	for (size_t i = 0; i < sizeof(path_keys) / sizeof(path_keys[0]); i++) {
		const char *p;
		size_t len;

		if (rec_get_bytes(rec, path_keys[i], &p, &len) && glob_bytes(glob, p, len))
			return true;
	}
	return false;
}

static bool type_match(const struct rfilter *f, const msgpack_object *rec)
{
	const char *p;
	size_t len;

	if (!rec_get_bytes(rec, "type", &p, &len))
		return false;
	for (size_t i = 0; i < f->ntypes; i++)
		if (strlen(f->types[i]) == len && memcmp(f->types[i], p, len) == 0)
			return true;
	return false;
}

bool rfilter_match(const struct rfilter *f, const msgpack_object *rec, uint64_t start)
{
	uint64_t v;

	if (f->ntypes && !type_match(f, rec))
		return false;
	if (f->has_pid && !(rec_get_uint(rec, "pid", &v) && v == f->pid))
		return false;
	if (f->since.kind || f->until.kind) {
		if (!rec_get_uint(rec, "ts", &v))
			return false;
		if (f->since.kind && v < rfilter_time_ns(&f->since, start))
			return false;
		if (f->until.kind && v > rfilter_time_ns(&f->until, start))
			return false;
	}
	if (f->glob && !path_match(f->glob, rec))
		return false;
	return true;
}
