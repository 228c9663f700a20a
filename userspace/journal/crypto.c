/* The low-level SHA-256 calls: the same SHA-extension code as EVP without
 * its provider tables, which cost every `sandtrail run` ~0.3 ms of
 * relocations and page faults at start.  Deprecated in OpenSSL 3, kept. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "crypto.h"

_Static_assert(crypto_sign_SEEDBYTES == CRYPTO_ED25519_SEED_LEN, "seed size");
_Static_assert(crypto_sign_PUBLICKEYBYTES == CRYPTO_ED25519_PUB_LEN, "public key size");
_Static_assert(crypto_sign_BYTES == CRYPTO_ED25519_SIG_LEN, "signature size");

struct crypto_sha256 {
	SHA256_CTX ctx;
};

int crypto_sha256_new(struct crypto_sha256 **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void crypto_sha256_free(struct crypto_sha256 *h)
{
	free(h);
}

int crypto_sha256_3(struct crypto_sha256 *h, const void *a, size_t alen, const void *b, size_t blen,
		    const void *c, size_t clen, uint8_t out[CRYPTO_SHA256_LEN])
{
	if (!SHA256_Init(&h->ctx) || !SHA256_Update(&h->ctx, a, alen) || !SHA256_Update(&h->ctx, b, blen) ||
	    !SHA256_Update(&h->ctx, c, clen) || !SHA256_Final(out, &h->ctx))
		return -EIO;
	return 0;
}

int crypto_sha256(const void *p, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	return SHA256(p, len, out) ? 0 : -EIO;
}

/* libsodium's init is idempotent and thread-safe; it picks the CPU's code paths. */
static int sodium_ready(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

int crypto_ed25519_public(const uint8_t seed[CRYPTO_ED25519_SEED_LEN], uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	int rc = sodium_ready();

	if (rc < 0)
		return rc;
	rc = crypto_sign_seed_keypair(pub, sk, seed) ? -EIO : 0;
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int crypto_ed25519_generate(uint8_t seed[CRYPTO_ED25519_SEED_LEN], uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	int rc = sodium_ready();

	if (rc < 0)
		return rc;
	randombytes_buf(seed, CRYPTO_ED25519_SEED_LEN);
	return crypto_ed25519_public(seed, pub);
}

int crypto_ed25519_sign(const uint8_t seed[CRYPTO_ED25519_SEED_LEN], const void *msg, size_t len,
			uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	int rc = sodium_ready();

	if (rc < 0)
		return rc;
	rc = crypto_sign_seed_keypair(pk, sk, seed) || crypto_sign_detached(sig, NULL, msg, len, sk) ? -EIO : 0;
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

bool crypto_ed25519_verify(const uint8_t pub[CRYPTO_ED25519_PUB_LEN], const void *msg, size_t len,
			   const uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
	return sodium_ready() == 0 && crypto_sign_verify_detached(sig, msg, len, pub) == 0;
}
