#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "collector/metrics.h"

static void test_metrics_label_values_are_escaped(void **state)
{
	char l[128] = "";

	(void)state;
	metrics_label(l, sizeof(l), "kind", "a\"b\\c\nd");
	metrics_label(l, sizeof(l), "reason", "x");
	assert_string_equal(l, "kind=\"a\\\"b\\\\c\\nd\",reason=\"x\"");
}

static void test_metrics_label_never_overflows(void **state)
{
	char l[16] = "";

	(void)state;
	metrics_label(l, sizeof(l), "k", "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"");
	assert_true(strlen(l) < sizeof(l));
}

static void test_metrics_losses_add_up_per_kind_and_reason(void **state)
{
	struct metrics m = { 0 };

	(void)state;
	metrics_loss(&m, "open", "ringbuf", 3);
	metrics_loss(&m, "open", "pending", 2);
	metrics_loss(&m, "open", "ringbuf", 4);
	assert_int_equal(m.nloss, 2);
	assert_string_equal(m.loss[0].kind, "open");
	assert_int_equal(m.loss[0].count, 7);
	assert_int_equal(m.loss[1].count, 2);
}

/* A flood of distinct (kind, reason) pairs: the table stays bounded and
 * the counts still add up, in one "other" slot. */
static void test_metrics_loss_table_is_bounded_and_loses_no_count(void **state)
{
	struct metrics m = { 0 };
	uint64_t sum = 0;
	char kind[16];

	(void)state;
	for (int i = 0; i < 3 * METRICS_LOSS_KEYS; i++) {
		snprintf(kind, sizeof(kind), "k%d", i);
		metrics_loss(&m, kind, "r", 1);
	}
	assert_int_equal(m.nloss, METRICS_LOSS_KEYS);
	for (size_t i = 0; i < m.nloss; i++)
		sum += m.loss[i].count;
	assert_int_equal(sum, 3 * METRICS_LOSS_KEYS);
	assert_string_equal(m.loss[METRICS_LOSS_KEYS - 1].kind, "other");
}

static void test_metrics_render_has_help_and_type_before_samples(void **state)
{
	struct metrics m = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	m.events[3] = 5;
	metrics_loss(&m, "exec", "ringbuf", 9);
	metrics_render(f, &m);
	fclose(f);
	assert_non_null(strstr(buf, "# HELP sandtrail_events_total "));
	assert_true(strstr(buf, "# TYPE sandtrail_events_total counter\n") < strstr(buf, "sandtrail_events_total{type="));
	assert_non_null(strstr(buf, "sandtrail_lost_events_total{kind=\"exec\",reason=\"ringbuf\"} 9\n"));
	free(buf);
}

static void test_metrics_request_heads(void **state)
{
	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char query[] = "GET /metrics?x=1 HTTP/1.1\r\n\r\n";
	static const char other[] = "GET /metricsx HTTP/1.1\r\n\r\n";
	char big[METRICS_REQ_MAX];

	(void)state;
	assert_int_equal(metrics_request(get, sizeof(get) - 1), 1);
	assert_int_equal(metrics_request(query, sizeof(query) - 1), 1);
	assert_int_equal(metrics_request(get, 20), 0); /* not whole yet */
	assert_int_equal(metrics_request(other, sizeof(other) - 1), 2);
	memset(big, 'a', sizeof(big));
	assert_int_equal(metrics_request(big, sizeof(big)), -1);
}

static void test_metrics_listen_tcp_refuses_bad_specs_with_a_reason(void **state)
{
	static const char *const bad[] = { "9464", "localhost:9464", "127.0.0.1:0", "127.0.0.1:70000",
					   "::1:9464", "127.0.0.1:", "[::1:9464" };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(metrics_listen_tcp(bad[i], err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, bad[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_label_values_are_escaped),
		cmocka_unit_test(test_metrics_label_never_overflows),
		cmocka_unit_test(test_metrics_losses_add_up_per_kind_and_reason),
		cmocka_unit_test(test_metrics_loss_table_is_bounded_and_loses_no_count),
		cmocka_unit_test(test_metrics_render_has_help_and_type_before_samples),
		cmocka_unit_test(test_metrics_request_heads),
		cmocka_unit_test(test_metrics_listen_tcp_refuses_bad_specs_with_a_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
