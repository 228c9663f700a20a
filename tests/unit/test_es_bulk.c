/* The _bulk answer per item and the ECS mapping of a record. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecs.h"
#include "es_bulk.h"

static struct exp_record recs[4], *p[4];
static char ids[4][64], why[4][ES_WHY_LEN], err[256];

static void reset(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		recs[i] = (struct exp_record){ .seq = i };
		p[i] = &recs[i];
		snprintf(ids[i], sizeof(ids[i]), "j-%zu", i);
	}
}

static int answer(const char *body, size_t n)
{
	return es_bulk_answer(body, strlen(body), p, ids, n, why, err, sizeof(err));
}

static void test_bulk_items_answer_each_record(void **st)
{
	reset(4);
	assert_int_equal(answer("{\"errors\":true,\"items\":["
				"{\"create\":{\"_id\":\"j-0\",\"status\":201}},"
				"{\"create\":{\"_id\":\"j-1\",\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\"}}},"
				"{\"create\":{\"_id\":\"j-2\",\"status\":429}},"
				"{\"create\":{\"_id\":\"j-3\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"bad\\nfield\"}}}]}",
				4),
			 0);
	assert_int_equal(recs[0].result, EXP_OK);
	assert_int_equal(recs[1].result, EXP_OK); /* already there: shipped before */
	assert_int_equal(recs[2].result, EXP_RETRY);
	assert_int_equal(recs[3].result, EXP_FAIL);
	assert_string_equal(recs[3].why, "400 mapper_parsing_exception: bad?field");
}

static void test_bulk_5xx_item_is_retried(void **st)
{
	reset(1);
	assert_int_equal(answer("{\"items\":[{\"create\":{\"_id\":\"j-0\",\"status\":503}}]}", 1), 0);
	assert_int_equal(recs[0].result, EXP_RETRY);
}

static void test_bulk_refuses_answers_that_do_not_match(void **st)
{
	static const char *const bad[] = {
		"not json",
		"{\"items\":[{\"create\":{\"_id\":\"j-0\",\"status\":201}}]}",                        /* one item for two */
		"{\"items\":[{\"create\":{\"_id\":\"j-1\",\"status\":201}},{\"create\":{\"_id\":\"j-0\",\"status\":201}}]}", /* order */
		"{\"items\":[{\"index\":{\"_id\":\"j-0\",\"status\":201}},{\"create\":{\"_id\":\"j-1\",\"status\":201}}]}",  /* not create */
		"{\"items\":[{\"create\":{\"_id\":\"j-0\",\"status\":\"201\"}},{\"create\":{\"_id\":\"j-1\",\"status\":201}}]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reset(2);
		assert_int_equal(answer(bad[i], 2), -EPROTO);
		assert_int_equal(recs[0].result, EXP_PENDING); /* nothing taken as delivered */
		assert_int_equal(recs[1].result, EXP_PENDING);
		assert_null(strchr(err, '\n'));
	}
}

static void test_ecs_document_maps_a_denied_connect(void **st)
{
	const char *line = "{\"journal\":\"0123456789abcdef0123456789abcdef\",\"seq\":7,\"ts\":\"2026-01-02T03:04:05.000000006Z\","
			   "\"type\":\"connect\",\"session\":\"00000000000000aa\",\"pid\":10,\"tid\":11,\"ppid\":1,\"uid\":1000,"
			   "\"gid\":100,\"comm\":\"curl\",\"family\":\"AF_INET6\",\"addr\":\"::1\",\"port\":443,"
			   "\"verdict\":\"deny\",\"ret\":-1,\"error\":\"EPERM\",\"sealed\":true}";
	json_t *rec = json_loads(line, 0, NULL), *doc = ecs_document(rec, line, strlen(line), "h");
	char *got = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

	assert_non_null(strstr(got, "\"@timestamp\":\"2026-01-02T03:04:05.000000006Z\""));
	assert_non_null(strstr(got, "\"destination\":{\"ip\":\"::1\",\"port\":443}"));
	assert_non_null(strstr(got, "\"network\":{\"type\":\"ipv6\"}"));
	assert_non_null(strstr(got, "\"category\":[\"network\"]"));
	assert_non_null(strstr(got, "\"type\":[\"connection\",\"denied\"]"));
	assert_non_null(strstr(got, "\"outcome\":\"failure\""));
	assert_non_null(strstr(got, "\"id\":\"0123456789abcdef0123456789abcdef-7\""));
	assert_non_null(strstr(got, "\"user\":{\"id\":\"1000\"}"));
	assert_non_null(strstr(got, "\"activity_id\":5,\"class_name\":\"Network Activity\",\"class_uid\":4001"));
	assert_non_null(strstr(got, "\"error\":{\"code\":\"EPERM\"}"));
	free(got);
	json_decref(doc);
	json_decref(rec);
}

static void test_ecs_class_of_unknown_type_is_base_event(void **st)
{
	assert_int_equal(ecs_class_of("open")->ocsf_class, 1001);
	assert_int_equal(ecs_class_of("exec")->ocsf_class, 1007);
	assert_int_equal(ecs_class_of("no-such-type")->ocsf_class, 0);
	assert_string_equal(ecs_class_of("no-such-type")->category, "host");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulk_items_answer_each_record),
		cmocka_unit_test(test_bulk_5xx_item_is_retried),
		cmocka_unit_test(test_bulk_refuses_answers_that_do_not_match),
		cmocka_unit_test(test_ecs_document_maps_a_denied_connect),
		cmocka_unit_test(test_ecs_class_of_unknown_type_is_base_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
