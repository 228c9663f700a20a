#include <errno.h>
#include <string.h>

#include "record.h"

/* Top-level maps are written as map32 so the count can be patched in place. */
#define MAP32_HDR 5

void rec_init(struct rec *r)
{
	msgpack_sbuffer_init(&r->buf);
	msgpack_packer_init(&r->pk, &r->buf, msgpack_sbuffer_write);
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
	msgpack_sbuffer_write(&r->buf, map32, sizeof(map32));
	r->nkeys = 0;
	rec_uint(r, "v", RECORD_VERSION);
	rec_uint(r, "ts", ts_ns);
	rec_str(r, "type", type);
}

void rec_key(struct rec *r, const char *key)
{
	msgpack_pack_str_with_body(&r->pk, key, strlen(key));
	r->nkeys++;
}

void rec_str(struct rec *r, const char *key, const char *val)
{
	rec_key(r, key);
	msgpack_pack_str_with_body(&r->pk, val, strlen(val));
}

void rec_bytes(struct rec *r, const char *key, const void *p, size_t len)
{
	rec_key(r, key);
	msgpack_pack_bin_with_body(&r->pk, p, len);
}

void rec_int(struct rec *r, const char *key, int64_t v)
{
	rec_key(r, key);
	msgpack_pack_int64(&r->pk, v);
}

void rec_uint(struct rec *r, const char *key, uint64_t v)
{
	rec_key(r, key);
	msgpack_pack_uint64(&r->pk, v);
}

void rec_bool(struct rec *r, const char *key, bool v)
{
	rec_key(r, key);
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

/* msgpack-c allocates what a container's header claims before it reads the
 * elements: a hostile 5-byte map32 asks for 64 GiB.  Every element takes at
 * least one byte, so no count may exceed the bytes left. */
static bool sizes_fit(const uint8_t *p, size_t len)
{
	uint64_t pending = 1;
	size_t off = 0;

	while (pending--) {
		uint64_t skip = 0, items = 0;
		uint8_t b;

		if (off >= len)
			return false;
		b = p[off++];
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
			skip = 0;
		else if (b <= 0x8f)
			items = 2u * (b & 0x0f);
		else if (b <= 0x9f)
			items = b & 0x0f;
		else if (b <= 0xbf)
			skip = b & 0x1f;
		else if (b == 0xc1)
			return false;
		else {
			/* bytes of the length field, fixed payload, what the length counts */
			static const struct { uint8_t lenbytes, fixed, kind; } t[0x20] = {
				[0x04] = { 1, 0, 's' }, [0x05] = { 2, 0, 's' }, [0x06] = { 4, 0, 's' },
				[0x07] = { 1, 1, 's' }, [0x08] = { 2, 1, 's' }, [0x09] = { 4, 1, 's' },
				[0x0a] = { 0, 4, 0 },   [0x0b] = { 0, 8, 0 },   [0x0c] = { 0, 1, 0 },
				[0x0d] = { 0, 2, 0 },   [0x0e] = { 0, 4, 0 },   [0x0f] = { 0, 8, 0 },
				[0x10] = { 0, 1, 0 },   [0x11] = { 0, 2, 0 },   [0x12] = { 0, 4, 0 },
				[0x13] = { 0, 8, 0 },   [0x14] = { 0, 2, 0 },   [0x15] = { 0, 3, 0 },
				[0x16] = { 0, 5, 0 },   [0x17] = { 0, 9, 0 },   [0x18] = { 0, 17, 0 },
				[0x19] = { 1, 0, 's' }, [0x1a] = { 2, 0, 's' }, [0x1b] = { 4, 0, 's' },
				[0x1c] = { 2, 0, 'a' }, [0x1d] = { 4, 0, 'a' }, [0x1e] = { 2, 0, 'm' },
				[0x1f] = { 4, 0, 'm' },
			};
			uint64_t n = 0;

			if (len - off < t[b - 0xc0].lenbytes)
				return false;
			for (int i = 0; i < t[b - 0xc0].lenbytes; i++)
				n = n << 8 | p[off++];
			skip = t[b - 0xc0].fixed;
			if (t[b - 0xc0].kind == 's')
				skip += n;
			else if (t[b - 0xc0].kind == 'a')
				items = n;
			else if (t[b - 0xc0].kind == 'm')
				items = 2 * n;
		}
		if (skip > len - off)
			return false;
		off += skip;
		pending += items;
		if (pending > len - off)
			return false;
	}
	return true;
}

int rec_unpack(const void *p, size_t len, msgpack_zone *zone, msgpack_object *out)
{
	size_t off = 0;

	if (!sizes_fit(p, len) || msgpack_unpack(p, len, &off, zone, out) != MSGPACK_UNPACK_SUCCESS)
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
