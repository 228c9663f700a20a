/* The certificate authority of one --inspect-tls session: its certificate
 * goes into the sandbox's trust store, its key never leaves the proxy's
 * memory (or sandtraild's, which may hand it to a restarted proxy through
 * ca_export/ca_import over a descriptor, never a path the sandbox sees).
 * Leaf certificates are minted per host name on demand and cached. */
#ifndef SANDTRAIL_PROXY_CA_H
#define SANDTRAIL_PROXY_CA_H

#include <stddef.h>

#include <openssl/ssl.h>

#define CA_CACHE_MAX 128 /* leaf contexts kept; the oldest goes first */
#define CA_DAYS 30       /* validity of the CA and of every leaf */

struct ca;

/* A new CA (EC P-256) named after session (may be NULL); NULL with a reason. */
struct ca *ca_new(const char *session, char *err, size_t errlen);
/* The CA that ca_export wrote (key and certificate, PEM); NULL with a reason. */
struct ca *ca_import(const char *pem, size_t len, char *err, size_t errlen);
/* Key and certificate as PEM into a malloc'd *pem: 0 or -errno.  Secret:
 * the caller wipes it (OPENSSL_clear_free). */
int ca_export(const struct ca *ca, char **pem, size_t *len);
/* The certificate alone (what the sandbox trusts), malloc'd: 0 or -errno. */
int ca_cert_pem(const struct ca *ca, char **pem, size_t *len);
/* A server context presenting a leaf for host (a DNS name, not an IP
 * literal), signed by the CA; cached.  Borrowed: valid until the next call
 * (SSL_new takes a reference of its own).  NULL with a reason. */
SSL_CTX *ca_leaf_ctx(struct ca *ca, const char *host, char *err, size_t errlen);
void ca_free(struct ca *ca);

#endif
