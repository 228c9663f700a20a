#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

/* Top-level maps are written as map32 so the count can be patched in place. */
#define MAP32_HDR 5

/* The most rec_write copies itself: a type byte and 8 bytes of number. */
#define REC_SLACK 9

/* The packer writes a few bytes at a time (a type byte, a number, a short
 * key) through this callback, tens of times a record: those are copied by
 * size here, without a call into libc; msgpack_sbuffer_write takes the
 * rest and grows the buffer. */
static int rec_write(void *data, const char *buf, size_t len)
{
	msgpack_sbuffer *sb = data;
	char *d;

	if (len > REC_SLACK || sb->alloc - sb->size < REC_SLACK) {
		int rc = msgpack_sbuffer_write(data, buf, len);

		if (rc < 0)
			((struct rec *)((char *)sb - offsetof(struct rec, buf)))->cut = true;
		return rc;
	}
	d = sb->data + sb->size;
	switch (len) {
	case 1: d[0] = buf[0]; break;
	case 2: memcpy(d, buf, 2); break;
	case 3: memcpy(d, buf, 3); break;
	case 4: memcpy(d, buf, 4); break;
	case 5: memcpy(d, buf, 5); break;
	case 6: memcpy(d, buf, 6); break;
	case 7: memcpy(d, buf, 7); break;
	case 8: memcpy(d, buf, 8); break;
	case 9: memcpy(d, buf, 9); break;
	default: break;
	}
	sb->size += len;
	return 0;
}

void rec_init(struct rec *r)
{
	msgpack_sbuffer_init(&r->buf);
	msgpack_packer_init(&r->pk, &r->buf, rec_write);
	r->nkeys = 0;
}

void rec_free(struct rec *r)
{
	msgpack_sbuffer_destroy(&r->buf);
}

void rec_begin(struct rec *r, const char *type, uint64_t ts_ns)
{
	static const char map32[MAP32_HDR] = { (char)0xdf, 0, 0, 0, 0 };

	msgpack_sbuffer_clear(&r->buf);
	r->cut = false;
	rec_write(&r->buf, map32, sizeof(map32));
	r->nkeys = 0;
	rec_uint(r, "v", RECORD_VERSION);
	rec_uint(r, "ts", ts_ns);
	rec_str(r, "type", type);
}

/* Room for n more bytes at the end of the record, for the writers below,
 * which encode a key and its value in place rather than through the
 * packer's callback a few bytes at a time.  NULL: no memory (the record is
 * then cut short, as a failed packer write leaves it). */
__attribute__((noinline)) static uint8_t *grow(struct rec *r, size_t n)
{
	msgpack_sbuffer *sb = &r->buf;
	size_t cap = sb->alloc ? sb->alloc : MSGPACK_SBUFFER_INIT_SIZE;
	char *p;

	if (n > (SIZE_MAX >> 2) - sb->size) { /* no doubling of cap reaches it */
		r->cut = true;
		return NULL;
	}
	while (cap - sb->size < n)
		cap *= 2;
	p = realloc(sb->data, cap);
	if (!p) {
		r->cut = true;
		return NULL;
	}
	sb->data = p;
	sb->alloc = cap;
	return (uint8_t *)sb->data + sb->size;
}

/* Inline: every key pays this check, and the buffer has grown after the
 * first records. */
static inline uint8_t *room(struct rec *r, size_t n)
{
	msgpack_sbuffer *sb = &r->buf;

	if (__builtin_expect(sb->alloc - sb->size >= n, 1))
		return (uint8_t *)sb->data + sb->size;
	return grow(r, n);
}

/* The encodings below are msgpack's smallest, as msgpack-c's packer picks
 * them: the bytes do not depend on which of the two wrote a value. */
static size_t put_be(uint8_t *d, uint8_t type, uint64_t v, size_t n)
{
	d[0] = type;
	for (size_t i = 0; i < n; i++)
		d[1 + i] = (uint8_t)(v >> 8 * (n - 1 - i));
	return 1 + n;
}

static size_t put_uint(uint8_t *d, uint64_t v)
{
	if (v < 0x80) {
		d[0] = (uint8_t)v;
		return 1;
	}
	if (v <= UINT8_MAX)
		return put_be(d, 0xcc, v, 1);
	if (v <= UINT16_MAX)
		return put_be(d, 0xcd, v, 2);
	if (v <= UINT32_MAX)
		return put_be(d, 0xce, v, 4);
	return put_be(d, 0xcf, v, 8);
}

static size_t put_int(uint8_t *d, int64_t v)
{
	if (v >= 0)
		return put_uint(d, (uint64_t)v);
	if (v >= -32) {
		d[0] = (uint8_t)v;
		return 1;
	}
	if (v >= INT8_MIN)
		return put_be(d, 0xd0, (uint64_t)v, 1);
	if (v >= INT16_MIN)
		return put_be(d, 0xd1, (uint64_t)v, 2);
	if (v >= INT32_MIN)
		return put_be(d, 0xd2, (uint64_t)v, 4);
	return put_be(d, 0xd3, (uint64_t)v, 8);
}

/* A str (or, bin, a bin) header for len bytes. */
static size_t put_len(uint8_t *d, size_t len, bool bin)
{
	if (!bin && len < 32) {
		d[0] = (uint8_t)(0xa0 | len);
		return 1;
	}
	if (len <= UINT8_MAX)
		return put_be(d, bin ? 0xc4 : 0xd9, len, 1);
	if (len <= UINT16_MAX)
		return put_be(d, bin ? 0xc5 : 0xda, len, 2);
	return put_be(d, bin ? 0xc6 : 0xdb, len, 4);
}

static size_t put_array(uint8_t *d, size_t n)
{
	if (n < 16) {
		d[0] = (uint8_t)(0x90 | n);
		return 1;
	}
	return n <= UINT16_MAX ? put_be(d, 0xdc, n, 2) : put_be(d, 0xdd, n, 4);
}

/* The most a header or a number takes: a type byte and 8 bytes. */
#define HDR_MAX 9

/* Writes key, with room for vmax more bytes after it; NULL: no memory. */
static uint8_t *put_key(struct rec *r, const char *key, size_t klen, size_t vmax)
{
	uint8_t *d = room(r, HDR_MAX + klen + vmax);
	size_t n;

	if (!d)
		return NULL;
	n = put_len(d, klen, false);
	memcpy(d + n, key, klen);
	r->nkeys++;
	return d + n + klen;
}

/* Ends a write at e (NULL: it failed). */
static void done(struct rec *r, const uint8_t *e)
{
	if (e)
		r->buf.size = (size_t)((const char *)e - r->buf.data);
}

void rec_key_n(struct rec *r, const char *key, size_t klen)
{
	done(r, put_key(r, key, klen, 0));
}

static void put_body(struct rec *r, const char *key, size_t klen, const void *p, size_t len, bool bin)
{
	uint8_t *d = put_key(r, key, klen, HDR_MAX + len);

	if (d) {
		d += put_len(d, len, bin);
		memcpy(d, p, len);
		d += len;
	}
	done(r, d);
}

void rec_bin_val(struct rec *r, const void *p, size_t len)
{
	uint8_t *d = room(r, HDR_MAX + len);

	if (d) {
		d += put_len(d, len, true);
		memcpy(d, p, len);
		d += len;
	}
	done(r, d);
}

void rec_strs_n(struct rec *r, const char *key, size_t klen, const char *const *v, size_t n)
{
	uint8_t *d = put_key(r, key, klen, 5);

	if (d)
		d += put_array(d, n);
	done(r, d);
	for (size_t i = 0; d && i < n; i++) {
		size_t len = strlen(v[i]);

		d = room(r, HDR_MAX + len);
		if (d) {
			d += put_len(d, len, false);
			memcpy(d, v[i], len);
			d += len;
		}
		done(r, d);
	}
}

void rec_raw_n(struct rec *r, const char *key, size_t klen, const void *mp, size_t len)
{
	uint8_t *d = put_key(r, key, klen, len);

	if (d) {
		memcpy(d, mp, len);
		d += len;
	}
	done(r, d);
}

void rec_append(struct rec *r, const void *mp, size_t len, uint32_t nkeys)
{
	uint8_t *d = room(r, len);

	if (d) {
		memcpy(d, mp, len);
		d += len;
		r->nkeys += nkeys;
	}
	done(r, d);
}

void rec_str_n(struct rec *r, const char *key, size_t klen, const char *val)
{
	put_body(r, key, klen, val, strlen(val), false);
}

void rec_bytes_n(struct rec *r, const char *key, size_t klen, const void *p, size_t len)
{
	put_body(r, key, klen, p, len, true);
}

void rec_int_n(struct rec *r, const char *key, size_t klen, int64_t v)
{
	uint8_t *d = put_key(r, key, klen, HDR_MAX);

	done(r, d ? d + put_int(d, v) : NULL);
}

void rec_uint_n(struct rec *r, const char *key, size_t klen, uint64_t v)
{
	uint8_t *d = put_key(r, key, klen, HDR_MAX);

	done(r, d ? d + put_uint(d, v) : NULL);
}

void rec_bool_n(struct rec *r, const char *key, size_t klen, bool v)
{
	uint8_t *d = put_key(r, key, klen, 1);

	if (d)
		*d++ = v ? 0xc3 : 0xc2;
	done(r, d);
}

const void *rec_finish(struct rec *r, size_t *len)
{
	uint8_t *p = (uint8_t *)r->buf.data;

	p[1] = r->nkeys >> 24;
	p[2] = r->nkeys >> 16;
	p[3] = r->nkeys >> 8;
	p[4] = r->nkeys;
	*len = r->buf.size;
	return r->buf.data;
}

/* Big-endian length of n bytes at p. */
static uint64_t be_len(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Walks one encoded value from *off on, every nested one with it, without
 * allocating: -EBADMSG when it does not fit in len.  Every pending value
 * needs at least one byte, so no count may exceed the bytes left, and every
 * length must fit in them. */
static int mp_skip(const uint8_t *p, size_t len, size_t *at)
{
	/* per lead byte 0xc4..0xdf: bytes of its length field, bytes of its
	 * fixed part (numbers; the type byte of ext) */
	static const uint8_t lenb[28] = { 1, 2, 4, 1, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					  0, 0, 0, 0, 0, 1, 2, 4, 2, 4, 2, 4 };
	static const uint8_t fixed[28] = { 0, 0, 0, 1, 1, 1, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8,
					   2, 3, 5, 9, 17, 0, 0, 0, 0, 0, 0, 0 };
	size_t off = *at;
	uint64_t want = 1;

	while (want > 0) {
		uint64_t n = 0, skip = 0;
		uint8_t b;

		if (off >= len)
			return -EBADMSG;
		b = p[off++];
		want--;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
			/* fixint, nil, bool */
		} else if (b <= 0x8f) {
			n = 2 * (uint64_t)(b & 0x0f);
		} else if (b <= 0x9f) {
			n = b & 0x0f;
		} else if (b <= 0xbf) {
			skip = b & 0x1f;
		} else if (b == 0xc1) {
			return -EBADMSG;
		} else {
			uint8_t k = lenb[b - 0xc4];

			if (len - off < k)
				return -EBADMSG;
			skip = fixed[b - 0xc4] + be_len(p + off, k);
			off += k;
			if (b >= 0xdc) {
				n = (b >= 0xde ? 2 : 1) * skip;
				skip = 0;
			}
		}
		if (skip > len - off)
			return -EBADMSG;
		off += skip;
		want += n;
		if (want > len - off)
			return -EBADMSG;
	}
	*at = off;
	return 0;
}

int rec_unpack(const void *p, size_t len, msgpack_zone *zone, msgpack_object *out)
{
	size_t off = 0;

	/* msgpack-c allocates a container's elements before it reads them,
	 * so a hostile 5-byte array32 header would ask for 100 GB: the
	 * encoding is walked first */
	if (mp_skip(p, len, &off) < 0)
		return -EBADMSG;
	off = 0;
	if (msgpack_unpack(p, len, &off, zone, out) != MSGPACK_UNPACK_SUCCESS)
		return -EBADMSG;
	if (off != len || out->type != MSGPACK_OBJECT_MAP)
		return -EBADMSG;
	return 0;
}

/* A string (1) or bin (2) value at p + off, or neither (0); mp_skip has
 * checked that it fits. */
static int mp_bytes(const uint8_t *p, size_t off, const char **s, size_t *n)
{
	uint8_t b = p[off];
	size_t k;

	if (b >= 0xa0 && b <= 0xbf) {
		*s = (const char *)p + off + 1;
		*n = b & 0x1f;
		return 1;
	}
	if (b >= 0xd9 && b <= 0xdb)
		k = (size_t)1 << (b - 0xd9);
	else if (b >= 0xc4 && b <= 0xc6)
		k = (size_t)1 << (b - 0xc4);
	else
		return 0;
	*n = be_len(p + off + 1, k);
	*s = (const char *)p + off + 1 + k;
	return b >= 0xd9 ? 1 : 2;
}

/* A non-negative integer at p + off, of whichever width and signedness (as
 * msgpack-c reads it: a positive integer). */
static bool mp_uint(const uint8_t *p, size_t off, uint64_t *v)
{
	uint8_t b = p[off];
	size_t k;

	if (b <= 0x7f) {
		*v = b;
		return true;
	}
	if (b >= 0xcc && b <= 0xcf) {
		*v = be_len(p + off + 1, (size_t)1 << (b - 0xcc));
		return true;
	}
	if (b < 0xd0 || b > 0xd3)
		return false;
	k = (size_t)1 << (b - 0xd0);
	if (p[off + 1] & 0x80)
		return false; /* negative */
	*v = be_len(p + off + 1, k);
	return true;
}

int rec_peek(const void *buf, size_t len, struct rec_head *h)
{
	const uint8_t *p = buf;
	bool ts = false, type = false, session = false;
	size_t off = 0;
	uint64_t n;

	if (mp_skip(p, len, &off) < 0 || off != len)
		return -EBADMSG;
	if (p[0] >= 0x80 && p[0] <= 0x8f) {
		n = p[0] & 0x0f;
		off = 1;
	} else if (p[0] == 0xde || p[0] == 0xdf) {
		n = be_len(p + 1, p[0] == 0xde ? 2 : 4);
		off = p[0] == 0xde ? 3 : 5;
	} else {
		return -EBADMSG;
	}
	*h = (struct rec_head){ 0 };
	/* the first of each key counts, as with rec_get; the map was walked
	 * whole above, so no step below can leave it */
	while (n-- > 0 && !(ts && type && session)) {
		const char *key;
		size_t klen, val;

		val = off;
		mp_skip(p, len, &val);
		if (mp_bytes(p, off, &key, &klen) == 1) {
			if (!ts && klen == 2 && !memcmp(key, "ts", 2)) {
				ts = true;
				h->has_ts = mp_uint(p, val, &h->ts);
			} else if (!type && klen == 4 && !memcmp(key, "type", 4)) {
				type = true;
				if (!mp_bytes(p, val, &h->type, &h->type_len))
					h->type = NULL;
			} else if (!session && klen == 7 && !memcmp(key, "session", 7)) {
				session = true;
				if (!mp_bytes(p, val, &h->session, &h->session_len))
					h->session = NULL;
			}
		}
		off = val;
		mp_skip(p, len, &off);
	}
	return 0;
}

const msgpack_object *rec_get(const msgpack_object *rec, const char *key)
{
	size_t klen = strlen(key);

	if (rec->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < rec->via.map.size; i++) {
		const msgpack_object_kv *kv = &rec->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0)
			return &kv->val;
	}
	return NULL;
}

bool rec_get_int(const msgpack_object *rec, const char *key, int64_t *out)
{
	const msgpack_object *o = rec_get(rec, key);

	if (!o)
		return false;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return true;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*out = (int64_t)o->via.u64;
		return true;
	}
	return false;
}

bool rec_get_uint(const msgpack_object *rec, const char *key, uint64_t *out)
{
	const msgpack_object *o = rec_get(rec, key);

	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*out = o->via.u64;
	return true;
}

bool rec_get_bytes(const msgpack_object *rec, const char *key, const char **p, size_t *len)
{
	const msgpack_object *o = rec_get(rec, key);

	if (!o)
		return false;
	if (o->type == MSGPACK_OBJECT_STR) {
		*p = o->via.str.ptr;
		*len = o->via.str.size;
		return true;
	}
	if (o->type == MSGPACK_OBJECT_BIN) {
		*p = o->via.bin.ptr;
		*len = o->via.bin.size;
		return true;
	}
	return false;
}

bool rec_is(const msgpack_object *rec, const char *key, const char *val)
{
	const char *p;
	size_t len;

	return rec_get_bytes(rec, key, &p, &len) && len == strlen(val) && memcmp(p, val, len) == 0;
}

bool rec_flag(const msgpack_object *rec, const char *key)
{
	const msgpack_object *o = rec_get(rec, key);

	return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}
