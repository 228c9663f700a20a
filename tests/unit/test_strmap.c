#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "replay/strmap.h"

static void test_strmap_counts_and_keeps_insertion_order_across_growth(void **state)
{
	struct strmap *m;
	char key[32];

	assert_int_equal(strmap_new(&m), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 5000; i++) {
			int n = snprintf(key, sizeof(key), "/w/f%d", i);

			++*strmap_get(m, key, (size_t)n);
		}
	}
	assert_int_equal(strmap_count(m), 5000);
	for (size_t i = 0; i < 5000; i += 999) {
		uint64_t *v;
		size_t len;
		const char *k = strmap_key(m, i, &len, &v);
		int n = snprintf(key, sizeof(key), "/w/f%zu", i);

		assert_int_equal(len, (size_t)n);
		assert_memory_equal(k, key, len);
		assert_int_equal(*v, 2);
	}
	assert_null(strmap_find(m, "/w/f5000", 8));
	strmap_free(m);
}

static void test_strmap_keys_are_bytes_not_strings(void **state)
{
	struct strmap *m;

	assert_int_equal(strmap_new(&m), 0);
	*strmap_get(m, "a\0b", 3) = 1;
	*strmap_get(m, "a\0c", 3) = 2;
	*strmap_get(m, "a", 1) = 3;
	*strmap_get(m, "", 0) = 4;
	assert_int_equal(strmap_count(m), 4);
	assert_int_equal(*strmap_find(m, "a\0b", 3), 1);
	assert_int_equal(*strmap_find(m, "a\0c", 3), 2);
	assert_int_equal(*strmap_find(m, "a", 1), 3);
	assert_int_equal(*strmap_find(m, "", 0), 4);
	strmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strmap_counts_and_keeps_insertion_order_across_growth),
		cmocka_unit_test(test_strmap_keys_are_bytes_not_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
