#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

#define MARK_MAX 300

/* "[secret:NAME]" into mark; returns its length. */
static size_t mark_of(const struct secret *s, char mark[MARK_MAX])
{
	size_t mlen = (size_t)snprintf(mark, MARK_MAX, "[secret:%s]", s->name);

	return mlen >= MARK_MAX ? MARK_MAX - 1 : mlen;
}

/* The longest piece of s, from REDACT_MIN_PIECE bytes on and shorter than
 * s, that starts cur (the end of s: head) or ends it (the start of s). */
static size_t cut_piece(const struct secret *s, const uint8_t *cur, size_t curlen, bool head)
{
	for (size_t k = s->len - 1 < curlen ? s->len - 1 : curlen; k >= REDACT_MIN_PIECE; k--) {
		if (head ? !memcmp(cur, s->value + s->len - k, k) : !memcmp(cur + curlen - k, s->value, k))
			return k;
	}
	return 0;
}

/* A cut value: a piece of a secret at either end becomes its mark too. */
static const uint8_t *redact_ends(const struct secret *secrets, size_t n, const uint8_t *cur, size_t *len,
				  struct redact_buf *buf)
{
	for (size_t i = 0; i < n; i++) {
		const struct secret *s = &secrets[i];
		size_t head = s->len ? cut_piece(s, cur, *len, true) : 0;
		size_t tail = s->len && *len > head ? cut_piece(s, cur + head, *len - head, false) : 0;
		char mark[MARK_MAX];
		size_t mlen, mid, out = 0;
		uint8_t *next;

		if (!head && !tail)
			continue;
		mlen = mark_of(s, mark);
		mid = *len - head - tail;
		next = malloc(mid + 2 * mlen + 1);
		if (!next)
			return NULL;
		if (head) {
			memcpy(next, mark, mlen);
			out = mlen;
		}
		memcpy(next + out, cur + head, mid);
		out += mid;
		if (tail) {
			memcpy(next + out, mark, mlen);
			out += mlen;
		}
		free(buf->p);
		buf->p = next;
		cur = next;
		*len = out;
	}
	return cur;
}

/* One pass per secret, each over the previous pass's output, so secrets
 * that contain each other are all replaced. */
const uint8_t *redact(const struct secret *secrets, size_t n, const uint8_t *p, size_t *len, bool cut,
		      struct redact_buf *buf)
{
	/* NULL stays for "no memory": an empty value may come without a buffer */
	const uint8_t *cur = p ? p : (const uint8_t *)"";
	size_t curlen = *len;

	for (size_t i = 0; i < n; i++) {
		const struct secret *s = &secrets[i];
		char mark[MARK_MAX];
		size_t mlen, out = 0, off = 0, hits = 0;
		const uint8_t *m;
		uint8_t *next;

		/* a value shorter than the secret (an empty one may have no bytes at all) holds none */
		if (s->len == 0 || curlen < s->len || !memmem(cur, curlen, s->value, s->len))
			continue;
		mlen = mark_of(s, mark);
		for (m = cur; (m = memmem(m, curlen - (size_t)(m - cur), s->value, s->len)); m += s->len)
			hits++;
		next = malloc(curlen + hits * mlen + 1);
		if (!next)
			return NULL;
		while ((m = memmem(cur + off, curlen - off, s->value, s->len))) {
			size_t pre = (size_t)(m - (cur + off));

			memcpy(next + out, cur + off, pre);
			memcpy(next + out + pre, mark, mlen);
			out += pre + mlen;
			off += pre + s->len;
		}
		memcpy(next + out, cur + off, curlen - off);
		out += curlen - off;
		free(buf->p);
		buf->p = next;
		cur = next;
		curlen = out;
	}
	*len = curlen;
	return cut ? redact_ends(secrets, n, cur, len, buf) : cur;
}

void redact_buf_free(struct redact_buf *buf)
{
	free(buf->p);
	buf->p = NULL;
}
