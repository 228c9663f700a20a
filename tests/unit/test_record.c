#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unpack_reads_what_the_builder_wrote),
		cmocka_unit_test(test_unpack_refuses_containers_larger_than_the_input),
		cmocka_unit_test(test_unpack_refuses_truncated_and_trailing_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
