#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "journal/journal.h"

static int unpack(const void *p, size_t len)
{
	msgpack_zone zone;
	msgpack_object o;
	int rc;

	msgpack_zone_init(&zone, 1024);
	rc = rec_unpack(p, len, &zone, &o);
	msgpack_zone_destroy(&zone);
	return rc;
}

static void test_unpack_reads_what_the_builder_wrote(void **state)
{
	struct rec r;
	msgpack_zone zone;
	msgpack_object o;
	const void *p;
	size_t len;
	uint64_t ts;

	rec_init(&r);
	rec_begin(&r, "exec", 1234);
	rec_bytes(&r, "filename", "/bin/\xff", 6);
	rec_int(&r, "ret", -2);
	p = rec_finish(&r, &len);
	msgpack_zone_init(&zone, 1024);
	assert_int_equal(rec_unpack(p, len, &zone, &o), 0);
	assert_true(rec_is(&o, "type", "exec"));
	assert_true(rec_get_uint(&o, "ts", &ts) && ts == 1234);
	msgpack_zone_destroy(&zone);
	rec_free(&r);
}

/* The builder's own small-write path gives the bytes msgpack-c's packer
 * gives with its sbuffer writer: every width of number, keys and strings of
 * every short length and longer, across records that grow the buffer; and
 * so does what goes through the record's packer. */
static void test_builder_writes_what_msgpack_packs(void **state)
{
	static const uint64_t uints[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
					  UINT64_MAX };
	static const int64_t ints[] = { -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
					INT64_MIN, 5, 300 };
	char text[300];
	msgpack_sbuffer ref;
	msgpack_packer pk;
	struct rec r;

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	rec_init(&r);
	msgpack_sbuffer_init(&ref);
	msgpack_packer_init(&pk, &ref, msgpack_sbuffer_write);
	for (int round = 0; round < 3; round++) {
		const void *p;
		size_t len, n = 0;

		rec_begin(&r, "exec", 1234);
		msgpack_sbuffer_clear(&ref);
		msgpack_sbuffer_write(&ref, "\xdf\0\0\0\0", 5);
		msgpack_pack_str_with_body(&pk, "v", 1), msgpack_pack_uint64(&pk, RECORD_VERSION);
		msgpack_pack_str_with_body(&pk, "ts", 2), msgpack_pack_uint64(&pk, 1234);
		msgpack_pack_str_with_body(&pk, "type", 4), msgpack_pack_str_with_body(&pk, "exec", 4);
		n = 3;
		for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++, n++) {
			rec_uint(&r, "u", uints[i]);
			msgpack_pack_str_with_body(&pk, "u", 1), msgpack_pack_uint64(&pk, uints[i]);
		}
		for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++, n++) {
			rec_int(&r, "i", ints[i]);
			msgpack_pack_str_with_body(&pk, "i", 1), msgpack_pack_int64(&pk, ints[i]);
		}
		for (size_t l = 0; l <= (round == 2 ? sizeof(text) - 1 : 40); l++, n++) {
			char key[41];

			memcpy(key, text, l % 41);
			key[l % 41] = 0;
			rec_str(&r, key, "");
			rec_bytes(&r, "b", text, l);
			rec_bool(&r, "t", l & 1);
			msgpack_pack_str_with_body(&pk, key, l % 41), msgpack_pack_str_with_body(&pk, "", 0);
			msgpack_pack_str_with_body(&pk, "b", 1), msgpack_pack_bin_with_body(&pk, text, l);
			msgpack_pack_str_with_body(&pk, "t", 1);
			(l & 1 ? msgpack_pack_true : msgpack_pack_false)(&pk);
			n += 2;
		}
		for (size_t m = 0; m <= 20; m += 4 + round, n += 2) {
			static const char *const names[20] = { "O_RDONLY", "O_CREAT", "", "O_TRUNC" };
			const char *v[20];

			for (size_t i = 0; i < m; i++)
				v[i] = names[i % 4];
			rec_strs(&r, "flags", v, m);
			msgpack_pack_str_with_body(&pk, "flags", 5), msgpack_pack_array(&pk, m);
			for (size_t i = 0; i < m; i++)
				msgpack_pack_str_with_body(&pk, v[i], strlen(v[i]));
			rec_key(&r, "comm");
			rec_bin_val(&r, text, m * 15);
			msgpack_pack_str_with_body(&pk, "comm", 4), msgpack_pack_bin_with_body(&pk, text, m * 15);
		}
		/* values through the record's own packer (its write callback), as
		 * enrich writes argument arrays: long strings and numbers */
		rec_key(&r, "argv");
		msgpack_pack_array(&r.pk, 2);
		msgpack_pack_str_with_body(&r.pk, text, 100 + round);
		msgpack_pack_uint64(&r.pk, UINT64_MAX);
		msgpack_pack_str_with_body(&pk, "argv", 4), msgpack_pack_array(&pk, 2);
		msgpack_pack_str_with_body(&pk, text, 100 + round), msgpack_pack_uint64(&pk, UINT64_MAX);
		n++;
		p = rec_finish(&r, &len);
		ref.data[1] = (char)(n >> 24), ref.data[2] = (char)(n >> 16), ref.data[3] = (char)(n >> 8), ref.data[4] = (char)n;
		assert_int_equal(len, ref.size);
		assert_memory_equal(p, ref.data, len);
	}
	msgpack_sbuffer_destroy(&ref);
	rec_free(&r);
}

/* msgpack-c would allocate the claimed elements before reading them. */
static void test_unpack_refuses_containers_larger_than_the_input(void **state)
{
	static const uint8_t array32[] = { 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0 };
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0 };
	static const uint8_t nested[] = { 0x81, 0xa1, 'k', 0xdc, 0xff, 0xff, 0x01, 0x02 };
	static const uint8_t str32[] = { 0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x' };

	assert_int_equal(unpack(array32, sizeof(array32)), -EBADMSG);
	assert_int_equal(unpack(map32, sizeof(map32)), -EBADMSG);
	assert_int_equal(unpack(nested, sizeof(nested)), -EBADMSG);
	assert_int_equal(unpack(str32, sizeof(str32)), -EBADMSG);
}

static void test_unpack_refuses_truncated_and_trailing_bytes(void **state)
{
	static const uint8_t cut[] = { 0x82, 0xa1, 'a', 0x01, 0xa1 };
	static const uint8_t trailing[] = { 0x81, 0xa1, 'a', 0x01, 0x00 };
	static const uint8_t not_map[] = { 0x91, 0x01 };
	static const uint8_t reserved[] = { 0x81, 0xa1, 'a', 0xc1 };
	static const uint8_t ok[] = { 0x82, 0xa1, 'a', 0xd4, 0x01, 0x02, 0xa1, 'b', 0xc7, 0x01, 0x05, 'z' };

	assert_int_equal(unpack(cut, sizeof(cut)), -EBADMSG);
	assert_int_equal(unpack(trailing, sizeof(trailing)), -EBADMSG);
	assert_int_equal(unpack(not_map, sizeof(not_map)), -EBADMSG);
	assert_int_equal(unpack(reserved, sizeof(reserved)), -EBADMSG);
	assert_int_equal(unpack(ok, sizeof(ok)), 0);
}

static void test_peek_reads_what_the_builder_wrote(void **state)
{
	struct rec_head h;
	struct rec r;
	const void *p;
	size_t len;

	rec_init(&r);
	rec_begin(&r, "unlink", 987654321012ULL);
	rec_str(&r, "path", "/tmp/x");
	rec_str(&r, "session", "00112233aabbccdd");
	p = rec_finish(&r, &len);
	assert_int_equal(rec_peek(p, len, &h), 0);
	assert_true(h.has_ts);
	assert_true(h.ts == 987654321012ULL);
	assert_int_equal(h.type_len, 6);
	assert_memory_equal(h.type, "unlink", 6);
	assert_int_equal(h.session_len, 16);
	assert_memory_equal(h.session, "00112233aabbccdd", 16);
	rec_free(&r);
}

/* As rec_get reads them: the first of a key counts, whatever its type; an
 * integer of any width that is not negative is a ts; bin is bytes; a key
 * that is not a string is no key. */
static void test_peek_reads_as_rec_get_does(void **state)
{
	static const uint8_t a[] = { 0x85, 0xc4, 0x02, 't', 's', 0x07,              /* bin key: not "ts" */
				     0xa2, 't', 's', 0xd1, 0x01, 0x00,              /* int16 256 */
				     0xa4, 't', 'y', 'p', 'e', 0x05,                /* type, not bytes */
				     0xa4, 't', 'y', 'p', 'e', 0xa1, 'x',           /* a second type: ignored */
				     0xa7, 's', 'e', 's', 's', 'i', 'o', 'n', 0xc4, 0x01, 'S' };
	static const uint8_t b[] = { 0x83, 0xa2, 't', 's', 0xd0, 0xff,              /* int8 -1 */
				     0xa4, 't', 'y', 'p', 'e', 0xd9, 0x01, 'e',     /* str8 */
				     0xa7, 's', 'e', 's', 's', 'i', 'o', 'n', 0x90 };
	static const uint8_t c[] = { 0x81, 0xa2, 't', 's', 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 1 };
	struct rec_head h;

	assert_int_equal(rec_peek(a, sizeof(a), &h), 0);
	assert_true(h.has_ts && h.ts == 256);
	assert_null(h.type);
	assert_int_equal(h.session_len, 1);
	assert_memory_equal(h.session, "S", 1);
	assert_int_equal(rec_peek(b, sizeof(b), &h), 0);
	assert_false(h.has_ts);
	assert_int_equal(h.type_len, 1);
	assert_memory_equal(h.type, "e", 1);
	assert_null(h.session);
	assert_int_equal(rec_peek(c, sizeof(c), &h), 0);
	assert_true(h.has_ts && h.ts == 0x8000000000000001ULL);
	assert_null(h.type);
}

static void test_peek_refuses_what_is_not_one_map(void **state)
{
	static const uint8_t cut[] = { 0x82, 0xa1, 'a', 0x01, 0xa1 };
	static const uint8_t trailing[] = { 0x81, 0xa1, 'a', 0x01, 0x00 };
	static const uint8_t not_map[] = { 0x91, 0x01 };
	static const uint8_t reserved[] = { 0x81, 0xa1, 'a', 0xc1 };
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0 };
	static const uint8_t str32[] = { 0x81, 0xa4, 't', 'y', 'p', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x' };
	static const uint8_t empty[] = { 0x80 };
	struct rec_head h;

	assert_int_equal(rec_peek(cut, sizeof(cut), &h), -EBADMSG);
	assert_int_equal(rec_peek(trailing, sizeof(trailing), &h), -EBADMSG);
	assert_int_equal(rec_peek(not_map, sizeof(not_map), &h), -EBADMSG);
	assert_int_equal(rec_peek(reserved, sizeof(reserved), &h), -EBADMSG);
	assert_int_equal(rec_peek(map32, sizeof(map32), &h), -EBADMSG);
	assert_int_equal(rec_peek(str32, sizeof(str32), &h), -EBADMSG);
	assert_int_equal(rec_peek(empty, 0, &h), -EBADMSG);
	assert_int_equal(rec_peek(empty, sizeof(empty), &h), 0);
	assert_false(h.has_ts);
	assert_null(h.type);
	assert_null(h.session);
}

/* A value no buffer can hold is left out and says so: the record is cut
 * (the collector then does not cache its fields), until the next record. */
static void test_a_write_without_memory_marks_the_record_cut(void **state)
{
	struct rec r;
	size_t len, before;

	rec_init(&r);
	rec_begin(&r, "open", 1);
	assert_false(r.cut);
	rec_finish(&r, &before);
	rec_begin(&r, "open", 1);
	rec_bytes(&r, "huge", "", SIZE_MAX / 2);
	assert_true(r.cut);
	rec_finish(&r, &len);
	assert_int_equal(len, before);
	rec_begin(&r, "open", 1);
	assert_false(r.cut);
	rec_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unpack_reads_what_the_builder_wrote),
		cmocka_unit_test(test_builder_writes_what_msgpack_packs),
		cmocka_unit_test(test_unpack_refuses_containers_larger_than_the_input),
		cmocka_unit_test(test_unpack_refuses_truncated_and_trailing_bytes),
		cmocka_unit_test(test_peek_reads_what_the_builder_wrote),
		cmocka_unit_test(test_peek_reads_as_rec_get_does),
		cmocka_unit_test(test_peek_refuses_what_is_not_one_map),
		cmocka_unit_test(test_a_write_without_memory_marks_the_record_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
