#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

/* Length of the valid UTF-8 sequence at p (1..4), 0 when invalid. */
static size_t utf8_seq(const uint8_t *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2, c = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, c = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4, c = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Code points that reorder or hide text on a terminal. */
static int is_deceptive(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

struct sink {
	char *buf;
	size_t len, cap;
	FILE *f;
	int oom;
};

static void put(struct sink *s, const char *p, size_t n)
{
	if (s->f) {
		fwrite(p, 1, n, s->f);
		return;
	}
	if (s->oom)
		return;
	if (s->len + n + 1 > s->cap) {
		size_t cap = (s->cap ? s->cap * 2 : 64) + n;
		char *nb = realloc(s->buf, cap);

		if (!nb) {
			s->oom = 1;
			return;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = 0;
}

static void escape_to(struct sink *s, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_seq(p + i, len - i, &cp);
		char e[16];

		if (n == 0) {
			char x[4] = { '\\', 'x', hex[p[i] >> 4], hex[p[i] & 15] };
			put(s, x, 4);
			i++;
			continue;
		}
		if (cp == '\\') {
			put(s, "\\\\", 2);
		} else if (cp == '\n') {
			put(s, "\\n", 2);
		} else if (cp == '\t') {
			put(s, "\\t", 2);
		} else if (cp == '\r') {
			put(s, "\\r", 2);
		} else if (cp < 0x20 || cp == 0x7f) {
			char x[4] = { '\\', 'x', hex[cp >> 4], hex[cp & 15] };
			put(s, x, 4);
		} else if (is_deceptive(cp)) {
			int k = snprintf(e, sizeof(e), "\\u{%04x}", cp);
			put(s, e, (size_t)k);
		} else {
			put(s, (const char *)p + i, n);
		}
		i += n;
	}
}

char *escape_bytes(const void *p, size_t len)
{
	struct sink s = { 0 };

	put(&s, "", 0);
	escape_to(&s, p, len);
	if (s.oom) {
		free(s.buf);
		return NULL;
	}
	return s.buf;
}

void escape_fput(FILE *f, const void *p, size_t len)
{
	struct sink s = { .f = f };

	escape_to(&s, p, len);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Writes code point cp as UTF-8; returns its length. */
static size_t utf8_put(uint32_t cp, uint8_t *o)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | (cp >> 6);
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	o[0] = 0xe0 | (cp >> 12);
	o[1] = 0x80 | ((cp >> 6) & 0x3f);
	o[2] = 0x80 | (cp & 0x3f);
	return 3;
}

long unescape_bytes(const char *s, void *out, size_t cap)
{
	uint8_t *o = out;
	size_t n = 0;

	while (*s) {
		uint8_t tmp[4];
		size_t k = 1;
		int h, l;

		if (*s != '\\') {
			tmp[0] = (uint8_t)*s++;
		} else {
			switch (s[1]) {
			case '\\': tmp[0] = '\\'; s += 2; break;
			case 'n': tmp[0] = '\n'; s += 2; break;
			case 't': tmp[0] = '\t'; s += 2; break;
			case 'r': tmp[0] = '\r'; s += 2; break;
			case 'x':
				h = hexval(s[2]);
				l = h < 0 ? -1 : hexval(s[3]);
				if (l < 0)
					return -1;
				tmp[0] = (uint8_t)(h << 4 | l);
				s += 4;
				break;
			case 'u': {
				char *end;
				unsigned long cp;

				if (s[2] != '{')
					return -1;
				cp = strtoul(s + 3, &end, 16);
				if (*end != '}' || cp > 0xffff)
					return -1;
				k = utf8_put((uint32_t)cp, tmp);
				s = end + 1;
				break;
			}
			default:
				return -1;
			}
		}
		if (n + k > cap)
			return -1;
		memcpy(o + n, tmp, k);
		n += k;
	}
	return (long)n;
}
