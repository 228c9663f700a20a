#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "journal/journal.h"

static const char JID[] = "0123456789abcdef0123456789abcdef";

static void test_anchor_line_round_trips_the_seal_byte_for_byte(void **state)
{
	static const uint8_t rec[] = { 0x82, 0xa4, 't', 'y', 'p', 'e', 0xa4, 's', 'e', 'a', 'l', 0x00, 0xff };
	char line[JOURNAL_ANCHOR_LINE_MAX];
	struct journal_anchor a;
	const char *why = NULL;
	int n;

	n = journal_anchor_format(line, sizeof(line), JID, 18446744073709551615ull, rec, sizeof(rec));
	assert_true(n > 0);
	assert_string_equal(line, "sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq=18446744073709551615 "
				  "seal=82a474797065a47365616c00ff");
	assert_int_equal(journal_anchor_parse(line, (size_t)n, &a, &why), 0);
	assert_string_equal(a.journal, JID);
	assert_true(a.seq == UINT64_MAX);
	assert_int_equal(a.len, sizeof(rec));
	assert_memory_equal(a.rec, rec, sizeof(rec));
	/* a line as read from a file */
	strcat(line, "\r\n");
	assert_int_equal(journal_anchor_parse(line, strlen(line), &a, &why), 0);
}

static void test_anchor_format_refuses_what_does_not_fit(void **state)
{
	static uint8_t big[JOURNAL_ANCHOR_SEAL_MAX + 1];
	char small[64], line[JOURNAL_ANCHOR_LINE_MAX];

	assert_int_equal(journal_anchor_format(line, sizeof(line), JID, 1, big, sizeof(big)), -EINVAL);
	assert_int_equal(journal_anchor_format(line, sizeof(line), JID, 1, big, 0), -EINVAL);
	assert_int_equal(journal_anchor_format(small, sizeof(small), JID, 1, big, 8), -ENOSPC);
	assert_true(journal_anchor_format(line, sizeof(line), JID, UINT64_MAX, big, JOURNAL_ANCHOR_SEAL_MAX) > 0);
}

/* parse_fails LINE FIELD: refused, the reason naming FIELD */
static void parse_fails(const char *line, const char *field)
{
	struct journal_anchor a;
	const char *why = NULL;

	assert_int_equal(journal_anchor_parse(line, strlen(line), &a, &why), -EBADMSG);
	assert_non_null(why);
	if (strncmp(why, field, strlen(field))) {
		print_error("%s: %s (wanted %s)\n", line, why, field);
		fail();
	}
}

static void test_anchor_parse_names_the_field_at_fault(void **state)
{
	parse_fails("sandtrail-anchr journal=0123456789abcdef0123456789abcdef seq=1 seal=00", "not an anchor");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcde seq=1 seal=00", "journal");
	parse_fails("sandtrail-anchor journal=0123456789ABCDEF0123456789abcdef seq=1 seal=00", "journal");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq= seal=00", "seq");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq=-1 seal=00", "seq");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq=18446744073709551616 seal=00", "seq");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq=1x seal=00", "seq");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq=1 seal=", "seal");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq=1 seal=0", "seal");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq=1 seal=0g", "seal");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq=1 seal=00 and more", "seal");
	parse_fails("sandtrail-anchor journal=0123456789abcdef0123456789abcdef seq=1 seal=00\"}", "seal");
	parse_fails("sandtrail-anchor", "not an anchor");
	parse_fails("sandtrail-anchor x", "journal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anchor_line_round_trips_the_seal_byte_for_byte),
		cmocka_unit_test(test_anchor_format_refuses_what_does_not_fit),
		cmocka_unit_test(test_anchor_parse_names_the_field_at_fault),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
