#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rectest.h"
#include "replay/replay.h"

#define T0 1700000000000000000ull /* 2023-11-14T22:13:20Z */

static const msgpack_object *proc_rec(struct rt *t, const char *type, uint64_t ts, uint32_t pid)
{
	rt_proc(t, type, ts, pid, 1, "sh");
	return rt_done(t);
}

static void test_filter_types_match_only_listed_types(void **state)
{
	struct rfilter f = { 0 };
	char err[256];
	struct rt t;

	rt_init(&t);
	assert_int_equal(rfilter_types(&f, "exec,connect", err, sizeof(err)), 0);
	assert_int_equal(rfilter_types(&f, "exit", err, sizeof(err)), 0);
	assert_true(rfilter_match(&f, proc_rec(&t, "exec", T0, 1), T0));
	assert_true(rfilter_match(&f, proc_rec(&t, "connect", T0, 1), T0));
	assert_true(rfilter_match(&f, proc_rec(&t, "exit", T0, 1), T0));
	assert_false(rfilter_match(&f, proc_rec(&t, "open", T0, 1), T0));
	assert_false(rfilter_match(&f, proc_rec(&t, "execve", T0, 1), T0));
	rt_fini(&t);
}

static void test_filter_types_reject_unknown_or_empty_names(void **state)
{
	struct rfilter f = { 0 };
	char err[256];

	assert_int_equal(rfilter_types(&f, "exec,exce", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'exce'"));
	assert_int_equal(rfilter_types(&f, "exec,", err, sizeof(err)), -EINVAL);
	assert_int_equal(rfilter_types(&f, "", err, sizeof(err)), -EINVAL);
}

static void test_filter_pid_matches_the_process_only(void **state)
{
	struct rfilter f = { 0 };
	char err[256];
	struct rt t;

	rt_init(&t);
	assert_int_equal(rfilter_pid(&f, "42", err, sizeof(err)), 0);
	assert_true(rfilter_match(&f, proc_rec(&t, "exec", T0, 42), T0));
	assert_false(rfilter_match(&f, proc_rec(&t, "exec", T0, 43), T0));
	rt_begin(&t, "loss", T0);
	assert_false(rfilter_match(&f, rt_done(&t), T0));
	assert_int_equal(rfilter_pid(&f, "-1", err, sizeof(err)), -EINVAL);
	assert_int_equal(rfilter_pid(&f, "12x", err, sizeof(err)), -EINVAL);
	assert_int_equal(rfilter_pid(&f, "4294967296", err, sizeof(err)), -EINVAL);
	rt_fini(&t);
}

static void test_filter_parses_rfc3339_with_fractions_and_offsets(void **state)
{
	struct rfilter_time tm;
	char err[256];

	assert_int_equal(rfilter_time(&tm, "2023-11-14T22:13:20Z", err, sizeof(err)), 0);
	assert_int_equal(tm.kind, RFILTER_ABS);
	assert_true(tm.ns == T0);
	assert_int_equal(rfilter_time(&tm, "2023-11-14T22:13:20.5Z", err, sizeof(err)), 0);
	assert_true(tm.ns == T0 + 500000000);
	assert_int_equal(rfilter_time(&tm, "2023-11-14T23:43:20.000000001+01:30", err, sizeof(err)), 0);
	assert_true(tm.ns == T0 + 1);
	assert_int_equal(rfilter_time(&tm, "2023-11-14T21:13:20-01:00", err, sizeof(err)), 0);
	assert_true(tm.ns == T0);
}

static void test_filter_durations_count_from_the_session_start(void **state)
{
	struct rfilter f = { 0 };
	char err[256];
	struct rt t;

	rt_init(&t);
	assert_int_equal(rfilter_time(&f.since, "1m30s", err, sizeof(err)), 0);
	assert_int_equal(f.since.kind, RFILTER_REL);
	assert_true(f.since.ns == 90000000000ull);
	assert_int_equal(rfilter_time(&f.until, "2m", err, sizeof(err)), 0);
	assert_false(rfilter_match(&f, proc_rec(&t, "exec", T0 + 89000000000ull, 1), T0));
	assert_true(rfilter_match(&f, proc_rec(&t, "exec", T0 + 90000000000ull, 1), T0));
	assert_true(rfilter_match(&f, proc_rec(&t, "exec", T0 + 120000000000ull, 1), T0));
	assert_false(rfilter_match(&f, proc_rec(&t, "exec", T0 + 120000000001ull, 1), T0));
	assert_int_equal(rfilter_time(&f.since, "500ms", err, sizeof(err)), 0);
	assert_true(f.since.ns == 500000000ull);
	rt_fini(&t);
}

static void test_filter_absolute_window_is_inclusive(void **state)
{
	struct rfilter f = { 0 };
	char err[256];
	struct rt t;

	rt_init(&t);
	assert_int_equal(rfilter_time(&f.since, "2023-11-14T22:13:20Z", err, sizeof(err)), 0);
	assert_int_equal(rfilter_time(&f.until, "2023-11-14T22:13:21Z", err, sizeof(err)), 0);
	assert_true(rfilter_match(&f, proc_rec(&t, "exec", T0, 1), 0));
	assert_true(rfilter_match(&f, proc_rec(&t, "exec", T0 + 1000000000ull, 1), 0));
	assert_false(rfilter_match(&f, proc_rec(&t, "exec", T0 - 1, 1), 0));
	assert_false(rfilter_match(&f, proc_rec(&t, "exec", T0 + 1000000001ull, 1), 0));
	rt_fini(&t);
}

static void test_filter_rejects_malformed_times(void **state)
{
	static const char *const bad[] = { "", "10", "10x", "1.5s", "m", "2023-11-14", "2023-11-14T22:13:20",
					   "2023-11-14T22:13:20+0100", "2023-11-14T22:13:20Zjunk",
					   "99999999999999999999s", "2023-11-14T22:13:20.Z" };
	struct rfilter_time tm;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rfilter_time(&tm, bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(err, "RFC 3339"));
	}
}

static void test_filter_path_glob_looks_at_every_path_field(void **state)
{
	struct rfilter f = { .glob = "/work/*.py" };
	struct rt t;

	rt_init(&t);
	rt_proc(&t, "open", T0, 1, 1, "sh");
	rec_bytes(&t.r, "path", "/work/src/a.py", 14);
	assert_true(rfilter_match(&f, rt_done(&t), T0));
	rt_proc(&t, "rename", T0, 1, 1, "sh");
	rec_bytes(&t.r, "from", "/tmp/x", 6);
	rec_bytes(&t.r, "to", "/work/b.py", 10);
	assert_true(rfilter_match(&f, rt_done(&t), T0));
	rt_proc(&t, "exec", T0, 1, 1, "sh");
	rec_bytes(&t.r, "filename", "/work/run.py", 12);
	assert_true(rfilter_match(&f, rt_done(&t), T0));
	rt_proc(&t, "open", T0, 1, 1, "sh");
	rec_bytes(&t.r, "path", "/work/a.txt", 11);
	assert_false(rfilter_match(&f, rt_done(&t), T0));
	rt_proc(&t, "fork", T0, 1, 1, "sh");
	assert_false(rfilter_match(&f, rt_done(&t), T0));
	rt_fini(&t);
}

static void test_filter_path_never_matches_bytes_holding_nul(void **state)
{
	struct rfilter f = { .glob = "/work/a*" };
	struct rt t;

	rt_init(&t);
	rt_proc(&t, "open", T0, 1, 1, "sh");
	rec_bytes(&t.r, "path", "/work/a\0/etc/shadow", 19);
	assert_false(rfilter_match(&f, rt_done(&t), T0));
	rt_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_types_match_only_listed_types),
		cmocka_unit_test(test_filter_types_reject_unknown_or_empty_names),
		cmocka_unit_test(test_filter_pid_matches_the_process_only),
		cmocka_unit_test(test_filter_parses_rfc3339_with_fractions_and_offsets),
		cmocka_unit_test(test_filter_durations_count_from_the_session_start),
		cmocka_unit_test(test_filter_absolute_window_is_inclusive),
		cmocka_unit_test(test_filter_rejects_malformed_times),
		cmocka_unit_test(test_filter_path_glob_looks_at_every_path_field),
		cmocka_unit_test(test_filter_path_never_matches_bytes_holding_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
