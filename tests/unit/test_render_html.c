#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "replay/replay.h"
#include "rectest.h"

#define TS 1700000000000000000ull

static char *page(struct render_html *h, struct sealmark *m, bool checked)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(render_html_finish(h, f, m, checked), 0);
	fclose(f);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	/* one pass: strstr from every match is quadratic under ASan's interceptor */
	for (const char *p = hay; *p; p++)
		n += *p == *needle && strncmp(p, needle, len) == 0;
	return n;
}

static void add(struct render_html *h, struct sealmark *m, uint64_t seq, struct rt *t)
{
	assert_int_equal(sealmark_add(m, seq, JOURNAL_SEALED), 0);
	assert_int_equal(render_html_record(h, seq, JOURNAL_SEALED, rt_done(t), TS, true), 0);
}

static void test_html_escapes_every_markup_byte(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char in[] = "<a href='x'>\"&\"</a>";

	(void)state;
	render_html_escape(f, in, sizeof(in) - 1);
	fclose(f);
	assert_string_equal(buf, "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
	free(buf);
}

static void test_html_record_strings_never_reach_the_page_raw(void **state)
{
	static const char *const argv[] = { "sh", "-c", "<img src=x onerror=alert(1)>" };
	struct render_html *h;
	struct sealmark m;
	struct rt t;
	char *p;

	(void)state;
	rt_init(&t);
	sealmark_init(&m);
	assert_int_equal(render_html_new(&h), 0);
	rt_proc(&t, "exec", TS, 10, 1, "<b>comm</b>");
	rec_str(&t.r, "filename", "/bin/sh");
	rt_strs(&t, "argv", argv, 3, 0);
	add(h, &m, 1, &t);
	rt_proc(&t, "open", TS + 1, 10, 1, "sh");
	rec_str(&t.r, "path", "/tmp/</td><script>alert(2)</script>");
	rec_int(&t.r, "ret", 3);
	add(h, &m, 2, &t);
	p = page(h, &m, true);
	assert_null(strstr(p, "<img"));
	assert_null(strstr(p, "<b>"));
	assert_null(strstr(p, "<script>alert"));
	assert_non_null(strstr(p, "&lt;script&gt;alert(2)&lt;/script&gt;"));
	assert_int_equal(count(p, "<script>"), 1); /* the page's own filter */
	free(p);
	render_html_free(h);
	sealmark_free(&m);
	rt_fini(&t);
}

/* A fork chain far deeper than any recursion could take: drawn at the
 * depth cap, every process listed once. */
static void test_html_tree_of_a_deep_fork_chain(void **state)
{
	enum { N = 50000 };
	struct render_html *h;
	struct sealmark m;
	struct rt t;
	char *p;

	(void)state;
	rt_init(&t);
	sealmark_init(&m);
	assert_int_equal(render_html_new(&h), 0);
	for (uint32_t i = 0; i < N; i++) {
		rt_proc(&t, "fork", TS + i, 100 + i, 99 + i, "sh");
		rec_uint(&t.r, "child_pid", 101 + i);
		add(h, &m, i + 1, &t);
	}
	p = page(h, &m, true);
	assert_int_equal(count(p, "<li class=\"proc\""), N + 1);
	assert_non_null(strstr(p, "padding-left:64em\"><button data-pid=\"50100\""));
	free(p);
	render_html_free(h);
	sealmark_free(&m);
	rt_fini(&t);
}

/* Siblings and a reused pid: two children under one parent, the second
 * process with a pid that exited is a new node, not the old one. */
static void test_html_tree_siblings_and_reused_pids(void **state)
{
	static const char *const a1[] = { "make" }, *const a2[] = { "cc" };
	struct render_html *h;
	struct sealmark m;
	struct rt t;
	char *p, *first, *second;

	(void)state;
	rt_init(&t);
	sealmark_init(&m);
	assert_int_equal(render_html_new(&h), 0);
	rt_proc(&t, "fork", TS, 1, 0, "sh");
	rec_uint(&t.r, "child_pid", 2);
	add(h, &m, 1, &t);
	rt_proc(&t, "exec", TS, 2, 1, "make");
	rec_str(&t.r, "filename", "/usr/bin/make");
	rt_strs(&t, "argv", a1, 1, 0);
	add(h, &m, 2, &t);
	rt_proc(&t, "exit", TS, 2, 1, "make");
	rec_int(&t.r, "code", 0);
	add(h, &m, 3, &t);
	rt_proc(&t, "fork", TS, 1, 0, "sh");
	rec_uint(&t.r, "child_pid", 2);
	add(h, &m, 4, &t);
	rt_proc(&t, "exec", TS, 2, 1, "cc");
	rec_str(&t.r, "filename", "/usr/bin/cc");
	rt_strs(&t, "argv", a2, 1, 0);
	add(h, &m, 5, &t);
	p = page(h, &m, true);
	assert_int_equal(count(p, "<li class=\"proc\""), 3);
	first = strstr(p, "exec /usr/bin/make make &rarr; exit code 0");
	second = strstr(p, "exec /usr/bin/cc cc");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	assert_int_equal(count(p, "padding-left:2em\"><button data-pid=\"2\""), 2);
	free(p);
	render_html_free(h);
	sealmark_free(&m);
	rt_fini(&t);
}

/* Denied and lost are highlighted; the verification line follows the seals. */
static void test_html_marks_denials_losses_and_seal_state(void **state)
{
	struct render_html *h;
	struct sealmark m;
	struct rt t;
	char *p;

	(void)state;
	rt_init(&t);
	sealmark_init(&m);
	assert_int_equal(render_html_new(&h), 0);
	rt_proc(&t, "connect", TS, 5, 1, "curl");
	rec_str(&t.r, "family", "AF_INET");
	rec_str(&t.r, "addr", "10.0.0.1");
	rec_uint(&t.r, "port", 443);
	rec_str(&t.r, "verdict", "deny");
	rec_int(&t.r, "ret", -EPERM);
	add(h, &m, 1, &t);
	rt_begin(&t, "loss", TS);
	rec_str(&t.r, "kind", "open");
	rec_str(&t.r, "reason", "ringbuf");
	rec_uint(&t.r, "count", 7);
	assert_int_equal(sealmark_add(&m, 2, JOURNAL_BAD), 0);
	assert_int_equal(render_html_record(h, 2, JOURNAL_BAD, rt_done(&t), TS, true), 0);
	p = page(h, &m, true);
	assert_non_null(strstr(p, "<tr class=\"deny sealed\" data-type=\"connect\" data-pid=\"5\">"));
	assert_non_null(strstr(p, "<tr class=\"loss bad\" data-type=\"loss\""));
	assert_non_null(strstr(p, "1 of 2 records FAIL seal verification"));
	assert_non_null(strstr(p, "1 denied or refused operations, 1 loss records."));
	free(p);
	render_html_free(h);
	sealmark_free(&m);
	rt_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html_escapes_every_markup_byte),
		cmocka_unit_test(test_html_record_strings_never_reach_the_page_raw),
		cmocka_unit_test(test_html_tree_of_a_deep_fork_chain),
		cmocka_unit_test(test_html_tree_siblings_and_reused_pids),
		cmocka_unit_test(test_html_marks_denials_losses_and_seal_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
