#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "escape.h"
#include "replay/recfmt.h"
#include "replay/replay.h"
#include "rectest.h"

#define TS 1700000000123456789ull /* 2023-11-14T22:13:20.123456789Z */

/* Renders the record built in t and parses the line back. */
static json_t *render(struct rt *t, uint64_t seq, enum journal_seal_state seal)
{
	const msgpack_object *o = rt_done(t);
	FILE *f = rt_capture(t);
	const char *line;
	json_error_t err;
	json_t *j;

	assert_int_equal(render_json_record(f, seq, seal, o), 0);
	line = rt_text(t);
	/* one object, one line */
	assert_non_null(strchr(line, '\n'));
	assert_int_equal(strchr(line, '\n') - line, (long)strlen(line) - 1);
	j = json_loads(line, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("not JSON (%s): %s", err.text, line);
	return j;
}

static const char *jstr(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	if (!s)
		fail_msg("no string %s", key);
	return s;
}

static json_int_t jint(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_integer(v))
		fail_msg("no integer %s", key);
	return json_integer_value(v);
}

static void assert_process_fields(json_t *j, const char *type, json_int_t pid)
{
	assert_string_equal(jstr(j, "type"), type);
	assert_string_equal(jstr(j, "session"), RT_SESSION);
	assert_string_equal(jstr(j, "ts"), "2023-11-14T22:13:20.123456789Z");
	assert_int_equal(jint(j, "pid"), pid);
	assert_int_equal(jint(j, "ppid"), 1);
	assert_int_equal(jint(j, "uid"), 1000);
	assert_string_equal(jstr(j, "comm"), "agent");
}

static void test_json_exec_has_contract_fields_with_seq_first(void **state)
{
	static const char *const argv[] = { "ls", "-la", "/tmp" };
	struct rt t;
	json_t *j;

	rt_init(&t);
	rt_proc(&t, "exec", TS, 42, 1, "agent");
	rec_bytes(&t.r, "filename", "/bin/ls", 7);
	rt_strs(&t, "argv", argv, 3, 1);
	rec_int(&t.r, "ret", 0);
	j = render(&t, 77, JOURNAL_SEALED);
	assert_true(strncmp(t.out, "{\"seq\":77,", 10) == 0);
	assert_int_equal(jint(j, "seq"), 77);
	assert_process_fields(j, "exec", 42);
	assert_string_equal(jstr(j, "filename"), "/bin/ls");
	assert_int_equal(json_array_size(json_object_get(j, "argv")), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "argv"), 1)), "-la");
	assert_int_equal(jint(j, "ret"), 0);
	assert_null(json_object_get(j, "error"));
	json_decref(j);
	rt_fini(&t);
}

static void test_json_each_type_keeps_its_fields(void **state)
{
	static const char *const wr[] = { "O_WRONLY", "O_CREAT" };
	struct rt t;
	json_t *j;

	rt_init(&t);
	rt_proc(&t, "fork", TS, 42, 1, "agent");
	rec_uint(&t.r, "child_pid", 43);
	j = render(&t, 1, JOURNAL_SEALED);
	assert_process_fields(j, "fork", 42);
	assert_int_equal(jint(j, "child_pid"), 43);
	json_decref(j);

	rt_proc(&t, "exit", TS, 43, 1, "agent");
	rec_int(&t.r, "code", 3);
	j = render(&t, 2, JOURNAL_SEALED);
	assert_process_fields(j, "exit", 43);
	assert_int_equal(jint(j, "code"), 3);
	json_decref(j);

	rt_proc(&t, "open", TS, 42, 1, "agent");
	rec_bytes(&t.r, "path", "/w/out", 6);
	rt_strs(&t, "flags", wr, 2, 0);
	rec_int(&t.r, "ret", 3);
	j = render(&t, 3, JOURNAL_SEALED);
	assert_process_fields(j, "open", 42);
	assert_string_equal(jstr(j, "path"), "/w/out");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "flags"), 1)), "O_CREAT");
	assert_int_equal(jint(j, "ret"), 3);
	json_decref(j);

	rt_proc(&t, "unlink", TS, 42, 1, "agent");
	rec_bytes(&t.r, "path", "/w/gone", 7);
	rec_int(&t.r, "ret", 0);
	j = render(&t, 4, JOURNAL_SEALED);
	assert_string_equal(jstr(j, "path"), "/w/gone");
	json_decref(j);

	rt_proc(&t, "rename", TS, 42, 1, "agent");
	rec_bytes(&t.r, "from", "/w/a", 4);
	rec_bytes(&t.r, "to", "/w/b", 4);
	rec_int(&t.r, "ret", 0);
	j = render(&t, 5, JOURNAL_SEALED);
	assert_string_equal(jstr(j, "from"), "/w/a");
	assert_string_equal(jstr(j, "to"), "/w/b");
	json_decref(j);

	rt_proc(&t, "connect", TS, 42, 1, "agent");
	rec_str(&t.r, "family", "AF_INET6");
	rec_str(&t.r, "addr", "::1");
	rec_uint(&t.r, "port", 443);
	rec_str(&t.r, "verdict", "deny");
	rec_int(&t.r, "ret", -EPERM);
	j = render(&t, 6, JOURNAL_SEALED);
	assert_process_fields(j, "connect", 42);
	assert_string_equal(jstr(j, "family"), "AF_INET6");
	assert_string_equal(jstr(j, "addr"), "::1");
	assert_int_equal(jint(j, "port"), 443);
	assert_string_equal(jstr(j, "verdict"), "deny");
	assert_string_equal(jstr(j, "error"), "EPERM");
	json_decref(j);

	rt_begin(&t, "loss", TS);
	rec_str(&t.r, "kind", "open");
	rec_str(&t.r, "reason", "ringbuf");
	rec_uint(&t.r, "count", 12);
	j = render(&t, 7, JOURNAL_SEALED);
	assert_string_equal(jstr(j, "kind"), "open");
	assert_string_equal(jstr(j, "reason"), "ringbuf");
	assert_int_equal(jint(j, "count"), 12);
	json_decref(j);

	rt_begin(&t, "session_end", TS);
	rec_str(&t.r, "reason", "exit");
	rec_int(&t.r, "exit_status", 2);
	j = render(&t, 8, JOURNAL_SEALED);
	assert_string_equal(jstr(j, "type"), "session_end");
	assert_int_equal(jint(j, "exit_status"), 2);
	json_decref(j);
	rt_fini(&t);
}

static void test_json_adds_errno_name_only_when_ret_is_negative(void **state)
{
	struct rt t;
	json_t *j;
	char buf[24];

	rt_init(&t);
	rt_proc(&t, "open", TS, 42, 1, "agent");
	rec_int(&t.r, "ret", -ENOENT);
	j = render(&t, 1, JOURNAL_SEALED);
	assert_string_equal(jstr(j, "error"), "ENOENT");
	assert_int_equal(jint(j, "ret"), -ENOENT);
	json_decref(j);

	rt_proc(&t, "open", TS, 42, 1, "agent");
	rec_int(&t.r, "ret", 5);
	j = render(&t, 2, JOURNAL_SEALED);
	assert_null(json_object_get(j, "error"));
	json_decref(j);

	rt_proc(&t, "open", TS, 42, 1, "agent");
	rec_int(&t.r, "ret", -4000);
	j = render(&t, 3, JOURNAL_SEALED);
	assert_string_equal(jstr(j, "error"), "E4000");
	json_decref(j);
	assert_string_equal(recfmt_errno(INT64_MIN, buf, sizeof(buf)), "E9223372036854775808");
	rt_fini(&t);
}

/* The JSON string holds the escaped form, which reverses to the exact bytes. */
static void assert_escaped(const char *got, const char *want, const void *raw, size_t rawlen)
{
	char back[256];
	long n;

	assert_string_equal(got, want);
	n = unescape_bytes(got, back, sizeof(back));
	assert_int_equal(n, (long)rawlen);
	assert_memory_equal(back, raw, rawlen);
}

static void test_json_escapes_hostile_bytes_in_paths_and_argv(void **state)
{
	static const char path[] = "/w/a\nb\"q\\\x1b[31m\xff\x7f";
	static const char *const argv[] = { "sh", "-c", "x\xe2\x80\xae" "fdp.exe\t" };
	struct rt t;
	json_t *j;

	rt_init(&t);
	rt_proc(&t, "exec", TS, 42, 1, "ag\x01nt");
	rec_bytes(&t.r, "filename", path, sizeof(path) - 1);
	rt_strs(&t, "argv", argv, 3, 1);
	/* printable but for one quote or backslash: not the plain path's */
	rec_bytes(&t.r, "exe", "/w/say \"hi\"", 11);
	rec_bytes(&t.r, "script", "/w/a\\b", 6);
	rec_int(&t.r, "ret", 0);
	j = render(&t, 1, JOURNAL_SEALED);
	assert_string_equal(jstr(j, "exe"), "/w/say \"hi\"");
	assert_string_equal(jstr(j, "script"), "/w/a\\\\b");
	assert_escaped(jstr(j, "filename"), "/w/a\\nb\"q\\\\\\x1b[31m\\xff\\x7f", path, sizeof(path) - 1);
	assert_escaped(json_string_value(json_array_get(json_object_get(j, "argv"), 2)),
		       "x\\u{202e}fdp.exe\\t", argv[2], strlen(argv[2]));
	assert_string_equal(jstr(j, "comm"), "ag\\x01nt");
	/* nothing raw: no control byte and no ESC anywhere in the line */
	for (const char *p = t.out; *p != '\n'; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	json_decref(j);
	rt_fini(&t);
}

static void test_json_ts_is_rfc3339_utc_with_nanoseconds(void **state)
{
	char buf[RECFMT_TS_LEN];

	recfmt_ts(TS, buf);
	assert_string_equal(buf, "2023-11-14T22:13:20.123456789Z");
	recfmt_ts(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
	recfmt_ts(UINT64_MAX, buf);
	assert_string_equal(buf, "2554-07-21T23:34:33.709551615Z");
}

static void test_json_seal_state_is_a_field_and_bad_is_tampered(void **state)
{
	struct rt t;
	json_t *j;

	rt_init(&t);
	rt_begin(&t, "loss", TS);
	j = render(&t, 1, JOURNAL_SEALED);
	assert_true(json_is_true(json_object_get(j, "sealed")));
	assert_null(json_object_get(j, "tampered"));
	json_decref(j);
	rt_begin(&t, "loss", TS);
	j = render(&t, 2, JOURNAL_UNSEALED);
	assert_true(json_is_false(json_object_get(j, "sealed")));
	assert_null(json_object_get(j, "tampered"));
	json_decref(j);
	rt_begin(&t, "loss", TS);
	j = render(&t, 3, JOURNAL_BAD);
	assert_true(json_is_false(json_object_get(j, "sealed")));
	assert_true(json_is_true(json_object_get(j, "tampered")));
	json_decref(j);
	rt_fini(&t);
}

/* render() parses with JSON_REJECT_DUPLICATES: a payload key named like a
 * renderer key must not reach the output. */
static void test_json_payload_cannot_claim_seq_or_seal_state(void **state)
{
	struct rt t;
	json_t *j;

	rt_init(&t);
	rt_begin(&t, "loss", TS);
	rec_bool(&t.r, "sealed", true);
	rec_uint(&t.r, "seq", 999);
	rec_str(&t.r, "error", "fake");
	rec_bool(&t.r, "tampered", false);
	rec_bool(&t.r, "sealed", true);
	j = render(&t, 5, JOURNAL_BAD);
	assert_int_equal(jint(j, "seq"), 5);
	assert_true(json_is_false(json_object_get(j, "sealed")));
	assert_true(json_is_true(json_object_get(j, "tampered")));
	assert_null(json_object_get(j, "error"));
	json_decref(j);
	rt_fini(&t);
}

static void test_json_renders_nested_values_recursively(void **state)
{
	struct rt t;
	json_t *j, *n;

	rt_init(&t);
	rt_begin(&t, "seal", TS);
	rec_key(&t.r, "nested");
	msgpack_pack_map(&t.r.pk, 5);
	msgpack_pack_str_with_body(&t.r.pk, "list", 4);
	msgpack_pack_array(&t.r.pk, 2);
	msgpack_pack_array(&t.r.pk, 1);
	msgpack_pack_bin_with_body(&t.r.pk, "a\nb", 3);
	msgpack_pack_nil(&t.r.pk);
	msgpack_pack_int(&t.r.pk, 7); /* a key that is not a string */
	msgpack_pack_true(&t.r.pk);
	msgpack_pack_str_with_body(&t.r.pk, "f", 1);
	msgpack_pack_double(&t.r.pk, 1.5);
	msgpack_pack_str_with_body(&t.r.pk, "nan", 3);
	msgpack_pack_double(&t.r.pk, 0.0 / 0.0);
	msgpack_pack_str_with_body(&t.r.pk, "neg", 3);
	msgpack_pack_int64(&t.r.pk, INT64_MIN);
	j = render(&t, 1, JOURNAL_SEALED);
	n = json_object_get(j, "nested");
	assert_string_equal(json_string_value(json_array_get(json_array_get(json_object_get(n, "list"), 0), 0)), "a\\nb");
	assert_true(json_is_null(json_array_get(json_object_get(n, "list"), 1)));
	assert_true(json_is_true(json_object_get(n, "7")));
	assert_true(json_real_value(json_object_get(n, "f")) == 1.5);
	assert_true(json_is_null(json_object_get(n, "nan")));
	assert_true(json_integer_value(json_object_get(n, "neg")) == INT64_MIN);
	json_decref(j);
	rt_fini(&t);
}

/* render() rejects duplicate names: a damaged record's repeated keys are
 * renamed, not dropped, and never shadow one another. */
static void test_json_duplicate_keys_are_renamed_not_shadowed(void **state)
{
	struct rt t;
	json_t *j, *l;

	rt_init(&t);
	rt_begin(&t, "open", TS);
	rec_str(&t.r, "path", "/first");
	rec_str(&t.r, "path", "/second");
	rec_str(&t.r, "path#2", "/taken");
	rec_int(&t.r, "ret", -ENOENT);
	rec_int(&t.r, "ret", -EPERM);
	rec_key(&t.r, "labels2");
	msgpack_pack_map(&t.r.pk, 2);
	msgpack_pack_int(&t.r.pk, 7);
	msgpack_pack_true(&t.r.pk);
	msgpack_pack_str_with_body(&t.r.pk, "7", 1);
	msgpack_pack_false(&t.r.pk);
	j = render(&t, 1, JOURNAL_SEALED);
	assert_string_equal(jstr(j, "path"), "/first");
	assert_string_equal(jstr(j, "path#3"), "/second");
	assert_string_equal(jstr(j, "path#2"), "/taken");
	assert_int_equal(jint(j, "ret"), -ENOENT);
	assert_int_equal(jint(j, "ret#2"), -EPERM);
	assert_string_equal(jstr(j, "error"), "ENOENT");
	l = json_object_get(j, "labels2");
	assert_true(json_is_true(json_object_get(l, "7")));
	assert_true(json_is_false(json_object_get(l, "7#2")));
	json_decref(j);
	rt_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_exec_has_contract_fields_with_seq_first),
		cmocka_unit_test(test_json_each_type_keeps_its_fields),
		cmocka_unit_test(test_json_adds_errno_name_only_when_ret_is_negative),
		cmocka_unit_test(test_json_escapes_hostile_bytes_in_paths_and_argv),
		cmocka_unit_test(test_json_ts_is_rfc3339_utc_with_nanoseconds),
		cmocka_unit_test(test_json_seal_state_is_a_field_and_bad_is_tampered),
		cmocka_unit_test(test_json_payload_cannot_claim_seq_or_seal_state),
		cmocka_unit_test(test_json_renders_nested_values_recursively),
		cmocka_unit_test(test_json_duplicate_keys_are_renamed_not_shadowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
