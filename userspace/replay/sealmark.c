#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "render_text.h"
#include "sealmark.h"

/* Runs kept in detail; a journal damaged beyond that is summed up. */
#define SEALMARK_RANGES_MAX 4096
/* Runs printed before "... and N more". */
#define SEALMARK_PRINT_MAX 20

void sealmark_init(struct sealmark *m)
{
	*m = (struct sealmark){ .prev = JOURNAL_SEALED };
}

void sealmark_free(struct sealmark *m)
{
	free(m->r);
	m->r = NULL;
}

int sealmark_add(struct sealmark *m, uint64_t seq, enum journal_seal_state st)
{
	enum journal_seal_state prev = m->prev;

	m->total++;
	m->prev = st;
	if (st == JOURNAL_SEALED)
		return 0;
	if (st == JOURNAL_BAD)
		m->bad++;
	else
		m->unsealed++;
	if (prev == st && m->n > 0 && !m->dropped) {
		m->r[m->n - 1].last = seq;
		m->r[m->n - 1].count++;
		return 0;
	}
	if (m->n == SEALMARK_RANGES_MAX || m->dropped) {
		m->dropped++;
		return 0;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct sealmark_range *nr = realloc(m->r, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		m->r = nr;
		m->cap = cap;
	}
	m->r[m->n++] = (struct sealmark_range){ .first = seq, .last = seq, .count = 1, .state = st };
	return 0;
}

void sealmark_print(const struct sealmark *m, FILE *f, bool colour)
{
	for (size_t i = 0; i < m->n && i < SEALMARK_PRINT_MAX; i++) {
		const struct sealmark_range *r = &m->r[i];
		bool bad = r->state == JOURNAL_BAD;
		char what[64];

		if (r->count == 1)
			snprintf(what, sizeof(what), "record %" PRIu64 " is", r->first);
		else
			snprintf(what, sizeof(what), "records %" PRIu64 "-%" PRIu64 " (%" PRIu64 ") are",
				 r->first, r->last, r->count);
		if (colour)
			fputs(bad ? RENDER_TEXT_BOLD_RED : RENDER_TEXT_YELLOW, f);
		if (bad)
			fprintf(f, "!! %s FAILING seal verification (hash chain or signature): tampered or damaged\n", what);
		else
			fprintf(f, "! %s not covered by a valid seal\n", what);
		if (colour)
			fputs(RENDER_TEXT_RESET, f);
	}
	if (m->n > SEALMARK_PRINT_MAX || m->dropped)
		fprintf(f, "! ... and %zu more runs: %" PRIu64 " unsealed and %" PRIu64 " failing records in all\n",
			m->n - (m->n > SEALMARK_PRINT_MAX ? SEALMARK_PRINT_MAX : m->n) + m->dropped,
			m->unsealed, m->bad);
}
