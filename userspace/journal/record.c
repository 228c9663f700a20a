#include <errno.h>
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

	if (len > REC_SLACK || sb->alloc - sb->size < REC_SLACK)
		return msgpack_sbuffer_write(data, buf, len);
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
	rec_write(&r->buf, map32, sizeof(map32));
	r->nkeys = 0;
	rec_uint(r, "v", RECORD_VERSION);
	rec_uint(r, "ts", ts_ns);
	rec_str(r, "type", type);
}

void rec_key_n(struct rec *r, const char *key, size_t klen)
{
	msgpack_pack_str_with_body(&r->pk, key, klen);
	r->nkeys++;
}

void rec_raw_n(struct rec *r, const char *key, size_t klen, const void *mp, size_t len)
{
	rec_key_n(r, key, klen);
	msgpack_sbuffer_write(&r->buf, mp, len);
}

void rec_str_n(struct rec *r, const char *key, size_t klen, const char *val)
{
	rec_key_n(r, key, klen);
	msgpack_pack_str_with_body(&r->pk, val, strlen(val));
}

void rec_bytes_n(struct rec *r, const char *key, size_t klen, const void *p, size_t len)
{
	rec_key_n(r, key, klen);
	msgpack_pack_bin_with_body(&r->pk, p, len);
}

void rec_int_n(struct rec *r, const char *key, size_t klen, int64_t v)
{
	rec_key_n(r, key, klen);
	msgpack_pack_int64(&r->pk, v);
}

void rec_uint_n(struct rec *r, const char *key, size_t klen, uint64_t v)
{
	rec_key_n(r, key, klen);
	msgpack_pack_uint64(&r->pk, v);
}

void rec_bool_n(struct rec *r, const char *key, size_t klen, bool v)
{
	rec_key_n(r, key, klen);
	if (v)
		msgpack_pack_true(&r->pk);
	else
		msgpack_pack_false(&r->pk);
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

/* msgpack-c allocates a container's elements before it reads them, so a
 * hostile 5-byte array32 header asks for 100 GB.  Walks the encoding first:
 * every pending value needs at least one byte, so no count may exceed the
 * bytes left, and every length must fit in them. */
static int rec_check_sizes(const uint8_t *p, size_t len)
{
	/* per lead byte 0xc4..0xdf: bytes of its length field, bytes of its
	 * fixed part (numbers; the type byte of ext) */
	static const uint8_t lenb[28] = { 1, 2, 4, 1, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					  0, 0, 0, 0, 0, 1, 2, 4, 2, 4, 2, 4 };
	static const uint8_t fixed[28] = { 0, 0, 0, 1, 1, 1, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8,
					   2, 3, 5, 9, 17, 0, 0, 0, 0, 0, 0, 0 };
	size_t off = 0;
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
	return 0;
}

int rec_unpack(const void *p, size_t len, msgpack_zone *zone, msgpack_object *out)
{
	size_t off = 0;

	if (rec_check_sizes(p, len) < 0)
		return -EBADMSG;
	if (msgpack_unpack(p, len, &off, zone, out) != MSGPACK_UNPACK_SUCCESS)
		return -EBADMSG;
	if (off != len || out->type != MSGPACK_OBJECT_MAP)
		return -EBADMSG;
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
