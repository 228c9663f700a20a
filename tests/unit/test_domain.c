#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proxy/domain.h"

static char err[512];

static void test_domain_wildcard_matches_below_never_the_suffix_itself(void **state)
{
	char pat[DOMAIN_MAX + 1];

	assert_int_equal(domain_pattern_parse("*.Example.org", pat, err, sizeof(err)), 0);
	assert_string_equal(pat, "*.example.org");
	assert_true(domain_match(pat, "a.example.org"));
	assert_true(domain_match(pat, "b.a.example.org"));
	assert_false(domain_match(pat, "example.org"));
	assert_false(domain_match(pat, "badexample.org"));
	assert_false(domain_match(pat, "example.org.evil.net"));
	assert_int_equal(domain_pattern_parse("pypi.org", pat, err, sizeof(err)), 0);
	assert_true(domain_match(pat, "pypi.org"));
	assert_false(domain_match(pat, "x.pypi.org"));
	assert_false(domain_match(pat, "pypi.org.evil.net"));
}

static void test_domain_host_canon_refuses_ip_literals_in_every_form(void **state)
{
	static const char *const lits[] = { "1.2.3.4", "[::1]", "::ffff:1.2.3.4", "127.1", "0x7f000001",
					    "2130706433", "10.0.0.1.", "a.b.0x10" };
	char out[DOMAIN_MAX + 1];

	for (size_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++)
		assert_int_equal(domain_host_canon(lits[i], strlen(lits[i]), out), -1);
	assert_int_equal(domain_host_canon("API.Example.COM.", 16, out), 0);
	assert_string_equal(out, "api.example.com");
	assert_int_equal(domain_host_canon("1password.com", 13, out), 0);
	assert_int_equal(domain_host_canon("a b.com", 7, out), -1);
	assert_int_equal(domain_host_canon("a\n.com", 6, out), -1);
	assert_int_equal(domain_host_canon("", 0, out), -1);
}

static void test_domain_pattern_errors_name_the_pattern(void **state)
{
	char pat[DOMAIN_MAX + 1], long_name[300];

	assert_int_equal(domain_pattern_parse("*", pat, err, sizeof(err)), -1);
	assert_int_equal(domain_pattern_parse("*.org", pat, err, sizeof(err)), -1);
	assert_string_equal(err, "'*.org': a wildcard needs at least two labels after '*.' (a whole top-level domain "
				 "is too wide)");
	assert_int_equal(domain_pattern_parse("a-.org", pat, err, sizeof(err)), -1);
	assert_string_equal(err, "'a-.org': empty label or a label ending in '-'");
	memset(long_name, 'a', sizeof(long_name));
	long_name[100] = '.';
	long_name[200] = '.';
	long_name[299] = 0;
	assert_int_equal(domain_pattern_parse(long_name, pat, err, sizeof(err)), -1);
	assert_int_equal(domain_pattern_parse("[::1]", pat, err, sizeof(err)), -1);
	assert_string_equal(err, "'[::1]': an IP address, not a domain (the proxy decides by name)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_wildcard_matches_below_never_the_suffix_itself),
		cmocka_unit_test(test_domain_host_canon_refuses_ip_literals_in_every_form),
		cmocka_unit_test(test_domain_pattern_errors_name_the_pattern),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
