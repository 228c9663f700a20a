#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "labels.h"
#include "collector/redact.h"
#include "collector/session.h"

static struct session *mk(const char *path, uint64_t id)
{
	json_t *labels = json_object();
	struct session *s = session_new("watch", path, labels);

	json_decref(labels);
	assert_non_null(s);
	s->cgroup_id = id;
	return s;
}

static void test_session_ids_are_unique_hex(void **state)
{
	struct session *a = mk("/a", 1), *b = mk("/b", 2);

	assert_int_equal(strlen(a->id), SESSION_ID_LEN);
	assert_int_equal(strspn(a->id, "0123456789abcdef"), SESSION_ID_LEN);
	assert_string_not_equal(a->id, b->id);
	session_free(a);
	session_free(b);
}

static void test_overlap_detects_nesting_both_ways(void **state)
{
	struct session_table t = { 0 };

	session_table_add(&t, mk("/cg/a/b", 1));
	assert_non_null(session_overlapping(&t, "/cg/a/b"));
	assert_non_null(session_overlapping(&t, "/cg/a/b/c"));
	assert_non_null(session_overlapping(&t, "/cg/a"));
	assert_null(session_overlapping(&t, "/cg/a/bc"));
	assert_null(session_overlapping(&t, "/cg/x"));
	session_table_free(&t);
}

static void test_ended_session_still_attributes_until_reaped(void **state)
{
	struct session_table t = { 0 };
	struct session *s = mk("/cg/a", 7);

	session_table_add(&t, s);
	s->ended = true;
	s->ended_mono_ms = 1000;
	assert_ptr_equal(session_by_cgroup(&t, 7), s);
	assert_null(session_by_id(&t, s->id));
	assert_null(session_overlapping(&t, "/cg/a"));
	session_table_reap(&t, 2000, 5000);
	assert_ptr_equal(session_by_cgroup(&t, 7), s);
	session_table_reap(&t, 9000, 5000);
	assert_null(session_by_cgroup(&t, 7));
	session_table_free(&t);
}

static void expect_redact_cut(struct session *s, const char *in, bool cut, const char *want)
{
	struct redact_buf b = { 0 };
	size_t len = strlen(in);
	const uint8_t *out = redact(s->secrets, s->nsecrets, (const uint8_t *)in, &len, cut, &b);

	assert_non_null(out);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	redact_buf_free(&b);
}

static void expect_redact(struct session *s, const char *in, const char *want)
{
	expect_redact_cut(s, in, false, want);
}

static void test_redact_replaces_every_occurrence(void **state)
{
	struct session *s = mk("/x", 1);

	session_add_secret(s, "A", "s3cr3t");
	session_add_secret(s, "B", "3cr");
	expect_redact(s, "nothing here", "nothing here");
	expect_redact(s, "s3cr3t", "[secret:A]");
	expect_redact(s, "xs3cr3ts3cr3ty", "x[secret:A][secret:A]y");
	expect_redact(s, "a3crb", "a[secret:B]b");
	expect_redact(s, "3c", "3c");
	session_free(s);
}

/* A truncated value may have been cut inside a secret: the piece left at
 * either end is marked, from REDACT_MIN_PIECE bytes on. */
static void test_redact_marks_pieces_at_the_ends_of_a_cut_value(void **state)
{
	struct session *s = mk("/x", 1);

	session_add_secret(s, "A", "0123456789");
	expect_redact_cut(s, "arg=01234567", true, "arg=[secret:A]");
	expect_redact_cut(s, "56789/file", true, "[secret:A]/file");
	expect_redact_cut(s, "6789x0123", true, "[secret:A]x[secret:A]");
	expect_redact_cut(s, "x0123456789y0123", true, "x[secret:A]y[secret:A]");
	/* whole values keep their ends; pieces under the minimum stay */
	expect_redact_cut(s, "arg=01234567", false, "arg=01234567");
	expect_redact_cut(s, "arg=012", true, "arg=012");
	expect_redact_cut(s, "789", true, "789");
	expect_redact_cut(s, "", true, "");
	session_free(s);
}

/* An empty value from an untrusted stream may come without a buffer. */
static void test_redact_of_nothing_is_nothing(void **state)
{
	struct session *s = mk("/x", 1);
	struct redact_buf b = { 0 };
	size_t len = 0;

	session_add_secret(s, "A", "s3cr3t");
	assert_non_null(redact(s->secrets, s->nsecrets, NULL, &len, true, &b));
	assert_int_equal(len, 0);
	redact_buf_free(&b);
	session_free(s);
}

static void test_labels_reject_bad_keys_and_values(void **state)
{
	json_t *l = json_object();
	char err[256];

	assert_int_equal(labels_parse(l, "team=sec", err, sizeof(err)), 0);
	assert_int_equal(labels_parse(l, "team=other", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "given twice"));
	assert_int_equal(labels_parse(l, "novalue", err, sizeof(err)), -1);
	assert_int_equal(labels_parse(l, "=x", err, sizeof(err)), -1);
	assert_int_equal(labels_parse(l, "k y=x", err, sizeof(err)), -1);
	assert_int_equal(labels_parse(l, "k=a\nb", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "control byte 0x0a"));
	assert_int_equal(json_object_size(l), 1);
	json_decref(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_ids_are_unique_hex),
		cmocka_unit_test(test_overlap_detects_nesting_both_ways),
		cmocka_unit_test(test_ended_session_still_attributes_until_reaped),
		cmocka_unit_test(test_redact_replaces_every_occurrence),
		cmocka_unit_test(test_redact_marks_pieces_at_the_ends_of_a_cut_value),
		cmocka_unit_test(test_redact_of_nothing_is_nothing),
		cmocka_unit_test(test_labels_reject_bad_keys_and_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
