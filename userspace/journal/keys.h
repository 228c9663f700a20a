/* Signing keys.  The key file (0600, one 512-byte sector: journal_format.h)
 * holds the current epoch's private seed and the certificate that binds it to
 * the previous epoch; evolving rewrites it in place, so the old seed's bytes
 * are overwritten by the write that stores the new one.  The public key file
 * holds epoch 0's key, the only key a verifier trusts. */
#ifndef SANDTRAIL_KEYS_H
#define SANDTRAIL_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "journal_format.h"
#include "seal.h"

struct keys {
	uint32_t epoch;
	uint64_t start_seq;   /* seq of the epoch record that certifies this key */
	uint64_t created_ns;
	uint8_t seed[JF_SEED_LEN];
	uint8_t pub[JOURNAL_PUB_LEN];
	uint8_t root_pub[JOURNAL_PUB_LEN];
	uint8_t head[JF_HASH_LEN];
	uint8_t cert[JF_SIG_LEN];
};

/* -ENOKEY when missing, -EBADMSG when not an intact key file, -EPERM when
 * group or others may read it, -errno. */
int keys_load(const char *key_path, struct keys *k);
/* Writes k over the key file in place (one pwrite of the sector, fdatasync). */
int keys_store(const char *key_path, const struct keys *k);
/* Makes the next epoch's key, certified by k's, starting at start_seq (head:
 * chain hash of start_seq - 1); stores it over the key file, then wipes the
 * old seed from memory.  *e gets the epoch record's content. */
int keys_evolve(const char *key_path, struct keys *k, uint64_t start_seq, const uint8_t head[JF_HASH_LEN],
		uint64_t ts_ns, struct seal_epoch *e);
/* The epoch record that certifies k (what keys_evolve gave). */
void keys_epoch_record(const struct keys *k, struct seal_epoch *e);
void keys_wipe(struct keys *k);
/* Creates path (O_EXCL, 0644). */
int keys_write_pub(const char *path, const uint8_t pub[JOURNAL_PUB_LEN]);

#endif
