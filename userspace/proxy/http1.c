/* HTTP/1.1 in clear between a sandbox and an origin (http1.h). */
#include "http1.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#define FIELD_MAX 256
#define TCHARS "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

struct buf {
	char *p;
	size_t n, cap;
};

struct http1 {
	const struct http1_config *cfg;
	http_parser rq, rs;
	/* the request head being read: its target and its kept headers */
	struct buf url, hdrs, held;
	char field[FIELD_MAX + 1]; /* NUL-terminated for strspn */
	size_t fieldlen;
	bool in_value, keep_value, value_is_host, seen_host, upgrade_asked;
	char host[DOMAIN_MAX + 8];
	size_t hostlen;
	/* requests sent and not answered, oldest first */
	struct http1_exchange pending[HTTP1_PENDING_MAX];
	unsigned first, count;
	/* the answer being read */
	char rfield[FIELD_MAX];
	size_t rfieldlen;
	bool rin_value, rvalue_is_ctype;
	char ctype[sizeof(((struct http1_exchange *)0)->content_type)];
	size_t ctypelen;
	uint64_t rbody;
	bool upgraded, failed;
	int err;
	const char *why;
};

static int fail(struct http1 *h, int err, const char *why)
{
	if (!h->failed) {
		h->failed = true;
		h->err = err;
		h->why = why;
	}
	return err;
}

static int buf_add(struct buf *b, const void *p, size_t n, size_t max)
{
	if (b->n + n > max)
		return -E2BIG;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *q;

		while (cap < b->n + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

static int emit(struct http1 *h, const void *p, size_t n)
{
	int r = n ? h->cfg->emit(h->cfg->arg, p, n) : 0;

	return r < 0 ? fail(h, r, "the origin's side took no more bytes") : 0;
}

/* ---- the client's side ---- */

static bool is_field(const struct http1 *h, const char *name)
{
	return strlen(name) == h->fieldlen && !strncasecmp(h->field, name, h->fieldlen);
}

/* a field's name is complete when its value begins */
static int field_done(struct http1 *h)
{
	const char *inj = h->cfg->inject_name;
	size_t used = h->url.n + h->hdrs.n;
	int r;

	/* RFC 9110 5.1: a name is a token; anything else (a leading space
	 * above all) another parser may read as part of the previous header */
	if (h->fieldlen == 0 || strspn(h->field, TCHARS) < h->fieldlen)
		return fail(h, -EBADMSG, "header name is no token");
	h->value_is_host = is_field(h, "host");
	if (h->value_is_host) {
		if (h->seen_host)
			return fail(h, -EBADMSG, "Host header twice");
		h->seen_host = true;
	}
	/* the client's copy of the injected header never reaches the origin;
	 * nor its framing: the body goes re-framed as the parser read it, so
	 * the origin cannot read another request boundary than the proxy */
	h->keep_value = !(inj && strlen(inj) == h->fieldlen && !strncasecmp(h->field, inj, h->fieldlen)) &&
			!is_field(h, "content-length") && !is_field(h, "transfer-encoding");
	if (!h->keep_value)
		return 0;
	if ((r = buf_add(&h->hdrs, h->field, h->fieldlen, HTTP1_HEAD_MAX - used)) < 0 ||
	    (r = buf_add(&h->hdrs, ": ", 2, HTTP1_HEAD_MAX - used - h->fieldlen)) < 0)
		return fail(h, r, r == -E2BIG ? "request head above the limit" : "out of memory");
	return 0;
}

static int value_done(struct http1 *h)
{
	int r;

	if (h->keep_value && (r = buf_add(&h->hdrs, "\r\n", 2, HTTP1_HEAD_MAX - h->url.n)) < 0)
		return fail(h, r, r == -E2BIG ? "request head above the limit" : "out of memory");
	return 0;
}

static int rq_message_begin(http_parser *p)
{
	struct http1 *h = p->data;

	h->url.n = h->hdrs.n = 0;
	h->fieldlen = h->hostlen = 0;
	h->in_value = h->seen_host = false;
	return 0;
}

static int rq_url(http_parser *p, const char *at, size_t len)
{
	struct http1 *h = p->data;
	int r = buf_add(&h->url, at, len, HTTP1_HEAD_MAX);

	return r < 0 ? fail(h, r, r == -E2BIG ? "request target above the limit" : "out of memory") : 0;
}

static int rq_field(http_parser *p, const char *at, size_t len)
{
	struct http1 *h = p->data;

	if (h->in_value) {
		h->in_value = false;
		h->fieldlen = 0;
		if (value_done(h))
			return -1;
	}
	if (h->fieldlen + len > FIELD_MAX)
		return fail(h, -E2BIG, "header name above 256 bytes");
	memcpy(h->field + h->fieldlen, at, len);
	h->fieldlen += len;
	h->field[h->fieldlen] = 0;
	return 0;
}

static int rq_value(http_parser *p, const char *at, size_t len)
{
	struct http1 *h = p->data;
	int r;

	if (!h->in_value) {
		h->in_value = true;
		if (field_done(h))
			return -1;
	}
	if (h->value_is_host) {
		if (h->hostlen + len > sizeof(h->host))
			return fail(h, -EPERM, "Host header is no host name");
		memcpy(h->host + h->hostlen, at, len);
		h->hostlen += len;
	}
	if (h->keep_value && (r = buf_add(&h->hdrs, at, len, HTTP1_HEAD_MAX - h->url.n)) < 0)
		return fail(h, r, r == -E2BIG ? "request head above the limit" : "out of memory");
	return 0;
}

/* "name[:port]" (a Host header) must be the connection's name and port */
static int check_authority(struct http1 *h, const char *s, size_t n, const char *what)
{
	char canon[DOMAIN_MAX + 1];
	size_t port_at = n;

	if (n && s[0] != '[' && memchr(s, ':', n)) {
		unsigned long port = 0;

		port_at = (size_t)((const char *)memchr(s, ':', n) - s);
		for (size_t i = port_at + 1; i < n && port <= 65535; i++)
			port = s[i] >= '0' && s[i] <= '9' ? port * 10 + (unsigned long)(s[i] - '0') : 65536;
		if (port_at + 1 == n || port != h->cfg->port)
			return fail(h, -EPERM, what);
	}
	if (domain_host_canon(s, port_at, canon) < 0 || strcmp(canon, h->cfg->host))
		return fail(h, -EPERM, what);
	return 0;
}

/* the request's host: the Host header's, and an absolute target's too */
static int check_host(struct http1 *h, const struct http_parser_url *u)
{
	if (u && (u->field_set & (1 << UF_HOST))) {
		const char *s = h->url.p + u->field_data[UF_HOST].off;
		size_t n = u->field_data[UF_HOST].len;

		if ((u->field_set & (1 << UF_PORT)) && u->port != h->cfg->port)
			return fail(h, -EPERM, "request target names another port");
		if (check_authority(h, s, n, "request target names another host"))
			return -1;
	} else if (!h->seen_host) {
		return fail(h, -EBADMSG, "no Host header");
	}
	if (h->seen_host && check_authority(h, h->host, h->hostlen, "Host header names another host or port"))
		return -1;
	return 0;
}

static void set_path(struct http1_exchange *x, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		size_t need = (c > 0x20 && c < 0x7f) ? 1 : 3;

		if (o + need >= sizeof(x->path)) {
			x->path_cut = true;
			break;
		}
		if (need == 1) {
			x->path[o++] = (char)c;
		} else {
			x->path[o++] = '%';
			x->path[o++] = hex[c >> 4];
			x->path[o++] = hex[c & 15];
		}
	}
	x->path[o] = 0;
}

static int rq_headers_complete(http_parser *p)
{
	struct http1 *h = p->data;
	struct http_parser_url u;
	struct http1_exchange *x;
	bool absolute;
	const char *inj = h->cfg->inject_name;

	if (h->in_value && value_done(h))
		return -1;
	h->in_value = false;
	if (p->http_major != 1)
		return fail(h, -EBADMSG, "not HTTP/1.x");
	if (p->method == HTTP_CONNECT)
		return fail(h, -EPERM, "CONNECT inside the connection");
	if (h->count == HTTP1_PENDING_MAX)
		return fail(h, -ENOBUFS, "more than 32 requests unanswered");
	http_parser_url_init(&u);
	absolute = h->url.n && h->url.p[0] != '/' && !(h->url.n == 1 && h->url.p[0] == '*');
	if (h->url.n == 0 || http_parser_parse_url(h->url.p, h->url.n, 0, &u))
		return fail(h, -EBADMSG, "request target");
	if (check_host(h, absolute ? &u : NULL))
		return -1;
	x = &h->pending[(h->first + h->count++) % HTTP1_PENDING_MAX];
	memset(x, 0, sizeof(*x));
	snprintf(x->method, sizeof(x->method), "%s", http_method_str(p->method));
	if (u.field_set & (1 << UF_PATH))
		set_path(x, h->url.p + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
	else
		set_path(x, h->url.p, h->url.n == 1 && h->url.p[0] == '*' ? 1 : 0);
	/* the head for the origin: the same line and headers, ours added */
	if (emit(h, x->method, strlen(x->method)) || emit(h, " ", 1) || emit(h, h->url.p, h->url.n) ||
	    emit(h, p->http_minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11) ||
	    (!h->seen_host && (emit(h, "Host: ", 6) || emit(h, h->cfg->host, strlen(h->cfg->host)) || emit(h, "\r\n", 2))) ||
	    emit(h, h->hdrs.p, h->hdrs.n))
		return -1;
	if (p->flags & F_CHUNKED) {
		if (emit(h, "Transfer-Encoding: chunked\r\n", 28))
			return -1;
	} else if (p->content_length != ULLONG_MAX && p->content_length > 0) {
		char cl[48];
		int n = snprintf(cl, sizeof(cl), "Content-Length: %llu\r\n", (unsigned long long)p->content_length);

		if (emit(h, cl, (size_t)n))
			return -1;
	}
	if (inj && (emit(h, inj, strlen(inj)) || emit(h, ": ", 2) ||
		    emit(h, h->cfg->inject_value, strlen(h->cfg->inject_value)) || emit(h, "\r\n", 2)))
		return -1;
	if (emit(h, "\r\n", 2))
		return -1;
	h->upgrade_asked = p->upgrade;
	return 0;
}

static int rq_body(http_parser *p, const char *at, size_t len)
{
	struct http1 *h = p->data;
	char size[24];

	h->pending[(h->first + h->count - 1) % HTTP1_PENDING_MAX].req_body += len;
	/* re-framed from what the parser read: chunks stay chunks */
	if (p->flags & F_CHUNKED) {
		int n = snprintf(size, sizeof(size), "%zx\r\n", len);

		return emit(h, size, (size_t)n) || emit(h, at, len) || emit(h, "\r\n", 2) ? -1 : 0;
	}
	return emit(h, at, len) ? -1 : 0;
}

static int rq_message_complete(http_parser *p)
{
	struct http1 *h = p->data;

	if ((p->flags & F_CHUNKED) && emit(h, "0\r\n\r\n", 5))
		return -1;
	return 0;
}

static const http_parser_settings rq_settings = {
	.on_message_begin = rq_message_begin,
	.on_url = rq_url,
	.on_header_field = rq_field,
	.on_header_value = rq_value,
	.on_headers_complete = rq_headers_complete,
	.on_body = rq_body,
	.on_message_complete = rq_message_complete,
};

int http1_request(struct http1 *h, const char *buf, size_t len)
{
	size_t done;

	if (h->failed)
		return h->err;
	if (h->upgraded)
		return emit(h, buf, len);
	/* after a request for an upgrade its bytes wait for the answer */
	if (h->rq.upgrade) {
		int r = buf_add(&h->held, buf, len, HTTP1_HEAD_MAX);

		return r < 0 ? fail(h, r, "bytes after an upgrade request above the limit") : 0;
	}
	done = http_parser_execute(&h->rq, &rq_settings, buf, len);
	if (h->failed)
		return h->err;
	if (HTTP_PARSER_ERRNO(&h->rq) != HPE_OK)
		return fail(h, -EBADMSG, http_errno_description(HTTP_PARSER_ERRNO(&h->rq)));
	if (h->rq.upgrade && done < len)
		return http1_request(h, buf + done, len - done);
	return 0;
}

/* ---- the origin's side ---- */

static int rs_message_begin(http_parser *p)
{
	struct http1 *h = p->data;

	h->rfieldlen = h->ctypelen = 0;
	h->rin_value = h->rvalue_is_ctype = false;
	h->rbody = 0;
	return 0;
}

static int rs_field(http_parser *p, const char *at, size_t len)
{
	struct http1 *h = p->data;

	if (h->rin_value) {
		h->rin_value = false;
		h->rfieldlen = 0;
	}
	/* only Content-Type matters: a longer name is not it */
	if (h->rfieldlen + len <= sizeof(h->rfield))
		memcpy(h->rfield + h->rfieldlen, at, len);
	h->rfieldlen += len;
	return 0;
}

static int rs_value(http_parser *p, const char *at, size_t len)
{
	struct http1 *h = p->data;

	if (!h->rin_value) {
		h->rin_value = true;
		h->rvalue_is_ctype = h->rfieldlen == 12 && !strncasecmp(h->rfield, "content-type", 12);
		if (h->rvalue_is_ctype)
			h->ctypelen = 0;
	}
	for (size_t i = 0; h->rvalue_is_ctype && i < len && h->ctypelen < sizeof(h->ctype) - 1; i++)
		h->ctype[h->ctypelen++] = at[i] > 0x1f && at[i] < 0x7f ? at[i] : '?';
	return 0;
}

static int rs_headers_complete(http_parser *p)
{
	struct http1 *h = p->data;

	if (h->count == 0)
		return fail(h, -EBADMSG, "an answer to no request");
	/* an answer to HEAD has no body, whatever its length says */
	return !strcmp(h->pending[h->first].method, "HEAD") ? 1 : 0;
}

static int rs_body(http_parser *p, const char *at, size_t len)
{
	((struct http1 *)p->data)->rbody += len;
	return 0;
}

static void pop(struct http1 *h, int status)
{
	struct http1_exchange *x = &h->pending[h->first];

	x->status = status;
	memcpy(x->content_type, h->ctype, h->ctypelen);
	x->content_type[h->ctypelen] = 0;
	x->resp_body = h->rbody;
	h->first = (h->first + 1) % HTTP1_PENDING_MAX;
	h->count--;
	h->cfg->on_exchange(h->cfg->arg, x);
}

static int rs_message_complete(http_parser *p)
{
	struct http1 *h = p->data;
	int status = (int)p->status_code;

	/* 100 Continue and the like come before the answer */
	if (status >= 100 && status < 200 && status != 101)
		return 0;
	pop(h, status);
	if (h->upgrade_asked) {
		if (status != 101)
			return fail(h, -EPERM, "an upgrade request answered without 101");
		h->upgraded = true;
		if (emit(h, h->held.p, h->held.n))
			return -1;
		h->held.n = 0;
	}
	return 0;
}

static const http_parser_settings rs_settings = {
	.on_message_begin = rs_message_begin,
	.on_header_field = rs_field,
	.on_header_value = rs_value,
	.on_headers_complete = rs_headers_complete,
	.on_body = rs_body,
	.on_message_complete = rs_message_complete,
};

int http1_response(struct http1 *h, const char *buf, size_t len)
{
	if (h->failed)
		return h->err;
	if (h->upgraded)
		return 0;
	http_parser_execute(&h->rs, &rs_settings, buf, len);
	if (h->failed)
		return h->err;
	if (HTTP_PARSER_ERRNO(&h->rs) != HPE_OK && !h->upgraded)
		return fail(h, -EBADMSG, http_errno_description(HTTP_PARSER_ERRNO(&h->rs)));
	return 0;
}

int http1_response_end(struct http1 *h)
{
	int r = 0;

	if (!h->failed && !h->upgraded) {
		/* an answer read until the close ends here */
		http_parser_execute(&h->rs, &rs_settings, NULL, 0);
		if (HTTP_PARSER_ERRNO(&h->rs) != HPE_OK)
			r = fail(h, -EBADMSG, http_errno_description(HTTP_PARSER_ERRNO(&h->rs)));
	}
	while (h->count) {
		h->ctypelen = 0;
		h->rbody = 0;
		pop(h, 0);
	}
	return r;
}

bool http1_upgraded(const struct http1 *h)
{
	return h->upgraded;
}

const char *http1_why(const struct http1 *h)
{
	return h->why ? h->why : "";
}

struct http1 *http1_new(const struct http1_config *cfg)
{
	struct http1 *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cfg = cfg;
	http_parser_init(&h->rq, HTTP_REQUEST);
	http_parser_init(&h->rs, HTTP_RESPONSE);
	h->rq.data = h->rs.data = h;
	return h;
}

void http1_free(struct http1 *h)
{
	if (!h)
		return;
	free(h->url.p);
	free(h->hdrs.p);
	free(h->held.p);
	free(h);
}
