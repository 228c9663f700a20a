#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "proxy/ca.h"

static struct ca *new_ca(const char *session)
{
	char err[256] = "";
	struct ca *ca = ca_new(session, err, sizeof(err));

	if (!ca)
		fail_msg("ca_new: %s", err);
	return ca;
}

/* the CA's certificate as the sandbox gets it: PEM bytes */
static X509 *cert_of(const struct ca *ca)
{
	char *pem;
	size_t len;
	BIO *b;
	X509 *x;

	assert_int_equal(ca_cert_pem(ca, &pem, &len), 0);
	assert_int_equal(strlen(pem), len);
	assert_null(strstr(pem, "PRIVATE KEY"));
	b = BIO_new_mem_buf(pem, (int)len);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x);
	BIO_free(b);
	free(pem);
	return x;
}

static X509 *leaf_of(struct ca *ca, const char *host)
{
	char err[256] = "";
	SSL_CTX *ctx = ca_leaf_ctx(ca, host, err, sizeof(err));

	if (!ctx)
		fail_msg("ca_leaf_ctx(%s): %s", host, err);
	return SSL_CTX_get0_certificate(ctx);
}

/* X509_verify_cert of leaf for host, trusting only anchor: X509_V_OK or
 * the error */
static int verify(X509 *anchor, X509 *leaf, const char *host)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *sc = X509_STORE_CTX_new();
	int r;

	assert_int_equal(X509_STORE_add_cert(store, anchor), 1);
	assert_int_equal(X509_STORE_CTX_init(sc, store, leaf, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(sc), host, 0), 1);
	r = X509_verify_cert(sc) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(sc);
	if (r != X509_V_OK)
		print_message("# verify %s: %s\n", host, X509_verify_cert_error_string(r));
	X509_STORE_CTX_free(sc);
	X509_STORE_free(store);
	return r;
}

static void test_ca_certificate_is_a_self_signed_ca_without_its_key(void **state)
{
	struct ca *ca = new_ca("s-1234");
	X509 *x = cert_of(ca);
	char cn[128];

	assert_int_equal(X509_check_ca(x), 1);
	assert_true(X509_get_extension_flags(x) & EXFLAG_SS);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "sandtrail session CA s-1234");
	/* it may sign leaves only, no sub-CA */
	assert_int_equal(X509_get_pathlen(x), 0);
	X509_free(x);
	ca_free(ca);
}

static void test_ca_leaf_verifies_against_the_ca_for_its_host_only(void **state)
{
	struct ca *ca = new_ca(NULL);
	X509 *anchor = cert_of(ca), *leaf = leaf_of(ca, "Registry.Test.");

	assert_int_equal(verify(anchor, leaf, "registry.test"), X509_V_OK);
	assert_int_equal(verify(anchor, leaf, "api.test"), X509_V_ERR_HOSTNAME_MISMATCH);
	assert_int_equal(X509_check_ca(leaf), 0);
	X509_free(anchor);
	ca_free(ca);
}

static void test_ca_leaf_of_another_ca_does_not_verify(void **state)
{
	struct ca *a = new_ca("a"), *b = new_ca("b");
	X509 *anchor = cert_of(a);

	assert_int_equal(verify(anchor, leaf_of(b, "registry.test"), "registry.test"),
			 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	X509_free(anchor);
	ca_free(a);
	ca_free(b);
}

static void test_ca_leaf_is_cached_per_host_and_bounded(void **state)
{
	struct ca *ca = new_ca(NULL);
	char err[256], host[64];
	SSL_CTX *first = ca_leaf_ctx(ca, "registry.test", err, sizeof(err));
	SSL *ssl;

	assert_non_null(first);
	assert_ptr_equal(ca_leaf_ctx(ca, "REGISTRY.test", err, sizeof(err)), first);
	assert_ptr_not_equal(ca_leaf_ctx(ca, "api.test", err, sizeof(err)), first);
	/* a connection that holds the context outlives its eviction */
	ssl = SSL_new(first);
	for (int i = 0; i < CA_CACHE_MAX; i++) {
		snprintf(host, sizeof(host), "h%d.test", i);
		assert_non_null(ca_leaf_ctx(ca, host, err, sizeof(err)));
	}
	assert_non_null(SSL_get_certificate(ssl));
	assert_ptr_not_equal(ca_leaf_ctx(ca, "registry.test", err, sizeof(err)), first);
	SSL_free(ssl);
	ca_free(ca);
}

static void test_ca_refuses_hosts_that_are_no_dns_names(void **state)
{
	static const char *const bad[] = { "", "10.0.0.1", "[::1]", "::1", "a.test,DNS:evil.test", "a b.test",
					   "a.test\nb", "-a.test" };
	struct ca *ca = new_ca(NULL);
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (ca_leaf_ctx(ca, bad[i], err, sizeof(err)))
			fail_msg("a leaf for \"%s\"", bad[i]);
		assert_non_null(strstr(err, "no DNS host name"));
	}
	ca_free(ca);
}

static void test_ca_export_and_import_keep_the_authority(void **state)
{
	struct ca *ca = new_ca("s-1"), *back;
	X509 *anchor = cert_of(ca);
	char *pem, err[256] = "";
	size_t len;

	assert_int_equal(ca_export(ca, &pem, &len), 0);
	assert_non_null(strstr(pem, "PRIVATE KEY"));
	back = ca_import(pem, len, err, sizeof(err));
	if (!back)
		fail_msg("ca_import: %s", err);
	/* a restarted proxy mints leaves the sandbox already trusts */
	assert_int_equal(verify(anchor, leaf_of(back, "vcs.test"), "vcs.test"), X509_V_OK);
	ca_free(back);
	/* the certificate without its key, a key of another CA, garbage */
	err[0] = 0;
	assert_null(ca_import(strstr(pem, "-----BEGIN CERTIFICATE"), strlen(strstr(pem, "-----BEGIN CERTIFICATE")),
			      err, sizeof(err)));
	assert_true(err[0] && !strchr(err, '\n'));
	OPENSSL_clear_free(pem, len);
	{
		struct ca *other = new_ca("o");
		char *opem, *mixed;
		size_t olen;

		assert_int_equal(ca_export(other, &opem, &olen), 0);
		/* other's key, ca's certificate */
		mixed = malloc(olen + 4096);
		*strstr(opem, "-----BEGIN CERTIFICATE") = 0;
		assert_int_equal(ca_cert_pem(ca, &pem, &len), 0);
		strcpy(mixed, opem);
		strcat(mixed, pem);
		err[0] = 0;
		assert_null(ca_import(mixed, strlen(mixed), err, sizeof(err)));
		assert_non_null(strstr(err, "not the certificate's"));
		OPENSSL_clear_free(opem, olen);
		free(mixed);
		free(pem);
		ca_free(other);
	}
	assert_null(ca_import("junk", 4, err, sizeof(err)));
	X509_free(anchor);
	ca_free(ca);
}

/* the context serves a real handshake to a client that trusts only the CA */
static void test_ca_leaf_ctx_serves_a_verified_handshake(void **state)
{
	struct ca *ca = new_ca(NULL);
	X509 *anchor = cert_of(ca);
	char err[256];
	SSL_CTX *sctx = ca_leaf_ctx(ca, "api.test", err, sizeof(err));
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *cli, *srv;
	BIO *cb, *sb;
	int rc = 0, rs = 0;

	assert_non_null(sctx);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), anchor), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	cli = SSL_new(cctx);
	srv = SSL_new(sctx);
	assert_int_equal(SSL_set_tlsext_host_name(cli, "api.test"), 1);
	assert_int_equal(SSL_set1_host(cli, "api.test"), 1);
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(cli, cb, cb);
	SSL_set_bio(srv, sb, sb);
	SSL_set_connect_state(cli);
	SSL_set_accept_state(srv);
	for (int i = 0; i < 20 && (rc != 1 || rs != 1); i++) {
		rc = SSL_do_handshake(cli);
		rs = SSL_do_handshake(srv);
	}
	assert_int_equal(rc, 1);
	assert_int_equal(rs, 1);
	assert_int_equal(SSL_get_verify_result(cli), X509_V_OK);
	SSL_free(cli);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	X509_free(anchor);
	ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_certificate_is_a_self_signed_ca_without_its_key),
		cmocka_unit_test(test_ca_leaf_verifies_against_the_ca_for_its_host_only),
		cmocka_unit_test(test_ca_leaf_of_another_ca_does_not_verify),
		cmocka_unit_test(test_ca_leaf_is_cached_per_host_and_bounded),
		cmocka_unit_test(test_ca_refuses_hosts_that_are_no_dns_names),
		cmocka_unit_test(test_ca_export_and_import_keep_the_authority),
		cmocka_unit_test(test_ca_leaf_ctx_serves_a_verified_handshake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
