#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replay/replay.h"

static char *print(const struct sealmark *m)
{
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	sealmark_print(m, f, false);
	fclose(f);
	return out;
}

static void add_run(struct sealmark *m, uint64_t first, uint64_t last, enum journal_seal_state st)
{
	for (uint64_t s = first; s <= last; s++)
		assert_int_equal(sealmark_add(m, s, st), 0);
}

static void test_sealmark_names_each_run_of_unsealed_records(void **state)
{
	struct sealmark m;
	char *out;

	sealmark_init(&m);
	add_run(&m, 0, 119, JOURNAL_SEALED);
	add_run(&m, 120, 140, JOURNAL_UNSEALED);
	add_run(&m, 141, 150, JOURNAL_SEALED);
	add_run(&m, 151, 151, JOURNAL_UNSEALED);
	out = print(&m);
	assert_string_equal(out, "! records 120-140 (21) are not covered by a valid seal\n"
				 "! record 151 is not covered by a valid seal\n");
	assert_true(m.unsealed == 22 && m.bad == 0 && m.total == 152);
	free(out);
	sealmark_free(&m);
}

static void test_sealmark_reports_failing_records_loudly(void **state)
{
	struct sealmark m;
	char *out;

	sealmark_init(&m);
	add_run(&m, 0, 9, JOURNAL_SEALED);
	add_run(&m, 10, 12, JOURNAL_BAD);
	add_run(&m, 13, 14, JOURNAL_UNSEALED);
	out = print(&m);
	assert_non_null(strstr(out, "!! records 10-12 (3) are FAILING seal verification"));
	assert_non_null(strstr(out, "\n! records 13-14 (2) are not covered by a valid seal\n"));
	assert_true(m.bad == 3);
	free(out);
	sealmark_free(&m);
}

static void test_sealmark_is_silent_when_everything_is_sealed(void **state)
{
	struct sealmark m;
	char *out;

	sealmark_init(&m);
	add_run(&m, 0, 999, JOURNAL_SEALED);
	out = print(&m);
	assert_string_equal(out, "");
	free(out);
	sealmark_free(&m);
}

static void test_sealmark_sums_up_beyond_twenty_runs(void **state)
{
	struct sealmark m;
	char *out;
	int lines = 0;

	sealmark_init(&m);
	for (uint64_t s = 0; s < 100; s++)
		assert_int_equal(sealmark_add(&m, s, s % 2 ? JOURNAL_UNSEALED : JOURNAL_SEALED), 0);
	out = print(&m);
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 21);
	assert_non_null(strstr(out, "... and 30 more runs: 50 unsealed and 0 failing records in all\n"));
	free(out);
	sealmark_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sealmark_names_each_run_of_unsealed_records),
		cmocka_unit_test(test_sealmark_reports_failing_records_loudly),
		cmocka_unit_test(test_sealmark_is_silent_when_everything_is_sealed),
		cmocka_unit_test(test_sealmark_sums_up_beyond_twenty_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
