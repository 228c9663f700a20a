#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "rectest.h"
#include "replay/replay.h"

#define T0 1700000000000000000ull
#define MS 1000000ull

struct fx {
	struct rt t;
	struct sesslist *s;
	uint64_t seq;
};

static void fx_open(struct fx *x)
{
	rt_init(&x->t);
	x->seq = 0;
	assert_int_equal(sesslist_new(&x->s), 0);
}

static void fx_close(struct fx *x)
{
	sesslist_free(x->s);
	rt_fini(&x->t);
}

static void add(struct fx *x, enum journal_seal_state seal)
{
	assert_int_equal(sesslist_add(x->s, x->seq++, seal, rt_done(&x->t)), 0);
}

/* A session record of another id than RT_SESSION. */
static void begin_id(struct fx *x, const char *id, const char *type, uint64_t ts)
{
	rec_begin(&x->t.r, type, ts);
	rec_str(&x->t.r, "session", id);
}

static void start(struct fx *x, const char *id, uint64_t ts, const char *label_value)
{
	begin_id(x, id, "session_start", ts);
	rec_str(&x->t.r, "mode", "hardened");
	rec_key(&x->t.r, "labels");
	msgpack_pack_map(&x->t.r.pk, 1);
	msgpack_pack_str_with_body(&x->t.r.pk, "ci", 2);
	msgpack_pack_str_with_body(&x->t.r.pk, label_value, strlen(label_value));
	add(x, JOURNAL_SEALED);
}

static void event(struct fx *x, const char *id, const char *type, uint64_t ts, enum journal_seal_state seal)
{
	begin_id(x, id, type, ts);
	rec_uint(&x->t.r, "pid", 5);
	add(x, seal);
}

static void loss(struct fx *x, const char *id, const char *kind, uint64_t n)
{
	begin_id(x, id, "loss", T0 + 5 * MS);
	rec_str(&x->t.r, "kind", kind);
	rec_uint(&x->t.r, "count", n);
	add(x, JOURNAL_SEALED);
}

/* The JSON list, one parsed object per session. */
static json_t *list_json(struct fx *x, uint64_t since, uint64_t until)
{
	FILE *f = rt_capture(&x->t);
	json_t *arr = json_array();
	char *line, *save = NULL;

	assert_int_equal(sesslist_print_json(x->s, f, since, until), 0);
	for (line = strtok_r((char *)rt_text(&x->t), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_error_t err;
		json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &err);

		if (!o)
			fail_msg("not JSON (%s): %s", err.text, line);
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_int_t get_int(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	if (!json_is_integer(v))
		fail_msg("no integer %s.%s", path1, path2 ? path2 : "");
	return json_integer_value(v);
}

static void test_sesslist_list_aggregates_counts_losses_exit_and_duration(void **state)
{
	struct fx x;
	json_t *l, *a;

	fx_open(&x);
	start(&x, RT_SESSION, T0, "yes");
	event(&x, RT_SESSION, "exec", T0 + 1 * MS, JOURNAL_SEALED);
	event(&x, RT_SESSION, "open", T0 + 2 * MS, JOURNAL_SEALED);
	event(&x, RT_SESSION, "open", T0 + 3 * MS, JOURNAL_SEALED);
	loss(&x, RT_SESSION, "open", 7);
	loss(&x, RT_SESSION, "exec", 2);
	loss(&x, RT_SESSION, "open", 1);
	begin_id(&x, RT_SESSION, "session_end", T0 + 2500 * MS);
	rec_str(&x.t.r, "reason", "exit");
	rec_int(&x.t.r, "exit_status", 3);
	add(&x, JOURNAL_SEALED);
	rec_begin(&x.t.r, "seal", T0 + 2600 * MS); /* journal record: no session */
	add(&x, JOURNAL_SEALED);
	assert_int_equal(sesslist_count(x.s), 1);
	l = list_json(&x, 0, UINT64_MAX);
	assert_int_equal(json_array_size(l), 1);
	a = json_array_get(l, 0);
	assert_string_equal(json_string_value(json_object_get(a, "session")), RT_SESSION);
	assert_string_equal(json_string_value(json_object_get(a, "mode")), "hardened");
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "labels"), "ci")), "yes");
	assert_string_equal(json_string_value(json_object_get(a, "start")), "2023-11-14T22:13:20.000000000Z");
	assert_string_equal(json_string_value(json_object_get(a, "end")), "2023-11-14T22:13:22.500000000Z");
	assert_int_equal(get_int(a, "duration_ns", NULL), 2500 * MS);
	assert_true(json_is_true(json_object_get(a, "ended")));
	assert_int_equal(get_int(a, "exit_status", NULL), 3);
	assert_true(json_is_null(json_object_get(a, "signal")));
	assert_string_equal(json_string_value(json_object_get(a, "reason")), "exit");
	assert_int_equal(get_int(a, "events", NULL), 8);
	assert_int_equal(get_int(a, "counts", "open"), 2);
	assert_int_equal(get_int(a, "counts", "exec"), 1);
	assert_int_equal(get_int(a, "counts", "loss"), 3);
	assert_int_equal(get_int(a, "losses", NULL), 10);
	assert_int_equal(get_int(a, "lost", "open"), 8);
	assert_int_equal(get_int(a, "lost", "exec"), 2);
	assert_int_equal(get_int(a, "first_seq", NULL), 0);
	assert_int_equal(get_int(a, "last_seq", NULL), 7);
	assert_true(json_is_true(json_object_get(a, "sealed")));
	json_decref(l);
	fx_close(&x);
}

static void test_sesslist_without_end_last_at_least_until_their_last_record(void **state)
{
	struct fx x;
	json_t *l, *a;
	const char *text;

	fx_open(&x);
	start(&x, RT_SESSION, T0, "yes");
	event(&x, RT_SESSION, "exec", T0 + 1234 * MS, JOURNAL_SEALED);
	l = list_json(&x, 0, UINT64_MAX);
	a = json_array_get(l, 0);
	assert_true(json_is_false(json_object_get(a, "ended")));
	assert_true(json_is_null(json_object_get(a, "end")));
	assert_true(json_is_null(json_object_get(a, "exit_status")));
	assert_int_equal(get_int(a, "duration_ns", NULL), 1234 * MS);
	assert_int_equal(sesslist_print_text(x.s, rt_capture(&x.t), 0, UINT64_MAX), 0);
	text = rt_text(&x.t);
	assert_non_null(strstr(text, "1.234s+  -  "));
	json_decref(l);
	fx_close(&x);
}

static void test_sesslist_ending_by_signal_shows_the_signal(void **state)
{
	struct fx x;

	fx_open(&x);
	start(&x, RT_SESSION, T0, "yes");
	begin_id(&x, RT_SESSION, "session_end", T0 + MS);
	rec_str(&x.t.r, "reason", "signal");
	rec_int(&x.t.r, "signal", 9);
	add(&x, JOURNAL_SEALED);
	assert_int_equal(sesslist_print_text(x.s, rt_capture(&x.t), 0, UINT64_MAX), 0);
	assert_non_null(strstr(rt_text(&x.t), "0.001s  signal 9"));
	fx_close(&x);
}

static void test_sesslist_count_unsealed_and_tampered_records(void **state)
{
	struct fx x;
	json_t *l, *a;

	fx_open(&x);
	start(&x, RT_SESSION, T0, "yes");
	event(&x, RT_SESSION, "exec", T0, JOURNAL_UNSEALED);
	event(&x, RT_SESSION, "exec", T0, JOURNAL_UNSEALED);
	event(&x, RT_SESSION, "exec", T0, JOURNAL_BAD);
	l = list_json(&x, 0, UINT64_MAX);
	a = json_array_get(l, 0);
	assert_int_equal(get_int(a, "unsealed", NULL), 2);
	assert_int_equal(get_int(a, "tampered", NULL), 1);
	assert_true(json_is_false(json_object_get(a, "sealed")));
	assert_int_equal(sesslist_print_text(x.s, rt_capture(&x.t), 0, UINT64_MAX), 0);
	assert_non_null(strstr(rt_text(&x.t), "BAD 1"));
	json_decref(l);
	fx_close(&x);
}

static void test_sesslist_window_picks_sessions_active_in_it(void **state)
{
	struct fx x;
	json_t *l;

	fx_open(&x);
	start(&x, "aaaaaaaaaaaaaaaa", T0, "a");
	start(&x, "bbbbbbbbbbbbbbbb", T0 + 10000 * MS, "b");
	event(&x, "aaaaaaaaaaaaaaaa", "exec", T0 + 2000 * MS, JOURNAL_SEALED);
	event(&x, "bbbbbbbbbbbbbbbb", "exec", T0 + 12000 * MS, JOURNAL_SEALED);
	assert_int_equal(sesslist_count(x.s), 2);
	l = list_json(&x, T0 + 1000 * MS, T0 + 3000 * MS);
	assert_int_equal(json_array_size(l), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "session")), "aaaaaaaaaaaaaaaa");
	json_decref(l);
	l = list_json(&x, T0 + 2500 * MS, UINT64_MAX);
	assert_int_equal(json_array_size(l), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "session")), "bbbbbbbbbbbbbbbb");
	json_decref(l);
	l = list_json(&x, 0, UINT64_MAX);
	assert_int_equal(json_array_size(l), 2);
	json_decref(l);
	fx_close(&x);
}

static void test_sesslist_text_escapes_labels_and_ids(void **state)
{
	struct fx x;
	const char *text;

	fx_open(&x);
	start(&x, "bad\nid\x1b", T0, "red\n\x1b[2J");
	assert_int_equal(sesslist_print_text(x.s, rt_capture(&x.t), 0, UINT64_MAX), 0);
	text = rt_text(&x.t);
	assert_non_null(strstr(text, "\"bad\\nid\\x1b\""));
	assert_non_null(strstr(text, "ci=\"red\\n\\x1b[2J\""));
	assert_null(strchr(text, '\033'));
	fx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sesslist_list_aggregates_counts_losses_exit_and_duration),
		cmocka_unit_test(test_sesslist_without_end_last_at_least_until_their_last_record),
		cmocka_unit_test(test_sesslist_ending_by_signal_shows_the_signal),
		cmocka_unit_test(test_sesslist_count_unsealed_and_tampered_records),
		cmocka_unit_test(test_sesslist_window_picks_sessions_active_in_it),
		cmocka_unit_test(test_sesslist_text_escapes_labels_and_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
