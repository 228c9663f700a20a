#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proxy/sni.h"
#include "tls_hellos.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct vector {
	const char *what;
	const uint8_t *b;
	size_t n;
	int ret;
	const char *name, *alpn;
	uint16_t version;
} vectors[] = {
	{ "openssl 1.3", hello_openssl_tls13, sizeof(hello_openssl_tls13), 13, "registry.test", "h2,http/1.1", 0x0304 },
	{ "openssl 1.2", hello_openssl_tls12, sizeof(hello_openssl_tls12), 8, "api.test", "", 0x0303 },
	{ "openssl no SNI", hello_openssl_nosni, sizeof(hello_openssl_nosni), SNI_NO_NAME, "", "", 0x0304 },
	{ "curl", hello_curl, sizeof(hello_curl), 8, "vcs.test", "h2,http/1.1", 0x0304 },
	{ "python", hello_python, sizeof(hello_python), 13, "registry.test", "http/1.1", 0x0304 },
	{ "chromium", hello_chromium, sizeof(hello_chromium), 13, "registry.test", "h2,http/1.1", 0x0304 },
};

/* ---- a ClientHello built field by field, to lie in one place at a time ---- */
struct buf {
	uint8_t b[3 * SNI_HELLO_MAX];
	size_t n;
};

static void put(struct buf *o, const void *p, size_t n)
{
	assert_true(o->n + n <= sizeof(o->b));
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put8(struct buf *o, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(o, &b, 1);
}

static void put16(struct buf *o, unsigned v)
{
	put8(o, v >> 8);
	put8(o, v);
}

static void ext(struct buf *e, unsigned type, const void *data, size_t n)
{
	put16(e, type);
	put16(e, (unsigned)n);
	put(e, data, n);
}

static void ext_sni(struct buf *e, const char *name, size_t n)
{
	struct buf d = { .n = 0 };

	put16(&d, (unsigned)n + 3);
	put8(&d, 0);
	put16(&d, (unsigned)n);
	put(&d, name, n);
	ext(e, 0, d.b, d.n);
}

/* body offsets of the fixed fields, for the tests that patch them */
enum { B_VERSION = 0, B_SID = 34, B_CS = 35, B_COMP = 39, B_EXTS = 41 };

/* the handshake message: header, then version, random, session id, one
 * cipher suite, null compression, the extensions */
static void handshake(struct buf *hs, const struct buf *exts)
{
	static const uint8_t random[32];

	hs->n = 0;
	put8(hs, 1);
	put8(hs, 0), put16(hs, 0); /* length, set below */
	put16(hs, 0x0303);
	put(hs, random, sizeof(random));
	put8(hs, 0);
	put16(hs, 2), put16(hs, 0x1301);
	put8(hs, 1), put8(hs, 0);
	put16(hs, (unsigned)exts->n);
	put(hs, exts->b, exts->n);
	hs->b[1] = (uint8_t)((hs->n - 4) >> 16);
	hs->b[2] = (uint8_t)((hs->n - 4) >> 8);
	hs->b[3] = (uint8_t)(hs->n - 4);
}

/* hs cut into records of at most chunk bytes */
static void frame(struct buf *out, const uint8_t *hs, size_t n, size_t chunk)
{
	out->n = 0;
	for (size_t off = 0; off < n; off += chunk) {
		size_t len = n - off < chunk ? n - off : chunk;

		put8(out, 22), put16(out, 0x0301), put16(out, (unsigned)len);
		put(out, hs + off, len);
	}
}

static struct buf exts, hs, rec;

static void build_sni(const char *name)
{
	exts.n = 0;
	ext_sni(&exts, name, strlen(name));
	handshake(&hs, &exts);
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
}

static int parse(const struct buf *b, struct sni_hello *h)
{
	return sni_client_hello(b->b, b->n, h);
}

/* ---- real hellos ---- */

static void test_sni_reads_name_version_and_alpn_of_real_hellos(void **state)
{
	for (size_t i = 0; i < N(vectors); i++) {
		const struct vector *v = &vectors[i];
		struct sni_hello h;

		print_message("# %s\n", v->what);
		assert_int_equal(sni_client_hello(v->b, v->n, &h), v->ret);
		assert_string_equal(h.name, v->name);
		assert_string_equal(h.alpn, v->alpn);
		assert_int_equal(h.version, v->version);
		assert_int_equal(h.consumed, v->n);
	}
}

static void test_sni_needs_more_at_every_split_of_a_real_hello(void **state)
{
	for (size_t i = 0; i < N(vectors); i++) {
		const struct vector *v = &vectors[i];
		char name[256];

		for (size_t k = 0; k < v->n; k++) {
			/* the prefix in a buffer of its own: ASan sees a read past it */
			uint8_t *p = malloc(k ? k : 1);

			memcpy(p, v->b, k);
			if (sni_parse(p, k, name, sizeof(name)) != 0)
				fail_msg("%s: a prefix of %zu bytes is not 'need more'", v->what, k);
			free(p);
		}
		assert_int_equal(sni_parse(v->b, v->n, name, sizeof(name)), v->ret);
	}
}

static void test_sni_reads_a_hello_spread_over_many_records(void **state)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 100, 255 };
	const struct vector *v = &vectors[5]; /* chromium: the longest */
	static struct buf b;

	for (size_t c = 0; c < N(chunks); c++) {
		struct sni_hello h;

		frame(&b, v->b + 5, v->n - 5, chunks[c]);
		assert_int_equal(parse(&b, &h), 13);
		assert_string_equal(h.name, "registry.test");
		assert_int_equal(h.consumed, b.n);
		for (size_t k = 0; k < b.n; k += 97)
			assert_int_equal(sni_client_hello(b.b, k, &h), 0);
	}
}

/* Any one byte changed (+1, -1, all bits) in a real hello: an answer from
 * the list, a name that is a host name, never a read out of bounds. */
static void test_sni_survives_every_single_byte_lie_in_real_hellos(void **state)
{
	static const uint8_t flips[] = { 1, 0xff, 0x80 };

	for (size_t i = 0; i < N(vectors); i++) {
		const struct vector *v = &vectors[i];
		uint8_t *p = malloc(v->n);

		for (size_t k = 0; k < v->n; k++) {
			for (size_t f = 0; f < N(flips); f++) {
				struct sni_hello h;
				int r;

				memcpy(p, v->b, v->n);
				p[k] = (uint8_t)(p[k] + flips[f]);
				r = sni_client_hello(p, v->n, &h);
				if (r > 0) {
					assert_int_equal(strlen(h.name), (size_t)r);
					assert_int_equal(strspn(h.name, "abcdefghijklmnopqrstuvwxyz0123456789-_."), (size_t)r);
				} else if (r < 0) {
					assert_true(r == SNI_NOT_TLS || r == SNI_MALFORMED || r == SNI_NO_NAME ||
						    r == SNI_TOO_LARGE || r == SNI_BAD_NAME);
					assert_non_null(h.why);
					assert_true(h.at <= v->n);
				}
			}
		}
		free(p);
	}
}

/* ---- lies, one at a time ---- */

static void test_sni_refuses_what_is_not_tls_from_the_first_byte(void **state)
{
	struct sni_hello h;

	assert_int_equal(sni_client_hello((const uint8_t *)"G", 1, &h), SNI_NOT_TLS);
	assert_int_equal(h.at, 0);
	assert_int_equal(sni_client_hello((const uint8_t *)"\x16\x02", 2, &h), SNI_NOT_TLS);
	assert_int_equal(h.at, 1);
	assert_int_equal(sni_client_hello((const uint8_t *)"\x16\x03\x05", 3, &h), SNI_MALFORMED);
	assert_int_equal(sni_client_hello((const uint8_t *)"\x16\x03\x01", 3, &h), 0);
	assert_int_equal(sni_client_hello((const uint8_t *)"", 0, &h), 0);
}

static void test_sni_refuses_record_lengths_that_lie(void **state)
{
	struct sni_hello h;

	build_sni("registry.test");
	rec.b[3] = 0, rec.b[4] = 0;
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
	assert_int_equal(h.at, 3);
	rec.b[3] = 0x40, rec.b[4] = 0x01; /* 2^14 + 1 */
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);

	/* the record says one byte more than the hello: that byte follows the hello */
	build_sni("registry.test");
	rec.b[4]++;
	put8(&rec, 0);
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
	assert_string_equal(h.why, "record: bytes after the ClientHello");
	assert_int_equal(h.at, rec.n - 1);

	/* the handshake says one byte more: the next record must bring it */
	build_sni("registry.test");
	hs.b[3]++;
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), 0);
	/* ... and an application_data record is not it */
	put8(&rec, 23), put16(&rec, 0x0303), put16(&rec, 1), put8(&rec, 0);
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
	/* one byte less: the hello's fields no longer add up */
	build_sni("registry.test");
	hs.b[3]--;
	frame(&rec, hs.b, hs.n - 1, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
}

static void test_sni_refuses_a_handshake_that_is_no_client_hello(void **state)
{
	struct sni_hello h;

	build_sni("registry.test");
	rec.b[5] = 2; /* ServerHello */
	assert_int_equal(sni_client_hello(rec.b, 6, &h), SNI_MALFORMED);
	assert_int_equal(h.at, 5);
}

static void test_sni_refuses_a_hello_above_the_limit_before_it_arrives(void **state)
{
	struct sni_hello h;
	uint8_t b[] = { 22, 3, 1, 0, 4, 1, 0, (SNI_HELLO_MAX + 1) >> 8, (SNI_HELLO_MAX + 1) & 0xff };

	assert_int_equal(sni_client_hello(b, sizeof(b), &h), SNI_TOO_LARGE);
	b[7] = SNI_HELLO_MAX >> 8, b[8] = SNI_HELLO_MAX & 0xff;
	assert_int_equal(sni_client_hello(b, sizeof(b), &h), 0);
}

static void test_sni_reads_a_hello_at_the_limit(void **state)
{
	static struct buf pad;
	struct sni_hello h;

	exts.n = 0;
	ext_sni(&exts, "api.test", 8);
	pad.n = 0;
	pad.n = SNI_HELLO_MAX - 43 - exts.n - 4;
	ext(&exts, 21, pad.b, pad.n); /* padding */
	handshake(&hs, &exts);
	assert_int_equal(hs.n, 4 + SNI_HELLO_MAX);
	frame(&rec, hs.b, hs.n, 16384);
	assert_int_equal(parse(&rec, &h), 8);
	assert_int_equal(h.consumed, rec.n);
}

static void test_sni_refuses_fixed_fields_out_of_range(void **state)
{
	static const struct {
		size_t off;
		uint8_t val;
		const char *why;
	} lies[] = {
		{ B_VERSION, 2, "client_version: not 3.x" },
		{ B_SID, 33, "session_id" },
		{ B_CS + 1, 3, "cipher_suites" },
		{ B_CS + 1, 0, "cipher_suites" },
		{ B_COMP + 1, 1, "compression_methods" },
		{ B_EXTS + 1, 0, "extensions: length" },
	};
	struct sni_hello h;

	for (size_t i = 0; i < N(lies); i++) {
		build_sni("registry.test");
		hs.b[4 + lies[i].off] = lies[i].val;
		frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
		assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
		assert_non_null(strstr(h.why, lies[i].why));
	}
}

static void test_sni_refuses_two_server_names_two_ways(void **state)
{
	struct sni_hello h;
	struct buf d = { .n = 0 };

	/* the extension twice: a filter reading the first, a server the second */
	exts.n = 0;
	ext_sni(&exts, "registry.test", 13);
	ext_sni(&exts, "evil.example", 12);
	handshake(&hs, &exts);
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
	assert_string_equal(h.why, "extension: the same type twice");
	assert_int_equal(h.at, 5 + 4 + B_EXTS + 2 + 4 + 2 + 1 + 2 + 13);

	/* two host_names in one list */
	put16(&d, 2 * 3 + 13 + 12);
	put8(&d, 0), put16(&d, 13), put(&d, "registry.test", 13);
	put8(&d, 0), put16(&d, 12), put(&d, "evil.example", 12);
	exts.n = 0;
	ext(&exts, 0, d.b, d.n);
	handshake(&hs, &exts);
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
	assert_string_equal(h.why, "server_name: more than one name");

	/* a name of another type first */
	d.b[2] = 1;
	exts.n = 0;
	ext(&exts, 0, d.b, d.n);
	handshake(&hs, &exts);
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
}

static void test_sni_refuses_names_that_are_no_host_names(void **state)
{
	static const char *const bad[] = {
		"10.0.0.1", "registry.test.", ".registry.test", "registry..test", "a b.test", "café.test",
		"reg\\x.test", "[::1]", "::1", "registry.test:443", "123",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test", /* label of 64 */
		"registry-.test", "127.1", "registry.0x7f",
	};
	char longname[260];
	struct sni_hello h;

	for (size_t i = 0; i < N(bad); i++) {
		build_sni(bad[i]);
		if (parse(&rec, &h) != SNI_BAD_NAME)
			fail_msg("'%s' taken as a host name", bad[i]);
		/* the error points at the name in the bytes received */
		assert_memory_equal(rec.b + h.at, bad[i], strlen(bad[i]));
	}
	/* a NUL inside: the name must not end early in C */
	exts.n = 0;
	ext_sni(&exts, "registry.test\0.evil", 19);
	handshake(&hs, &exts);
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), SNI_BAD_NAME);
	/* 254 bytes: one more than DNS allows */
	memset(longname, 'a', sizeof(longname));
	for (size_t i = 50; i < 254; i += 50)
		longname[i] = '.';
	longname[254] = 0;
	build_sni(longname);
	assert_int_equal(parse(&rec, &h), SNI_BAD_NAME);
	longname[253] = 0;
	build_sni(longname);
	assert_int_equal(parse(&rec, &h), 253);
	/* an empty name is a malformed extension */
	build_sni("");
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
}

static void test_sni_lower_cases_and_keeps_underscores_and_punycode(void **state)
{
	struct sni_hello h;

	build_sni("Xn--Caf-Dma.Registry_1.TEST");
	assert_int_equal(parse(&rec, &h), 27);
	assert_string_equal(h.name, "xn--caf-dma.registry_1.test");
}

static void test_sni_alpn_escapes_odd_bytes_and_counts_what_does_not_fit(void **state)
{
	struct buf d = { .n = 0 }, l = { .n = 0 };
	struct sni_hello h;

	put8(&l, 2), put(&l, "h2", 2);
	put8(&l, 3), put(&l, "a,\0", 3);
	for (int i = 0; i < 40; i++)
		put8(&l, 8), put(&l, "http/1.1", 8);
	put16(&d, (unsigned)l.n), put(&d, l.b, l.n);
	exts.n = 0;
	ext_sni(&exts, "api.test", 8);
	ext(&exts, 16, d.b, d.n);
	handshake(&hs, &exts);
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), 8);
	assert_int_equal(h.nalpn, 42);
	assert_true(strlen(h.alpn) < sizeof(h.alpn));
	assert_memory_equal(h.alpn, "h2,a\\x2c\\x00,http/1.1,", 22);
	assert_string_equal(h.alpn + strlen(h.alpn) - 9, ",http/1.1");

	/* an empty protocol name */
	d.n = 0;
	put16(&d, 3), put8(&d, 2), put(&d, "h2", 2);
	d.b[2] = 0;
	exts.n = 0;
	ext(&exts, 16, d.b, d.n);
	ext_sni(&exts, "api.test", 8);
	handshake(&hs, &exts);
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
	assert_non_null(strstr(h.why, "ALPN"));
}

static void test_sni_version_is_the_highest_offered_grease_aside(void **state)
{
	static const uint8_t grease_12[] = { 4, 0x7a, 0x7a, 0x03, 0x03 };
	static const uint8_t odd[] = { 3, 0x03, 0x04, 0x03 };
	struct sni_hello h;

	exts.n = 0;
	ext(&exts, 43, grease_12, sizeof(grease_12));
	ext_sni(&exts, "vcs.test", 8);
	handshake(&hs, &exts);
	hs.b[4] = 3, hs.b[5] = 1; /* legacy 1.0 */
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), 8);
	assert_int_equal(h.version, 0x0303);
	assert_string_equal(sni_version_name(h.version), "TLSv1.2");

	exts.n = 0;
	ext(&exts, 43, odd, sizeof(odd));
	ext_sni(&exts, "vcs.test", 8);
	handshake(&hs, &exts);
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), SNI_MALFORMED);
	assert_null(sni_version_name(0x7a7a));
}

static void test_sni_without_extensions_has_no_name(void **state)
{
	struct sni_hello h;

	exts.n = 0;
	handshake(&hs, &exts);
	hs.n -= 2; /* no extensions block at all (TLS 1.2 allows it) */
	hs.b[3] -= 2;
	frame(&rec, hs.b, hs.n, SNI_HELLO_MAX);
	assert_int_equal(parse(&rec, &h), SNI_NO_NAME);
	assert_int_equal(h.version, 0x0303);
}

static void test_sni_parse_needs_room_for_the_name_and_its_nul(void **state)
{
	char out[14];

	assert_int_equal(sni_parse(hello_curl, sizeof(hello_curl), out, 8), SNI_NO_SPACE);
	assert_int_equal(sni_parse(hello_curl, sizeof(hello_curl), out, 9), 8);
	assert_string_equal(out, "vcs.test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sni_reads_name_version_and_alpn_of_real_hellos),
		cmocka_unit_test(test_sni_needs_more_at_every_split_of_a_real_hello),
		cmocka_unit_test(test_sni_reads_a_hello_spread_over_many_records),
		cmocka_unit_test(test_sni_survives_every_single_byte_lie_in_real_hellos),
		cmocka_unit_test(test_sni_refuses_what_is_not_tls_from_the_first_byte),
		cmocka_unit_test(test_sni_refuses_record_lengths_that_lie),
		cmocka_unit_test(test_sni_refuses_a_handshake_that_is_no_client_hello),
		cmocka_unit_test(test_sni_refuses_a_hello_above_the_limit_before_it_arrives),
		cmocka_unit_test(test_sni_reads_a_hello_at_the_limit),
		cmocka_unit_test(test_sni_refuses_fixed_fields_out_of_range),
		cmocka_unit_test(test_sni_refuses_two_server_names_two_ways),
		cmocka_unit_test(test_sni_refuses_names_that_are_no_host_names),
		cmocka_unit_test(test_sni_lower_cases_and_keeps_underscores_and_punycode),
		cmocka_unit_test(test_sni_alpn_escapes_odd_bytes_and_counts_what_does_not_fit),
		cmocka_unit_test(test_sni_version_is_the_highest_offered_grease_aside),
		cmocka_unit_test(test_sni_without_extensions_has_no_name),
		cmocka_unit_test(test_sni_parse_needs_room_for_the_name_and_its_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
