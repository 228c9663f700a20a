#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "collector/microvm_sink.h"
#include "vmframe.h"

#define MAXREC 16
#define SECRET "hunter2-secret"

struct fixture {
	struct rec r;
	struct session_table t;
	struct session *s;
	struct microvm_sink *m;
	uint8_t *recs[MAXREC];
	size_t lens[MAXREC];
	size_t n;
	msgpack_zone zone;
	msgpack_object obj;
	uint32_t seq;
	uint8_t ev[VMFRAME_MAX], frame[VMFRAME_HDR + VMFRAME_MAX];
};

static void written(void *ctx)
{
	struct fixture *f = ctx;
	size_t len;
	const void *p = rec_finish(&f->r, &len);

	assert_true(f->n < MAXREC);
	f->recs[f->n] = malloc(len);
	memcpy(f->recs[f->n], p, len);
	f->lens[f->n++] = len;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct microvm_sink_config cfg = { .sessions = &f->t, .rec = &f->r, .write = written, .ctx = f };
	json_t *labels = json_object();

	rec_init(&f->r);
	msgpack_zone_init(&f->zone, 4096);
	f->s = session_new("microvm", "/sys/fs/cgroup/sandtrail/run-test", labels);
	json_decref(labels);
	session_add_secret(f->s, "TOKEN", SECRET);
	session_table_add(&f->t, f->s);
	assert_int_equal(microvm_sink_open(&f->m, &cfg), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	microvm_sink_close(f->m);
	for (size_t i = 0; i < f->n; i++)
		free(f->recs[i]);
	session_table_free(&f->t);
	rec_free(&f->r);
	msgpack_zone_destroy(&f->zone);
	free(f);
	return 0;
}

/* An open of the absolute path as the guest's programs make it: requested,
 * resolved (a walk: names leaf first, NUL after each), no base. */
static size_t open_event(struct fixture *f, const char *path, uint64_t cgroup)
{
	struct st_open o = { 0 };
	size_t plen = strlen(path), wlen = 0;
	uint8_t *walk = f->ev + sizeof(o) + plen;

	for (const char *end = path + plen; end > path;) {
		const char *start = end;

		while (start > path && start[-1] != '/')
			start--;
		memcpy(walk + wlen, start, (size_t)(end - start));
		wlen += (size_t)(end - start);
		walk[wlen++] = 0;
		end = start - 1;
	}
	o.h.type = ST_EV_OPEN;
	o.h.syscall = ST_SYS_OPENAT;
	o.h.cgroup_id = o.h.session_cgid = cgroup;
	o.h.tgid = o.h.tid = 9;
	o.h.uid = o.h.gid = 1000;
	memcpy(o.h.comm, "cat", 3);
	o.h.strs = ST_STR(2, ST_S_ABSENT);
	o.ret = 3;
	o.dirfd = -100;
	o.path_len = (uint16_t)plen;
	o.resolved_len = (uint16_t)wlen;
	o.h.size = (uint32_t)(sizeof(o) + plen + wlen);
	memcpy(f->ev, &o, sizeof(o));
	memcpy(f->ev + sizeof(o), path, plen);
	return o.h.size;
}

static void feed_frame(struct fixture *f, uint16_t type, uint16_t stream, uint32_t seq, const void *p, size_t len)
{
	microvm_sink_feed(f->m, f->s, f->frame, vmframe_encode(f->frame, type, stream, seq, p, len));
}

static const msgpack_object *record(struct fixture *f, size_t i)
{
	assert_true(i < f->n);
	assert_int_equal(rec_unpack(f->recs[i], f->lens[i], &f->zone, &f->obj), 0);
	return &f->obj;
}

/* The loss record of kind and reason among what was written; its count. */
static int64_t loss(struct fixture *f, const char *kind, const char *reason)
{
	int64_t count = -1;

	for (size_t i = 0; i < f->n; i++) {
		const msgpack_object *r = record(f, i);

		if (rec_is(r, "type", "loss") && rec_is(r, "kind", kind) && rec_is(r, "reason", reason))
			assert_true(rec_get_int(r, "count", &count));
	}
	return count;
}

static void test_guest_open_is_an_open_record_of_the_sandbox_view(void **state)
{
	struct fixture *f = *state;
	const msgpack_object *r;
	const char *p;
	size_t n;
	int64_t v;

	feed_frame(f, VMFRAME_EVENT, VMFRAME_STREAM_EVENTS, 0, f->ev, open_event(f, "/mnt/" SECRET, 4242));
	assert_int_equal(f->n, 1);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "open"));
	assert_true(rec_is(r, "view", "sandbox"));
	assert_true(rec_is(r, "session", f->s->id));
	assert_true(rec_get_int(r, "pid", &v) && v == 9);
	assert_true(rec_get_int(r, "ret", &v) && v == 3);
	/* the path as the walk resolved it, the session's secret redacted */
	assert_true(rec_get_bytes(r, "path", &p, &n));
	assert_true(n > 5 && !memcmp(p, "/mnt/", 5));
	assert_null(memmem(p, n, SECRET, strlen(SECRET)));
	/* a guest's cgroup is none of the host's */
	assert_null(rec_get(r, "cgroup"));
}

static void test_frames_fed_byte_by_byte_make_the_same_record(void **state)
{
	struct fixture *f = *state;
	size_t len = vmframe_encode(f->frame, VMFRAME_EVENT, 0, 0, f->ev, open_event(f, "/a/b", 0));

	for (size_t i = 0; i < len; i++)
		microvm_sink_feed(f->m, f->s, f->frame + i, 1);
	assert_int_equal(f->n, 1);
	assert_true(rec_is(record(f, 0), "type", "open"));
}

static void test_foreign_type_gap_and_oversized_are_losses(void **state)
{
	struct fixture *f = *state;
	size_t n = open_event(f, "/a", 0);
	/* the guest has no host cgroup to leave */
	struct st_cgroup_leave cl = { .h = { .type = ST_EV_CGROUP_LEAVE, .size = sizeof(cl) } };
	uint8_t big[VMFRAME_HDR];

	feed_frame(f, VMFRAME_EVENT, 0, 0, &cl, sizeof(cl));
	/* a header claiming 1 GiB, then a good frame after frames 1-2 never came */
	vmframe_encode(big, VMFRAME_EVENT, 0, 1, NULL, 0);
	big[7] = 0x40;
	microvm_sink_feed(f->m, f->s, big, sizeof(big));
	feed_frame(f, VMFRAME_EVENT, 0, 3, f->ev, n);
	microvm_sink_end(f->m, f->s);
	assert_int_equal(loss(f, "cgroup_leave", "malformed"), 1);
	assert_int_equal(loss(f, "unknown", "oversized"), 1);
	assert_int_equal(loss(f, "unknown", "gap"), 2);
	assert_int_equal(loss(f, "unknown", "malformed"), -1); /* the bytes of the refused frame are that frame */
	for (size_t i = 0; i < f->n; i++)
		assert_false(rec_is(record(f, i), "type", "cgroup_leave"));
}

/* A mkdir as the guest's programs make it: the name as requested, relative,
 * and the walk of the cwd it was resolved from (leaf first). */
static void test_guest_mkdir_is_a_mkdir_record_with_its_absolute_path(void **state)
{
	struct fixture *f = *state;
	static const char req[] = "d", base[] = "mnt\0";
	struct st_fileop k = { .h = { .type = ST_EV_MKDIR, .syscall = ST_SYS_MKDIR, .tgid = 9, .tid = 9 } };
	const msgpack_object *r;
	const char *p;
	size_t n;
	int64_t v;

	k.ret = 0;
	k.dirfd = k.dirfd2 = -100;
	k.mode = 0750;
	k.path_len = 1;
	k.base_len = 4;
	k.h.size = sizeof(k) + 5;
	memcpy(f->ev, &k, sizeof(k));
	memcpy(f->ev + sizeof(k), req, 1);
	memcpy(f->ev + sizeof(k) + 1, base, 4);
	feed_frame(f, VMFRAME_EVENT, VMFRAME_STREAM_EVENTS, 0, f->ev, k.h.size);
	assert_int_equal(f->n, 1);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "mkdir"));
	assert_true(rec_is(r, "view", "sandbox"));
	assert_true(rec_get_bytes(r, "path", &p, &n));
	assert_true(n == 6 && !memcmp(p, "/mnt/d", 6));
	assert_true(rec_get_int(r, "mode", &v) && v == 0750);
	assert_true(rec_get_int(r, "ret", &v) && v == 0);
}

/* The guest's count per destination is the host's datagrams record; a
 * family the guest cannot have counted is malformed. */
static void test_guest_datagram_counts_are_datagrams_records(void **state)
{
	struct fixture *f = *state;
	struct vmdgrams d = { .addr = { 127, 0, 0, 1 }, .family = 2, .port = 53, .count = 300 };
	struct vmdgrams bad = { .family = 1, .count = 1 };
	const msgpack_object *r;
	int64_t v;

	feed_frame(f, VMFRAME_DGRAMS, VMFRAME_STREAM_AGENT, 0, &d, sizeof(d));
	feed_frame(f, VMFRAME_DGRAMS, VMFRAME_STREAM_AGENT, 1, &bad, sizeof(bad));
	microvm_sink_report_losses(f->m);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "datagrams"));
	assert_true(rec_is(r, "addr", "127.0.0.1"));
	assert_true(rec_get_int(r, "port", &v) && v == 53);
	assert_true(rec_get_int(r, "count", &v) && v == 300);
	assert_int_equal(loss(f, "datagram", "malformed"), 1);
}

static void test_guest_drops_and_garbage_are_losses(void **state)
{
	struct fixture *f = *state;
	struct vmloss l = { .type = ST_EV_EXEC, .reason = ST_LOSS_PENDING, .count = 5 };
	uint8_t noise[300];

	memset(noise, 0xa5, sizeof(noise));
	microvm_sink_feed(f->m, f->s, noise, sizeof(noise));
	feed_frame(f, VMFRAME_LOSS, VMFRAME_STREAM_AGENT, 0, &l, sizeof(l));
	/* a loss report on the events' stream is no loss report */
	feed_frame(f, VMFRAME_LOSS, VMFRAME_STREAM_EVENTS, 0, &l, sizeof(l));
	microvm_sink_report_losses(f->m);
	assert_int_equal(loss(f, "exec", "guest_pending"), 5);
	assert_int_equal(loss(f, "unknown", "malformed"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_guest_open_is_an_open_record_of_the_sandbox_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frames_fed_byte_by_byte_make_the_same_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_type_gap_and_oversized_are_losses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_drops_and_garbage_are_losses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_mkdir_is_a_mkdir_record_with_its_absolute_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_datagram_counts_are_datagrams_records, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
