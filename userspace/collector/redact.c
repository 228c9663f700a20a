#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

/* One pass per secret, each over the previous pass's output, so secrets
 * that contain each other are all replaced. */
const uint8_t *redact(const struct secret *secrets, size_t n, const uint8_t *p, size_t *len,
		      struct redact_buf *buf)
{
	/* NULL stays for "no memory": an empty value may come without a buffer */
	const uint8_t *cur = p ? p : (const uint8_t *)"";
	size_t curlen = *len;

	for (size_t i = 0; i < n; i++) {
		const struct secret *s = &secrets[i];
		char mark[300];
		size_t mlen, out = 0, off = 0, hits = 0;
		const uint8_t *m;
		uint8_t *next;

		/* a value shorter than the secret (an empty one may have no bytes at all) holds none */
		if (s->len == 0 || curlen < s->len || !memmem(cur, curlen, s->value, s->len))
			continue;
		mlen = (size_t)snprintf(mark, sizeof(mark), "[secret:%s]", s->name);
		if (mlen >= sizeof(mark))
			mlen = sizeof(mark) - 1;
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
	return cur;
}

void redact_buf_free(struct redact_buf *buf)
{
	free(buf->p);
	buf->p = NULL;
}
