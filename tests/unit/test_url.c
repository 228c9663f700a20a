#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "url.h"

static void test_url_splits_scheme_credentials_hosts_path_and_options(void **state)
{
	struct exp_url_parts p;
	char err[256];

	assert_int_equal(exp_url_parse("kafka://u%40x:p%3Aw@h1:9092,h2:9093/audit%2Dlog?format=json&a=%3D1", &p,
				       err, sizeof(err)), 0);
	assert_string_equal(p.url.scheme, "kafka");
	assert_string_equal(p.url.user, "u@x");
	assert_string_equal(p.url.password, "p:w");
	assert_string_equal(p.url.authority, "h1:9092,h2:9093");
	assert_string_equal(p.url.path, "/audit-log");
	assert_int_equal(p.nquery, 2);
	assert_string_equal(p.query[0].key, "format");
	assert_string_equal(p.query[0].value, "json");
	assert_string_equal(p.query[1].value, "=1");
	exp_url_free(&p);
}

static void test_url_file_form_has_an_empty_authority(void **state)
{
	struct exp_url_parts p;
	char err[256];

	assert_int_equal(exp_url_parse("file:///var/log/a.ndjson", &p, err, sizeof(err)), 0);
	assert_string_equal(p.url.authority, "");
	assert_string_equal(p.url.path, "/var/log/a.ndjson");
	assert_null(p.url.user);
	assert_int_equal(p.nquery, 0);
	exp_url_free(&p);
	assert_int_equal(exp_url_parse("syslog+tcp://127.0.0.1:514", &p, err, sizeof(err)), 0);
	assert_string_equal(p.url.scheme, "syslog+tcp");
	assert_string_equal(p.url.authority, "127.0.0.1:514");
	assert_string_equal(p.url.path, "");
	exp_url_free(&p);
}

static void test_url_refuses_what_it_cannot_read(void **state)
{
	static const char *const bad[] = {
		"", "kafka", "kafka:/h/t", "://h", "1kafka://h", "kafka://h/t?x", "kafka://h/t?=v",
		"kafka://h/t?k=%4", "kafka://h/t?k=%zz", "kafka://h/%00", "kafka://h/a b", "kafka://h/a\nb",
	};
	struct exp_url_parts p;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(exp_url_parse(bad[i], &p, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != 0);
		assert_null(strchr(err, '\n'));
		exp_url_free(&p);
	}
}

static void test_url_redaction_hides_passwords_and_secret_options(void **state)
{
	char *r = exp_url_redact("elasticsearch://elastic:s3cret@h:9200/idx?api_key=abc&format=x&rdkafka.sasl.password=z");

	assert_non_null(r);
	assert_string_equal(r, "elasticsearch://elastic:***@h:9200/idx?api_key=***&format=x&rdkafka.sasl.password=***");
	free(r);
	r = exp_url_redact("kafka://h1:9092,h2:9092/t");
	assert_string_equal(r, "kafka://h1:9092,h2:9092/t");
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_splits_scheme_credentials_hosts_path_and_options),
		cmocka_unit_test(test_url_file_form_has_an_empty_authority),
		cmocka_unit_test(test_url_refuses_what_it_cannot_read),
		cmocka_unit_test(test_url_redaction_hides_passwords_and_secret_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
