#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct entry {
	void *key;
	size_t len;
	uint64_t hash;
	uint64_t val;
};

struct strmap {
	struct entry *e;   /* insertion order */
	size_t n, cap;
	uint32_t *slot;    /* open addressing: index into e, plus one; 0 = empty */
	size_t nslots;     /* a power of two, at least twice n */
};

static uint64_t hash(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	/* fold the high bits in: the slot index uses the low ones */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

int strmap_new(struct strmap **out)
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->nslots = 16;
	m->slot = calloc(m->nslots, sizeof(*m->slot));
	if (!m->slot) {
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void strmap_free(struct strmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].key);
	free(m->e);
	free(m->slot);
	free(m);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const struct strmap *m, const void *key, size_t len, uint64_t h)
{
	size_t i = h & (m->nslots - 1);

	for (;; i = (i + 1) & (m->nslots - 1)) {
		const struct entry *e;

		if (!m->slot[i])
			return i;
		e = &m->e[m->slot[i] - 1];
		if (e->hash == h && e->len == len && (len == 0 || memcmp(e->key, key, len) == 0))
			return i;
	}
}

static int grow(struct strmap *m)
{
	size_t nslots = m->nslots * 2;
	uint32_t *slot = calloc(nslots, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (size_t k = 0; k < m->n; k++) {
		size_t i = m->e[k].hash & (nslots - 1);

		while (slot[i])
			i = (i + 1) & (nslots - 1);
		slot[i] = (uint32_t)(k + 1);
	}
	free(m->slot);
	m->slot = slot;
	m->nslots = nslots;
	return 0;
}

uint64_t *strmap_find(const struct strmap *m, const void *key, size_t len)
{
	size_t i = probe(m, key, len, hash(key, len));

	return m->slot[i] ? &m->e[m->slot[i] - 1].val : NULL;
}

uint64_t *strmap_get(struct strmap *m, const void *key, size_t len)
{
	uint64_t h = hash(key, len);
	size_t i = probe(m, key, len, h);
	struct entry *e;

	if (m->slot[i])
		return &m->e[m->slot[i] - 1].val;
	if (m->n >= UINT32_MAX - 1)
		return NULL;
	if ((m->n + 1) * 2 > m->nslots) {
		if (grow(m) < 0)
			return NULL;
		i = probe(m, key, len, h);
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct entry *ne = realloc(m->e, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		m->e = ne;
		m->cap = cap;
	}
	e = &m->e[m->n];
	e->key = malloc(len ? len : 1);
	if (!e->key)
		return NULL;
	if (len)
		memcpy(e->key, key, len);
	e->len = len;
	e->hash = h;
	e->val = 0;
	m->slot[i] = (uint32_t)(++m->n);
	return &e->val;
}

size_t strmap_count(const struct strmap *m)
{
	return m->n;
}

const void *strmap_key(const struct strmap *m, size_t i, size_t *len, uint64_t **val)
{
	*len = m->e[i].len;
	if (val)
		*val = &m->e[i].val;
	return m->e[i].key;
}
