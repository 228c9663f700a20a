#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "collector/enrich.h"
#include "collector/event.h"

/* record.c's allocations, failed on demand: the Makefile links this test
 * with --wrap=realloc */
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
static bool fail_realloc;

void *__wrap_realloc(void *p, size_t n)
{
	return fail_realloc ? NULL : __real_realloc(p, n);
}

struct fixture {
	struct enrich e;
	struct rec r;
	msgpack_zone zone;
	msgpack_object obj;
	uint8_t buf[16384];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	enrich_init(&f->e);
	rec_init(&f->r);
	msgpack_zone_init(&f->zone, 4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	enrich_free(&f->e);
	rec_free(&f->r);
	msgpack_zone_destroy(&f->zone);
	free(f);
	return 0;
}

/* Builds a sample: fixed part of `size` bytes from body, then strings. */
static size_t sample(struct fixture *f, const void *body, size_t size, const char *const *strs,
		     const size_t *lens, unsigned n)
{
	size_t off = size;

	memcpy(f->buf, body, size);
	for (unsigned i = 0; i < n; i++) {
		memcpy(f->buf + off, strs[i], lens[i]);
		off += lens[i];
	}
	((struct st_hdr *)f->buf)->size = (uint32_t)off;
	return off;
}

static void hdr(struct st_hdr *h, uint32_t type, uint32_t sys)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->syscall = sys;
	h->tgid = 42;
	h->tid = 43;
	h->ppid = 1;
	h->uid = 1000;
	h->gid = 1000;
	h->cgroup_id = 77;
	memcpy(h->comm, "agent", 6);
}

/* The record built in f->r, unpacked. */
static const msgpack_object *parse(struct fixture *f)
{
	size_t n;
	const void *p = rec_finish(&f->r, &n);

	assert_int_equal(rec_unpack(p, n, &f->zone, &f->obj), 0);
	return &f->obj;
}

static const msgpack_object *build(struct fixture *f, size_t len, struct session *s)
{
	struct event ev;

	assert_int_equal(event_decode(f->buf, len, &ev), 0);
	enrich_event(&f->e, &ev, s, 123456789, &f->r);
	return parse(f);
}

static void assert_bytes(const msgpack_object *o, const char *key, const void *want, size_t len)
{
	const char *p;
	size_t n;

	assert_true(rec_get_bytes(o, key, &p, &n));
	assert_int_equal(n, len);
	assert_memory_equal(p, want, len);
}

static void test_open_record_prefers_resolved_path(void **state)
{
	struct fixture *f = *state;
	struct st_open o = { .ret = 3, .dirfd = AT_FDCWD, .flags = O_WRONLY | O_CREAT | O_TRUNC, .mode = 0644 };
	const char *strs[] = { "out.txt", "out.txt\0work\0" };
	size_t lens[] = { 7, 13 };
	const msgpack_object *r;
	const msgpack_object *flags;
	int64_t v;

	hdr(&o.h, ST_EV_OPEN, ST_SYS_OPENAT);
	o.path_len = 7;
	o.resolved_len = 13;
	r = build(f, sample(f, &o, sizeof(o), strs, lens, 2), NULL);
	assert_true(rec_is(r, "type", "open"));
	assert_bytes(r, "path", "/work/out.txt", 13);
	assert_bytes(r, "requested", "out.txt", 7);
	assert_true(rec_is(r, "syscall", "openat"));
	assert_true(rec_get_int(r, "ret", &v) && v == 3);
	assert_true(rec_get_int(r, "mode", &v) && v == 0644);
	flags = rec_get(r, "flags");
	assert_non_null(flags);
	assert_int_equal(flags->via.array.size, 3);
	assert_memory_equal(flags->via.array.ptr[0].via.str.ptr, "O_WRONLY", 8);
	assert_memory_equal(flags->via.array.ptr[1].via.str.ptr, "O_CREAT", 7);
	assert_memory_equal(flags->via.array.ptr[2].via.str.ptr, "O_TRUNC", 7);
}

static void test_failed_open_is_resolved_from_its_base(void **state)
{
	struct fixture *f = *state;
	struct st_open o = { .ret = -2, .dirfd = 5, .flags = O_RDONLY };
	const char *strs[] = { "../x/missing", "", "b\0a\0\0" };
	size_t lens[] = { 12, 0, 5 };
	const msgpack_object *r;
	int64_t v;

	hdr(&o.h, ST_EV_OPEN, ST_SYS_OPENAT);
	o.path_len = 12;
	o.base_len = 5;
	r = build(f, sample(f, &o, sizeof(o), strs, lens, 3), NULL);
	assert_bytes(r, "path", "/a/x/missing", 12);
	assert_bytes(r, "requested", "../x/missing", 12);
	assert_true(rec_get_int(r, "dirfd", &v) && v == 5);
	assert_null(rec_get(r, "mode"));
	assert_null(rec_get(r, "path_unresolved"));
}

static void test_unresolvable_base_keeps_the_request_and_says_so(void **state)
{
	struct fixture *f = *state;
	struct st_unlink u = { .ret = -9, .dirfd = 77 };
	const char *strs[] = { "victim" };
	size_t lens[] = { 6 };
	const msgpack_object *r;

	hdr(&u.h, ST_EV_UNLINK, ST_SYS_UNLINKAT);
	u.h.strs = ST_STR(1, ST_S_ABSENT);
	u.path_len = 6;
	r = build(f, sample(f, &u, sizeof(u), strs, lens, 1), NULL);
	assert_bytes(r, "path", "victim", 6);
	assert_non_null(rec_get(r, "path_unresolved"));
	assert_bytes(r, "requested", "victim", 6);
}

static void test_truncated_walk_is_flagged(void **state)
{
	struct fixture *f = *state;
	struct st_open o = { .ret = 3, .dirfd = AT_FDCWD };
	const char *strs[] = { "x", "x\0deep\0" };
	size_t lens[] = { 1, 7 };
	const msgpack_object *r;

	hdr(&o.h, ST_EV_OPEN, ST_SYS_OPEN);
	o.h.strs = ST_STR(1, ST_S_CUT);
	o.path_len = 1;
	o.resolved_len = 7;
	r = build(f, sample(f, &o, sizeof(o), strs, lens, 2), NULL);
	assert_non_null(rec_get(r, "path_truncated"));
	assert_bytes(r, "path", "\xe2\x80\xa6/deep/x", 10);
	assert_null(rec_get(r, "requested_truncated"));
}

static void test_exec_sets_image_of_later_records(void **state)
{
	struct fixture *f = *state;
	struct st_exec x = { .ret = 0, .argc = 2 };
	struct st_unlink u = { .ret = 0, .dirfd = AT_FDCWD };
	const char *strs[] = { "/bin/sh", "sh\0-c\0", "dash\0bin\0usr\0" };
	size_t lens[] = { 7, 6, 13 };
	const char *ustr[] = { "f" };
	size_t ulen[] = { 1 };
	const msgpack_object *r, *argv;

	hdr(&x.h, ST_EV_EXEC, ST_SYS_EXECVE);
	x.filename_len = 7;
	x.argv_len = 6;
	x.exe_len = 13;
	r = build(f, sample(f, &x, sizeof(x), strs, lens, 3), NULL);
	assert_bytes(r, "exe", "/usr/bin/dash", 13);
	argv = rec_get(r, "argv");
	assert_int_equal(argv->via.array.size, 2);
	assert_memory_equal(argv->via.array.ptr[1].via.bin.ptr, "-c", 2);
	assert_null(rec_get(r, "argv_truncated"));

	hdr(&u.h, ST_EV_UNLINK, ST_SYS_UNLINK);
	u.path_len = 1;
	r = build(f, sample(f, &u, sizeof(u), ustr, ulen, 1), NULL);
	assert_bytes(r, "image", "/usr/bin/dash", 13);
	assert_true(rec_is(r, "type", "unlink"));
}

static void test_secrets_are_redacted_everywhere(void **state)
{
	struct fixture *f = *state;
	struct st_exec x = { .ret = -2, .argc = 2 };
	const char *strs[] = { "/bin/tok-hunter2", "curl\0-Hhunter2\0", "" };
	size_t lens[] = { 16, 15, 0 };
	json_t *labels = json_object();
	struct session *s = session_new("hardened", "/sys/fs/cgroup/x", labels);
	const msgpack_object *r, *argv;
	const char *p;
	size_t n;

	json_decref(labels);
	assert_int_equal(session_add_secret(s, "TOKEN", "hunter2"), 0);
	hdr(&x.h, ST_EV_EXEC, ST_SYS_EXECVE);
	x.filename_len = 16;
	x.argv_len = 15;
	r = build(f, sample(f, &x, sizeof(x), strs, lens, 3), s);
	assert_bytes(r, "filename", "/bin/tok-[secret:TOKEN]", 23);
	argv = rec_get(r, "argv");
	assert_memory_equal(argv->via.array.ptr[1].via.bin.ptr, "-H[secret:TOKEN]", 16);
	assert_true(rec_is(r, "session", s->id));
	assert_true(rec_get_bytes(r, "session", &p, &n) && n == SESSION_ID_LEN);
	session_free(s);
}

static void test_connect_record_fields(void **state)
{
	struct fixture *f = *state;
	struct st_connect c = { .ret = -1, .fd = 5, .family = AF_INET, .port = 8080,
				.addr = { 127, 0, 0, 1 }, .source = ST_ADDR_HOOK, .verdict = ST_VERDICT_DENY };
	const msgpack_object *r;
	uint64_t port;

	hdr(&c.h, ST_EV_CONNECT, ST_SYS_CONNECT);
	r = build(f, sample(f, &c, sizeof(c), NULL, NULL, 0), NULL);
	assert_true(rec_is(r, "family", "AF_INET"));
	assert_true(rec_is(r, "addr", "127.0.0.1"));
	assert_true(rec_get_uint(r, "port", &port) && port == 8080);
	assert_true(rec_is(r, "verdict", "deny"));
	assert_true(rec_is(r, "source", "hook"));
}

static void test_datagram_has_no_fd_nor_result(void **state)
{
	struct fixture *f = *state;
	struct st_connect c = { .fd = -1, .family = AF_INET6, .port = 53, .addr = { [15] = 1 },
				.source = ST_ADDR_HOOK, .verdict = ST_VERDICT_ALLOW };
	const msgpack_object *r;

	hdr(&c.h, ST_EV_DATAGRAM, ST_SYS_SENDMSG);
	r = build(f, sample(f, &c, sizeof(c), NULL, NULL, 0), NULL);
	assert_true(rec_is(r, "type", "datagram"));
	assert_true(rec_is(r, "addr", "::1"));
	assert_true(rec_is(r, "verdict", "allow"));
	assert_null(rec_get(r, "fd"));
	assert_null(rec_get(r, "ret"));
}

static void test_datagrams_count_and_untracked(void **state)
{
	struct fixture *f = *state;
	const uint8_t a[16] = { 10, 0, 0, 7 };
	const msgpack_object *r;
	uint64_t n;

	enrich_datagrams(&f->r, NULL, 1, AF_INET, a, 9, 300);
	r = parse(f);
	assert_true(rec_is(r, "addr", "10.0.0.7"));
	assert_true(rec_get_uint(r, "port", &n) && n == 9);
	assert_true(rec_get_uint(r, "count", &n) && n == 300);
	assert_null(rec_get(r, "untracked"));
	enrich_datagrams(&f->r, NULL, 1, 0, a, 0, 6);
	r = parse(f);
	assert_true(rec_flag(r, "untracked"));
	assert_true(rec_get_uint(r, "limit", &n) && n == ST_DGRAM_DESTS);
	assert_true(rec_get_uint(r, "count", &n) && n == 6);
	assert_null(rec_get(r, "addr"));
}

static void test_accept_has_both_ends(void **state)
{
	struct fixture *f = *state;
	struct st_sock k = { .ret = 7, .fd = 3, .family = AF_INET, .port = 8080, .addr = { 127, 0, 0, 1 },
			     .peer = { 127, 0, 0, 2 }, .peer_port = 40000, .source = ST_ADDR_SOCKET };
	const msgpack_object *r;
	uint64_t port;
	int64_t v;

	hdr(&k.h, ST_EV_ACCEPT, ST_SYS_ACCEPT4);
	r = build(f, sample(f, &k, sizeof(k), NULL, NULL, 0), NULL);
	assert_true(rec_is(r, "type", "accept"));
	assert_true(rec_is(r, "addr", "127.0.0.1"));
	assert_true(rec_get_uint(r, "port", &port) && port == 8080);
	assert_true(rec_is(r, "peer_addr", "127.0.0.2"));
	assert_true(rec_get_uint(r, "peer_port", &port) && port == 40000);
	assert_true(rec_get_int(r, "ret", &v) && v == 7);
	assert_null(rec_get(r, "backlog"));
	assert_null(rec_get(r, "fd"));
	/* a unix listener: its path, no peer */
	const char *path = "/run/x.sock";
	size_t len = strlen(path);

	k.family = AF_UNIX;
	k.path_len = (uint16_t)len;
	hdr(&k.h, ST_EV_LISTEN, ST_SYS_LISTEN);
	k.backlog = 4;
	r = build(f, sample(f, &k, sizeof(k), &path, &len, 1), NULL);
	assert_bytes(r, "addr", path, len);
	assert_true(rec_get_int(r, "backlog", &v) && v == 4);
	assert_null(rec_get(r, "peer_addr"));
}

static void test_exit_status_splits_code_and_signal(void **state)
{
	struct fixture *f = *state;
	struct st_exit x = { .status = 9 };
	const msgpack_object *r;
	int64_t v;

	hdr(&x.h, ST_EV_EXIT, ST_SYS_NONE);
	r = build(f, sample(f, &x, sizeof(x), NULL, NULL, 0), NULL);
	assert_true(rec_get_int(r, "signal", &v) && v == 9);
	assert_null(rec_get(r, "code"));
	x.status = 3 << 8;
	r = build(f, sample(f, &x, sizeof(x), NULL, NULL, 0), NULL);
	assert_true(rec_get_int(r, "code", &v) && v == 3);
}

static void test_io_uring_request_says_via_op_and_file(void **state)
{
	struct fixture *f = *state;
	struct st_io_uring u = { .ret = 2, .fd = 5, .opcode = 23 /* IORING_OP_WRITE */ };
	const char *strs[] = { "a\0w\0" };
	size_t lens[] = { 4 };
	const msgpack_object *r;
	int64_t v;

	hdr(&u.h, ST_EV_IO_URING, ST_SYS_NONE);
	u.h.flags = ST_F_IO_URING;
	u.file_len = 4;
	r = build(f, sample(f, &u, sizeof(u), strs, lens, 1), NULL);
	assert_true(rec_is(r, "type", "io_uring"));
	assert_true(rec_is(r, "via", "io_uring"));
	assert_true(rec_is(r, "op", "WRITE"));
	assert_bytes(r, "path", "/w/a", 4);
	assert_true(rec_get_int(r, "fd", &v) && v == 5);
	assert_true(rec_get_int(r, "ret", &v) && v == 2);
	assert_null(rec_get(r, "syscall"));
	assert_null(rec_get(r, "abi"));
	u.fixed = 1;
	u.opcode = 200;
	u.file_len = 0;
	r = build(f, sample(f, &u, sizeof(u), NULL, NULL, 0), NULL);
	assert_true(rec_get_int(r, "fixed_file", &v) && v == 5);
	assert_null(rec_get(r, "fd"));
	assert_null(rec_get(r, "path"));
	assert_true(rec_get_int(r, "op", &v) && v == 200);
}

static void test_io_uring_setup_is_the_ring(void **state)
{
	struct fixture *f = *state;
	struct st_io_uring u = { .ret = 4, .fd = -1, .entries = 8, .setup_flags = 2 };
	const msgpack_object *r;
	int64_t v;
	uint64_t n;

	hdr(&u.h, ST_EV_IO_URING, ST_SYS_IO_URING_SETUP);
	r = build(f, sample(f, &u, sizeof(u), NULL, NULL, 0), NULL);
	assert_true(rec_is(r, "syscall", "io_uring_setup"));
	assert_true(rec_get_uint(r, "entries", &n) && n == 8);
	assert_true(rec_get_uint(r, "setup_flags", &n) && n == 2);
	assert_true(rec_get_int(r, "ret", &v) && v == 4);
	assert_null(rec_get(r, "op"));
	assert_null(rec_get(r, "via"));
}

static void test_other_abis_say_which(void **state)
{
	struct fixture *f = *state;
	struct st_abi32 a = { .ret = -38, .nr = 39, .args = { 1, 2, 3, 4, 5, 0xffffffffffffffffull } };
	struct st_unlink u = { .ret = 0, .dirfd = AT_FDCWD, .path_len = 1, .base_len = 2 };
	const char *strs[] = { "b", "w\0" };
	size_t lens[] = { 1, 2 };
	const msgpack_object *r, *args;
	int64_t v;
	uint64_t n;

	hdr(&a.h, ST_EV_ABI32, ST_SYS_NONE);
	a.h.flags = ST_F_ABI_X32;
	r = build(f, sample(f, &a, sizeof(a), NULL, NULL, 0), NULL);
	assert_true(rec_is(r, "type", "abi32"));
	assert_true(rec_is(r, "abi", "x32"));
	assert_true(rec_get_uint(r, "nr", &n) && n == 39);
	assert_true(rec_get_int(r, "ret", &v) && v == -38);
	args = rec_get(r, "args");
	assert_non_null(args);
	assert_int_equal(args->via.array.size, 6);
	assert_true(args->via.array.ptr[5].via.u64 == 0xffffffffffffffffull);
	hdr(&u.h, ST_EV_UNLINK, ST_SYS_UNLINK);
	u.h.flags = ST_F_ABI_I386;
	r = build(f, sample(f, &u, sizeof(u), strs, lens, 2), NULL);
	assert_true(rec_is(r, "abi", "i386"));
	assert_bytes(r, "path", "/w/b", 4);
	u.h.flags = ST_F_ABI_I386 | ST_F_ABI_X32;
	r = build(f, sample(f, &u, sizeof(u), strs, lens, 2), NULL);
	assert_true(rec_is(r, "abi", "i386_or_x32"));
	u.h.flags = 0;
	r = build(f, sample(f, &u, sizeof(u), strs, lens, 2), NULL);
	assert_null(rec_get(r, "abi"));
}

static void test_decode_rejects_lengths_past_the_sample(void **state)
{
	struct fixture *f = *state;
	struct st_unlink u = { .path_len = 100 };
	struct event ev;

	hdr(&u.h, ST_EV_UNLINK, ST_SYS_UNLINK);
	u.h.size = sizeof(u) + 4;
	memcpy(f->buf, &u, sizeof(u));
	assert_int_equal(event_decode(f->buf, sizeof(u) + 4, &ev), -EBADMSG);
	u.h.type = ST_EV_MAX;
	memcpy(f->buf, &u, sizeof(u));
	assert_int_equal(event_decode(f->buf, sizeof(u) + 4, &ev), -EBADMSG);
	assert_int_equal(event_decode(f->buf, 3, &ev), -EBADMSG);
}

/* An open of /f by the task h describes. */
static const msgpack_object *open_by(struct fixture *f, const struct st_hdr *h, struct session *s)
{
	struct st_open o = { .ret = 3, .dirfd = AT_FDCWD, .flags = O_RDONLY };
	const char *strs[] = { "/f" };
	size_t lens[] = { 2 };

	o.h = *h;
	o.h.type = ST_EV_OPEN;
	o.path_len = 2;
	return build(f, sample(f, &o, sizeof(o), strs, lens, 1), s);
}

static void exec_by(struct fixture *f, const struct st_hdr *h, const char *exe)
{
	struct st_exec x = { .ret = 0, .argc = 1 };
	const char *strs[] = { exe, "x\0", "" };
	size_t lens[] = { strlen(exe), 2, 0 };

	x.h = *h;
	x.h.type = ST_EV_EXEC;
	x.h.syscall = ST_SYS_EXECVE;
	x.filename_len = (uint32_t)lens[0];
	x.argv_len = 2;
	build(f, sample(f, &x, sizeof(x), strs, lens, 3), NULL);
}

static bool has_bytes(const msgpack_object *o, const char *key, const char *want)
{
	const char *p;
	size_t n;

	return rec_get_bytes(o, key, &p, &n) && n == strlen(want) && !memcmp(p, want, n);
}

static uint64_t uint_of(const msgpack_object *o, const char *key)
{
	uint64_t v = UINT64_MAX;

	assert_true(rec_get_uint(o, key, &v));
	return v;
}

/* The bytes of a record whose task fields were copied from the task's last
 * record are the bytes encoding them anew gives. */
static void test_cached_task_fields_are_the_bytes_encoded(void **state)
{
	struct fixture *f = *state;
	json_t *labels = json_pack("{ss}", "team", "a");
	struct session *s = session_new("hardened", "/sys/fs/cgroup/x", labels);
	struct st_hdr h;
	uint8_t first[1024];
	size_t n, n2;
	const void *p;

	json_decref(labels);
	assert_int_equal(session_add_secret(s, "TOKEN", "gent"), 0);
	s->setup_ppid = 1;
	hdr(&h, ST_EV_OPEN, ST_SYS_OPENAT);
	h.flags = ST_F_IO_URING;
	exec_by(f, &h, "/usr/bin/agent");
	open_by(f, &h, s); /* its image is new: encoded */
	p = rec_finish(&f->r, &n);
	assert_true(n <= sizeof(first));
	memcpy(first, p, n);
	open_by(f, &h, s); /* from the cache */
	p = rec_finish(&f->r, &n2);
	assert_int_equal(n2, n);
	assert_memory_equal(p, first, n);
	assert_true(has_bytes(parse(f), "comm", "a[secret:TOKEN]"));
	assert_true(has_bytes(&f->obj, "image", "/usr/bin/a[secret:TOKEN]"));
	assert_true(rec_flag(&f->obj, "setup"));
	assert_true(rec_is(&f->obj, "via", "io_uring"));

	session_free(s);
}

/* A record cut short for want of memory (its task fields partly written)
 * is not what the task's next records repeat: they have every field. */
static void test_cut_task_fields_are_not_cached(void **state)
{
	struct fixture *f = *state;
	json_t *labels = json_object();
	struct session *s = session_new("hardened", "/sys/fs/cgroup/x", labels);
	char exe[3602], want[9602];
	struct st_hdr h;
	struct event ev;

	json_decref(labels);
	assert_int_equal(session_add_secret(s, "TOKEN", "gent"), 0);
	/* redacted, the image outgrows the record's first buffer (8 KiB) */
	for (int i = 0; i < 600; i++) {
		memcpy(exe + 6 * i, "/agent", 6);
		memcpy(want + 16 * i, "/a[secret:TOKEN]", 16);
	}
	exe[3600] = 0;
	want[9600] = 0;
	hdr(&h, ST_EV_OPEN, ST_SYS_OPENAT);
	exec_by(f, &h, exe);
	open_by(f, &h, NULL); /* the buffer as a task's record leaves it */
	fail_realloc = true;
	{
		struct st_open o = { .h = h, .ret = 3, .dirfd = AT_FDCWD, .flags = O_RDONLY, .path_len = 2 };
		const char *strs[] = { "/f" };
		size_t lens[] = { 2 };

		assert_int_equal(event_decode(f->buf, sample(f, &o, sizeof(o), strs, lens, 1), &ev), 0);
		enrich_event(&f->e, &ev, s, 123456789, &f->r);
	}
	fail_realloc = false;
	assert_true(f->r.cut);
	assert_true(has_bytes(open_by(f, &h, s), "image", want));
	assert_true(has_bytes(&f->obj, "comm", "a[secret:TOKEN]"));
	assert_int_equal(uint_of(&f->obj, "pid"), 42);
	assert_false(f->r.cut);

	session_free(s);
}

/* Each field of the header a task's records carry: changed, the next
 * record says so, and changed back, so does the one after. */
static void test_task_change_shows_in_next_record(void **state)
{
	struct fixture *f = *state;
	struct st_hdr h, c;
	const msgpack_object *r;

	hdr(&h, ST_EV_OPEN, ST_SYS_OPENAT);
	r = open_by(f, &h, NULL);
	assert_true(has_bytes(r, "comm", "agent"));
	c = h, memcpy(c.comm, "worker", 7);
	assert_true(has_bytes(open_by(f, &c, NULL), "comm", "worker"));
	c = h, c.uid = 0;
	assert_int_equal(uint_of(open_by(f, &c, NULL), "uid"), 0);
	c = h, c.gid = 5;
	assert_int_equal(uint_of(open_by(f, &c, NULL), "gid"), 5);
	c = h, c.ppid = 7;
	assert_int_equal(uint_of(open_by(f, &c, NULL), "ppid"), 7);
	c = h, c.tgid = 44;
	assert_int_equal(uint_of(open_by(f, &c, NULL), "pid"), 44);
	c = h, c.cgroup_id = 78;
	assert_int_equal(uint_of(open_by(f, &c, NULL), "cgroup"), 78);
	c = h, c.cgroup_id = 0;
	assert_null(rec_get(open_by(f, &c, NULL), "cgroup"));
	c = h, c.syscall = ST_SYS_CREAT;
	assert_true(rec_is(open_by(f, &c, NULL), "syscall", "creat"));
	assert_true(rec_is(open_by(f, &h, NULL), "syscall", "openat"));
	c = h, c.flags = ST_F_IO_URING;
	assert_true(rec_is(open_by(f, &c, NULL), "via", "io_uring"));
	c = h, c.flags = ST_F_ABI_I386;
	r = open_by(f, &c, NULL);
	assert_null(rec_get(r, "via"));
	assert_true(rec_is(r, "abi", "i386"));
	r = open_by(f, &h, NULL);
	assert_true(has_bytes(r, "comm", "agent"));
	assert_int_equal(uint_of(r, "uid"), 1000);
	assert_int_equal(uint_of(r, "pid"), 42);
	assert_null(rec_get(r, "abi"));
}

/* exec gives the task's next record its new image, exit takes it away
 * (a pid used again starts with none), fork gives the child its parent's. */
static void test_exec_exit_fork_show_in_next_record(void **state)
{
	struct fixture *f = *state;
	struct st_fork k = { .child_tgid = 50 };
	struct st_exit x = { .status = 0 };
	struct st_hdr h, child;

	hdr(&h, ST_EV_OPEN, ST_SYS_OPENAT);
	assert_null(rec_get(open_by(f, &h, NULL), "image"));
	exec_by(f, &h, "/bin/a");
	assert_true(has_bytes(open_by(f, &h, NULL), "image", "/bin/a"));
	exec_by(f, &h, "/bin/b");
	assert_true(has_bytes(open_by(f, &h, NULL), "image", "/bin/b"));

	k.h = h, k.h.type = ST_EV_FORK, k.h.syscall = 0;
	build(f, sample(f, &k, sizeof(k), NULL, NULL, 0), NULL);
	child = h, child.tgid = child.tid = 50, child.ppid = 42;
	assert_true(has_bytes(open_by(f, &child, NULL), "image", "/bin/b"));
	exec_by(f, &child, "/bin/c");
	assert_true(has_bytes(open_by(f, &child, NULL), "image", "/bin/c"));
	assert_true(has_bytes(open_by(f, &h, NULL), "image", "/bin/b"));

	x.h = h, x.h.type = ST_EV_EXIT, x.h.syscall = 0;
	build(f, sample(f, &x, sizeof(x), NULL, NULL, 0), NULL);
	assert_null(rec_get(open_by(f, &h, NULL), "image"));
}

/* A secret added to the session, the session's setup manager named, or
 * another session (perhaps at the same address) shows in the next record. */
static void test_session_change_shows_in_next_record(void **state)
{
	struct fixture *f = *state;
	json_t *labels = json_object();
	struct session *s = session_new("hardened", "/sys/fs/cgroup/x", labels);
	struct st_hdr h;

	hdr(&h, ST_EV_OPEN, ST_SYS_OPENAT);
	exec_by(f, &h, "/opt/agent/run");
	assert_true(has_bytes(open_by(f, &h, s), "comm", "agent"));
	assert_null(rec_get(&f->obj, "setup"));
	assert_int_equal(session_add_secret(s, "A", "gen"), 0);
	assert_true(has_bytes(open_by(f, &h, s), "comm", "a[secret:A]t"));
	assert_true(has_bytes(&f->obj, "image", "/opt/a[secret:A]t/run"));
	s->setup_ppid = 1;
	assert_true(rec_flag(open_by(f, &h, s), "setup"));
	session_free(s);

	s = session_new("hardened", "/sys/fs/cgroup/y", labels);
	assert_true(has_bytes(open_by(f, &h, s), "comm", "agent"));
	assert_null(rec_get(&f->obj, "setup"));
	session_free(s);
	s = session_new("gvisor", "/sys/fs/cgroup/z", labels);
	assert_true(rec_is(open_by(f, &h, s), "view", "host"));
	assert_true(has_bytes(open_by(f, &h, NULL), "comm", "agent"));
	assert_null(rec_get(&f->obj, "view"));
	assert_null(rec_get(&f->obj, "session"));
	session_free(s);
	json_decref(labels);
}

/* More threads than the cache has room for, taking turns: each record has
 * its own thread's fields. */
static void test_many_threads_each_get_their_own_fields(void **state)
{
	struct fixture *f = *state;
	struct st_hdr h;

	hdr(&h, ST_EV_OPEN, ST_SYS_OPENAT);
	for (int round = 0; round < 3; round++) {
		for (uint32_t t = 1000; t < 1000 + 4 * ENRICH_CACHE; t++) {
			const msgpack_object *r;

			h.tid = t;
			h.uid = t * 3;
			r = open_by(f, &h, NULL);
			assert_int_equal(uint_of(r, "tid"), t);
			assert_int_equal(uint_of(r, "uid"), t * 3);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_record_prefers_resolved_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_open_is_resolved_from_its_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unresolvable_base_keeps_the_request_and_says_so, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_walk_is_flagged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_sets_image_of_later_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_are_redacted_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_record_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datagram_has_no_fd_nor_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_datagrams_count_and_untracked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_has_both_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_status_splits_code_and_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_uring_request_says_via_op_and_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_uring_setup_is_the_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_abis_say_which, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_rejects_lengths_past_the_sample, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cached_task_fields_are_the_bytes_encoded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_task_fields_are_not_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_change_shows_in_next_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_exit_fork_show_in_next_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_change_shows_in_next_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_threads_each_get_their_own_fields, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
