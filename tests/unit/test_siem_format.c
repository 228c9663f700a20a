/* The escapings of RFC 5424 structured data and CEF, and the message shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "siem_format.h"

static char *buf;
static size_t len;

static FILE *out(void)
{
	free(buf);
	buf = NULL;
	return open_memstream(&buf, &len);
}

static void test_sd_value_escapes_quote_backslash_bracket(void **st)
{
	FILE *m = out();

	siem_put_sd_value(m, "a\"b\\c]d=e|f", 11);
	fclose(m);
	assert_string_equal(buf, "a\\\"b\\\\c\\]d=e|f");
}

static void test_cef_escapes_header_and_extension(void **st)
{
	FILE *m = out();

	siem_put_cef_header(m, "a|b\\c=d");
	fputc(' ', m);
	siem_put_cef_value(m, "a|b\\c=d\ne\r", 10);
	fclose(m);
	assert_string_equal(buf, "a\\|b\\\\c=d a|b\\\\c\\=d\\ne\\r");
}

static void test_rfc5424_message(void **st)
{
	const char *line = "{\"journal\":\"0123456789abcdef0123456789abcdef\",\"seq\":3,\"type\":\"open\",\"path\":\"/x]\\\"y\",\"ret\":-2,\"argv\":[\"a\"]}";
	json_t *rec = json_loads(line, 0, NULL);
	struct siem_header h = { .facility = 13, .hostname = "h o", .app = "sandtrail", .ts_ns = 1700000000123456789ull };
	FILE *m = out();

	assert_int_equal(siem_format(m, SIEM_RFC5424, &h, rec, line, strlen(line)), 0);
	fclose(m);
	const char *head = "<110>1 2023-11-14T22:13:20.123456Z h_o sandtrail - open [sandtrail@32473 "
			   "journal=\"0123456789abcdef0123456789abcdef\" seq=\"3\" type=\"open\" path=\"/x\\]\\\"y\" "
			   "ret=\"-2\" argv=\"[\\\"a\\\"\\]\"] ";
	assert_memory_equal(buf, head, strlen(head));
	assert_string_equal(buf + strlen(head), line); /* MSG: the line as it is */
	json_decref(rec);
}

static void test_cef_message(void **st)
{
	const char *line = "{\"journal\":\"0123456789abcdef0123456789abcdef\",\"seq\":4,\"type\":\"connect\",\"family\":\"AF_INET\",\"addr\":\"10.0.0.1\",\"port\":80,\"verdict\":\"deny\",\"ret\":-1}";
	json_t *rec = json_loads(line, 0, NULL);
	struct siem_header h = { .facility = 4, .hostname = "h", .app = "sandtrail", .ts_ns = 1700000000123456789ull };
	FILE *m = out();

	assert_int_equal(siem_format(m, SIEM_CEF, &h, rec, line, strlen(line)), 0);
	fclose(m);
	assert_non_null(strstr(buf, "<36>1 2023-11-14T22:13:20.123456Z h sandtrail - connect - CEF:0|sandtrail|sandtrail|1|connect|Network Activity: connect|7|rt=1700000000123 externalId=0123456789abcdef0123456789abcdef-4 cat=network act=connect outcome=failure dst=10.0.0.1 dpt=80 "));
	assert_non_null(strstr(buf, " cs3Label=record cs3={\"journal\":\"0123456789abcdef0123456789abcdef\",\"seq\":4,"));
	assert_null(strstr(buf, "cs3={\"journal\"=")); /* = in the value escaped */
	json_decref(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sd_value_escapes_quote_backslash_bracket),
		cmocka_unit_test(test_cef_escapes_header_and_extension),
		cmocka_unit_test(test_rfc5424_message),
		cmocka_unit_test(test_cef_message),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	free(buf);
	return rc;
}
