/* Cryptographic primitives, knowing nothing of the journal: SHA-256 from
 * OpenSSL's libcrypto (it uses the CPU's SHA extensions), Ed25519 from
 * libsodium (about 2.5x faster than libcrypto's here; figures in
 * schemas/journal.md). */
#ifndef SANDTRAIL_CRYPTO_H
#define SANDTRAIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_ED25519_SEED_LEN 32
#define CRYPTO_ED25519_PUB_LEN 32
#define CRYPTO_ED25519_SIG_LEN 64

struct crypto_sha256; /* a reusable hashing context */

int crypto_sha256_new(struct crypto_sha256 **out);
void crypto_sha256_free(struct crypto_sha256 *h);
/* out = SHA-256(a || b || c); any part may be empty. */
int crypto_sha256_3(struct crypto_sha256 *h, const void *a, size_t alen, const void *b, size_t blen,
		    const void *c, size_t clen, uint8_t out[CRYPTO_SHA256_LEN]);
/* One-shot SHA-256. */
int crypto_sha256(const void *p, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);

/* Fills seed with random bytes and derives its public key. */
int crypto_ed25519_generate(uint8_t seed[CRYPTO_ED25519_SEED_LEN], uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
/* The public key of a seed. */
int crypto_ed25519_public(const uint8_t seed[CRYPTO_ED25519_SEED_LEN], uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
int crypto_ed25519_sign(const uint8_t seed[CRYPTO_ED25519_SEED_LEN], const void *msg, size_t len,
			uint8_t sig[CRYPTO_ED25519_SIG_LEN]);
bool crypto_ed25519_verify(const uint8_t pub[CRYPTO_ED25519_PUB_LEN], const void *msg, size_t len,
			   const uint8_t sig[CRYPTO_ED25519_SIG_LEN]);

#endif
