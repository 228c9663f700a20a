#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "cgroup2.h"
#include "control.h"
#include "gvisor_sink.h"
#include "gvisor_wire.h"

#define BATCH     256     /* datagrams read from one Sentry per wakeup */
#define DRAIN_MAX 100000  /* read at a session's end, then the door */
#define NTYPES    26      /* message types, for loss counts (0: unknown) */
#define BUF_SIZE  (GVISOR_HDR_SIZE + GVISOR_MSG_MAX)

/* x86-64 syscall numbers of the Sentry's points (the only ABI built here). */
enum {
	NR_OPEN = 2, NR_CONNECT = 42, NR_ACCEPT = 43, NR_BIND = 49, NR_LISTEN = 50, NR_EXECVE = 59, NR_RENAME = 82, NR_RMDIR = 84, NR_CREAT = 85,
	NR_UNLINK = 87, NR_OPENAT = 257, NR_UNLINKAT = 263, NR_RENAMEAT = 264, NR_RENAMEAT2 = 316,
	NR_EXECVEAT = 322, NR_ACCEPT4 = 288,
};

enum { LOSS_DROPPED, LOSS_MALFORMED, LOSS_OVERSIZED, LOSS_N };
static const char *const loss_reasons[LOSS_N] = { "sentry_dropped", "malformed", "oversized" };

struct gvisor_conn {
	int fd;
	struct session *s;
	bool handshaken;
	uint32_t dropped_last;                   /* the Sentry's own counter, as last seen */
	uint64_t lost[NTYPES][LOSS_N], seen[NTYPES][LOSS_N];
	struct proctable procs;                  /* the sandbox's pids, not the host's */
	struct gvisor_conn *next;
};

struct gvisor_sink {
	struct gvisor_sink_config cfg;
	char path_copy[4200], root_copy[4200];
	int epfd, lfd;
	struct gvisor_arena arena;
	uint8_t *buf;
	uint8_t path[ST_PATH_MAX + 1];           /* a joined path of one record */
	bool built;                              /* the message became a record */
	struct gvisor_conn *conns;
};

/* The file changes gVisor has no point for either: their raw syscalls.  The
 * numbers among the arguments (fd, dirfd, mode, owner, length, flags) are
 * read from the registers, the paths are pointers into the sandbox
 * (unreadable here: the host view has the gofer's).  Argument numbers are
 * 1-based, 0: none.  sandbox/gvisor.c asks for these points. */
static const struct fileop_call {
	uint16_t nr;
	const char *name;
	uint8_t type; /* ST_EV_* */
	uint8_t fd, dirfd, mode, owner, length, flags, times;
} fileop_calls[] = {
	{ 76, "truncate", ST_EV_TRUNCATE, .length = 2 },
	{ 77, "ftruncate", ST_EV_TRUNCATE, .fd = 1, .length = 2 },
	{ 83, "mkdir", ST_EV_MKDIR, .mode = 2 },
	{ 258, "mkdirat", ST_EV_MKDIR, .dirfd = 1, .mode = 3 },
	{ 133, "mknod", ST_EV_MKNOD, .mode = 2 },
	{ 259, "mknodat", ST_EV_MKNOD, .dirfd = 1, .mode = 3 },
	{ 88, "symlink", ST_EV_SYMLINK, .fd = 0 },
	{ 266, "symlinkat", ST_EV_SYMLINK, .dirfd = 2 },
	{ 86, "link", ST_EV_LINK, .fd = 0 },
	{ 265, "linkat", ST_EV_LINK, .dirfd = 3, .flags = 5 },
	{ 90, "chmod", ST_EV_CHMOD, .mode = 2 },
	{ 91, "fchmod", ST_EV_CHMOD, .fd = 1, .mode = 2 },
	{ 268, "fchmodat", ST_EV_CHMOD, .dirfd = 1, .mode = 3 },
	{ 92, "chown", ST_EV_CHOWN, .owner = 2 },
	{ 93, "fchown", ST_EV_CHOWN, .fd = 1, .owner = 2 },
	{ 94, "lchown", ST_EV_CHOWN, .owner = 2 },
	{ 260, "fchownat", ST_EV_CHOWN, .dirfd = 1, .owner = 3, .flags = 5 },
	{ 132, "utime", ST_EV_UTIMES, .times = 2 },
	{ 235, "utimes", ST_EV_UTIMES, .times = 2 },
	{ 261, "futimesat", ST_EV_UTIMES, .dirfd = 1, .times = 3 },
	/* a NULL path: futimens on the dirfd */
	{ 280, "utimensat", ST_EV_UTIMES, .dirfd = 1, .times = 3, .flags = 4 },
};

static const struct fileop_call *fileop_call(uint64_t nr)
{
	for (size_t i = 0; i < sizeof(fileop_calls) / sizeof(fileop_calls[0]); i++)
		if (fileop_calls[i].nr == nr)
			return &fileop_calls[i];
	return NULL;
}

static const char *syscall_name(uint64_t nr)
{
	const struct fileop_call *f = fileop_call(nr);

	if (f)
		return f->name;
	switch (nr) {
	case NR_OPEN: return "open";
	case NR_OPENAT: return "openat";
	case NR_CREAT: return "creat";
	case NR_CONNECT: return "connect";
	case NR_ACCEPT: return "accept";
	case NR_ACCEPT4: return "accept4";
	case NR_BIND: return "bind";
	case NR_LISTEN: return "listen";
	case NR_EXECVE: return "execve";
	case NR_EXECVEAT: return "execveat";
	case NR_RENAME: return "rename";
	case NR_RENAMEAT: return "renameat";
	case NR_RENAMEAT2: return "renameat2";
	case NR_UNLINK: return "unlink";
	case NR_UNLINKAT: return "unlinkat";
	case NR_RMDIR: return "rmdir";
	}
	return NULL;
}

/* ---- from messages to records ---- */

/* A byte string of the Sentry's, cut to ST_PATH_MAX. */
static struct enrich_str str_of(ProtobufCBinaryData b)
{
	return (struct enrich_str){ .p = b.len ? b.data : (const uint8_t *)"", .len = b.len > ST_PATH_MAX ? ST_PATH_MAX : b.len,
				    .truncated = b.len > ST_PATH_MAX };
}

static const struct enrich_str unreadable = { .p = (const uint8_t *)"", .unreadable = true };

/* The syscall's return value, as the kernel's events have it; false when
 * the Sentry's Exit cannot be one. */
static bool ret_of(const Sandtrail__Gvisor__Exit *x, int32_t *ret)
{
	if (!x)
		return false;
	if (x->errorno) {
		if (x->errorno < 0 || x->errorno >= 4096)
			return false;
		*ret = (int32_t)-x->errorno;
		return true;
	}
	if (x->result < INT32_MIN || x->result > INT32_MAX)
		return false;
	*ret = (int32_t)x->result;
	return true;
}

/* The process fields from a message's context; false when it has none, or
 * names another container than its session's. */
static bool proc_of(struct gvisor_conn *c, const GvisorContext *ctx, uint64_t sysno, struct enrich_proc *p)
{
	const struct session *s = c->s;
	const struct proc *pr;

	if (!ctx || ctx->container_id.len != strlen(s->gvisor_container) ||
	    memcmp(ctx->container_id.data, s->gvisor_container, ctx->container_id.len) ||
	    ctx->thread_id <= 0 || ctx->thread_group_id <= 0)
		return false;
	pr = proctable_get(&c->procs, (uint32_t)ctx->thread_group_id);
	*p = (struct enrich_proc){
		.pid = (uint32_t)ctx->thread_group_id, .tid = (uint32_t)ctx->thread_id, .ppid = pr ? pr->ppid : 0,
		.uid = ctx->credentials ? ctx->credentials->real_uid : 0,
		.gid = ctx->credentials ? ctx->credentials->real_gid : 0,
		.comm = ctx->process_name.data,
		.comm_len = ctx->process_name.len < ST_COMM_LEN ? ctx->process_name.len : ST_COMM_LEN - 1,
		.syscall = syscall_name(sysno), .image = pr, .view = ENRICH_VIEW_SANDBOX,
	};
	return true;
}

/* rel joined to the absolute dir it is relative to, into out; rel as it is
 * when it is absolute or dir is not a path. */
static struct enrich_str join(uint8_t *out, ProtobufCBinaryData dir, const struct enrich_str *rel)
{
	struct enrich_str j = { .p = out };
	size_t d = dir.len;

	if ((rel->len && rel->p[0] == '/') || !d || dir.data[0] != '/')
		return *rel;
	if (dir.data[d - 1] == '/')
		d--;
	if (d + 1 + rel->len > ST_PATH_MAX) {
		/* keep the leaf side, as the kernel's path walks do */
		j.truncated = true;
		if (rel->len >= ST_PATH_MAX)
			return *rel;
		d = ST_PATH_MAX - 1 - rel->len;
	}
	memcpy(out, dir.data, d);
	out[d] = '/';
	memcpy(out + d + 1, rel->p, rel->len);
	j.len = d + 1 + rel->len;
	j.truncated |= rel->truncated;
	return j;
}

static void begin(struct gvisor_sink *g, struct gvisor_conn *c, const char *type, const struct enrich_proc *p)
{
	g->built = true;
	enrich_begin(g->cfg.rec, type, clock_ns(CLOCK_REALTIME), c->s);
	enrich_process(g->cfg.enrich, g->cfg.rec, c->s, p);
}

/* argv within the kernel events' bounds: ST_ARGS_MAX arguments, ST_ARGV_MAX
 * bytes with a NUL after each. */
static void argv_of(struct enrich_exec *x, struct enrich_str *args, ProtobufCBinaryData *argv, size_t n)
{
	size_t total = 0;

	x->argv = args;
	x->argv_truncated = n > ST_ARGS_MAX;
	for (size_t i = 0; i < n && i < ST_ARGS_MAX && total < ST_ARGV_MAX; i++) {
		size_t len = argv[i].len;

		if (total + len + 1 > ST_ARGV_MAX) {
			len = ST_ARGV_MAX - total - 1;
			x->argv_truncated = true;
		}
		args[x->argc++] = (struct enrich_str){ .p = argv[i].data, .len = len };
		total += len + 1;
	}
}

static void write_exec(struct gvisor_sink *g, struct gvisor_conn *c, const struct enrich_proc *p,
		       const struct enrich_exec *x)
{
	begin(g, c, "exec", p);
	enrich_exec(g->cfg.enrich, g->cfg.rec, c->s, x);
	if (x->ret == 0)
		proctable_set(&c->procs, p->pid, x->filename.p, x->filename.len);
}

static bool map_exec(struct gvisor_sink *g, struct gvisor_conn *c, const Sandtrail__Gvisor__Execve *m)
{
	struct enrich_str args[ST_ARGS_MAX];
	struct enrich_exec x = { .filename = str_of(m->pathname) };
	struct enrich_proc p;

	if (!proc_of(c, m->context_data, m->sysno, &p) || !ret_of(m->exit, &x.ret) ||
	    (m->sysno != NR_EXECVE && m->sysno != NR_EXECVEAT))
		return false;
	argv_of(&x, args, m->argv, m->n_argv);
	write_exec(g, c, &p, &x);
	return true;
}

/* The container's first process: gVisor sends no exec point for it, the
 * start point stands for it (as runsc ran it: argv[0] as the filename). */
static bool map_start(struct gvisor_sink *g, struct gvisor_conn *c, const Sandtrail__Gvisor__ContainerStart *m)
{
	struct enrich_str args[ST_ARGS_MAX];
	struct enrich_exec x = { 0 };
	struct enrich_proc p;

	if (!proc_of(c, m->context_data, NR_EXECVE, &p) || m->id.len != strlen(c->s->gvisor_container) ||
	    memcmp(m->id.data, c->s->gvisor_container, m->id.len) || !m->n_args)
		return false;
	x.filename = str_of(m->args[0]);
	argv_of(&x, args, m->args, m->n_args);
	write_exec(g, c, &p, &x);
	return true;
}

static bool map_open(struct gvisor_sink *g, struct gvisor_conn *c, const Sandtrail__Gvisor__Open *m)
{
	struct enrich_open o = { .requested = str_of(m->pathname), .flags = m->flags, .mode = m->mode };
	struct enrich_proc p;

	if (!proc_of(c, m->context_data, m->sysno, &p) || !ret_of(m->exit, &o.ret) ||
	    (m->sysno != NR_OPEN && m->sysno != NR_OPENAT && m->sysno != NR_CREAT) || m->fd < -100 ||
	    m->fd > INT32_MAX)
		return false;
	o.dirfd = (int32_t)m->fd;
	/* the Sentry names the directory, not the file it opened: the path is
	 * the requested one joined to it, as written, not resolved */
	o.path = join(g->path, m->fd == AT_FDCWD ? m->context_data->cwd : m->fd_path, &o.requested);
	begin(g, c, "open", &p);
	enrich_open(g->cfg.enrich, g->cfg.rec, c->s, &o);
	return true;
}

/* A sockaddr of the sandbox's (family in host order): family, port (host
 * order), addr (network order) or the unix name. */
static void sockaddr_of(ProtobufCBinaryData b, uint16_t *family, uint16_t *port, uint8_t addr[16],
			struct enrich_str *unix_path)
{
	const uint8_t *a = b.data;
	size_t len = b.len;

	*family = len >= 2 ? (uint16_t)(a[0] | a[1] << 8) : AF_UNSPEC;
	if (*family == AF_INET && len >= 8) {
		*port = (uint16_t)(a[2] << 8 | a[3]);
		memcpy(addr, a + 4, 4);
	} else if (*family == AF_INET6 && len >= 24) {
		*port = (uint16_t)(a[2] << 8 | a[3]);
		memcpy(addr, a + 8, 16);
	} else if (*family == AF_UNIX) {
		size_t n = len - 2;

		/* a pathname ends at its NUL; an abstract name starts with one */
		if (n && a[2] != 0)
			n = strnlen((const char *)a + 2, n);
		*unix_path = (struct enrich_str){ .p = a + 2, .len = n > ST_UNIX_PATH_MAX ? ST_UNIX_PATH_MAX : n,
						  .truncated = n > ST_UNIX_PATH_MAX };
	} else if (*family == AF_INET || *family == AF_INET6) {
		*family = AF_UNSPEC; /* too short to hold an address: the Sentry refused it */
	}
}

static bool map_connect(struct gvisor_sink *g, struct gvisor_conn *c, const Sandtrail__Gvisor__Connect *m)
{
	struct enrich_connect k = { .source = "sentry" };
	const struct netpolicy *np = c->s->netpolicy;
	struct enrich_proc p;

	if (!proc_of(c, m->context_data, m->sysno, &p) || !ret_of(m->exit, &k.ret) || m->sysno != NR_CONNECT ||
	    m->fd < INT32_MIN || m->fd > INT32_MAX)
		return false;
	k.fd = (int32_t)m->fd;
	/* the sockaddr as the sandbox passed it */
	sockaddr_of(m->address, &k.family, &k.port, k.addr, &k.unix_path);
	/* the same rule the kernel's hooks apply to the Sentry's own sockets */
	k.deny = np && np->enforce && (k.family == AF_INET || k.family == AF_INET6) &&
		 !netpolicy_allows(np, k.family, k.addr, k.port);
	begin(g, c, "connect", &p);
	enrich_connect(g->cfg.enrich, g->cfg.rec, c->s, &k);
	return true;
}

/* bind: the address as the sandbox asked for it (a port 0 stays 0: the
 * Sentry's choice is not in the point) */
static bool map_bind(struct gvisor_sink *g, struct gvisor_conn *c, const Sandtrail__Gvisor__Bind *m)
{
	struct enrich_sock k = { .type = ST_EV_BIND, .source = "sentry", .fd = m->fd };
	struct enrich_proc p;

	if (!proc_of(c, m->context_data, m->sysno, &p) || !ret_of(m->exit, &k.ret) || m->sysno != NR_BIND)
		return false;
	sockaddr_of(m->address, &k.family, &k.port, k.addr, &k.unix_path);
	begin(g, c, "bind", &p);
	enrich_sock(g->cfg.enrich, g->cfg.rec, c->s, &k);
	return true;
}

/* accept: the peer, as the Sentry wrote it back to the sandbox (none when
 * the sandbox passed no buffer); the listening socket's own address is not
 * in the point */
static bool map_accept(struct gvisor_sink *g, struct gvisor_conn *c, const Sandtrail__Gvisor__Accept *m)
{
	struct enrich_sock k = { .type = ST_EV_ACCEPT, .source = "sentry", .fd = m->fd, .own_unknown = true };
	struct enrich_str unix_peer = { 0 };
	struct enrich_proc p;

	if (!proc_of(c, m->context_data, m->sysno, &p) || !ret_of(m->exit, &k.ret) ||
	    (m->sysno != NR_ACCEPT && m->sysno != NR_ACCEPT4))
		return false;
	if (k.ret < 0)
		return true; /* accepted nothing (EAGAIN...): no record, as in hardened mode */
	sockaddr_of(m->address, &k.family, &k.peer_port, k.peer, &unix_peer);
	begin(g, c, "accept", &p);
	enrich_sock(g->cfg.enrich, g->cfg.rec, c->s, &k);
	return true;
}

static uint64_t raw_arg(const Sandtrail__Gvisor__Syscall *m, unsigned i)
{
	const uint64_t a[] = { 0, m->arg1, m->arg2, m->arg3, m->arg4, m->arg5, m->arg6 };

	return i < sizeof(a) / sizeof(a[0]) ? a[i] : 0;
}

static bool map_fileop(struct gvisor_sink *g, struct gvisor_conn *c, const Sandtrail__Gvisor__Syscall *m,
		       const struct enrich_proc *p, int32_t ret)
{
	const struct fileop_call *k = fileop_call(m->sysno);
	struct enrich_fileop f = { .path = unreadable, .requested = unreadable, .fd = -1, .dirfd = AT_FDCWD,
				   .owner = (uint32_t)-1, .group = (uint32_t)-1, .ret = ret };

	if (!k)
		return false;
	f.type = k->type;
	if (k->dirfd)
		f.dirfd = (int32_t)raw_arg(m, k->dirfd);
	/* an fd of its own, or utimensat's NULL path: the call acts on the fd */
	if (k->fd || (k->nr == 280 && !raw_arg(m, 2))) {
		f.requested = (struct enrich_str){ 0 };
		f.fd = (int32_t)raw_arg(m, k->fd ? k->fd : 1);
	}
	if (k->type == ST_EV_SYMLINK || k->type == ST_EV_LINK)
		f.other = unreadable;
	if (k->type == ST_EV_LINK)
		f.other_requested = unreadable, f.other_dirfd = k->dirfd ? (int32_t)raw_arg(m, 1) : AT_FDCWD;
	if (k->mode)
		f.mode = (uint32_t)raw_arg(m, k->mode);
	if (k->owner)
		f.owner = (uint32_t)raw_arg(m, k->owner), f.group = (uint32_t)raw_arg(m, k->owner + 1);
	if (k->length)
		f.length = (int64_t)raw_arg(m, k->length);
	if (k->flags)
		f.flags = (uint32_t)raw_arg(m, k->flags);
	/* NULL times: both now; else the times are in the sandbox's memory */
	if (k->times && !raw_arg(m, k->times))
		f.atime_ns = f.mtime_ns = UTIME_NOW;
	else
		f.args_unreadable = k->times != 0;
	begin(g, c, event_type_name(k->type), p);
	enrich_fileop(g->cfg.enrich, g->cfg.rec, c->s, &f);
	return true;
}

/* rename, unlink, the file changes and listen: gVisor has no point of their
 * own, only the raw syscall with its arguments as pointers into the sandbox:
 * the paths are unreadable here (the host view has them where they reached
 * a host file system); listen's fd and backlog are numbers. */
static bool map_raw(struct gvisor_sink *g, struct gvisor_conn *c, const Sandtrail__Gvisor__Syscall *m)
{
	struct enrich_proc p;
	int32_t ret;

	if (!proc_of(c, m->context_data, m->sysno, &p))
		return false;
	if (!m->exit)
		return syscall_name(m->sysno) != NULL; /* the entry: asked for only for its context */
	if (!ret_of(m->exit, &ret))
		return false;
	switch (m->sysno) {
	case NR_RENAME:
	case NR_RENAMEAT:
	case NR_RENAMEAT2:
		begin(g, c, "rename", &p);
		enrich_rename(g->cfg.enrich, g->cfg.rec, c->s, &(struct enrich_rename){
			.from = unreadable, .to = unreadable, .ret = ret,
			.flags = m->sysno == NR_RENAMEAT2 ? (uint32_t)m->arg5 : 0 });
		return true;
	case NR_UNLINK:
	case NR_UNLINKAT:
	case NR_RMDIR:
		begin(g, c, "unlink", &p);
		enrich_unlink(g->cfg.enrich, g->cfg.rec, c->s, &(struct enrich_unlink){
			.path = unreadable, .ret = ret, .dirfd = m->sysno == NR_UNLINKAT ? (int32_t)m->arg1 : AT_FDCWD,
			.dir = m->sysno == NR_RMDIR || (m->sysno == NR_UNLINKAT && (m->arg3 & AT_REMOVEDIR)) });
		return true;
	case NR_LISTEN:
		/* no point of its own: the fd and backlog, not the address */
		begin(g, c, "listen", &p);
		enrich_sock(g->cfg.enrich, g->cfg.rec, c->s, &(struct enrich_sock){
			.type = ST_EV_LISTEN, .source = "sentry", .own_unknown = true, .fd = (int32_t)m->arg1,
			.backlog = (int32_t)m->arg2, .ret = ret });
		return true;
	}
	return map_fileop(g, c, m, &p, ret);
}

static bool map_clone(struct gvisor_sink *g, struct gvisor_conn *c, const Sandtrail__Gvisor__CloneInfo *m)
{
	struct enrich_proc p;

	if (!proc_of(c, m->context_data, 0, &p) || m->created_thread_id <= 0 || m->created_thread_group_id <= 0)
		return false;
	if (m->created_thread_id != m->created_thread_group_id)
		return true; /* a thread: the kernel's events have no record for it either */
	begin(g, c, "fork", &p);
	enrich_fork(g->cfg.rec, (uint32_t)m->created_thread_group_id);
	proctable_fork(&c->procs, p.pid, (uint32_t)m->created_thread_group_id);
	return true;
}

static bool map_exit(struct gvisor_sink *g, struct gvisor_conn *c, const GvisorContext *ctx, int32_t status)
{
	struct enrich_proc p;

	if (!proc_of(c, ctx, 0, &p))
		return false;
	begin(g, c, "exit", &p);
	enrich_exit(g->cfg.rec, status);
	proctable_del(&c->procs, p.pid);
	return true;
}

/* One decoded message: true when it became a record or needed none. */
static bool map(struct gvisor_sink *g, struct gvisor_conn *c, const struct gvisor_msg *m)
{
	switch (m->type) {
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_CONTAINER_START: return map_start(g, c, m->u.start);
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_EXECVE: return map_exec(g, c, m->u.execve);
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_OPEN: return map_open(g, c, m->u.open);
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_CONNECT: return map_connect(g, c, m->u.connect);
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_BIND: return map_bind(g, c, m->u.bind);
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_ACCEPT: return map_accept(g, c, m->u.accept);
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_RAW: return map_raw(g, c, m->u.raw);
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SENTRY_CLONE: return map_clone(g, c, m->u.clone);
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SENTRY_EXIT_NOTIFY_PARENT:
		return map_exit(g, c, m->u.exit_notify->context_data, m->u.exit_notify->exit_status);
	case SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SENTRY_TASK_EXIT: {
		const GvisorContext *ctx = m->u.task_exit->context_data;

		/* the sandbox's init gets no exit_notify_parent: its leader's exit stands for it */
		if (ctx && ctx->thread_id == 1 && ctx->thread_group_id == 1)
			return map_exit(g, c, ctx, m->u.task_exit->exit_status);
		return ctx != NULL;
	}
	}
	return false;
}

/* ---- connections ---- */

static void count(struct gvisor_conn *c, uint16_t type, int reason, uint64_t n)
{
	c->lost[type < NTYPES ? type : 0][reason] += n;
}

static void report(struct gvisor_sink *g, struct gvisor_conn *c)
{
	for (int t = 0; t < NTYPES; t++) {
		for (int r = 0; r < LOSS_N; r++) {
			if (c->lost[t][r] == c->seen[t][r])
				continue;
			enrich_loss(g->cfg.rec, c->s, clock_ns(CLOCK_REALTIME), gvisor_wire_kind((uint16_t)t),
				    loss_reasons[r], c->lost[t][r] - c->seen[t][r]);
			g->cfg.write(g->cfg.ctx);
			c->seen[t][r] = c->lost[t][r];
		}
	}
}

static void handle(struct gvisor_sink *g, struct gvisor_conn *c, size_t len)
{
	struct gvisor_msg m;
	uint16_t type = 0;
	uint32_t dropped;
	int rc;

	if (gvisor_wire_header(g->buf, len < BUF_SIZE ? len : BUF_SIZE, &type, &dropped) == 0) {
		/* the Sentry's counter wraps at 2^32 */
		count(c, 0, LOSS_DROPPED, (uint32_t)(dropped - c->dropped_last));
		c->dropped_last = dropped;
	}
	if (len > BUF_SIZE) {
		count(c, type, LOSS_OVERSIZED, 1);
		return;
	}
	rc = gvisor_wire_decode(&g->arena, g->buf, len, &m);
	g->built = false;
	if (rc == -ENOMEM || rc == -EMSGSIZE)
		count(c, type, LOSS_OVERSIZED, 1);
	else if (rc < 0 || !map(g, c, &m))
		count(c, type, LOSS_MALFORMED, 1);
	else if (g->built)
		g->cfg.write(g->cfg.ctx);
}

static void conn_close(struct gvisor_sink *g, struct gvisor_conn *c)
{
	struct gvisor_conn **pp = &g->conns;

	report(g, c);
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	if (c->fd >= 0) {
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	proctable_free(&c->procs);
	free(c);
}

/* The first datagram is the Sentry's handshake; ours answers it. */
static int handshake(struct gvisor_sink *g, struct gvisor_conn *c, size_t len)
{
	uint8_t out[16];
	uint32_t version;
	size_t n;

	if (len > BUF_SIZE || gvisor_wire_handshake_parse(&g->arena, g->buf, len, &version) < 0 || version < 1)
		return -EBADMSG;
	n = gvisor_wire_handshake_pack(out);
	if (send(c->fd, out, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n)
		return -errno;
	c->handshaken = true;
	return 0;
}

/* Reads up to max datagrams; false when the connection is gone. */
static bool conn_read(struct gvisor_sink *g, struct gvisor_conn *c, int max)
{
	for (int i = 0; i < max; i++) {
		ssize_t n = recv(c->fd, g->buf, BUF_SIZE, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0) {
			struct pollfd pf = { c->fd, POLLIN | POLLRDHUP, 0 };

			/* end of stream, or an empty datagram (malformed) */
			if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLHUP | POLLRDHUP)))
				return false;
			count(c, 0, LOSS_MALFORMED, 1);
			continue;
		}
		if (!c->handshaken) {
			if (handshake(g, c, (size_t)n) == 0)
				continue;
			fprintf(stderr, "sandtraild: session %s: gVisor's handshake refused; no in-sandbox events\n",
				c->s->id);
			count(c, 0, LOSS_MALFORMED, 1);
			return false;
		}
		handle(g, c, (size_t)n);
	}
	return true;
}

/* The gvisor session runsc connected from (its cgroup, read through a
 * pidfd so that a recycled pid cannot stand in for it); NULL with why. */
static struct session *peer_session(struct gvisor_sink *g, int fd, const char **why)
{
	char path[8400];
	struct session *s;

	if (cgroup2_peer(fd, g->cfg.cgroup2_root, path, sizeof(path), why) < 0)
		return NULL;
	*why = "not in a gvisor session's cgroup";
	s = session_holding(g->cfg.sessions, path);
	if (!s || !s->gvisor)
		return NULL;
	*why = "its session has a Sentry already";
	for (struct gvisor_conn *c = g->conns; c; c = c->next)
		if (c->s == s)
			return NULL;
	return s;
}

static void accept_sentries(struct gvisor_sink *g)
{
	for (;;) {
		int fd = accept4(g->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct epoll_event ee = { .events = EPOLLIN | EPOLLRDHUP };
		struct gvisor_conn *c;
		const char *why;
		struct session *s;

		if (fd < 0)
			return;
		s = peer_session(g, fd, &why);
		c = s ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			fprintf(stderr, "sandtraild: gVisor sink: connection refused: %s\n", s ? "out of memory" : why);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->s = s;
		ee.data.ptr = c;
		if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = g->conns;
		g->conns = c;
	}
}

int gvisor_sink_open(struct gvisor_sink **out, const struct gvisor_sink_config *cfg)
{
	struct gvisor_sink *g = calloc(1, sizeof(*g));
	struct epoll_event ee = { .events = EPOLLIN };
	int rc;

	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	snprintf(g->path_copy, sizeof(g->path_copy), "%s", cfg->path ? cfg->path : "");
	snprintf(g->root_copy, sizeof(g->root_copy), "%s", cfg->cgroup2_root ? cfg->cgroup2_root : "");
	g->cfg.path = cfg->path ? g->path_copy : NULL;
	g->cfg.cgroup2_root = g->root_copy;
	g->lfd = g->epfd = -1;
	g->buf = malloc(BUF_SIZE);
	rc = g->buf ? gvisor_arena_init(&g->arena, GVISOR_ARENA_SIZE) : -ENOMEM;
	if (rc == 0) {
		g->epfd = epoll_create1(EPOLL_CLOEXEC);
		rc = g->epfd < 0 ? -errno : 0;
	}
	if (rc == 0 && cfg->path) {
		/* the same guarantees as the control socket: root-only directory, 0600 */
		g->lfd = control_listen(cfg->path, (gid_t)-1);
		rc = g->lfd < 0 ? g->lfd : 0;
		ee.data.ptr = NULL; /* the listener */
		if (rc == 0 && epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->lfd, &ee) < 0)
			rc = -errno;
	}
	if (rc < 0) {
		if (g->lfd >= 0)
			unlink(cfg->path);
		gvisor_sink_close(g);
		return rc;
	}
	*out = g;
	return 0;
}

int gvisor_sink_fd(const struct gvisor_sink *g)
{
	return g->epfd;
}

void gvisor_sink_process(struct gvisor_sink *g)
{
	struct epoll_event evs[32];
	int n = epoll_wait(g->epfd, evs, 32, 0);

	for (int i = 0; i < n; i++) {
		struct gvisor_conn *c = evs[i].data.ptr;

		if (!c)
			accept_sentries(g);
		else if (!conn_read(g, c, BATCH))
			conn_close(g, c);
	}
}

void gvisor_sink_end(struct gvisor_sink *g, struct session *s)
{
	for (struct gvisor_conn *c = g->conns; c; c = c->next) {
		if (c->s != s)
			continue;
		/* runsc has exited: what the Sentry sent waits in the socket */
		conn_read(g, c, DRAIN_MAX);
		conn_close(g, c);
		return;
	}
}

void gvisor_sink_report_losses(struct gvisor_sink *g)
{
	for (struct gvisor_conn *c = g->conns; c; c = c->next)
		report(g, c);
}

void gvisor_sink_feed(struct gvisor_sink *g, struct session *s, const void *p, size_t len)
{
	struct gvisor_conn *c = g->conns;

	while (c && c->s != s)
		c = c->next;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return;
		*c = (struct gvisor_conn){ .fd = -1, .s = s, .handshaken = true, .next = g->conns };
		g->conns = c;
	}
	memcpy(g->buf, p, len < BUF_SIZE ? len : BUF_SIZE);
	handle(g, c, len);
}

void gvisor_sink_close(struct gvisor_sink *g)
{
	if (!g)
		return;
	while (g->conns)
		conn_close(g, g->conns);
	if (g->lfd >= 0) {
		close(g->lfd);
		unlink(g->cfg.path);
	}
	if (g->epfd >= 0)
		close(g->epfd);
	gvisor_arena_free(&g->arena);
	free(g->buf);
	free(g);
}
