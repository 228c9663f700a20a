#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "escape.h"

static void expect_escape(const char *in, size_t len, const char *want)
{
	char *got = escape_bytes(in, len);
	uint8_t back[256];
	long n;

	assert_non_null(got);
	assert_string_equal(got, want);
	n = unescape_bytes(got, back, sizeof(back));
	assert_int_equal(n, (long)len);
	assert_memory_equal(back, in, len);
	free(got);
}

static void test_escape_keeps_plain_paths(void **state)
{
	expect_escape("/usr/bin/ls", 11, "/usr/bin/ls");
	expect_escape("caf\xc3\xa9", 5, "caf\xc3\xa9");
}

static void test_escape_control_bytes_and_quotes(void **state)
{
	expect_escape("a\nb\tc\rd", 7, "a\\nb\\tc\\rd");
	expect_escape("\x1b[31m", 5, "\\x1b[31m");
	expect_escape("q\"x\x7f", 4, "q\"x\\x7f");
	expect_escape("a\0b", 3, "a\\x00b");
}

static void test_escape_backslash_is_unambiguous(void **state)
{
	expect_escape("\\x41", 4, "\\\\x41");
}

static void test_escape_invalid_utf8(void **state)
{
	expect_escape("\xff\xfe", 2, "\\xff\\xfe");
	expect_escape("\xc0\xaf", 2, "\\xc0\\xaf");         /* overlong '/' */
	expect_escape("\xed\xa0\x80", 3, "\\xed\\xa0\\x80"); /* surrogate */
	expect_escape("\xe2\x82", 2, "\\xe2\\x82");         /* cut sequence */
}

static void test_escape_bidi_and_c1(void **state)
{
	expect_escape("a\xe2\x80\xae" "b", 5, "a\\u{202e}b");
	expect_escape("\xc2\x9b", 2, "\\u{009b}");
}

static void test_unescape_rejects_malformed(void **state)
{
	uint8_t out[8];

	assert_int_equal(unescape_bytes("\\q", out, sizeof(out)), -1);
	assert_int_equal(unescape_bytes("\\x4", out, sizeof(out)), -1);
	assert_int_equal(unescape_bytes("abcdefghij", out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_keeps_plain_paths),
		cmocka_unit_test(test_escape_control_bytes_and_quotes),
		cmocka_unit_test(test_escape_backslash_is_unambiguous),
		cmocka_unit_test(test_escape_invalid_utf8),
		cmocka_unit_test(test_escape_bidi_and_c1),
		cmocka_unit_test(test_unescape_rejects_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
