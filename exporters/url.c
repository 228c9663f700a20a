#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX in place; false on a malformed escape or a NUL byte. */
static bool unpercent(char *s)
{
	char *o = s;

	for (; *s; s++) {
		int hi, lo;

		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		hi = hexval(s[1]);
		lo = hi < 0 ? -1 : hexval(s[2]);
		if (lo < 0 || (hi == 0 && lo == 0))
			return false;
		*o++ = (char)(hi << 4 | lo);
		s += 2;
	}
	*o = 0;
	return true;
}

static bool scheme_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (!first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
}

static int parse_query(char *q, struct exp_url_parts *out, char *err, size_t errlen)
{
	for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		struct exp_pass *v;

		if (!eq || eq == kv)
			return exp_errf(err, errlen, "option '%s': expected key=value", kv);
		*eq = 0;
		if (!unpercent(kv) || !unpercent(eq + 1))
			return exp_errf(err, errlen, "option '%s': bad %%-escape", kv);
		v = realloc(out->query, (out->nquery + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		out->query = v;
		v[out->nquery++] = (struct exp_pass){ .key = kv, .value = eq + 1 };
	}
	return 0;
}

int exp_url_parse(const char *text, struct exp_url_parts *out, char *err, size_t errlen)
{
	char *s, *rest, *slash, *q, *at;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	for (i = 0; text[i] && scheme_char(text[i], i == 0); i++)
		;
	if (i == 0 || strncmp(text + i, "://", 3) != 0)
		return exp_errf(err, errlen, "expected scheme://... (file:///PATH.ndjson, kafka://HOST:PORT/TOPIC)");
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return exp_errf(err, errlen, "control byte or space at offset %zu (escape it as %%XX)", (size_t)(p - text));
	s = out->buf = strdup(text);
	if (!s)
		return -ENOMEM;
	s[i] = 0;
	out->url.scheme = s;
	rest = s + i + 3;
	q = strchr(rest, '?');
	if (q)
		*q++ = 0;
	slash = strchr(rest, '/');
	out->url.path = "";
	if (slash) {
		/* the path keeps its '/': memmove opens a byte for the authority's NUL */
		size_t alen = (size_t)(slash - rest);

		memmove(rest - 1, rest, alen);
		rest[alen - 1] = 0;
		out->url.path = slash;
		rest--;
	}
	at = strrchr(rest, '@');
	if (at) {
		char *colon;

		*at = 0;
		colon = strchr(rest, ':');
		if (colon)
			*colon++ = 0;
		out->url.user = rest;
		out->url.password = colon;
		rest = at + 1;
		if (!unpercent((char *)out->url.user) || (colon && !unpercent(colon)))
			return exp_errf(err, errlen, "user or password: bad %%-escape");
	}
	out->url.authority = rest;
	if (slash && !unpercent(slash))
		return exp_errf(err, errlen, "path: bad %%-escape");
	rc = q ? parse_query(q, out, err, errlen) : 0;
	return rc;
}

void exp_url_free(struct exp_url_parts *p)
{
	free(p->buf);
	free(p->query);
	memset(p, 0, sizeof(*p));
}

/* Does an option of this name hold a secret? */
static bool secret_key(const char *k, size_t len)
{
	static const char *const words[] = { "password", "secret", "api_key", "apikey", "token" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (memmem(k, len, words[i], strlen(words[i])))
			return true;
	return false;
}

char *exp_url_redact(const char *text)
{
	const char *start = strstr(text, "://"), *q = strchr(text, '?'), *at, *colon;
	size_t len = strlen(text);
	char *o = malloc(3 * len + 8), *p = o;

	if (!o)
		return NULL;
	start = start ? start + 3 : text;
	at = memchr(start, '@', (size_t)((q ? q : text + len) - start));
	colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
	for (const char *s = text; *s;) {
		if (colon && s == colon + 1) {
			p = stpcpy(p, "***");
			s = at;
			continue;
		}
		if (q && s > q && (s[-1] == '?' || s[-1] == '&')) {
			size_t klen = strcspn(s, "=&");

			memcpy(p, s, klen);
			p += klen;
			s += klen;
			if (*s == '=' && secret_key(s - klen, klen)) {
				p = stpcpy(p, "=***");
				s += strcspn(s, "&");
			}
			continue;
		}
		*p++ = *s++;
	}
	*p = 0;
	return o;
}
