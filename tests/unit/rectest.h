/* Records for the replay unit tests: built with record.h as the collector
 * builds them, unpacked for the renderers, output captured in memory. */
#ifndef SANDTRAIL_RECTEST_H
#define SANDTRAIL_RECTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/journal.h"

#define RT_SESSION "0011223344556677"

struct rt {
	struct rec r;
	msgpack_zone zone;
	msgpack_object obj;
	char *out;     /* captured output */
	size_t outlen;
	FILE *f;
};

static inline void rt_init(struct rt *t)
{
	memset(t, 0, sizeof(*t));
	rec_init(&t->r);
	msgpack_zone_init(&t->zone, 4096);
}

static inline void rt_fini(struct rt *t)
{
	if (t->f)
		fclose(t->f);
	free(t->out);
	rec_free(&t->r);
	msgpack_zone_destroy(&t->zone);
}

/* A session record. */
static inline void rt_begin(struct rt *t, const char *type, uint64_t ts)
{
	rec_begin(&t->r, type, ts);
	rec_str(&t->r, "session", RT_SESSION);
}

/* A process event of the session. */
static inline void rt_proc(struct rt *t, const char *type, uint64_t ts, uint32_t pid, uint32_t ppid,
			   const char *comm)
{
	rt_begin(t, type, ts);
	rec_uint(&t->r, "pid", pid);
	rec_uint(&t->r, "tid", pid);
	rec_uint(&t->r, "ppid", ppid);
	rec_uint(&t->r, "uid", 1000);
	rec_uint(&t->r, "gid", 1000);
	rec_bytes(&t->r, "comm", comm, strlen(comm));
}

static inline void rt_strs(struct rt *t, const char *key, const char *const *v, size_t n, int bin)
{
	rec_key(&t->r, key);
	msgpack_pack_array(&t->r.pk, n);
	for (size_t i = 0; i < n; i++) {
		if (bin)
			msgpack_pack_bin_with_body(&t->r.pk, v[i], strlen(v[i]));
		else
			msgpack_pack_str_with_body(&t->r.pk, v[i], strlen(v[i]));
	}
}

/* Finishes the record and unpacks it (the previous one is gone). */
static inline const msgpack_object *rt_done(struct rt *t)
{
	size_t len;
	const void *p = rec_finish(&t->r, &len);

	msgpack_zone_clear(&t->zone);
	if (rec_unpack(p, len, &t->zone, &t->obj) < 0)
		abort();
	return &t->obj;
}

/* Output capture: rt_capture() gives a stream, rt_text() what was written. */
static inline FILE *rt_capture(struct rt *t)
{
	if (t->f)
		fclose(t->f);
	free(t->out);
	t->out = NULL;
	t->f = open_memstream(&t->out, &t->outlen);
	return t->f;
}

static inline const char *rt_text(struct rt *t)
{
	fflush(t->f);
	return t->out;
}

#endif
