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

#define MS 1000000ull

/* Records grouped by the millisecond they arrived in, each group timed when
 * the whole of it is durable; rendered as a cumulative histogram in seconds. */
static void test_metrics_seal_latency_is_timed_when_durable(void **state)
{
	struct metrics m = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	metrics_arrived(&m, 0, 100 * MS);
	metrics_arrived(&m, 1, 100 * MS + 1);
	metrics_arrived(&m, 2, 100 * MS + 999999);
	metrics_arrived(&m, 4, 105 * MS); /* seq 3: a seal */
	metrics_durable(&m, 3, 110 * MS); /* not all of the second group yet */
	assert_int_equal(m.seal_count, 3);
	metrics_durable(&m, 5, 130 * MS);
	assert_int_equal(m.seal_count, 4);
	assert_int_equal(m.npending, 0);
	assert_int_equal(m.seal_sum_ns, 3 * 10 * MS + 25 * MS);
	metrics_durable(&m, 9, 500 * MS); /* nothing pending: nothing observed */
	assert_int_equal(m.seal_count, 4);

	f = open_memstream(&buf, &len);
	metrics_render(f, &m);
	fclose(f);
	assert_non_null(strstr(buf, "# TYPE sandtrail_seal_latency_seconds histogram\n"));
	assert_non_null(strstr(buf, "sandtrail_seal_latency_seconds_bucket{le=\"0.005\"} 0\n"));
	assert_non_null(strstr(buf, "sandtrail_seal_latency_seconds_bucket{le=\"0.01\"} 3\n"));
	assert_non_null(strstr(buf, "sandtrail_seal_latency_seconds_bucket{le=\"0.025\"} 4\n"));
	assert_non_null(strstr(buf, "sandtrail_seal_latency_seconds_bucket{le=\"10\"} 4\n"));
	assert_non_null(strstr(buf, "sandtrail_seal_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(buf, "sandtrail_seal_latency_seconds_sum 0.055000000\n"));
	assert_non_null(strstr(buf, "sandtrail_seal_latency_seconds_count 4\n"));
	free(buf);
}

/* Past 10 s: counted in +Inf only. */
static void test_metrics_seal_latency_beyond_the_last_bucket_is_inf(void **state)
{
	struct metrics m = { 0 };

	(void)state;
	metrics_arrived(&m, 0, 0);
	metrics_durable(&m, 1, 11000 * MS);
	assert_int_equal(m.seal_le[METRICS_SEAL_BUCKETS], 1);
	assert_int_equal(m.seal_le[METRICS_SEAL_BUCKETS - 1], 0);
}

/* Durability stalled: the queue stays bounded, no record goes untimed, and
 * the folded ones are timed from an earlier arrival (never less). */
static void test_metrics_seal_latency_queue_is_bounded_and_times_every_record(void **state)
{
	struct metrics m = { 0 };
	uint64_t n = METRICS_PENDING_MAX + 10;

	(void)state;
	for (uint64_t i = 0; i < n; i++)
		metrics_arrived(&m, i, i * MS);
	assert_int_equal(m.npending, METRICS_PENDING_MAX);
	metrics_durable(&m, n, n * MS);
	assert_int_equal(m.seal_count, n);
	assert_int_equal(m.npending, 0);
	assert_true(m.seal_sum_ns >= n * MS); /* each at least 1 ms late */
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
		cmocka_unit_test(test_metrics_seal_latency_is_timed_when_durable),
		cmocka_unit_test(test_metrics_seal_latency_beyond_the_last_bucket_is_inf),
		cmocka_unit_test(test_metrics_seal_latency_queue_is_bounded_and_times_every_record),
		cmocka_unit_test(test_metrics_request_heads),
		cmocka_unit_test(test_metrics_listen_tcp_refuses_bad_specs_with_a_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
