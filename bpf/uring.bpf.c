/* io_uring: the ring's creation and every request a session's task submits
 * that touches a file or a socket.  No syscall tracepoint sees a request;
 * the io_uring ones do.  At submission the request is prepared: its paths
 * are the kernel's own copies (no racing thread can change them), freed
 * before it completes, so the record is built whole there, but for its
 * result, and kept under the request's address until its completion.
 * Requests that stand for a syscall (open, rename, unlink, mkdir, symlink,
 * link, connect) become that syscall's record with ST_F_IO_URING; the
 * others an st_io_uring record, with the request's file walked at
 * completion. */
#include "common.bpf.h"
#include "egress.bpf.h"

#define ST_AT_FDCWD -100
#define ST_URING_PENDING 16384 /* requests of all sessions in flight */
#define ST_URING_PATHS   4096  /* of them, file operations (16 KiB each) */

/* Requests that touch no file or socket: not recorded. */
#define ST_URING_NO_FILE                                                                                     \
	(1ull << IORING_OP_NOP | 1ull << IORING_OP_POLL_REMOVE | 1ull << IORING_OP_TIMEOUT |                    \
	 1ull << IORING_OP_TIMEOUT_REMOVE | 1ull << IORING_OP_ASYNC_CANCEL | 1ull << IORING_OP_LINK_TIMEOUT |   \
	 1ull << IORING_OP_MADVISE | 1ull << IORING_OP_PROVIDE_BUFFERS | 1ull << IORING_OP_REMOVE_BUFFERS |     \
	 1ull << IORING_OP_WAITID | 1ull << IORING_OP_FUTEX_WAIT | 1ull << IORING_OP_FUTEX_WAKE |               \
	 1ull << IORING_OP_FUTEX_WAITV)

/* Room for a record built at submission: the largest (a link) has two
 * paths, two walks and no name. */
struct uring_ev {
	char b[sizeof(struct st_fileop) + 4 * ST_PATH_MAX + 64];
};

/* Records of path requests in flight, by request address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, ST_URING_PATHS);
	__type(key, __u64);
	__type(value, struct uring_ev);
} uring_paths SEC(".maps");

/* Other requests in flight: their file is walked at completion. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, ST_URING_PENDING);
	__type(key, __u64);
	__type(value, struct st_io_uring);
} uring_ops SEC(".maps");

/* Entries in both maps: completions of rings outside every session return
 * after one load while none is in flight. */
__u32 uring_inflight SEC(".bss");

PENDING_MAP(pend_uring_setup, struct st_io_uring);

static __always_inline __u32 uring_open(struct io_kiocb *req, char *buf, __u32 *strs)
{
	struct io_open *o = (struct io_open *)req;
	struct st_open *ev = (struct st_open *)buf;
	long dfd = BPF_CORE_READ(o, dfd);
	__u32 plen, blen;

	plen = copy_kernel_path(buf + sizeof(*ev), BPF_CORE_READ(o, filename, name), strs, 0);
	blen = walk_base_now(dfd, buf + sizeof(*ev), plen, sizeof(*ev) + plen, strs, 2);
	ev->ret = 0;
	ev->dirfd = dfd;
	ev->flags = BPF_CORE_READ(o, how.flags);
	ev->resolve = BPF_CORE_READ(o, how.resolve);
	ev->mode = BPF_CORE_READ(o, how.mode);
	ev->path_len = plen;
	ev->resolved_len = 0; /* the path is the base joined to the kernel's copy */
	ev->base_len = blen;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	return sizeof(*ev) + plen + blen;
}

static __always_inline __u32 uring_unlink(struct io_kiocb *req, char *buf, __u32 *strs)
{
	struct io_unlink *u = (struct io_unlink *)req;
	struct st_unlink *ev = (struct st_unlink *)buf;
	long dfd = BPF_CORE_READ(u, dfd);
	__u32 plen, blen;

	plen = copy_kernel_path(buf + sizeof(*ev), BPF_CORE_READ(u, filename, name), strs, 0);
	blen = walk_base_now(dfd, buf + sizeof(*ev), plen, sizeof(*ev) + plen, strs, 1);
	ev->ret = 0;
	ev->dirfd = dfd;
	ev->flags = BPF_CORE_READ(u, flags);
	ev->path_len = plen;
	ev->base_len = blen;
	return sizeof(*ev) + plen + blen;
}

static __always_inline __u32 uring_rename(struct io_kiocb *req, char *buf, __u32 *strs)
{
	struct io_rename *x = (struct io_rename *)req;
	struct st_rename *ev = (struct st_rename *)buf;
	long olddfd = BPF_CORE_READ(x, old_dfd), newdfd = BPF_CORE_READ(x, new_dfd);
	__u32 flen, tlen, fb, tb, off = sizeof(*ev);

	flen = copy_kernel_path(buf + off, BPF_CORE_READ(x, oldpath, name), strs, 0);
	tlen = copy_kernel_path(buf + off + flen, BPF_CORE_READ(x, newpath, name), strs, 1);
	fb = walk_base_now(olddfd, buf + off, flen, off + flen + tlen, strs, 2);
	tb = walk_base_now(newdfd, buf + off + flen, tlen, off + flen + tlen + fb, strs, 3);
	ev->ret = 0;
	ev->olddirfd = olddfd;
	ev->newdirfd = newdfd;
	ev->flags = BPF_CORE_READ(x, flags);
	ev->from_len = flen;
	ev->to_len = tlen;
	ev->from_base_len = fb;
	ev->to_base_len = tb;
	return off + flen + tlen + fb + tb;
}

/* mkdirat (path: the directory), symlinkat (path: the link, path2 its
 * target as given), linkat (path: the new name, path2 the existing file). */
static __always_inline __u32 uring_fileop(struct io_kiocb *req, __u8 op, char *buf, __u32 *strs)
{
	struct st_fileop *ev = (struct st_fileop *)buf;
	__u32 plen, p2len = 0, blen, b2len = 0, off = sizeof(*ev);
	const char *path, *path2 = NULL;
	long dfd, dfd2 = ST_AT_FDCWD;

	__builtin_memset(ev, 0, sizeof(*ev));
	if (op == IORING_OP_MKDIRAT) {
		struct io_mkdir *m = (struct io_mkdir *)req;

		dfd = BPF_CORE_READ(m, dfd);
		path = BPF_CORE_READ(m, filename, name);
		ev->mode = BPF_CORE_READ(m, mode);
	} else {
		struct io_link *l = (struct io_link *)req;

		dfd = BPF_CORE_READ(l, new_dfd);
		path = BPF_CORE_READ(l, newpath, name);
		path2 = BPF_CORE_READ(l, oldpath, name);
		dfd2 = BPF_CORE_READ(l, old_dfd);
		ev->flags = BPF_CORE_READ(l, flags);
	}
	plen = copy_kernel_path(buf + off, path, strs, 0);
	if (path2)
		p2len = copy_kernel_path(buf + off + plen, path2, strs, 1);
	blen = walk_base_now(dfd, buf + off, plen, off + plen + p2len, strs, 3);
	if (op == IORING_OP_LINKAT)
		b2len = walk_base_now(dfd2, buf + off + plen, p2len, off + plen + p2len + blen, strs, 4);
	ev->dirfd = dfd;
	ev->dirfd2 = dfd2;
	ev->path_len = plen;
	ev->path2_len = p2len;
	ev->base_len = blen;
	ev->base2_len = b2len;
	return off + plen + p2len + blen + b2len;
}

/* Whether the kernel's copy at src begins as the caller's sockaddr u
 * (family, port, and the address's first bytes). */
static __always_inline bool same_addr(const char *src, const __u64 *u)
{
	__u64 k[2] = {};

	return !bpf_probe_read_kernel(k, sizeof(k), src) && k[0] == u[0] && k[1] == u[1];
}

/* The destination as the kernel copied it from the request, before the
 * hook saw it: in the request's async data, a sockaddr_storage of its own
 * (kernels since the 2026 fix) or one inside struct io_async_msghdr
 * (before), told apart by the caller's copy.  A caller's copy that matches
 * neither (a thread changed it since) is what is recorded, as user memory. */
static __always_inline __u32 uring_connect(struct io_kiocb *req, char *buf)
{
	struct io_connect *c = (struct io_connect *)req;
	struct io_async_msghdr *io = BPF_CORE_READ(req, async_data);
	const char *user = (const char *)BPF_CORE_READ(c, addr), *src;
	struct st_connect *ev = (struct st_connect *)buf;
	long alen = BPF_CORE_READ(c, addr_len);
	struct sockaddr_in6 sa = {};
	__u64 u[2] = {};
	bool kernel = true;

	__builtin_memset(ev, 0, sizeof(*ev));
	ev->fd = BPF_CORE_READ(req, cqe.fd);
	if (!io || bpf_probe_read_user(u, sizeof(u), user))
		return sizeof(*ev);
	src = (const char *)io;
	if (!same_addr(src, u)) {
		src = (const char *)&io->addr;
		if (!same_addr(src, u)) {
			src = user;
			kernel = false;
		}
	}
	if (kernel ? bpf_probe_read_kernel(&sa, sizeof(sa), src) : bpf_probe_read_user(&sa, sizeof(sa), src))
		return sizeof(*ev);
	ev->family = sa.sin6_family;
	ev->source = kernel ? ST_ADDR_REQUEST : ST_ADDR_USER;
	if (sa.sin6_family == ST_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&sa;

		ev->port = bpf_ntohs(sin->sin_port);
		__builtin_memcpy(ev->addr, &sin->sin_addr, 4);
	} else if (sa.sin6_family == ST_AF_INET6) {
		ev->port = bpf_ntohs(sa.sin6_port);
		__builtin_memcpy(ev->addr, &sa.sin6_addr, 16);
	} else if (sa.sin6_family == ST_AF_UNIX) {
		ev->path_len = read_sun_path(buf + sizeof(*ev), src + ST_SUN_PATH, alen - ST_SUN_PATH, !kernel);
	}
	return sizeof(*ev) + ev->path_len;
}

/* What the connect hook decided for the destination of ev: a denied one
 * it recorded itself (fd -1), as for every attempt no syscall reports. */
static __always_inline __u8 connect_verdict(const struct st_connect *ev, __u64 session)
{
	__u32 addr[4];
	char first = ev->path_len ? *((const char *)ev + sizeof(*ev)) : 1;

	__builtin_memcpy(addr, ev->addr, sizeof(addr));
	if (ev->family == ST_AF_INET)
		return egress_verdict(session, ST_AF_INET, addr, bpf_htons(ev->port));
	if (ev->family == ST_AF_INET6)
		return inet6_verdict(session, addr, bpf_htons(ev->port));
	if (ev->family == ST_AF_UNIX)
		return unix_verdict(session, first);
	return ST_VERDICT_ALLOW;
}

static __always_inline void inflight_add(void *map, __u64 key, void *val, __u64 session, __u32 type)
{
	if (bpf_map_update_elem(map, &key, val, BPF_ANY))
		count_loss(session, type, ST_LOSS_PENDING);
	else
		__sync_fetch_and_add(&uring_inflight, 1);
}

static __noinline int uring_submit(struct io_kiocb *req, __u64 session)
{
	__u8 op = BPF_CORE_READ(req, opcode);
	__u32 strs = 0, size, type, sys;
	struct st_hdr *h;
	char *buf;

	if (op >= 64 || (ST_URING_NO_FILE & (1ull << op)))
		return 0;
	buf = scratch_buf();
	if (!buf)
		return 0;
	h = (struct st_hdr *)buf;
	switch (op) {
	case IORING_OP_OPENAT:
	case IORING_OP_OPENAT2:
		type = ST_EV_OPEN;
		sys = op == IORING_OP_OPENAT ? ST_SYS_OPENAT : ST_SYS_OPENAT2;
		size = uring_open(req, buf, &strs);
		break;
	case IORING_OP_UNLINKAT:
		type = ST_EV_UNLINK;
		sys = ST_SYS_UNLINKAT;
		size = uring_unlink(req, buf, &strs);
		break;
	case IORING_OP_RENAMEAT:
		type = ST_EV_RENAME;
		sys = ST_SYS_RENAMEAT2;
		size = uring_rename(req, buf, &strs);
		break;
	case IORING_OP_MKDIRAT:
		type = ST_EV_MKDIR;
		sys = ST_SYS_MKDIRAT;
		size = uring_fileop(req, op, buf, &strs);
		break;
	case IORING_OP_SYMLINKAT:
		type = ST_EV_SYMLINK;
		sys = ST_SYS_SYMLINKAT;
		size = uring_fileop(req, op, buf, &strs);
		break;
	case IORING_OP_LINKAT:
		type = ST_EV_LINK;
		sys = ST_SYS_LINKAT;
		size = uring_fileop(req, op, buf, &strs);
		break;
	case IORING_OP_CONNECT:
		type = ST_EV_CONNECT;
		sys = ST_SYS_CONNECT;
		size = uring_connect(req, buf);
		break;
	default: {
		struct st_io_uring *ev = (struct st_io_uring *)buf;

		__builtin_memset(ev, 0, sizeof(*ev));
		fill_hdr(&ev->h, ST_EV_IO_URING, session);
		ev->h.flags = ST_F_IO_URING;
		ev->opcode = op;
		ev->fd = BPF_CORE_READ(req, cqe.fd);
		ev->fixed = BPF_CORE_READ(req, flags) & (1ull << REQ_F_FIXED_FILE_BIT) ? 1 : 0;
		inflight_add(&uring_ops, (__u64)req, ev, session, ST_EV_IO_URING);
		return 0;
	}
	}
	/* the fixed part is written: the header goes over it last */
	fill_hdr(h, type, session);
	h->flags = ST_F_IO_URING;
	h->syscall = sys;
	h->strs = strs;
	h->size = size;
	if (size > sizeof(struct uring_ev)) {
		count_loss(session, type, ST_LOSS_PENDING);
		return 0;
	}
	inflight_add(&uring_paths, (__u64)req, buf, session, type);
	return 0;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(uring_submit_req, struct io_kiocb *req)
{
	__u64 session = current_session();

	return session ? uring_submit(req, session) : 0;
}

/* A request refused at submission (a bad argument, a path it could not
 * copy) never reaches submit_req: recorded here, its opcode as the sqe
 * says (a kernel refusal like any other). */
static __noinline int uring_refused(const struct io_uring_sqe *sqe, __u64 session, int error)
{
	struct st_io_uring ev = {};

	fill_hdr(&ev.h, ST_EV_IO_URING, session);
	ev.h.flags = ST_F_IO_URING;
	ev.opcode = BPF_CORE_READ(sqe, opcode);
	ev.fd = BPF_CORE_READ(sqe, fd);
	ev.fixed = BPF_CORE_READ(sqe, flags) & (1 << IOSQE_FIXED_FILE_BIT) ? 1 : 0;
	ev.ret = error;
	emit(&ev.h, sizeof(ev));
	return 0;
}

SEC("tp_btf/io_uring_req_failed")
int BPF_PROG(uring_req_failed, const struct io_uring_sqe *sqe, struct io_kiocb *req, int error)
{
	__u64 session = current_session();

	return session ? uring_refused(sqe, session, error) : 0;
}

static __always_inline void inflight_del(void *map, __u64 key)
{
	if (!bpf_map_delete_elem(map, &key))
		__sync_fetch_and_add(&uring_inflight, -1); /* no atomic sub before -mcpu=v3 */
}

/* A successful open into the task's table (not a fixed file's slot): with
 * the file the new fd leads to (the ring's task and its workers share the
 * table), as a syscall's open record has it, in place of where the path
 * was resolved from. */
static __always_inline void open_done(struct uring_ev *pe, __u32 size, struct io_open *req, __s32 fd)
{
	struct st_open *ev = (struct st_open *)pe->b, *out;
	__u32 plen = ev->path_len, strs = ev->h.strs & ~(ST_STR(2, 0xf)), rlen;
	struct file *file = BPF_CORE_READ(req, file_slot) ? NULL : fd_file(fd);
	char *buf = scratch_buf();

	if (!buf || !file || plen > ST_PATH_MAX || bpf_probe_read_kernel(buf, sizeof(*ev) + plen, ev)) {
		emit(&ev->h, size);
		return;
	}
	out = (struct st_open *)buf;
	rlen = walk_path((__u64)BPF_CORE_READ(file, f_path.dentry), (__u64)BPF_CORE_READ(file, f_path.mnt),
			 sizeof(*ev) + plen, &strs, 1) & (2 * ST_PATH_MAX - 1);
	out->resolved_len = rlen;
	out->base_len = 0;
	out->h.strs = strs;
	emit(&out->h, sizeof(*ev) + plen + rlen);
}

static __noinline int uring_done(__u64 key, __s32 res)
{
	struct uring_ev *pe = bpf_map_lookup_elem(&uring_paths, &key);
	struct st_io_uring *po, *ev;
	struct file *file;
	__u32 strs = 0, flen = 0;
	char *buf;

	if (pe) {
		struct st_hdr *h = (struct st_hdr *)pe->b;
		__u32 size = h->size;

		/* every record type has its result first after the header */
		*(__s32 *)(pe->b + sizeof(*h)) = res;
		if (size <= sizeof(*pe) && still_watched(h->session_cgid)) {
			if (h->type == ST_EV_OPEN && res >= 0)
				open_done(pe, size, (struct io_open *)key, res);
			else if (h->type != ST_EV_CONNECT)
				emit(h, size);
			else if ((((struct st_connect *)h)->verdict = connect_verdict((struct st_connect *)h,
										  h->session_cgid)) == ST_VERDICT_ALLOW)
				emit(h, size);
		}
		inflight_del(&uring_paths, key);
		return 0;
	}
	po = bpf_map_lookup_elem(&uring_ops, &key);
	if (!po)
		return 0;
	buf = scratch_buf();
	if (buf && still_watched(po->h.session_cgid)) {
		ev = (struct st_io_uring *)buf;
		__builtin_memcpy(ev, po, sizeof(*ev));
		file = BPF_CORE_READ((struct io_kiocb *)key, file);
		if (file)
			flen = walk_path((__u64)BPF_CORE_READ(file, f_path.dentry), (__u64)BPF_CORE_READ(file, f_path.mnt),
					 sizeof(*ev), &strs, 0);
		flen &= 2 * ST_PATH_MAX - 1;
		ev->ret = res;
		ev->file_len = flen;
		ev->h.strs = strs;
		emit(&ev->h, sizeof(*ev) + flen);
	}
	inflight_del(&uring_ops, key);
	return 0;
}

/* In the context of the ring's task or one of its io-wq workers; the
 * request's record says whose it is. */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(uring_complete, struct io_ring_ctx *ring, void *req, struct io_uring_cqe *cqe)
{
	if (!*(volatile __u32 *)&uring_inflight || !req)
		return 0;
	return uring_done((__u64)req, BPF_CORE_READ(cqe, res));
}

static __noinline int setup_enter(struct trace_event_raw_sys_enter *ctx, __u64 session, __u32 sys)
{
	struct st_io_uring ev = {};
	__u32 flags = 0;

	ev.fd = -1;
	ev.entries = sys_arg(ctx, 0);
	/* a bad pointer fails the call: recorded with no flags */
	bpf_probe_read_user(&flags, sizeof(flags),
			    (const char *)sys_arg(ctx, 1) + bpf_core_field_offset(struct io_uring_params, flags));
	ev.setup_flags = flags;
	pend(&pend_uring_setup, &ev.h, session, sys, ST_EV_IO_URING);
	return 0;
}

static __noinline int setup_exit(long ret, __u32 tid)
{
	struct st_io_uring *ev = bpf_map_lookup_elem(&pend_uring_setup, &tid);

	if (!ev)
		return 0;
	if (still_watched(ev->h.session_cgid)) {
		ev->ret = ret;
		finish_hdr(&ev->h, ST_EV_IO_URING);
		emit(&ev->h, sizeof(*ev));
	}
	bpf_map_delete_elem(&pend_uring_setup, &tid);
	return 0;
}

ST_SYSCALL_ENTER(io_uring_setup, setup_enter, ST_SYS_IO_URING_SETUP)
ST_SYSCALL_EXIT(io_uring_setup, setup_exit)
