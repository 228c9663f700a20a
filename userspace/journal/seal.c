#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "seal.h"

#define SEAL_DOMAIN "sandtrail-seal-v1"
#define EPOCH_DOMAIN "sandtrail-epoch-v1"
#define SEAL_FIELDS 10
#define EPOCH_FIELDS 9

int seal_chain(struct crypto_sha256 *h, const uint8_t prev[JF_HASH_LEN], const void *frame,
	       const void *payload, size_t len, uint8_t out[JF_HASH_LEN])
{
	return crypto_sha256_3(h, prev, JF_HASH_LEN, frame, sizeof(struct jf_frame), payload, len, out);
}

void seal_key_id(const uint8_t pub[JOURNAL_PUB_LEN], char out[JOURNAL_KEY_ID_STR])
{
	uint8_t d[CRYPTO_SHA256_LEN];

	if (crypto_sha256(pub, JOURNAL_PUB_LEN, d) < 0)
		memset(d, 0, sizeof(d));
	for (int i = 0; i < JF_KEYID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* What a seal signs: domain || ts || first || last || head || epoch || final. */
static size_t seal_message(const struct seal_info *s, uint8_t *m)
{
	uint64_t v;
	uint32_t e = htole32(s->epoch);
	size_t n = sizeof(SEAL_DOMAIN);

	memcpy(m, SEAL_DOMAIN, n);
	v = htole64(s->ts_ns), memcpy(m + n, &v, 8), n += 8;
	v = htole64(s->first), memcpy(m + n, &v, 8), n += 8;
	v = htole64(s->last), memcpy(m + n, &v, 8), n += 8;
	memcpy(m + n, s->head, JF_HASH_LEN), n += JF_HASH_LEN;
	memcpy(m + n, &e, 4), n += 4;
	m[n++] = s->final;
	return n;
}

int seal_sign(struct seal_info *s, const uint8_t seed[JF_SEED_LEN], const uint8_t pub[JOURNAL_PUB_LEN])
{
	uint8_t m[128];

	seal_key_id(pub, s->key_id);
	return crypto_ed25519_sign(seed, m, seal_message(s, m), s->sig);
}

bool seal_verify(const struct seal_info *s, const uint8_t pub[JOURNAL_PUB_LEN])
{
	uint8_t m[128];

	return crypto_ed25519_verify(pub, m, seal_message(s, m), s->sig);
}

void seal_record(struct rec *r, const struct seal_info *s)
{
	rec_begin(r, "seal", s->ts_ns);
	rec_uint(r, "first", s->first);
	rec_uint(r, "last", s->last);
	rec_bytes(r, "head", s->head, JF_HASH_LEN);
	rec_uint(r, "epoch", s->epoch);
	rec_bool(r, "final", s->final);
	rec_str(r, "key_id", s->key_id);
	rec_bytes(r, "sig", s->sig, JF_SIG_LEN);
}

/* Typed getters for exact-format journal records. */
static bool get_fixed(const msgpack_object *o, const char *key, void *out, size_t len)
{
	const msgpack_object *v = rec_get(o, key);

	if (!v || v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != len)
		return false;
	memcpy(out, v->via.bin.ptr, len);
	return true;
}

static bool get_u32(const msgpack_object *o, const char *key, uint32_t *out)
{
	uint64_t v;

	if (!rec_get_uint(o, key, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Unpacks p and checks the common part: v, ts, type, and nkeys keys (or
 * one more, which the caller checks). */
static int unpack_journal_record(const void *p, size_t len, msgpack_zone *zone, msgpack_object *o,
				 const char *type, uint32_t nkeys, uint64_t *ts)
{
	uint64_t v;

	if (rec_unpack(p, len, zone, o) < 0 || o->via.map.size < nkeys || o->via.map.size > nkeys + 1 ||
	    !rec_get_uint(o, "v", &v) ||
	    v != RECORD_VERSION || !rec_get_uint(o, "ts", ts) || !rec_is(o, "type", type))
		return -EBADMSG;
	return 0;
}

int seal_parse(const void *p, size_t len, struct seal_info *s)
{
	const msgpack_object *fin, *kid;
	msgpack_zone zone;
	msgpack_object o;
	int rc = -EBADMSG;

	msgpack_zone_init(&zone, 512);
	memset(s, 0, sizeof(*s));
	if (unpack_journal_record(p, len, &zone, &o, "seal", SEAL_FIELDS, &s->ts_ns) < 0 ||
	    o.via.map.size != SEAL_FIELDS)
		goto out;
	fin = rec_get(&o, "final");
	kid = rec_get(&o, "key_id");
	if (!rec_get_uint(&o, "first", &s->first) || !rec_get_uint(&o, "last", &s->last) ||
	    !get_fixed(&o, "head", s->head, JF_HASH_LEN) || !get_u32(&o, "epoch", &s->epoch) ||
	    !fin || fin->type != MSGPACK_OBJECT_BOOLEAN || !kid || kid->type != MSGPACK_OBJECT_STR ||
	    kid->via.str.size != JOURNAL_KEY_ID_STR - 1 || !get_fixed(&o, "sig", s->sig, JF_SIG_LEN))
		goto out;
	s->final = fin->via.boolean;
	memcpy(s->key_id, kid->via.str.ptr, JOURNAL_KEY_ID_STR - 1);
	rc = 0;
out:
	msgpack_zone_destroy(&zone);
	return rc;
}

/* What a certificate signs: domain || ts || epoch || start || head || pub. */
static size_t epoch_message(const struct seal_epoch *e, uint8_t *m)
{
	uint64_t v;
	uint32_t ep = htole32(e->epoch);
	size_t n = sizeof(EPOCH_DOMAIN);

	memcpy(m, EPOCH_DOMAIN, n);
	v = htole64(e->ts_ns), memcpy(m + n, &v, 8), n += 8;
	memcpy(m + n, &ep, 4), n += 4;
	v = htole64(e->start_seq), memcpy(m + n, &v, 8), n += 8;
	memcpy(m + n, e->head, JF_HASH_LEN), n += JF_HASH_LEN;
	memcpy(m + n, e->pub, JOURNAL_PUB_LEN), n += JOURNAL_PUB_LEN;
	return n;
}

int seal_epoch_certify(struct seal_epoch *e, const uint8_t prev_seed[JF_SEED_LEN])
{
	uint8_t m[128];

	return crypto_ed25519_sign(prev_seed, m, epoch_message(e, m), e->cert);
}

bool seal_epoch_verify(const struct seal_epoch *e, const uint8_t prev_pub[JOURNAL_PUB_LEN])
{
	uint8_t m[128];

	return crypto_ed25519_verify(prev_pub, m, epoch_message(e, m), e->cert);
}

void seal_epoch_record(struct rec *r, const struct seal_epoch *e)
{
	char kid[JOURNAL_KEY_ID_STR];

	seal_key_id(e->pub, kid);
	rec_begin(r, "epoch", e->ts_ns);
	rec_uint(r, "epoch", e->epoch);
	rec_uint(r, "start", e->start_seq);
	rec_bytes(r, "head", e->head, JF_HASH_LEN);
	rec_bytes(r, "pub", e->pub, JOURNAL_PUB_LEN);
	rec_str(r, "key_id", kid);
	rec_bytes(r, "cert", e->cert, JF_SIG_LEN);
	/* the id the segment headers repeat, chained and so sealed here */
	if (e->epoch == 0)
		rec_bytes(r, "journal", e->journal_id, JOURNAL_ID_LEN);
}

int seal_epoch_parse(const void *p, size_t len, struct seal_epoch *e)
{
	char kid[JOURNAL_KEY_ID_STR];
	msgpack_zone zone;
	msgpack_object o;
	const char *k;
	size_t klen;
	int rc = -EBADMSG;

	msgpack_zone_init(&zone, 512);
	memset(e, 0, sizeof(*e));
	if (unpack_journal_record(p, len, &zone, &o, "epoch", EPOCH_FIELDS, &e->ts_ns) < 0)
		goto out;
	if (!get_u32(&o, "epoch", &e->epoch) || !rec_get_uint(&o, "start", &e->start_seq) ||
	    !get_fixed(&o, "head", e->head, JF_HASH_LEN) || !get_fixed(&o, "pub", e->pub, JOURNAL_PUB_LEN) ||
	    !get_fixed(&o, "cert", e->cert, JF_SIG_LEN) || !rec_get_bytes(&o, "key_id", &k, &klen))
		goto out;
	/* epoch 0, and only it, names the journal */
	if (o.via.map.size != EPOCH_FIELDS + (e->epoch == 0) ||
	    (e->epoch == 0 && !get_fixed(&o, "journal", e->journal_id, JOURNAL_ID_LEN)))
		goto out;
	seal_key_id(e->pub, kid);
	if (klen == JOURNAL_KEY_ID_STR - 1 && memcmp(k, kid, klen) == 0)
		rc = 0;
out:
	msgpack_zone_destroy(&zone);
	return rc;
}
