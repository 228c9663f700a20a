/* Sealing: the per-record hash chain, signed checkpoints ("seal" records) and
 * epoch certificates ("epoch" records): building, signing, parsing, checking.
 * Both records are msgpack maps built with record.h, so replay renders them as
 * any other record; what is signed is a fixed binary message (schemas/journal.md). */
#ifndef SANDTRAIL_SEAL_H
#define SANDTRAIL_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "journal_format.h"
#include "record.h"

/* out = SHA-256(prev || frame || payload): the chain hash of one record;
 * frame: the record's sizeof(struct jf_frame) bytes as stored. */
int seal_chain(struct crypto_sha256 *h, const uint8_t prev[JF_HASH_LEN], const void *frame,
	       const void *payload, size_t len, uint8_t out[JF_HASH_LEN]);

struct seal_info {
	uint64_t ts_ns;
	uint64_t first, last;       /* seqs covered; the seal itself is last + 1 */
	uint8_t head[JF_HASH_LEN];  /* chain hash of record last */
	uint32_t epoch;
	bool final;                 /* written by a clean close */
	char key_id[JOURNAL_KEY_ID_STR];
	uint8_t sig[JF_SIG_LEN];
};

/* Fills key_id and sig. */
int seal_sign(struct seal_info *s, const uint8_t seed[JF_SEED_LEN], const uint8_t pub[JOURNAL_PUB_LEN]);
bool seal_verify(const struct seal_info *s, const uint8_t pub[JOURNAL_PUB_LEN]);
void seal_record(struct rec *r, const struct seal_info *s);
/* -EBADMSG unless the record has exactly the seal's fields with their types. */
int seal_parse(const void *p, size_t len, struct seal_info *s);

struct seal_epoch {
	uint64_t ts_ns;
	uint32_t epoch;
	uint64_t start_seq;         /* the epoch record's own seq */
	uint8_t head[JF_HASH_LEN];  /* chain hash of record start_seq - 1 */
	uint8_t pub[JOURNAL_PUB_LEN];
	uint8_t cert[JF_SIG_LEN];   /* by epoch - 1's key; zeros at epoch 0 */
	uint8_t journal_id[JOURNAL_ID_LEN]; /* epoch 0 only: the journal's id */
};

/* Signs e->cert with the previous epoch's seed. */
int seal_epoch_certify(struct seal_epoch *e, const uint8_t prev_seed[JF_SEED_LEN]);
bool seal_epoch_verify(const struct seal_epoch *e, const uint8_t prev_pub[JOURNAL_PUB_LEN]);
void seal_epoch_record(struct rec *r, const struct seal_epoch *e);
/* -EBADMSG unless the record has exactly the epoch record's fields. */
int seal_epoch_parse(const void *p, size_t len, struct seal_epoch *e);

#endif
