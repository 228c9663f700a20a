#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "collector/gvisor_sink.h"
#include "collector/gvisor_wire.h"

#define CID "sandtrail-00112233"
#define MAXREC 16

struct fixture {
	struct enrich e;
	struct rec r;
	struct session_table t;
	struct session *s;
	struct gvisor_sink *g;
	/* what the sink wrote */
	uint8_t *recs[MAXREC];
	size_t lens[MAXREC];
	size_t n;
	msgpack_zone zone;
	msgpack_object obj;
	/* the context of the messages built here */
	Sandtrail__Gvisor__ContextData ctx;
	Sandtrail__Gvisor__Credentials cred;
	Sandtrail__Gvisor__Exit exit;
	uint8_t msg[GVISOR_HDR_SIZE + 8192];
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
	struct gvisor_sink_config cfg = { .sessions = &f->t, .enrich = &f->e, .rec = &f->r, .write = written, .ctx = f };
	char err[128];

	enrich_init(&f->e);
	rec_init(&f->r);
	msgpack_zone_init(&f->zone, 4096);
	json_t *labels = json_object();

	f->s = session_new("gvisor", "/sys/fs/cgroup/sandtrail/run-test", labels);
	json_decref(labels);
	strcpy(f->s->gvisor_container, CID);
	session_add_secret(f->s, "TOKEN", "hunter2-secret");
	f->s->netpolicy = calloc(1, sizeof(*f->s->netpolicy));
	f->s->netpolicy->enforce = true;
	assert_int_equal(netpolicy_parse_rule("127.0.0.1:8080", &f->s->netpolicy->rules[0], err, sizeof(err)), 0);
	f->s->netpolicy->n = 1;
	session_table_add(&f->t, f->s);
	assert_int_equal(gvisor_sink_open(&f->g, &cfg), 0);
	sandtrail__gvisor__context_data__init(&f->ctx);
	sandtrail__gvisor__credentials__init(&f->cred);
	sandtrail__gvisor__exit__init(&f->exit);
	f->ctx.thread_id = 7;
	f->ctx.thread_group_id = 7;
	f->ctx.container_id = (ProtobufCBinaryData){ strlen(CID), (uint8_t *)CID };
	f->ctx.process_name = (ProtobufCBinaryData){ 5, (uint8_t *)"agent" };
	f->ctx.cwd = (ProtobufCBinaryData){ 5, (uint8_t *)"/work" };
	f->cred.real_uid = 1000;
	f->cred.real_gid = 1000;
	f->ctx.credentials = &f->cred;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gvisor_sink_close(f->g);
	for (size_t i = 0; i < f->n; i++)
		free(f->recs[i]);
	session_table_free(&f->t);
	enrich_free(&f->e);
	rec_free(&f->r);
	msgpack_zone_destroy(&f->zone);
	free(f);
	return 0;
}

/* Header + packed message, fed as one datagram. */
static void feed(struct fixture *f, uint16_t type, uint32_t dropped, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_pack(m, f->msg + GVISOR_HDR_SIZE);

	f->msg[0] = GVISOR_HDR_SIZE;
	f->msg[1] = 0;
	f->msg[2] = (uint8_t)type;
	f->msg[3] = (uint8_t)(type >> 8);
	for (int i = 0; i < 4; i++)
		f->msg[4 + i] = (uint8_t)(dropped >> (8 * i));
	gvisor_sink_feed(f->g, f->s, f->msg, GVISOR_HDR_SIZE + n);
}

static const msgpack_object *record(struct fixture *f, size_t i)
{
	assert_true(i < f->n);
	assert_int_equal(rec_unpack(f->recs[i], f->lens[i], &f->zone, &f->obj), 0);
	return &f->obj;
}

static void assert_bytes(const msgpack_object *o, const char *key, const char *want)
{
	const char *p;
	size_t n;

	assert_true(rec_get_bytes(o, key, &p, &n));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

static void test_execve_is_an_exec_record_of_the_sandbox_view(void **state)
{
	struct fixture *f = *state;
	Sandtrail__Gvisor__Execve x = SANDTRAIL__GVISOR__EXECVE__INIT;
	ProtobufCBinaryData argv[] = { { 2, (uint8_t *)"sh" }, { 2, (uint8_t *)"-c" }, { 18, (uint8_t *)"echo hunter2-secret" } };
	const msgpack_object *r, *a;
	int64_t v;

	argv[2].len = 19;
	x.context_data = &f->ctx;
	x.exit = &f->exit;
	x.sysno = 59;
	x.pathname = (ProtobufCBinaryData){ 7, (uint8_t *)"/bin/sh" };
	x.argv = argv;
	x.n_argv = 3;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_EXECVE, 0, &x.base);
	assert_int_equal(f->n, 1);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "exec"));
	assert_true(rec_is(r, "view", "sandbox"));
	assert_true(rec_is(r, "syscall", "execve"));
	assert_true(rec_is(r, "session", f->s->id));
	assert_bytes(r, "filename", "/bin/sh");
	assert_bytes(r, "comm", "agent");
	assert_true(rec_get_int(r, "pid", &v) && v == 7);
	assert_true(rec_get_int(r, "uid", &v) && v == 1000);
	assert_true(rec_get_int(r, "ret", &v) && v == 0);
	a = rec_get(r, "argv");
	assert_int_equal(a->via.array.size, 3);
	/* the session's secret is redacted in what the sandbox passed */
	assert_null(memmem(f->recs[0], f->lens[0], "hunter2-secret", 14));
}

static void test_relative_open_is_joined_to_the_cwd(void **state)
{
	struct fixture *f = *state;
	Sandtrail__Gvisor__Open o = SANDTRAIL__GVISOR__OPEN__INIT;
	const msgpack_object *r;
	int64_t v;

	f->exit.errorno = 2;
	o.context_data = &f->ctx;
	o.exit = &f->exit;
	o.sysno = 257;
	o.fd = AT_FDCWD;
	o.pathname = (ProtobufCBinaryData){ 7, (uint8_t *)"out.txt" };
	o.flags = O_WRONLY | O_CREAT;
	o.mode = 0644;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_OPEN, 0, &o.base);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "open"));
	assert_bytes(r, "path", "/work/out.txt");
	assert_bytes(r, "requested", "out.txt");
	assert_true(rec_get_int(r, "ret", &v) && v == -2);
	assert_true(rec_get_int(r, "mode", &v) && v == 0644);
}

static void connect_to(struct fixture *f, const char *ip, uint16_t port)
{
	Sandtrail__Gvisor__Connect c = SANDTRAIL__GVISOR__CONNECT__INIT;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &sin.sin_addr);
	c.context_data = &f->ctx;
	c.exit = &f->exit;
	c.sysno = 42;
	c.fd = 3;
	c.address = (ProtobufCBinaryData){ sizeof(sin), (uint8_t *)&sin };
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_CONNECT, 0, &c.base);
}

static void test_connect_verdict_follows_the_sessions_policy(void **state)
{
	struct fixture *f = *state;
	const msgpack_object *r;
	int64_t v;

	connect_to(f, "127.0.0.1", 8080);
	f->exit.errorno = 1;
	connect_to(f, "10.9.9.9", 443);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "connect"));
	assert_true(rec_is(r, "family", "AF_INET"));
	assert_true(rec_is(r, "addr", "127.0.0.1"));
	assert_true(rec_get_int(r, "port", &v) && v == 8080);
	assert_true(rec_is(r, "verdict", "allow"));
	assert_true(rec_is(r, "source", "sentry"));
	r = record(f, 1);
	assert_true(rec_is(r, "addr", "10.9.9.9"));
	assert_true(rec_is(r, "verdict", "deny"));
	assert_true(rec_get_int(r, "ret", &v) && v == -1);
}

static void test_bind_accept_listen_are_socket_records(void **state)
{
	struct fixture *f = *state;
	Sandtrail__Gvisor__Bind b = SANDTRAIL__GVISOR__BIND__INIT;
	Sandtrail__Gvisor__Accept a = SANDTRAIL__GVISOR__ACCEPT__INIT;
	Sandtrail__Gvisor__Syscall l = SANDTRAIL__GVISOR__SYSCALL__INIT;
	struct sockaddr_in own = { .sin_family = AF_INET, .sin_port = htons(8080) };
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(40000) };
	const msgpack_object *r;
	int64_t v;

	inet_pton(AF_INET, "127.0.0.1", &own.sin_addr);
	inet_pton(AF_INET, "127.0.0.2", &peer.sin_addr);
	b.context_data = a.context_data = l.context_data = &f->ctx;
	b.exit = a.exit = l.exit = &f->exit;
	b.sysno = 49;
	b.fd = 3;
	b.address = (ProtobufCBinaryData){ sizeof(own), (uint8_t *)&own };
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_BIND, 0, &b.base);
	l.sysno = 50;
	l.arg1 = 3;
	l.arg2 = 7;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_RAW, 0, &l.base);
	a.sysno = 288;
	a.fd = 3;
	a.address = (ProtobufCBinaryData){ sizeof(peer), (uint8_t *)&peer };
	f->exit.result = 5;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_ACCEPT, 0, &a.base);
	assert_int_equal(f->n, 3);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "bind"));
	assert_true(rec_is(r, "view", "sandbox"));
	assert_true(rec_is(r, "family", "AF_INET"));
	assert_true(rec_is(r, "addr", "127.0.0.1"));
	assert_true(rec_get_int(r, "port", &v) && v == 8080);
	assert_true(rec_get_int(r, "fd", &v) && v == 3);
	assert_true(rec_is(r, "source", "sentry"));
	r = record(f, 1);
	assert_true(rec_is(r, "type", "listen"));
	assert_true(rec_is(r, "syscall", "listen"));
	assert_true(rec_get_int(r, "backlog", &v) && v == 7);
	assert_true(rec_get_int(r, "fd", &v) && v == 3);
	assert_null(rec_get(r, "addr"));
	assert_null(rec_get(r, "family"));
	r = record(f, 2);
	assert_true(rec_is(r, "type", "accept"));
	assert_true(rec_is(r, "syscall", "accept4"));
	assert_true(rec_is(r, "peer_addr", "127.0.0.2"));
	assert_true(rec_get_int(r, "peer_port", &v) && v == 40000);
	assert_true(rec_get_int(r, "ret", &v) && v == 5);
	assert_null(rec_get(r, "addr"));
}

static void test_raw_rename_has_unreadable_paths(void **state)
{
	struct fixture *f = *state;
	Sandtrail__Gvisor__Syscall x = SANDTRAIL__GVISOR__SYSCALL__INIT;
	const msgpack_object *r;
	bool b;

	x.context_data = &f->ctx;
	x.sysno = 316;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_RAW, 0, &x.base); /* the entry: no record */
	assert_int_equal(f->n, 0);
	x.exit = &f->exit;
	x.arg5 = 1; /* RENAME_NOREPLACE */
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_RAW, 0, &x.base);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "rename"));
	assert_true(rec_is(r, "syscall", "renameat2"));
	assert_true(rec_get(r, "from_unreadable") && rec_get(r, "from_unreadable")->via.boolean);
	b = rec_get(r, "to_unreadable") && rec_get(r, "to_unreadable")->via.boolean;
	assert_true(b);
	assert_non_null(rec_get(r, "flags"));
}

static void test_raw_fchownat_keeps_its_numbers(void **state)
{
	struct fixture *f = *state;
	Sandtrail__Gvisor__Syscall x = SANDTRAIL__GVISOR__SYSCALL__INIT;
	const msgpack_object *r;
	int64_t v;

	x.context_data = &f->ctx;
	x.exit = &f->exit;
	x.sysno = 260; /* fchownat(3, "sl", 1000, -1, AT_SYMLINK_NOFOLLOW) */
	x.arg1 = 3;
	x.arg2 = 0x7f0000001000;
	x.arg3 = 1000;
	x.arg4 = (uint32_t)-1;
	x.arg5 = 0x100;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_RAW, 0, &x.base);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "chown"));
	assert_true(rec_is(r, "syscall", "fchownat"));
	assert_true(rec_get(r, "path_unreadable") && rec_get(r, "path_unreadable")->via.boolean);
	assert_true(rec_get_int(r, "dirfd", &v) && v == 3);
	assert_true(rec_get_int(r, "owner", &v) && v == 1000);
	assert_null(rec_get(r, "group")); /* -1: left as it was */
	assert_non_null(rec_get(r, "flags"));
}

static void test_raw_futimens_acts_on_its_fd(void **state)
{
	struct fixture *f = *state;
	Sandtrail__Gvisor__Syscall x = SANDTRAIL__GVISOR__SYSCALL__INIT;
	const msgpack_object *r;
	int64_t v;

	x.context_data = &f->ctx;
	x.exit = &f->exit;
	x.sysno = 280; /* utimensat(4, NULL, NULL, 0): futimens(4, NULL) */
	x.arg1 = 4;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_RAW, 0, &x.base);
	r = record(f, 0);
	assert_true(rec_is(r, "type", "utimes"));
	assert_true(rec_get_int(r, "fd", &v) && v == 4);
	assert_null(rec_get(r, "requested"));
	assert_true(rec_is(r, "atime", "now"));
	assert_true(rec_is(r, "mtime", "now"));
}

/* The loss record at index i: kind, reason, count. */
static void assert_loss(struct fixture *f, size_t i, const char *kind, const char *reason, uint64_t count)
{
	const msgpack_object *r = record(f, i);
	uint64_t v;

	assert_true(rec_is(r, "type", "loss"));
	assert_true(rec_is(r, "kind", kind));
	assert_true(rec_is(r, "reason", reason));
	assert_true(rec_get_uint(r, "count", &v));
	assert_int_equal(v, count);
}

static void test_another_containers_message_is_rejected_and_counted(void **state)
{
	struct fixture *f = *state;
	Sandtrail__Gvisor__Open o = SANDTRAIL__GVISOR__OPEN__INIT;

	f->ctx.container_id = (ProtobufCBinaryData){ 5, (uint8_t *)"other" };
	o.context_data = &f->ctx;
	o.exit = &f->exit;
	o.sysno = 257;
	o.fd = AT_FDCWD;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_OPEN, 0, &o.base);
	assert_int_equal(f->n, 0);
	gvisor_sink_report_losses(f->g);
	assert_int_equal(f->n, 1);
	assert_loss(f, 0, "open", "malformed", 1);
}

static void test_malformed_and_oversized_datagrams_are_loss_records(void **state)
{
	struct fixture *f = *state;
	uint8_t junk[] = { 8, 0, 7, 0, 0, 0, 0, 0, 0x0a, 0xff, 0xff }; /* a length past the end */
	uint8_t shorthdr[] = { 4, 0, 7, 0, 0, 0, 0, 0 };
	uint8_t longhdr[] = { 200, 0, 7, 0, 5, 0, 0, 0, 0x0a, 0 }; /* a header past the datagram: its drops untrusted */
	uint8_t notype[] = { 8, 0, 0xe7, 0x03, 0, 0, 0, 0 };       /* type 999: none asked for */
	uint8_t *big = calloc(1, GVISOR_HDR_SIZE + GVISOR_MSG_MAX + 1);

	gvisor_sink_feed(f->g, f->s, junk, sizeof(junk));
	gvisor_sink_feed(f->g, f->s, shorthdr, sizeof(shorthdr));
	gvisor_sink_feed(f->g, f->s, longhdr, sizeof(longhdr));
	gvisor_sink_feed(f->g, f->s, notype, sizeof(notype));
	big[0] = 8;
	big[2] = 11;
	gvisor_sink_feed(f->g, f->s, big, GVISOR_HDR_SIZE + GVISOR_MSG_MAX + 1);
	free(big);
	gvisor_sink_report_losses(f->g);
	assert_int_equal(f->n, 3);
	assert_loss(f, 0, "unknown", "malformed", 1);
	assert_loss(f, 1, "open", "malformed", 3);
	assert_loss(f, 2, "exec", "oversized", 1);
}

static void test_sentry_drops_are_counted_across_the_wrap(void **state)
{
	struct fixture *f = *state;
	Sandtrail__Gvisor__TaskExit x = SANDTRAIL__GVISOR__TASK_EXIT__INIT;

	f->ctx.thread_id = 9; /* not the init: no record of its own */
	x.context_data = &f->ctx;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SENTRY_TASK_EXIT, 5, &x.base);
	gvisor_sink_report_losses(f->g);
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SENTRY_TASK_EXIT, 0xfffffffe, &x.base);
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SENTRY_TASK_EXIT, 3, &x.base);
	gvisor_sink_end(f->g, f->s);
	assert_int_equal(f->n, 2);
	assert_loss(f, 0, "unknown", "sentry_dropped", 5);
	assert_loss(f, 1, "unknown", "sentry_dropped", 0xfffffffeu - 5 + 5);
}

static void test_argv_is_cut_to_the_kernels_bounds(void **state)
{
	struct fixture *f = *state;
	Sandtrail__Gvisor__Execve x = SANDTRAIL__GVISOR__EXECVE__INIT;
	ProtobufCBinaryData argv[ST_ARGS_MAX + 5];
	const msgpack_object *r;

	for (size_t i = 0; i < ST_ARGS_MAX + 5; i++)
		argv[i] = (ProtobufCBinaryData){ 1, (uint8_t *)"a" };
	x.context_data = &f->ctx;
	x.exit = &f->exit;
	x.sysno = 59;
	x.argv = argv;
	x.n_argv = ST_ARGS_MAX + 5;
	feed(f, SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_EXECVE, 0, &x.base);
	r = record(f, 0);
	assert_int_equal(rec_get(r, "argv")->via.array.size, ST_ARGS_MAX);
	assert_true(rec_get(r, "argv_truncated")->via.boolean);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_execve_is_an_exec_record_of_the_sandbox_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_open_is_joined_to_the_cwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_verdict_follows_the_sessions_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_accept_listen_are_socket_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_rename_has_unreadable_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_fchownat_keeps_its_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_futimens_acts_on_its_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_another_containers_message_is_rejected_and_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_and_oversized_datagrams_are_loss_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sentry_drops_are_counted_across_the_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_argv_is_cut_to_the_kernels_bounds, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
