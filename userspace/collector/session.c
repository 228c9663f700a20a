#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <msgpack.h>

#include "session.h"

static uint64_t gen_next(void)
{
	static uint64_t gen;

	return ++gen;
}

static int pack_labels(struct session *s)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *k;
	json_t *v;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, json_object_size(s->labels));
	json_object_foreach(s->labels, k, v) {
		const char *val = json_string_value(v);

		msgpack_pack_str_with_body(&pk, k, strlen(k));
		msgpack_pack_str_with_body(&pk, val ? val : "", val ? strlen(val) : 0);
	}
	s->labels_mp = sb.data;
	s->labels_mp_len = sb.size;
	return 0;
}

struct session *session_new(const char *mode, const char *cgroup_path, json_t *labels)
{
	struct session *s = calloc(1, sizeof(*s));
	uint8_t rnd[SESSION_ID_LEN / 2];

	if (!s)
		return NULL;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(s->id + 2 * i, "%02x", rnd[i]);
	s->mode = strdup(mode);
	s->cgroup_path = strdup(cgroup_path);
	s->gvisor = !strcmp(mode, "gvisor");
	s->microvm = !strcmp(mode, "microvm");
	s->labels = json_incref(labels);
	s->cgroup_fd = -1;
	s->owner_fd = -1;
	s->proxy_fd = s->proxy_dns_fd = -1;
	s->gen = gen_next();
	if (!s->mode || !s->cgroup_path || pack_labels(s) < 0) {
		session_free(s);
		return NULL;
	}
	return s;
}

int session_add_secret(struct session *s, const char *name, const char *value)
{
	struct secret *v = realloc(s->secrets, (s->nsecrets + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->secrets = v;
	v[s->nsecrets] = (struct secret){ strdup(name), strdup(value), strlen(value) };
	if (!v[s->nsecrets].name || !v[s->nsecrets].value) {
		free(v[s->nsecrets].name);
		free(v[s->nsecrets].value);
		return -ENOMEM;
	}
	s->nsecrets++;
	s->gen = gen_next();
	return 0;
}

int session_add_v1(struct session *s, const char *path)
{
	if (s->nv1 == SESSION_V1_MAX)
		return -E2BIG;
	s->v1[s->nv1] = strdup(path);
	if (!s->v1[s->nv1])
		return -ENOMEM;
	s->nv1++;
	return 0;
}

void session_free(struct session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nv1; i++)
		free(s->v1[i]);
	json_decref(s->proxy_domains);
	json_decref(s->proxy_allow);
	if (s->proxy_tls) {
		/* the CA's key and the injected values do not outlive the session in our memory */
		const char *ca = json_string_value(json_object_get(s->proxy_tls, "ca"));

		if (ca)
			explicit_bzero((char *)ca, strlen(ca));
		json_decref(s->proxy_tls);
	}
	if (s->proxy_fd >= 0)
		close(s->proxy_fd);
	if (s->proxy_dns_fd >= 0)
		close(s->proxy_dns_fd);
	for (size_t i = 0; i < s->nsecrets; i++) {
		/* secret values do not outlive the session in our memory */
		explicit_bzero(s->secrets[i].value, s->secrets[i].len);
		free(s->secrets[i].value);
		free(s->secrets[i].name);
	}
	free(s->secrets);
	if (s->cgroup_fd >= 0)
		close(s->cgroup_fd);
	json_decref(s->labels);
	free(s->labels_mp);
	free(s->mode);
	free(s->cgroup_path);
	free(s->netpolicy);
	free(s);
}

int session_table_add(struct session_table *t, struct session *s)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct session **v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = s;
	return 0;
}

struct session *session_by_cgroup(struct session_table *t, uint64_t cgroup_id)
{
	/* a live session wins over an ended one that watched the same cgroup */
	struct session *ended = NULL;

	if (t->last && t->last->cgroup_id == cgroup_id && !t->last->ended)
		return t->last;
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i]->cgroup_id != cgroup_id)
			continue;
		if (!t->v[i]->ended)
			return t->last = t->v[i];
		ended = t->v[i];
	}
	return ended;
}

struct session *session_by_id(struct session_table *t, const char *id)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i]->ended && !strcmp(t->v[i]->id, id))
			return t->v[i];
	return NULL;
}

/* a is b or an ancestor of b, as paths */
static bool path_within(const char *a, const char *b)
{
	size_t n = strlen(a);

	return !strncmp(a, b, n) && (b[n] == 0 || b[n] == '/' || (n > 0 && a[n - 1] == '/'));
}

struct session *session_overlapping(struct session_table *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++) {
		struct session *s = t->v[i];

		if (!s->ended && (path_within(s->cgroup_path, path) || path_within(path, s->cgroup_path)))
			return s;
	}
	return NULL;
}

struct session *session_holding(struct session_table *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++) {
		struct session *s = t->v[i];

		if (!s->ended && path_within(s->cgroup_path, path))
			return s;
	}
	return NULL;
}

void session_table_reap(struct session_table *t, uint64_t now_ms, uint64_t max_age_ms)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct session *s = t->v[i];

		if (s->ended && now_ms - s->ended_mono_ms > max_age_ms) {
			if (t->last == s)
				t->last = NULL;
			session_free(s);
			continue;
		}
		t->v[k++] = s;
	}
	t->n = k;
}

void session_table_free(struct session_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		session_free(t->v[i]);
	free(t->v);
	memset(t, 0, sizeof(*t));
}
