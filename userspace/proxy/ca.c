/* The per-session CA of --inspect-tls (ca.h), on OpenSSL. */
#include "ca.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "domain.h"

struct leaf {
	char host[DOMAIN_MAX + 1];
	SSL_CTX *ctx;
};

struct ca {
	EVP_PKEY *key;      /* the CA's */
	X509 *cert;
	EVP_PKEY *leaf_key; /* one for every leaf of this CA: minting only signs */
	struct leaf cache[CA_CACHE_MAX];
	unsigned next;      /* the slot the next leaf takes */
};

/* the reason: what failed, then OpenSSL's first error, on one line */
static void why(char *err, size_t errlen, const char *what)
{
	char ossl[160] = "";
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", ossl);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* a certificate of subject CN=cn for key, valid from an hour ago (clocks
 * drift) for CA_DAYS, with a random 127-bit serial; unsigned */
static X509 *new_cert(EVP_PKEY *key, const char *cn)
{
	unsigned char serial[16];
	X509 *cert = X509_new();
	X509_NAME *name;
	BIGNUM *bn = NULL;
	int ok;

	if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	name = X509_get_subject_name(cert);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) && X509_set_version(cert, X509_VERSION_3) &&
	     X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * CA_DAYS) && X509_set_pubkey(cert, key) &&
	     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"sandtrail", -1, -1, 0) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	BN_free(bn);
	if (ok)
		return cert;
fail:
	X509_free(cert);
	return NULL;
}

static struct ca *ca_alloc(char *err, size_t errlen)
{
	struct ca *ca = calloc(1, sizeof(*ca));

	if (!ca) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ca->leaf_key = EVP_EC_gen("P-256");
	if (!ca->leaf_key) {
		why(err, errlen, "leaf key");
		free(ca);
		return NULL;
	}
	return ca;
}

struct ca *ca_new(const char *session, char *err, size_t errlen)
{
	char cn[128];
	struct ca *ca = ca_alloc(err, errlen);

	if (!ca)
		return NULL;
	snprintf(cn, sizeof(cn), "sandtrail session CA%s%.64s", session ? " " : "", session ? session : "");
	ca->key = EVP_EC_gen("P-256");
	if (!ca->key || !(ca->cert = new_cert(ca->key, cn)) ||
	    !X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert)) ||
	    !add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") ||
	    !X509_sign(ca->cert, ca->key, EVP_sha256())) {
		why(err, errlen, "CA certificate");
		ca_free(ca);
		return NULL;
	}
	return ca;
}

struct ca *ca_import(const char *pem, size_t len, char *err, size_t errlen)
{
	struct ca *ca;
	BIO *in;

	if (len > INT_MAX) {
		snprintf(err, errlen, "CA PEM: %zu bytes", len);
		return NULL;
	}
	ca = ca_alloc(err, errlen);
	if (!ca)
		return NULL;
	in = BIO_new_mem_buf(pem, (int)len);
	if (!in || !(ca->key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL)) ||
	    !(ca->cert = PEM_read_bio_X509(in, NULL, NULL, NULL))) {
		why(err, errlen, "CA PEM: no private key followed by a certificate");
		goto fail;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1 || X509_check_ca(ca->cert) != 1) {
		why(err, errlen, "CA PEM: the key is not the certificate's, or it is no CA");
		goto fail;
	}
	BIO_free(in);
	return ca;
fail:
	BIO_free(in);
	ca_free(ca);
	return NULL;
}

/* what the writers put into a memory BIO, as a malloc'd buffer */
static int bio_out(BIO *b, char **pem, size_t *len)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);

	*pem = malloc(n + 1);
	if (!*pem)
		return -ENOMEM;
	memcpy(*pem, p, n);
	(*pem)[n] = 0;
	*len = n;
	return 0;
}

int ca_export(const struct ca *ca, char **pem, size_t *len)
{
	BIO *b = BIO_new(BIO_s_secmem());
	int r = -ENOMEM;

	if (b && PEM_write_bio_PrivateKey(b, ca->key, NULL, NULL, 0, NULL, NULL) && PEM_write_bio_X509(b, ca->cert))
		r = bio_out(b, pem, len);
	ERR_clear_error();
	BIO_free(b);
	return r;
}

int ca_cert_pem(const struct ca *ca, char **pem, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r = -ENOMEM;

	if (b && PEM_write_bio_X509(b, ca->cert))
		r = bio_out(b, pem, len);
	ERR_clear_error();
	BIO_free(b);
	return r;
}

/* the leaf for host: CN and the only subjectAltName, server auth only */
static X509 *mint(struct ca *ca, const char *host)
{
	char san[DOMAIN_MAX + 8];
	X509 *cert = new_cert(ca->leaf_key, host);

	snprintf(san, sizeof(san), "DNS:%s", host);
	if (!cert || !X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) ||
	    !add_ext(cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, ca->cert, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(cert, ca->cert, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(cert, ca->cert, NID_authority_key_identifier, "keyid:always") ||
	    !add_ext(cert, ca->cert, NID_subject_alt_name, san) || !X509_sign(cert, ca->key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

SSL_CTX *ca_leaf_ctx(struct ca *ca, const char *host, char *err, size_t errlen)
{
	char canon[DOMAIN_MAX + 1];
	struct leaf *slot;
	SSL_CTX *ctx;
	X509 *cert;

	/* the name goes into the certificate's configuration string: only a
	 * DNS name gets there (no ',' to add another subjectAltName) */
	if (domain_host_canon(host, strlen(host), canon) < 0) {
		snprintf(err, errlen, "leaf certificate: \"%.64s\" is no DNS host name", host);
		return NULL;
	}
	for (unsigned i = 0; i < CA_CACHE_MAX; i++)
		if (ca->cache[i].ctx && !strcmp(ca->cache[i].host, canon))
			return ca->cache[i].ctx;
	cert = mint(ca, canon);
	if (!cert) {
		why(err, errlen, "leaf certificate");
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, ca->leaf_key) != 1 || SSL_CTX_add1_chain_cert(ctx, ca->cert) != 1) {
		why(err, errlen, "leaf context");
		SSL_CTX_free(ctx);
		X509_free(cert);
		return NULL;
	}
	X509_free(cert);
	slot = &ca->cache[ca->next];
	ca->next = (ca->next + 1) % CA_CACHE_MAX;
	SSL_CTX_free(slot->ctx);
	slot->ctx = ctx;
	memcpy(slot->host, canon, strlen(canon) + 1);
	return ctx;
}

void ca_free(struct ca *ca)
{
	if (!ca)
		return;
	for (unsigned i = 0; i < CA_CACHE_MAX; i++)
		SSL_CTX_free(ca->cache[i].ctx);
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->leaf_key);
	X509_free(ca->cert);
	free(ca);
}
