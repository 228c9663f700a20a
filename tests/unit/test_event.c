/* Paths from kernel walks: joined, and requested paths resolved from the
 * directory the kernel took them from (userspace/collector/event.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "collector/event.h"

static uint8_t out[EVENT_PATH_MAX];

/* A walk string as the kernel writes it (names leaf first, NUL after each). */
static struct event_str walk(const char *p, size_t len, bool cut)
{
	return (struct event_str){ .p = (const uint8_t *)p, .len = len, .truncated = cut, .components = true,
				   .present = true };
}

#define WALK(lit) walk(lit, sizeof(lit) - 1, false)

static void assert_resolved(const struct event_str *base, const char *req, const char *want)
{
	bool t;
	size_t n = event_path_resolve(base, (const uint8_t *)req, strlen(req), out, sizeof(out), &t);

	assert_false(t);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
}

static void test_join_reverses_the_walk_and_skips_the_root_mark(void **state)
{
	struct event_str s = WALK("leaf\0mid\0\0top\0");
	bool t;
	size_t n = event_path_join(&s, out, sizeof(out), &t);

	assert_false(t);
	assert_int_equal(n, 13);
	assert_memory_equal(out, "/top/mid/leaf", 13);
}

static void test_join_of_a_cut_walk_starts_with_an_ellipsis(void **state)
{
	struct event_str s = walk("leaf\0mid\0", 9, true);
	bool t;
	size_t n = event_path_join(&s, out, sizeof(out), &t);

	assert_true(t);
	assert_memory_equal(out, "\xe2\x80\xa6/mid/leaf", n);
}

/* 60 levels of 20-character names: 1260 bytes, far more names than the
 * old 48-dentry bound, and complete. */
static void test_deep_walk_is_whole_and_not_flagged(void **state)
{
	static char w[60 * 21];
	char name[21];
	bool t;
	size_t n;

	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "level-%02d-abcdefghijk", 59 - i);
		memcpy(w + i * 21, name, 21);
	}
	struct event_str s = walk(w, sizeof(w), false);

	n = event_path_join(&s, out, sizeof(out), &t);
	assert_false(t);
	assert_int_equal(n, 60 * 21);
	assert_memory_equal(out, "/level-00-abcdefghijk/level-01-abcdefghijk/", 42);
	assert_memory_equal(out + n - 21, "/level-59-abcdefghijk", 21);
}

static void test_longest_walk_and_request_fit_without_a_cut(void **state)
{
	static char w[ST_PATH_MAX], req[ST_PATH_MAX];
	bool t;
	size_t n;

	memset(w, 'a', sizeof(w));
	for (size_t i = 100; i < sizeof(w); i += 101)
		w[i] = 0;
	w[sizeof(w) - 1] = 0;
	memset(req, 'b', sizeof(req));
	struct event_str s = walk(w, sizeof(w), false);

	n = event_path_resolve(&s, (const uint8_t *)req, sizeof(req), out, sizeof(out), &t);
	assert_false(t);
	assert_int_equal(n, sizeof(w) + 1 + sizeof(req));
}

static void test_absolute_request_starts_at_the_root(void **state)
{
	struct event_str root = WALK("\0");

	assert_resolved(&root, "/etc/passwd", "/etc/passwd");
	assert_resolved(&root, "//etc/./passwd/", "/etc/passwd");
	assert_resolved(&root, "/../../etc", "/etc");
	assert_resolved(&root, "/", "/");
}

static void test_relative_request_joins_its_base(void **state)
{
	struct event_str cwd = WALK("w\0t\0\0");

	assert_resolved(&cwd, "a/./b//c", "/t/w/a/b/c");
	assert_resolved(&cwd, ".git/index.lock", "/t/w/.git/index.lock");
	assert_resolved(&cwd, "", "/t/w"); /* AT_EMPTY_PATH: the fd's own file */
}

static void test_dotdot_over_the_base_takes_real_parents_up_to_the_root(void **state)
{
	struct event_str cwd = WALK("w\0t\0\0");

	assert_resolved(&cwd, "../x", "/t/x");
	assert_resolved(&cwd, "../../../../x", "/x");
}

/* chroot("/jail") then unlink("../../etc/passwd") from /jail/w removes
 * /jail/etc/passwd: the kernel does not go above the task's root, nor may
 * the record. */
static void test_dotdot_stops_at_a_chroot(void **state)
{
	struct event_str cwd = WALK("w\0\0jail\0"), root = WALK("\0jail\0");

	assert_resolved(&cwd, "../../etc/passwd", "/jail/etc/passwd");
	assert_resolved(&root, "/../etc/passwd", "/jail/etc/passwd");
	assert_resolved(&root, "/etc/passwd", "/jail/etc/passwd");
}

/* A cwd left outside the chroot (no mark on its walk): ".." is free to
 * the namespace's root, as in the kernel. */
static void test_dotdot_outside_the_chroot_is_free(void **state)
{
	struct event_str cwd = WALK("w\0out\0");

	assert_resolved(&cwd, "../../../x", "/x");
}

/* "link/../secret" is the parent of link's target: never folded. */
static void test_dotdot_after_a_requested_name_is_kept(void **state)
{
	struct event_str cwd = WALK("w\0\0");

	assert_resolved(&cwd, "link/../secret", "/w/link/../secret");
	assert_resolved(&cwd, "../a/../../b", "/a/../../b");
}

static void test_dotdot_above_a_cut_walk_is_kept(void **state)
{
	struct event_str cwd = walk("w\0", 2, true);
	bool t;
	size_t n = event_path_resolve(&cwd, (const uint8_t *)"../../x", 7, out, sizeof(out), &t);

	assert_true(t);
	assert_memory_equal(out, "\xe2\x80\xa6/../x", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_reverses_the_walk_and_skips_the_root_mark),
		cmocka_unit_test(test_join_of_a_cut_walk_starts_with_an_ellipsis),
		cmocka_unit_test(test_deep_walk_is_whole_and_not_flagged),
		cmocka_unit_test(test_longest_walk_and_request_fit_without_a_cut),
		cmocka_unit_test(test_absolute_request_starts_at_the_root),
		cmocka_unit_test(test_relative_request_joins_its_base),
		cmocka_unit_test(test_dotdot_over_the_base_takes_real_parents_up_to_the_root),
		cmocka_unit_test(test_dotdot_stops_at_a_chroot),
		cmocka_unit_test(test_dotdot_outside_the_chroot_is_free),
		cmocka_unit_test(test_dotdot_after_a_requested_name_is_kept),
		cmocka_unit_test(test_dotdot_above_a_cut_walk_is_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
