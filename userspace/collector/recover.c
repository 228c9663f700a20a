#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "journal/journal.h"
#include "recover.h"

static struct open_session *find(struct open_sessions *o, const char *id, size_t len)
{
	for (size_t i = 0; i < o->n; i++)
		if (strlen(o->v[i].id) == len && !memcmp(o->v[i].id, id, len))
			return &o->v[i];
	return NULL;
}

static void drop(struct open_sessions *o, struct open_session *s)
{
	free(s->cgroup);
	free(s->labels_mp);
	*s = o->v[--o->n];
}

static int add(struct open_sessions *o, const msgpack_object *r, const char *id, size_t idlen)
{
	const msgpack_object *labels = rec_get(r, "labels");
	const char *p;
	size_t len;
	struct open_session *s, *v = realloc(o->v, (o->n + 1) * sizeof(*v));
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (!v)
		return -ENOMEM;
	o->v = v;
	s = memset(&v[o->n], 0, sizeof(*s));
	memcpy(s->id, id, idlen);
	if (rec_get_bytes(r, "mode", &p, &len) && len < sizeof(s->mode))
		memcpy(s->mode, p, len);
	if (!rec_get_bytes(r, "cgroup", &p, &len) || !(s->cgroup = strndup(p, len)))
		return -ENOMEM;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (labels)
		msgpack_pack_object(&pk, *labels);
	else
		msgpack_pack_map(&pk, 0);
	s->labels_mp = sb.data;
	s->labels_len = sb.size;
	o->n++;
	return 0;
}

/* A loss record of the session: what the kernel counted and the
 * collector already wrote down. */
static void count_loss(struct open_session *s, const msgpack_object *r)
{
	static const char *const reasons[ST_LOSS_MAX] = { "ringbuf", "pending" };
	uint64_t count;

	if (!rec_get_uint(r, "count", &count))
		return;
	for (uint32_t t = 1; t < ST_EV_MAX; t++) {
		if (!rec_is(r, "kind", event_type_name(t)))
			continue;
		for (int k = 0; k < ST_LOSS_MAX; k++)
			if (rec_is(r, "reason", reasons[k]))
				s->lost[t][k] += count;
	}
}

int recover_open_sessions(const char *dir, struct open_sessions *out)
{
	struct journal_reader *jr;
	struct journal_entry e;
	msgpack_zone zone;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = journal_reader_open(&jr, dir, NULL);
	if (rc < 0)
		return rc;
	msgpack_zone_init(&zone, 4096);
	while ((rc = journal_reader_next(jr, &e)) == 1) {
		msgpack_object r;
		const char *id;
		size_t idlen;
		uint64_t ts;
		struct open_session *s;

		if (e.kind != JOURNAL_KIND_RECORD)
			continue;
		msgpack_zone_clear(&zone);
		if (rec_unpack(e.rec, e.len, &zone, &r) < 0)
			continue;
		if (rec_get_uint(&r, "ts", &ts) && ts > out->last_ts)
			out->last_ts = ts;
		if (!rec_get_bytes(&r, "session", &id, &idlen) || idlen != SESSION_ID_LEN)
			continue;
		s = find(out, id, idlen);
		if (rec_is(&r, "type", "session_start") && !s)
			rc = add(out, &r, id, idlen);
		else if (s && rec_is(&r, "type", "session_end"))
			drop(out, s);
		else if (s && rec_is(&r, "type", "loss"))
			count_loss(s, &r);
		if (rc < 0)
			break;
	}
	msgpack_zone_destroy(&zone);
	journal_reader_close(jr);
	if (rc < 0) {
		recover_free(out);
		return rc;
	}
	return 0;
}

void recover_free(struct open_sessions *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].cgroup);
		free(o->v[i].labels_mp);
	}
	free(o->v);
	memset(o, 0, sizeof(*o));
}
