/* Records: msgpack maps with string keys (schemas/record.md).  The builder
 * patches the top-level key count at the end, so fields can be added freely;
 * the reader gives typed lookups into an unpacked record. */
#ifndef SANDTRAIL_RECORD_H
#define SANDTRAIL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <msgpack.h>

#define RECORD_VERSION 1

struct rec {
	msgpack_sbuffer buf;
	msgpack_packer pk;
	uint32_t nkeys;
	bool cut; /* a write found no memory since rec_begin: fields are missing */
};

void rec_init(struct rec *r);                     /* once; rec_free releases */
void rec_free(struct rec *r);
/* Starts a record: version, ts (ns since the epoch) and type. */
void rec_begin(struct rec *r, const char *type, uint64_t ts_ns);
/* The writers below take the key's length: their inline wrappers, under
 * the names callers use, measure it at compile time for a literal key. */
void rec_str_n(struct rec *r, const char *key, size_t klen, const char *val);
void rec_bytes_n(struct rec *r, const char *key, size_t klen, const void *p, size_t len);
void rec_int_n(struct rec *r, const char *key, size_t klen, int64_t v);
void rec_uint_n(struct rec *r, const char *key, size_t klen, uint64_t v);
void rec_bool_n(struct rec *r, const char *key, size_t klen, bool v);
void rec_raw_n(struct rec *r, const char *key, size_t klen, const void *mp, size_t len);
void rec_key_n(struct rec *r, const char *key, size_t klen);
/* An array of the n strings v, under key. */
void rec_strs_n(struct rec *r, const char *key, size_t klen, const char *const *v, size_t n);
/* After rec_key: its value, len bytes as a bin. */
void rec_bin_val(struct rec *r, const void *p, size_t len);
/* nkeys keys with their values, already encoded (bytes an earlier record
 * wrote from r->buf.size on): copied as they are. */
void rec_append(struct rec *r, const void *mp, size_t len, uint32_t nkeys);

static inline void rec_str(struct rec *r, const char *key, const char *val)
{
	rec_str_n(r, key, strlen(key), val);
}
static inline void rec_bytes(struct rec *r, const char *key, const void *p, size_t len)
{
	rec_bytes_n(r, key, strlen(key), p, len);
}
static inline void rec_int(struct rec *r, const char *key, int64_t v)
{
	rec_int_n(r, key, strlen(key), v);
}
static inline void rec_uint(struct rec *r, const char *key, uint64_t v)
{
	rec_uint_n(r, key, strlen(key), v);
}
static inline void rec_bool(struct rec *r, const char *key, bool v)
{
	rec_bool_n(r, key, strlen(key), v);
}
static inline void rec_strs(struct rec *r, const char *key, const char *const *v, size_t n)
{
	rec_strs_n(r, key, strlen(key), v, n);
}
/* Writes key and an already msgpack-encoded value. */
static inline void rec_raw(struct rec *r, const char *key, const void *mp, size_t len)
{
	rec_raw_n(r, key, strlen(key), mp, len);
}
/* Writes the key; the caller packs exactly one value with r->pk. */
static inline void rec_key(struct rec *r, const char *key)
{
	rec_key_n(r, key, strlen(key));
}
/* Closes the record; the bytes stay valid until the next rec_begin. */
const void *rec_finish(struct rec *r, size_t *len);

/* Reading: a record unpacked into a zone the caller owns. */
int rec_unpack(const void *p, size_t len, msgpack_zone *zone, msgpack_object *out);
const msgpack_object *rec_get(const msgpack_object *rec, const char *key);
/* What a shipper needs of each record, without unpacking it: its ts, type
 * and session as rec_get_uint and rec_get_bytes would read them (type and
 * session NULL, has_ts false, when missing or of another type).  0, or
 * -EBADMSG when the bytes are not one whole msgpack map. */
struct rec_head {
	bool has_ts;
	uint64_t ts;
	const char *type, *session; /* not NUL-terminated */
	size_t type_len, session_len;
};
int rec_peek(const void *p, size_t len, struct rec_head *h);
/* Typed lookups: false when the key is missing or of another type. */
bool rec_get_int(const msgpack_object *rec, const char *key, int64_t *out);
bool rec_get_uint(const msgpack_object *rec, const char *key, uint64_t *out);
/* str or bin: pointer into the record, not NUL-terminated */
bool rec_get_bytes(const msgpack_object *rec, const char *key, const char **p, size_t *len);
/* true when the key holds this exact string */
bool rec_is(const msgpack_object *rec, const char *key, const char *val);
/* true when the key holds the boolean true */
bool rec_flag(const msgpack_object *rec, const char *key);

#endif
