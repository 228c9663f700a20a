#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "options.h"

struct cfg {
	char *s;
	uint64_t n, ms;
	bool b;
	unsigned e;
	struct exp_pass_list pass;
};

#define O(f) offsetof(struct cfg, f)

static const struct exp_option table[] = {
	{ .key = "s", .type = EXP_OPT_STR, .off = O(s), .def = "dflt", .help = "a string" },
	{ .key = "n", .type = EXP_OPT_UINT, .off = O(n), .def = "4K", .min = 1, .max = 1u << 20, .help = "a count" },
	{ .key = "ms", .type = EXP_OPT_MS, .off = O(ms), .def = "2s", .help = "a duration" },
	{ .key = "b", .type = EXP_OPT_BOOL, .off = O(b), .def = "true", .help = "a switch" },
	{ .key = "e", .type = EXP_OPT_ENUM, .off = O(e), .def = "json", .choices = "msgpack|json", .help = "a choice" },
	{ .key = "lib.", .type = EXP_OPT_PASS, .off = O(pass), .help = "passed on" },
	{ 0 },
};

static void test_options_defaults_come_from_the_table(void **state)
{
	struct cfg c = { 0 };
	char err[128];

	assert_int_equal(exp_options_defaults(table, &c, err, sizeof(err)), 0);
	assert_string_equal(c.s, "dflt");
	assert_int_equal(c.n, 4096);
	assert_int_equal(c.ms, 2000);
	assert_true(c.b);
	assert_int_equal(c.e, 1);
	assert_int_equal(c.pass.n, 0);
	exp_options_free(table, &c);
}

static void test_options_set_by_key_and_pass_prefixed_ones_on(void **state)
{
	struct cfg c = { 0 };
	char err[128];

	assert_int_equal(exp_options_defaults(table, &c, err, sizeof(err)), 0);
	assert_int_equal(exp_options_set(table, &c, "s", "x", err, sizeof(err)), 1);
	assert_int_equal(exp_options_set(table, &c, "n", "1M", err, sizeof(err)), 1);
	assert_int_equal(exp_options_set(table, &c, "ms", "250ms", err, sizeof(err)), 1);
	assert_int_equal(exp_options_set(table, &c, "b", "0", err, sizeof(err)), 1);
	assert_int_equal(exp_options_set(table, &c, "e", "msgpack", err, sizeof(err)), 1);
	assert_int_equal(exp_options_set(table, &c, "lib.linger.ms", "5", err, sizeof(err)), 1);
	assert_int_equal(exp_options_set(table, &c, "other", "1", err, sizeof(err)), 0);
	assert_string_equal(c.s, "x");
	assert_int_equal(c.n, 1u << 20);
	assert_int_equal(c.ms, 250);
	assert_false(c.b);
	assert_int_equal(c.e, 0);
	assert_int_equal(c.pass.n, 1);
	assert_string_equal(c.pass.v[0].key, "linger.ms");
	assert_string_equal(c.pass.v[0].value, "5");
	exp_options_free(table, &c);
	assert_null(c.s);
}

static void test_options_refuse_bad_values_with_the_key_named(void **state)
{
	static const char *const bad[][2] = {
		{ "n", "0" }, { "n", "2M" }, { "n", "x" }, { "n", "-1" }, { "ms", "5 s" }, { "ms", "1d" },
		{ "b", "yes" }, { "e", "xml" }, { "lib.", "1" },
	};
	struct cfg c = { 0 };
	char err[128];

	assert_int_equal(exp_options_defaults(table, &c, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(exp_options_set(table, &c, bad[i][0], bad[i][1], err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, bad[i][0]));
	}
	exp_options_free(table, &c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_defaults_come_from_the_table),
		cmocka_unit_test(test_options_set_by_key_and_pass_prefixed_ones_on),
		cmocka_unit_test(test_options_refuse_bad_values_with_the_key_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
