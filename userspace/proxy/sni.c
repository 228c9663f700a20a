/* A strict reader of the TLS ClientHello (sni.h).  The bytes come from the
 * sandbox: every length is checked against what holds it before it is used,
 * and nothing is read past len.  The handshake message is gathered from its
 * records into a bounded buffer first, then read as one vector. */
#include "sni.h"

#include <stdbool.h>
#include <string.h>

#include "domain.h"

#define REC_HANDSHAKE 22
#define REC_MAX 16384 /* a plaintext record holds at most 2^14 bytes */
#define HS_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43
#define NAME_TYPE_HOST 0

_Static_assert(SNI_HOST_MAX == DOMAIN_MAX, "sni_hello.name holds what domain_host_canon writes");

struct rd {
	const uint8_t *p;
	size_t off, end; /* off and end index p */
};

static int fail(struct sni_hello *h, int code, const char *why, size_t at)
{
	h->why = why;
	h->at = at;
	return code;
}

static bool rd_left(const struct rd *r, size_t n)
{
	return r->end - r->off >= n;
}

static bool rd_u8(struct rd *r, unsigned *v)
{
	if (!rd_left(r, 1))
		return false;
	*v = r->p[r->off++];
	return true;
}

static bool rd_u16(struct rd *r, unsigned *v)
{
	if (!rd_left(r, 2))
		return false;
	*v = (unsigned)r->p[r->off] << 8 | r->p[r->off + 1];
	r->off += 2;
	return true;
}

static bool rd_skip(struct rd *r, size_t n)
{
	if (!rd_left(r, n))
		return false;
	r->off += n;
	return true;
}

/* a vector with a 1- or 2-byte length in front: v covers its bytes */
static bool rd_vec(struct rd *r, int lenbytes, struct rd *v)
{
	unsigned n;

	if (!(lenbytes == 1 ? rd_u8(r, &n) : rd_u16(r, &n)) || !rd_left(r, n))
		return false;
	*v = (struct rd){ .p = r->p, .off = r->off, .end = r->off + n };
	r->off += n;
	return true;
}

static bool is_grease(unsigned v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* appends one protocol name to h->alpn if the whole of it fits */
static void alpn_add(struct sni_hello *h, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[255 * 4 + 2];
	size_t t = 0, used = strlen(h->alpn);

	if (h->nalpn++ > 0)
		tmp[t++] = ',';
	for (size_t i = 0; i < n; i++) {
		if (p[i] > 0x20 && p[i] < 0x7f && p[i] != ',' && p[i] != '\\') {
			tmp[t++] = (char)p[i];
		} else {
			tmp[t++] = '\\';
			tmp[t++] = 'x';
			tmp[t++] = hex[p[i] >> 4];
			tmp[t++] = hex[p[i] & 15];
		}
	}
	if (used + t < sizeof(h->alpn)) {
		memcpy(h->alpn + used, tmp, t);
		h->alpn[used + t] = 0;
	}
}

static int parse_server_name(struct rd *ext, struct sni_hello *h, size_t *name_off, size_t *name_len)
{
	struct rd list, name;
	unsigned type;

	if (!rd_vec(ext, 2, &list) || ext->off != ext->end)
		return fail(h, SNI_MALFORMED, "server_name: list length disagrees with the extension's", ext->off);
	if (!rd_u8(&list, &type) || type != NAME_TYPE_HOST)
		return fail(h, SNI_MALFORMED, "server_name: first entry is not a host_name", list.off);
	if (!rd_vec(&list, 2, &name) || name.end == name.off)
		return fail(h, SNI_MALFORMED, "server_name: host_name length runs past its list", list.off);
	if (list.off != list.end)
		return fail(h, SNI_MALFORMED, "server_name: more than one name", list.off);
	*name_off = name.off;
	*name_len = name.end - name.off;
	return 0;
}

static int parse_alpn(struct rd *ext, struct sni_hello *h)
{
	struct rd list, name;

	if (!rd_vec(ext, 2, &list) || ext->off != ext->end || list.end - list.off < 2)
		return fail(h, SNI_MALFORMED, "ALPN: list length disagrees with the extension's", ext->off);
	while (list.off < list.end) {
		size_t at = list.off;

		if (!rd_vec(&list, 1, &name) || name.end == name.off)
			return fail(h, SNI_MALFORMED, "ALPN: protocol name empty or past its list", at);
		alpn_add(h, name.p + name.off, name.end - name.off);
	}
	return 0;
}

static int parse_versions(struct rd *ext, struct sni_hello *h)
{
	struct rd list;
	unsigned v, best = 0;

	if (!rd_vec(ext, 1, &list) || ext->off != ext->end || list.end - list.off < 2 ||
	    (list.end - list.off) % 2)
		return fail(h, SNI_MALFORMED, "supported_versions: list length odd or disagreeing", ext->off);
	while (rd_u16(&list, &v))
		if (!is_grease(v) && v > best)
			best = v;
	if (best)
		h->version = (uint16_t)best;
	return 0;
}

/* The ClientHello body, hs[4..n) (hs[0..4) is its handshake header). */
static int parse_hello(const uint8_t *hs, size_t n, struct sni_hello *h)
{
	struct rd r = { .p = hs, .off = 4, .end = n }, v, exts;
	unsigned legacy, type;
	size_t name_off = 0, name_len = 0;
	bool have_name = false;
	uint8_t seen[65536 / 8] = { 0 };
	int err;

	if (!rd_u16(&r, &legacy) || (legacy >> 8) != 3)
		return fail(h, SNI_MALFORMED, "client_version: not 3.x", 4);
	h->version = (uint16_t)legacy;
	if (!rd_skip(&r, 32))
		return fail(h, SNI_MALFORMED, "random: shorter than 32 bytes", r.off);
	if (!rd_vec(&r, 1, &v) || v.end - v.off > 32)
		return fail(h, SNI_MALFORMED, "session_id: longer than 32 bytes or past the hello", r.off);
	if (!rd_vec(&r, 2, &v) || v.end == v.off || (v.end - v.off) % 2)
		return fail(h, SNI_MALFORMED, "cipher_suites: empty, odd or past the hello", v.off);
	if (!rd_vec(&r, 1, &v) || v.end == v.off || !memchr(v.p + v.off, 0, v.end - v.off))
		return fail(h, SNI_MALFORMED, "compression_methods: empty, past the hello or without null", r.off);
	if (r.off == r.end)
		return fail(h, SNI_NO_NAME, "no extensions", r.off);
	if (!rd_vec(&r, 2, &exts) || r.off != r.end)
		return fail(h, SNI_MALFORMED, "extensions: length disagrees with the hello's", r.off);
	while (exts.off < exts.end) {
		size_t at = exts.off;
		struct rd ext;

		if (!rd_u16(&exts, &type) || !rd_vec(&exts, 2, &ext))
			return fail(h, SNI_MALFORMED, "extension: header or length past the extensions", at);
		if (seen[type / 8] & (1u << (type % 8)))
			return fail(h, SNI_MALFORMED, "extension: the same type twice", at);
		seen[type / 8] |= (uint8_t)(1u << (type % 8));
		switch (type) {
		case EXT_SERVER_NAME:
			err = parse_server_name(&ext, h, &name_off, &name_len);
			have_name = true;
			break;
		case EXT_ALPN:
			err = parse_alpn(&ext, h);
			break;
		case EXT_SUPPORTED_VERSIONS:
			err = parse_versions(&ext, h);
			break;
		default:
			err = 0;
		}
		if (err)
			return err;
	}
	if (!have_name)
		return fail(h, SNI_NO_NAME, "no server_name extension", n);
	/* RFC 6066: a DNS host name without the trailing dot, no IP literal */
	if (hs[name_off + name_len - 1] == '.' || domain_host_canon((const char *)hs + name_off, name_len, h->name) < 0) {
		h->name[0] = 0;
		return fail(h, SNI_BAD_NAME, "server_name: not a DNS host name", name_off);
	}
	h->namelen = name_len;
	return (int)name_len;
}

/* the byte of buf that holds byte hs_off of the gathered handshake */
static size_t buf_offset(const uint8_t *buf, size_t len, size_t hs_off)
{
	size_t pos = 0, base = 0;

	while (len - pos >= 5) {
		size_t rlen = (size_t)buf[pos + 3] << 8 | buf[pos + 4];

		if (hs_off < base + rlen)
			return pos + 5 + (hs_off - base);
		base += rlen;
		pos += 5 + rlen;
		if (pos > len)
			return len;
	}
	return pos;
}

int sni_client_hello(const uint8_t *buf, size_t len, struct sni_hello *h)
{
	uint8_t hs[4 + SNI_HELLO_MAX];
	size_t pos = 0, have = 0, need = 0; /* need 0: the handshake header is not in yet */
	int r;

	memset(h, 0, sizeof(*h));
	for (;;) {
		size_t rlen, avail, copy;

		if (pos == len)
			return 0;
		if (buf[pos] != REC_HANDSHAKE)
			return pos == 0 ? fail(h, SNI_NOT_TLS, "record: not a TLS handshake", pos)
					: fail(h, SNI_MALFORMED, "record: not a handshake record inside the hello", pos);
		if (len - pos >= 2 && buf[pos + 1] != 3)
			return pos == 0 ? fail(h, SNI_NOT_TLS, "record: version is not 3.x", pos + 1)
					: fail(h, SNI_MALFORMED, "record: version is not 3.x", pos + 1);
		if (len - pos >= 3 && buf[pos + 2] > 4)
			return fail(h, SNI_MALFORMED, "record: version above 3.4", pos + 2);
		if (len - pos < 5)
			return 0;
		rlen = (size_t)buf[pos + 3] << 8 | buf[pos + 4];
		if (rlen == 0 || rlen > REC_MAX)
			return fail(h, SNI_MALFORMED, "record: length 0 or above 2^14", pos + 3);
		avail = len - pos - 5 < rlen ? len - pos - 5 : rlen;
		copy = avail < sizeof(hs) - have ? avail : sizeof(hs) - have;
		memcpy(hs + have, buf + pos + 5, copy);
		if (have == 0 && copy > 0 && hs[0] != HS_CLIENT_HELLO)
			return fail(h, SNI_MALFORMED, "handshake: not a ClientHello", pos + 5);
		if (need == 0 && have + copy >= 4) {
			need = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
			if (need - 4 > SNI_HELLO_MAX)
				return fail(h, SNI_TOO_LARGE, "handshake: ClientHello above the limit",
					    buf_offset(buf, len, 1));
		}
		if (need && have + avail > need)
			return fail(h, SNI_MALFORMED, "record: bytes after the ClientHello",
				    pos + 5 + (need - have));
		have += copy;
		if (avail < rlen)
			return 0;
		pos += 5 + rlen;
		if (need && have == need)
			break;
	}
	h->consumed = pos;
	r = parse_hello(hs, need, h);
	if (r < 0)
		h->at = buf_offset(buf, len, h->at);
	return r;
}

int sni_parse(const uint8_t *buf, size_t len, char *out, size_t outlen)
{
	struct sni_hello h;
	int r = sni_client_hello(buf, len, &h);

	if (r <= 0)
		return r;
	if (h.namelen >= outlen)
		return SNI_NO_SPACE;
	memcpy(out, h.name, h.namelen + 1);
	return r;
}

const char *sni_version_name(uint16_t version)
{
	switch (version) {
	case 0x0300: return "SSLv3";
	case 0x0301: return "TLSv1";
	case 0x0302: return "TLSv1.1";
	case 0x0303: return "TLSv1.2";
	case 0x0304: return "TLSv1.3";
	default: return NULL;
	}
}
