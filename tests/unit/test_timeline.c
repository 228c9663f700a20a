#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "replay/render_text.h"
#include "rectest.h"
#include "replay/replay.h"

#define T0 1700000000000000000ull

struct tl {
	struct rt t;
	struct timeline *tl;
	FILE *f;
	uint64_t seq;
};

static void tl_open(struct tl *x, bool colour)
{
	struct timeline_opts o = { .colour = colour };

	rt_init(&x->t);
	x->f = rt_capture(&x->t);
	x->seq = 0;
	assert_int_equal(timeline_new(&x->tl, x->f, &o), 0);
}

static void tl_close(struct tl *x)
{
	timeline_free(x->tl);
	rt_fini(&x->t);
}

/* Feeds the record built in x->t. */
static void feed(struct tl *x, enum journal_seal_state seal, bool show)
{
	assert_int_equal(timeline_record(x->tl, x->seq++, seal, rt_done(&x->t), T0, show), 0);
}

static void fork_(struct tl *x, uint32_t pid, uint32_t ppid, uint32_t child, bool show)
{
	rt_proc(&x->t, "fork", T0 + x->seq * 1000000, pid, ppid, "sh");
	rec_uint(&x->t.r, "child_pid", child);
	feed(x, JOURNAL_SEALED, show);
}

static void exec_(struct tl *x, uint32_t pid, uint32_t ppid, const char *fn)
{
	const char *argv[] = { fn };

	rt_proc(&x->t, "exec", T0 + x->seq * 1000000, pid, ppid, "sh");
	rec_bytes(&x->t.r, "filename", fn, strlen(fn));
	rt_strs(&x->t, "argv", argv, 1, 1);
	rec_int(&x->t.r, "ret", 0);
	feed(x, JOURNAL_SEALED, true);
}

static void exit_(struct tl *x, uint32_t pid, uint32_t ppid)
{
	rt_proc(&x->t, "exit", T0 + x->seq * 1000000, pid, ppid, "sh");
	rec_int(&x->t.r, "code", 0);
	feed(x, JOURNAL_SEALED, true);
}

/* The n-th output line (0-based), NUL-terminated in a static buffer. */
static const char *nth_line(struct tl *x, int n)
{
	static char buf[1024];
	const char *p = rt_text(&x->t), *e;

	for (; n > 0 && p; n--) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	assert_non_null(p);
	e = strchr(p, '\n');
	assert_non_null(e);
	snprintf(buf, sizeof(buf), "%.*s", (int)(e - p), p);
	return buf;
}

/* Spaces between the time column and the pid: two per tree level. */
static int indent(const char *line)
{
	const char *p = strchr(line, 's'); /* end of "+0.001s" */
	int n = 0;

	assert_non_null(p);
	for (p += 3; *p == ' '; p++) /* the column is followed by two spaces */
		n++;
	return n;
}

static void test_timeline_indents_children_below_their_parents(void **state)
{
	struct tl x;

	tl_open(&x, false);
	fork_(&x, 100, 1, 101, true);
	exec_(&x, 101, 100, "/bin/sh");
	fork_(&x, 101, 100, 102, true);
	exec_(&x, 102, 101, "/bin/ls");
	exit_(&x, 102, 101);
	exec_(&x, 101, 100, "/bin/cat");
	exec_(&x, 102, 77, "/bin/reused"); /* pid reused after exit: not below 101 */
	exec_(&x, 103, 101, "/bin/orphan"); /* no fork record: below its ppid */
	assert_int_equal(indent(nth_line(&x, 0)), 0);
	assert_int_equal(indent(nth_line(&x, 1)), 2);
	assert_int_equal(indent(nth_line(&x, 2)), 2);
	assert_int_equal(indent(nth_line(&x, 3)), 4);
	assert_int_equal(indent(nth_line(&x, 4)), 4);
	assert_int_equal(indent(nth_line(&x, 5)), 2);
	assert_int_equal(indent(nth_line(&x, 6)), 0);
	assert_int_equal(indent(nth_line(&x, 7)), 4);
	assert_non_null(strstr(nth_line(&x, 3), "102 sh  exec /bin/ls /bin/ls"));
	tl_close(&x);
}

static void test_timeline_hidden_records_still_shape_the_tree(void **state)
{
	struct tl x;

	tl_open(&x, false);
	fork_(&x, 100, 1, 101, false);
	fork_(&x, 101, 100, 102, false);
	exec_(&x, 102, 101, "/bin/ls");
	assert_int_equal(indent(nth_line(&x, 0)), 4);
	tl_close(&x);
}

static void test_timeline_times_are_relative_to_the_session_start(void **state)
{
	struct tl x;

	tl_open(&x, false);
	rt_proc(&x.t, "exit", T0 + 1500000000ull, 5, 1, "sh");
	feed(&x, JOURNAL_SEALED, true);
	rt_proc(&x.t, "exit", T0 + 62003000000ull, 5, 1, "sh");
	feed(&x, JOURNAL_SEALED, true);
	assert_non_null(strstr(nth_line(&x, 0), "+1.500s  5 sh  exit"));
	assert_non_null(strstr(nth_line(&x, 1), "+62.003s  5 sh  exit"));
	tl_close(&x);
}

static void test_timeline_marks_unsealed_and_failing_records(void **state)
{
	struct tl x;

	tl_open(&x, false);
	rt_proc(&x.t, "exit", T0, 5, 1, "sh");
	feed(&x, JOURNAL_SEALED, true);
	rt_proc(&x.t, "exit", T0, 5, 1, "sh");
	feed(&x, JOURNAL_UNSEALED, true);
	rt_proc(&x.t, "exit", T0, 5, 1, "sh");
	feed(&x, JOURNAL_BAD, true);
	rt_proc(&x.t, "exit", T0, 5, 1, "sh");
	feed(&x, JOURNAL_BAD, true);
	assert_true(strncmp(nth_line(&x, 0), "  ", 2) == 0 && nth_line(&x, 0)[2] == ' ');
	assert_true(strncmp(nth_line(&x, 1), "! ", 2) == 0);
	/* a run of failing records is announced once, then each line is marked */
	assert_non_null(strstr(nth_line(&x, 2), "!! from seq 2 the journal FAILS seal verification"));
	assert_true(strncmp(nth_line(&x, 3), "!!", 2) == 0);
	assert_true(strncmp(nth_line(&x, 4), "!!", 2) == 0);
	assert_null(strstr(nth_line(&x, 4), "FAILS"));
	tl_close(&x);
}

static bool has_raw_bytes(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f || *p >= 0x80)
			return true;
	return false;
}

static void test_text_escapes_and_quotes_hostile_paths_and_argv(void **state)
{
	static const char path[] = "/w/a\nb\"q\x1b[31m\xff";
	static const char *const argv[] = { "sh", "-c", "echo hi", "", "a\"b\\", "\xe2\x80\xae" "x" };
	static const char *const wr[] = { "O_WRONLY" };
	struct tl x;

	tl_open(&x, false);
	rt_proc(&x.t, "open", T0, 5, 1, "e\x1bvil");
	rec_bytes(&x.t.r, "path", path, sizeof(path) - 1);
	rt_strs(&x.t, "flags", wr, 1, 0);
	rec_int(&x.t.r, "ret", 3);
	feed(&x, JOURNAL_SEALED, true);
	rt_proc(&x.t, "exec", T0, 5, 1, "sh");
	rec_bytes(&x.t.r, "filename", "/bin/sh", 7);
	rt_strs(&x.t, "argv", argv, 6, 1);
	rec_int(&x.t.r, "ret", 0);
	feed(&x, JOURNAL_SEALED, true);
	assert_non_null(strstr(nth_line(&x, 0), "5 \"e\\x1bvil\"  write \"/w/a\\nb\\\"q\\x1b[31m\\xff\""));
	assert_non_null(strstr(nth_line(&x, 1), "exec /bin/sh sh -c \"echo hi\" \"\" \"a\\\"b\\\\\" \"\\u{202e}x\""));
	assert_false(has_raw_bytes(rt_text(&x.t)));
	tl_close(&x);
}

static void test_text_open_verb_follows_the_flags(void **state)
{
	static const struct { const char *flags[2]; size_t n; const char *verb; } cases[] = {
		{ { "O_RDONLY" }, 1, "read /f" },      { { "O_WRONLY" }, 1, "write /f" },
		{ { "O_RDWR" }, 1, "write /f" },       { { "O_RDONLY", "O_TRUNC" }, 2, "write /f" },
		{ { "O_WRONLY", "O_CREAT" }, 2, "create /f" }, { { 0 }, 0, "read /f" },
	};
	struct tl x;

	tl_open(&x, false);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rt_proc(&x.t, "open", T0, 5, 1, "sh");
		rec_bytes(&x.t.r, "path", "/f", 2);
		rt_strs(&x.t, "flags", cases[i].flags, cases[i].n, 0);
		rec_int(&x.t.r, "ret", 3);
		feed(&x, JOURNAL_SEALED, true);
		assert_non_null(strstr(nth_line(&x, (int)i), cases[i].verb));
	}
	tl_close(&x);
}

static void connect_(struct tl *x, const char *family, const char *addr, unsigned port, const char *verdict, int ret)
{
	rt_proc(&x->t, "connect", T0, 7, 1, "curl");
	rec_str(&x->t.r, "family", family);
	if (!strcmp(family, "AF_UNIX"))
		rec_bytes(&x->t.r, "addr", addr, strlen(addr));
	else
		rec_str(&x->t.r, "addr", addr);
	rec_uint(&x->t.r, "port", port);
	rec_str(&x->t.r, "verdict", verdict);
	rec_int(&x->t.r, "ret", ret);
	feed(x, JOURNAL_SEALED, true);
}

static void path_op(struct tl *x, const char *type, const char *key, const char *path, int ret)
{
	static const char *const wr[] = { "O_WRONLY", "O_CREAT" };

	rt_proc(&x->t, type, T0, 7, 1, "sh");
	rec_bytes(&x->t.r, key, path, strlen(path));
	if (!strcmp(type, "open"))
		rt_strs(&x->t, "flags", wr, 2, 0);
	if (!strcmp(type, "rename"))
		rec_bytes(&x->t.r, "from", "/w/tmp", 6);
	rec_int(&x->t.r, "ret", ret);
	feed(x, JOURNAL_SEALED, true);
}

static void test_timeline_summary_lists_writes_deletes_destinations_denies_losses(void **state)
{
	struct tl x;
	const char *s;

	tl_open(&x, false);
	path_op(&x, "open", "path", "/w/out", 3);
	path_op(&x, "open", "path", "/w/out", 4);
	path_op(&x, "open", "path", "/etc/passwd", -EACCES);
	path_op(&x, "open", "path", "/w/failed", -ENOENT);
	path_op(&x, "rename", "to", "/w/final", 0);
	path_op(&x, "unlink", "path", "/w/gone", 0);
	connect_(&x, "AF_INET", "127.0.0.1", 80, "allow", 0);
	connect_(&x, "AF_INET6", "::1", 53, "deny", -EPERM);
	connect_(&x, "AF_INET6", "::1", 53, "deny", -EPERM);
	connect_(&x, "AF_UNIX", "/run/x.sock", 0, "allow", 0);
	rt_begin(&x.t, "loss", T0);
	rec_str(&x.t.r, "kind", "exec");
	rec_uint(&x.t.r, "count", 4);
	feed(&x, JOURNAL_SEALED, true);
	assert_int_equal(timeline_finish(x.tl), 0);
	s = rt_text(&x.t);
	assert_non_null(strstr(s, "connect [::1]:53 DENY (failed: EPERM)"));
	assert_non_null(strstr(s, "connect unix:/run/x.sock allow"));
	assert_non_null(strstr(s, "LOST 4 exec events"));
	assert_non_null(strstr(s, "files written: 2\n    /w/out  x2\n    /w/final\n"));
	assert_non_null(strstr(s, "files deleted: 1\n    /w/gone\n"));
	assert_non_null(strstr(s, "destinations allowed: 2\n    127.0.0.1:80\n    unix:/run/x.sock\n"));
	assert_non_null(strstr(s, "destinations denied: 1\n    [::1]:53  x2\n"));
	assert_non_null(strstr(s, "refused (EACCES, EPERM, EROFS): 1\n    /etc/passwd\n"));
	assert_non_null(strstr(s, "events lost: 4\n    exec  x4\n"));
	assert_null(strstr(s, "/w/failed\n"));
	tl_close(&x);
}

static void test_timeline_header_comes_from_session_start(void **state)
{
	static const char *const argv[] = { "python3", "agent.py" };
	struct tl x;

	tl_open(&x, false);
	rt_begin(&x.t, "session_start", T0);
	rec_str(&x.t.r, "mode", "hardened");
	rec_key(&x.t.r, "labels");
	msgpack_pack_map(&x.t.r.pk, 1);
	msgpack_pack_str_with_body(&x.t.r.pk, "team", 4);
	msgpack_pack_str_with_body(&x.t.r.pk, "red\nx", 5);
	rt_strs(&x.t, "argv", argv, 2, 1);
	feed(&x, JOURNAL_SEALED, true);
	assert_string_equal(nth_line(&x, 0), "session " RT_SESSION "  mode hardened  started 2023-11-14T22:13:20.000000000Z");
	assert_string_equal(nth_line(&x, 1), "  labels: team=\"red\\nx\"");
	assert_string_equal(nth_line(&x, 2), "  command: python3 agent.py");
	tl_close(&x);
}

static void test_text_colour_only_when_asked(void **state)
{
	struct tl x;

	tl_open(&x, false);
	connect_(&x, "AF_INET", "10.0.0.1", 443, "deny", -EPERM);
	assert_int_equal(timeline_finish(x.tl), 0);
	assert_null(strchr(rt_text(&x.t), '\033'));
	tl_close(&x);
	tl_open(&x, true);
	connect_(&x, "AF_INET", "10.0.0.1", 443, "deny", -EPERM);
	assert_non_null(strstr(rt_text(&x.t), RENDER_TEXT_BOLD_RED "DENY" RENDER_TEXT_RESET));
	tl_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeline_indents_children_below_their_parents),
		cmocka_unit_test(test_timeline_hidden_records_still_shape_the_tree),
		cmocka_unit_test(test_timeline_times_are_relative_to_the_session_start),
		cmocka_unit_test(test_timeline_marks_unsealed_and_failing_records),
		cmocka_unit_test(test_text_escapes_and_quotes_hostile_paths_and_argv),
		cmocka_unit_test(test_text_open_verb_follows_the_flags),
		cmocka_unit_test(test_timeline_summary_lists_writes_deletes_destinations_denies_losses),
		cmocka_unit_test(test_timeline_header_comes_from_session_start),
		cmocka_unit_test(test_text_colour_only_when_asked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
