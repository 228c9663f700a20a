#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "enrich.h"
#include "flagnames.h"

void enrich_init(struct enrich *e)
{
	memset(e, 0, sizeof(*e));
}

void enrich_free(struct enrich *e)
{
	proctable_free(&e->procs);
	redact_buf_free(&e->rb);
	for (size_t i = 0; i < ENRICH_CACHE; i++)
		free(e->tasks[i].mp);
}

void enrich_begin(struct rec *r, const char *type, uint64_t wall_ns, const struct session *s)
{
	rec_begin(r, type, wall_ns);
	if (!s)
		return;
	rec_str(r, "session", s->id);
	rec_raw(r, "labels", s->labels_mp, s->labels_mp_len);
}

void enrich_loss(struct rec *r, const struct session *s, uint64_t wall_ns, const char *kind, const char *reason,
		 uint64_t count)
{
	enrich_begin(r, "loss", wall_ns, s);
	rec_str(r, "kind", kind);
	rec_str(r, "reason", reason);
	rec_uint(r, "count", count);
}

/* cut: the value was truncated (a piece of a secret may end it) */
static void pack_redacted(struct enrich *e, struct rec *r, const struct session *s, const void *p, size_t len,
			  bool cut)
{
	const uint8_t *out = p;

	if (s && s->nsecrets) {
		out = redact(s->secrets, s->nsecrets, p, &len, cut, &e->rb);
		if (!out) { /* no memory for the copy: the secret must still not leak */
			rec_bin_val(r, "[redaction failed]", 18);
			return;
		}
	}
	rec_bin_val(r, out, len);
}

void enrich_pack_bin(struct enrich *e, struct rec *r, const struct session *s, const void *p, size_t len)
{
	pack_redacted(e, r, s, p, len, false);
}

void enrich_bytes(struct enrich *e, struct rec *r, const struct session *s, const char *key, const void *p,
		  size_t len)
{
	rec_key(r, key);
	enrich_pack_bin(e, r, s, p, len);
}

static void flag_key(struct rec *r, const char *key, const char *suffix)
{
	char tkey[64];

	snprintf(tkey, sizeof(tkey), "%s_%s", key, suffix);
	rec_bool(r, tkey, true);
}

void enrich_str(struct enrich *e, struct rec *r, const struct session *s, const char *key,
		const struct enrich_str *str)
{
	rec_key(r, key);
	pack_redacted(e, r, s, str->p, str->len, str->truncated);
	if (str->truncated)
		flag_key(r, key, "truncated");
	if (str->unreadable)
		flag_key(r, key, "unreadable");
	if (str->late)
		flag_key(r, key, "late");
	if (str->unresolved)
		flag_key(r, key, "unresolved");
	if (str->detached)
		flag_key(r, key, "detached");
}

/* An optional string: only when present. */
static void opt_str(struct enrich *e, struct rec *r, const struct session *s, const char *key,
		    const struct enrich_str *str)
{
	if (str->p)
		enrich_str(e, r, s, key, str);
}

/* The dirfd a relative path was resolved from, when not the cwd. */
static void put_dirfd(struct rec *r, const char *key, int32_t dirfd, const struct enrich_str *req)
{
	if (dirfd != AT_FDCWD && (!req->len || req->p[0] != '/'))
		rec_int(r, key, dirfd);
}

void enrich_process(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_proc *p)
{
	rec_uint(r, "pid", p->pid);
	rec_uint(r, "tid", p->tid);
	rec_uint(r, "ppid", p->ppid);
	rec_uint(r, "uid", p->uid);
	rec_uint(r, "gid", p->gid);
	enrich_bytes(e, r, s, "comm", p->comm, p->comm_len);
	if (p->cgroup)
		rec_uint(r, "cgroup", p->cgroup);
	if (p->syscall)
		rec_str(r, "syscall", p->syscall);
	if (p->image && p->image->image_len)
		enrich_bytes(e, r, s, "image", p->image->image, p->image->image_len);
	if (p->view != ENRICH_VIEW_NONE)
		rec_str(r, "view", p->view == ENRICH_VIEW_HOST ? "host" : "sandbox");
	if (p->via)
		rec_str(r, "via", p->via);
	if (p->abi)
		rec_str(r, "abi", p->abi);
	/* the manager's only child in the session is the sandbox's init: what it
	 * does is the sandbox building itself (CMD is the init's child, and an
	 * orphan is adopted by the init, never by the manager); host pids only */
	if (s && s->setup_ppid && p->view != ENRICH_VIEW_SANDBOX && p->ppid == s->setup_ppid)
		rec_bool(r, "setup", true);
}

/* enrich_process for a kernel event: a thread's fields change rarely
 * between its records (exec, setuid, a secret added), and redacting and
 * encoding them again is most of a small record's cost, so the bytes of its
 * last record of the same syscall are copied when everything they are made
 * of (the key) is the same. */
static void process_cached(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_proc *p,
			   const struct st_hdr *h)
{
	struct enrich_task *t = &e->tasks[((p->tid * 31 + h->syscall) * 2654435761u) >> 26];
	struct enrich_task_key k = {
		.cgroup = p->cgroup, .session_gen = s ? s->gen : 0, .image_gen = p->image ? p->image->gen : 0,
		.pid = p->pid, .tid = p->tid, .ppid = p->ppid, .uid = p->uid, .gid = p->gid,
		.setup_ppid = s ? s->setup_ppid : 0, .syscall = h->syscall,
		.flags = h->flags & (ST_F_IO_URING | ST_F_ABI_I386 | ST_F_ABI_X32), .view = p->view,
	};
	size_t off = r->buf.size, len;
	uint32_t keys = r->nkeys;

	_Static_assert(ENRICH_CACHE == 1 << (32 - 26), "indexed by the top bits of a 32-bit hash");
	_Static_assert(sizeof(k) == 3 * 8 + 7 * 4 + 2 * 2 + ST_COMM_LEN, "no padding in the key");
	memcpy(k.comm, h->comm, sizeof(k.comm));
	if (t->valid && !memcmp(&t->key, &k, sizeof(k))) {
		rec_append(r, t->mp, t->len, t->keys);
		return;
	}
	enrich_process(e, r, s, p);
	len = r->buf.size - off;
	t->valid = false;
	if (r->cut)
		return; /* fields missing for want of memory are not repeated */
	if (len > t->cap) {
		uint8_t *mp = realloc(t->mp, len);

		if (!mp)
			return;
		t->mp = mp;
		t->cap = len;
	}
	memcpy(t->mp, r->buf.data + off, len);
	t->len = len;
	t->keys = r->nkeys - keys;
	t->key = k;
	t->valid = true;
}

void enrich_exec(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_exec *x)
{
	enrich_str(e, r, s, "filename", &x->filename);
	opt_str(e, r, s, "path", &x->path);
	if (x->dirfd != AT_FDCWD)
		put_dirfd(r, "dirfd", x->dirfd, &x->filename);
	if (x->at_flags)
		flagnames_at(r, "at_flags", x->at_flags);
	rec_key(r, "argv");
	msgpack_pack_array(&r->pk, x->argc);
	for (uint32_t i = 0; i < x->argc; i++)
		pack_redacted(e, r, s, x->argv[i].p, x->argv[i].len, x->argv_truncated && i + 1 == x->argc);
	if (x->argv_truncated)
		rec_bool(r, "argv_truncated", true);
	if (x->argv_unreadable)
		rec_bool(r, "argv_unreadable", true);
	if (x->exe.len)
		enrich_str(e, r, s, "exe", &x->exe);
	/* an interpreter ran the file named (#!): argv is the interpreter's,
	 * exe the interpreter, script the file */
	opt_str(e, r, s, "script", &x->script);
	rec_int(r, "ret", x->ret);
}

void enrich_fork(struct rec *r, uint32_t child_pid)
{
	rec_uint(r, "child_pid", child_pid);
}

void enrich_exit(struct rec *r, int32_t status)
{
	if (WIFSIGNALED(status)) {
		rec_int(r, "signal", WTERMSIG(status));
		rec_bool(r, "core", WCOREDUMP(status));
	} else {
		rec_int(r, "code", WEXITSTATUS(status));
	}
}

void enrich_open(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_open *o)
{
	enrich_str(e, r, s, "path", &o->path);
	enrich_str(e, r, s, "requested", &o->requested);
	flagnames_open(r, "flags", o->flags);
	if (o->flags & (O_CREAT | __O_TMPFILE))
		rec_uint(r, "mode", o->mode);
	if (o->dirfd != AT_FDCWD && o->requested.len && o->requested.p[0] != '/')
		rec_int(r, "dirfd", o->dirfd);
	if (o->resolve)
		rec_uint(r, "resolve", o->resolve);
	rec_int(r, "ret", o->ret);
}

void enrich_unlink(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_unlink *u)
{
	enrich_str(e, r, s, "path", &u->path);
	opt_str(e, r, s, "requested", &u->requested);
	rec_bool(r, "dir", u->dir);
	put_dirfd(r, "dirfd", u->dirfd, u->requested.p ? &u->requested : &u->path);
	rec_int(r, "ret", u->ret);
}

void enrich_rename(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_rename *x)
{
	enrich_str(e, r, s, "from", &x->from);
	opt_str(e, r, s, "from_requested", &x->from_requested);
	enrich_str(e, r, s, "to", &x->to);
	opt_str(e, r, s, "to_requested", &x->to_requested);
	/* both, as passed, whatever the paths: the pair is what was asked */
	if (x->dirfds) {
		rec_int(r, "from_dirfd", x->from_dirfd);
		rec_int(r, "to_dirfd", x->to_dirfd);
	}
	if (x->flags)
		flagnames_rename(r, "flags", x->flags);
	rec_int(r, "ret", x->ret);
}

/* family, and addr/port (inet) under the keys given. */
static void put_family(struct rec *r, uint16_t family)
{
	const char *fam = flagnames_family(family);

	if (fam)
		rec_str(r, "family", fam);
	else
		rec_uint(r, "family", family);
}

static void put_inet(struct rec *r, const char *addr_key, const char *port_key, uint16_t family,
		     const uint8_t addr[16], uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	rec_str(r, addr_key, a);
	rec_uint(r, port_key, port);
}

void enrich_connect(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_connect *c)
{
	put_family(r, c->family);
	if (c->family == AF_INET || c->family == AF_INET6)
		put_inet(r, "addr", "port", c->family, c->addr, c->port);
	else if (c->family == AF_UNIX)
		enrich_str(e, r, s, "addr", &c->unix_path);
	rec_str(r, "verdict", c->deny ? "deny" : "allow");
	rec_str(r, "source", c->source);
	if (c->datagram)
		return;
	rec_int(r, "fd", c->fd);
	rec_int(r, "ret", c->ret);
}

void enrich_sock(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_sock *k)
{
	bool inet = k->family == AF_INET || k->family == AF_INET6;

	if (!k->own_unknown || k->family != AF_UNSPEC)
		put_family(r, k->family);
	if (inet && !k->own_unknown)
		put_inet(r, "addr", "port", k->family, k->addr, k->port);
	else if (k->family == AF_UNIX && !k->own_unknown)
		enrich_str(e, r, s, "addr", &k->unix_path);
	if (k->type == ST_EV_ACCEPT && inet && k->ret >= 0)
		put_inet(r, "peer_addr", "peer_port", k->family, k->peer, k->peer_port);
	if (k->type == ST_EV_LISTEN)
		rec_int(r, "backlog", k->backlog);
	rec_str(r, "source", k->source);
	if (k->type != ST_EV_ACCEPT) /* accept: the new fd is ret, the listener's is not known */
		rec_int(r, "fd", k->fd);
	rec_int(r, "ret", k->ret);
}

void enrich_cgroup_leave(struct enrich *e, struct rec *r, const struct session *s,
			 const struct enrich_cgroup_leave *l)
{
	rec_uint(r, "task", l->task);
	rec_bool(r, "threadgroup", l->threadgroup);
	rec_uint(r, "dst_cgroup", l->dst);
	enrich_str(e, r, s, "dst_path", &l->dst_path);
}

void enrich_datagrams(struct rec *r, const struct session *s, uint64_t wall_ns, uint16_t family,
		      const uint8_t addr[16], uint16_t port, uint64_t count)
{
	enrich_begin(r, "datagrams", wall_ns, s);
	if (family) {
		put_family(r, family);
		put_inet(r, "addr", "port", family, addr, port);
	} else {
		rec_bool(r, "untracked", true);
		rec_uint(r, "limit", ST_DGRAM_DESTS);
	}
	rec_uint(r, "count", count);
}

/* A time a utimes call sets: ns since the epoch, or "now", "omit". */
static void put_time(struct rec *r, const char *key, int64_t sec, int64_t nsec)
{
	if (nsec == UTIME_NOW)
		rec_str(r, key, "now");
	else if (nsec == UTIME_OMIT)
		rec_str(r, key, "omit");
	else
		rec_int(r, key, sec * 1000000000 + nsec);
}

/* The permission bits, and those that give privilege called out. */
static void put_mode(struct rec *r, uint32_t mode)
{
	rec_uint(r, "mode", mode & 07777);
	if (mode & S_ISUID)
		rec_bool(r, "setuid", true);
	if (mode & S_ISGID)
		rec_bool(r, "setgid", true);
	if (mode & S_ISVTX)
		rec_bool(r, "sticky", true);
}

static void put_flags_at(struct rec *r, uint32_t flags)
{
	if (flags)
		flagnames_at(r, "flags", flags);
}

void enrich_fileop(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_fileop *f)
{
	enrich_str(e, r, s, "path", &f->path);
	if (f->requested.p) {
		enrich_str(e, r, s, "requested", &f->requested);
		put_dirfd(r, "dirfd", f->dirfd, &f->requested);
	} else {
		rec_int(r, "fd", f->fd);
	}
	switch (f->type) {
	case ST_EV_TRUNCATE:
		rec_int(r, "length", f->length);
		break;
	case ST_EV_MKDIR:
		put_mode(r, f->mode);
		break;
	case ST_EV_MKNOD: {
		const char *t = flagnames_file_type(f->mode);

		if (t)
			rec_str(r, "file_type", t);
		else
			rec_uint(r, "file_type", f->mode & S_IFMT);
		put_mode(r, f->mode);
		if (S_ISCHR(f->mode) || S_ISBLK(f->mode)) {
			rec_uint(r, "major", major(f->dev));
			rec_uint(r, "minor", minor(f->dev));
		}
		break;
	}
	case ST_EV_SYMLINK:
		/* the link's content, as given: resolved only when followed */
		opt_str(e, r, s, "target", &f->other);
		break;
	case ST_EV_LINK:
		opt_str(e, r, s, "target", &f->other);
		opt_str(e, r, s, "target_requested", &f->other_requested);
		if (f->other_requested.p)
			put_dirfd(r, "target_dirfd", f->other_dirfd, &f->other_requested);
		put_flags_at(r, f->flags);
		break;
	case ST_EV_CHMOD:
		put_mode(r, f->mode);
		put_flags_at(r, f->flags);
		break;
	case ST_EV_CHOWN:
		if (f->owner != (uint32_t)-1)
			rec_uint(r, "owner", f->owner);
		if (f->group != (uint32_t)-1)
			rec_uint(r, "group", f->group);
		put_flags_at(r, f->flags);
		break;
	case ST_EV_UTIMES:
		if (f->args_unreadable) {
			rec_bool(r, "times_unreadable", true);
		} else {
			put_time(r, "atime", f->atime_s, f->atime_ns);
			put_time(r, "mtime", f->mtime_s, f->mtime_ns);
		}
		put_flags_at(r, f->flags);
		break;
	case ST_EV_SETXATTR:
	case ST_EV_REMOVEXATTR:
		opt_str(e, r, s, "name", &f->name);
		/* never the value: its size */
		if (f->type == ST_EV_SETXATTR && f->args_unreadable)
			rec_bool(r, "size_unreadable", true);
		else if (f->type == ST_EV_SETXATTR)
			rec_uint(r, "size", f->size);
		if (f->xattr_flags)
			flagnames_xattr(r, "xattr_flags", f->xattr_flags);
		put_flags_at(r, f->flags);
		break;
	case ST_EV_MOUNT:
		opt_str(e, r, s, "source", &f->other);
		opt_str(e, r, s, "source_requested", &f->other_requested);
		if (f->move_mount) {
			if (f->other_requested.p)
				put_dirfd(r, "source_dirfd", f->other_dirfd, &f->other_requested);
			flagnames_move_mount(r, "flags", f->flags);
			break;
		}
		opt_str(e, r, s, "fstype", &f->name);
		flagnames_mount(r, "flags", f->flags);
		break;
	case ST_EV_UMOUNT:
		flagnames_umount(r, "flags", f->flags);
		break;
	case ST_EV_PIVOT_ROOT:
		opt_str(e, r, s, "put_old", &f->other);
		opt_str(e, r, s, "put_old_requested", &f->other_requested);
		break;
	}
	rec_int(r, "ret", f->ret);
}

void enrich_io_uring(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_io_uring *u)
{
	const char *name = flagnames_io_uring_op(u->op);

	if (u->setup) {
		rec_uint(r, "entries", u->entries);
		rec_uint(r, "setup_flags", u->setup_flags);
		rec_int(r, "ret", u->ret);
		return;
	}
	if (name)
		rec_str(r, "op", name);
	else
		rec_uint(r, "op", u->op);
	if (u->fd >= 0)
		rec_int(r, u->fixed ? "fixed_file" : "fd", u->fd);
	opt_str(e, r, s, "path", &u->file);
	rec_int(r, "ret", u->ret);
}

void enrich_abi32(struct rec *r, const struct enrich_abi32 *a)
{
	rec_uint(r, "nr", a->nr);
	rec_key(r, "args");
	msgpack_pack_array(&r->pk, 6);
	for (int i = 0; i < 6; i++)
		msgpack_pack_uint64(&r->pk, a->args[i]);
	rec_int(r, "ret", a->ret);
}

/* ---- the kernel's events ---- */

/* A user string of an event, as a record keeps it. */
static struct enrich_str from_event(const struct event_str *s)
{
	return (struct enrich_str){
		.p = s->p, .len = s->len, .truncated = s->truncated, .unreadable = !s->present, .late = s->late,
	};
}

/* The path built in e->path[i] (n bytes).  A memfd is named as the kernel
 * names it, "memfd:NAME", with " (memfd)" (no path starts so); other files
 * outside the mount namespace keep the names walked, flagged detached. */
static struct enrich_str built(struct enrich *e, int i, size_t n, bool truncated, bool detached)
{
	static const char memfd[] = "/memfd:", suffix[] = " (memfd)";
	uint8_t *p = e->path[i];
	struct enrich_str out = { .p = p, .len = n, .truncated = truncated, .detached = detached };

	if (detached && n >= sizeof(memfd) - 1 && !memcmp(p, memfd, sizeof(memfd) - 1) && !memchr(p + 1, '/', n - 1)) {
		memcpy(p + n, suffix, sizeof(suffix) - 1);
		out.p = p + 1;
		out.len = n - 1 + sizeof(suffix) - 1;
		out.detached = false;
	}
	return out;
}

/* The file a kernel walk names, in e->path[i]. */
static struct enrich_str walked(struct enrich *e, int i, const struct event_str *walk)
{
	bool truncated;
	size_t n = event_path_join(walk, e->path[i], EVENT_PATH_MAX, &truncated);

	return built(e, i, n, truncated, walk->detached);
}

/* The absolute path of req (NULL: the call named no path, it acted on an
 * fd) resolved from the walk base, in e->path[i]; when base could not be
 * walked, req as passed, unresolved: never a guess. */
static struct enrich_str resolved(struct enrich *e, int i, const struct event_str *req, const struct event_str *base)
{
	struct enrich_str out = { .p = (const uint8_t *)"", .unresolved = true };
	bool truncated;
	size_t n;

	if (!base->present || (req && !req->present)) {
		if (req && req->present) {
			out.p = req->p;
			out.len = req->len;
			out.truncated = req->truncated;
		}
		return out;
	}
	n = event_path_resolve(base, req ? req->p : NULL, req ? req->len : 0, e->path[i], EVENT_PATH_MAX, &truncated);
	return built(e, i, n, truncated || (req && req->truncated), base->detached);
}

static void event_exec(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_exec *k = ev->body;
	const struct event_str *argv = &ev->str[1];
	struct enrich_str args[ST_ARGS_MAX];
	struct enrich_exec x = {
		.filename = from_event(&ev->str[0]), .argv = args, .ret = k->ret,
		.argv_truncated = argv->truncated || (ev->h->flags & ST_F_TRUNC_ARGS) || k->argc > ST_ARGS_MAX,
		.argv_unreadable = !argv->present, .path = resolved(e, 0, &ev->str[0], &ev->str[3]),
		.dirfd = ev->h->syscall == ST_SYS_EXECVEAT ? k->dirfd : AT_FDCWD, .at_flags = k->at_flags,
	};
	uint32_t off = 0;

	x.argc = k->argc > ST_ARGS_MAX ? ST_ARGS_MAX : k->argc;
	for (uint32_t i = 0; i < x.argc; i++) {
		const uint8_t *a = argv->p + off;
		size_t len = off < argv->len ? strnlen((const char *)a, argv->len - off) : 0;

		args[i] = (struct enrich_str){ .p = a, .len = len };
		off += len + 1;
	}
	if (ev->str[2].len)
		x.exe = walked(e, 1, &ev->str[2]);
	if (ev->h->flags & ST_F_SCRIPT)
		x.script = x.path;
	enrich_exec(e, r, s, &x);
	/* the process now runs exe: later records carry it as image */
	if (k->ret == 0)
		proctable_set(&e->procs, ev->h->tgid, x.exe.len ? x.exe.p : x.filename.p,
			      x.exe.len ? x.exe.len : x.filename.len);
}

static void event_open(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_open *k = ev->body;
	const struct event_str *req = &ev->str[0], *res = &ev->str[1];
	struct enrich_open o = {
		.requested = from_event(req), .flags = k->flags, .resolve = k->resolve, .mode = k->mode,
		.dirfd = k->dirfd, .ret = k->ret,
	};

	/* the file the returned fd refers to; else where the path led */
	if (k->ret >= 0 && res->present && res->len > 0)
		o.path = walked(e, 0, res);
	else
		o.path = resolved(e, 0, req, &ev->str[2]);
	enrich_open(e, r, s, &o);
}

static const char *addr_source(uint8_t source)
{
	static const char *const sources[] = { "none", "hook", "socket", "user", "request" };

	return source < 5 ? sources[source] : "none";
}

static void event_connect(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_connect *k = ev->body;
	struct enrich_connect c = {
		.family = k->family, .port = k->port, .deny = k->verdict == ST_VERDICT_DENY,
		.datagram = ev->h->type == ST_EV_DATAGRAM, .source = addr_source(k->source), .fd = k->fd, .ret = k->ret,
	};

	memcpy(c.addr, k->addr, sizeof(c.addr));
	if (k->family == AF_UNIX)
		c.unix_path = from_event(&ev->str[0]);
	enrich_connect(e, r, s, &c);
}

static void event_sock(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_sock *k = ev->body;
	struct enrich_sock o = {
		.type = ev->h->type, .family = k->family, .port = k->port, .peer_port = k->peer_port,
		.source = addr_source(k->source), .fd = k->fd, .backlog = k->backlog, .ret = k->ret,
	};

	memcpy(o.addr, k->addr, sizeof(o.addr));
	memcpy(o.peer, k->peer, sizeof(o.peer));
	if (k->family == AF_UNIX)
		o.unix_path = from_event(&ev->str[0]);
	enrich_sock(e, r, s, &o);
}

/* The second path operand of a file operation, made absolute where it is
 * a path (events.h). */
static void fileop_other(struct enrich *e, const struct event *ev, struct enrich_fileop *f)
{
	const struct st_fileop *k = ev->body;
	const struct event_str *p2 = &ev->str[1];
	bool is_path = f->type == ST_EV_LINK || f->type == ST_EV_PIVOT_ROOT ||
		       (f->type == ST_EV_MOUNT && (f->move_mount || (k->flags & (MS_BIND | MS_MOVE))));

	if (is_path) {
		f->other = resolved(e, 1, p2, &ev->str[4]);
		f->other_requested = from_event(p2);
		f->other_dirfd = k->dirfd2;
	} else if (f->type == ST_EV_SYMLINK || p2->len || !p2->present) {
		f->other = from_event(p2); /* symlink's target; mount's device */
	}
}

static void event_fileop(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_fileop *k = ev->body;
	const struct event_str *name = &ev->str[2];
	uint32_t sys = ev->h->syscall;
	bool fd = ev->h->flags & ST_F_FD_1;
	struct enrich_fileop f = {
		.type = ev->h->type, .path = resolved(e, 0, fd ? NULL : &ev->str[0], &ev->str[3]), .fd = k->dirfd,
		.dirfd = k->dirfd, .mode = k->mode, .flags = k->flags, .move_mount = sys == ST_SYS_MOVE_MOUNT,
		.length = (int64_t)k->arg[0], .dev = k->arg[0], .owner = (uint32_t)k->arg[0],
		.group = (uint32_t)k->arg[1], .atime_s = (int64_t)k->arg[0], .atime_ns = (int64_t)k->arg[1],
		.mtime_s = (int64_t)k->arg[2], .mtime_ns = (int64_t)k->arg[3], .size = k->arg[0],
		.args_unreadable = ev->h->flags & ST_F_ARG_FAULT, .ret = k->ret,
	};

	if (!fd)
		f.requested = from_event(&ev->str[0]);
	fileop_other(e, ev, &f);
	if (name->len || !name->present)
		f.name = from_event(name);
	if (sys == ST_SYS_LCHOWN)
		f.flags = AT_SYMLINK_NOFOLLOW;
	/* setxattr's flags are XATTR_*; setxattrat's AT_*, with XATTR_* in its struct */
	if (f.type == ST_EV_SETXATTR) {
		f.xattr_flags = sys == ST_SYS_SETXATTRAT ? (uint32_t)k->arg[1] : k->flags;
		f.flags = sys == ST_SYS_SETXATTRAT ? k->flags : 0;
	}
	enrich_fileop(e, r, s, &f);
}

static void event_io_uring(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_io_uring *k = ev->body;
	struct enrich_io_uring u = {
		.setup = ev->h->syscall == ST_SYS_IO_URING_SETUP, .op = k->opcode, .fd = k->fd, .fixed = k->fixed,
		.entries = k->entries, .setup_flags = k->setup_flags, .ret = k->ret,
	};

	if (ev->str[0].len)
		u.file = walked(e, 0, &ev->str[0]);
	enrich_io_uring(e, r, s, &u);
}

/* Both: an exec that the registers can no longer tell apart (events.h). */
static const char *event_abi(uint32_t flags)
{
	switch (flags & (ST_F_ABI_I386 | ST_F_ABI_X32)) {
	case ST_F_ABI_I386:
		return "i386";
	case ST_F_ABI_X32:
		return "x32";
	case ST_F_ABI_I386 | ST_F_ABI_X32:
		return "i386_or_x32";
	}
	return NULL;
}

void enrich_event(struct enrich *e, const struct event *ev, const struct session *s, uint64_t wall_ns,
		  struct rec *r)
{
	const struct st_hdr *h = ev->h;
	struct enrich_proc p = {
		.pid = h->tgid, .tid = h->tid, .ppid = h->ppid, .uid = h->uid, .gid = h->gid, .comm = h->comm,
		.comm_len = strnlen(h->comm, sizeof(h->comm)), .cgroup = h->cgroup_id,
		.syscall = event_syscall_name(h->syscall), .image = proctable_get(&e->procs, h->tgid),
		/* in a gVisor or microVM session the host's kernel sees runsc or the
		 * VMM, never the sandbox's own processes; a guest's sees only those */
		.view = e->guest ? ENRICH_VIEW_SANDBOX : s && (s->gvisor || s->microvm) ? ENRICH_VIEW_HOST : ENRICH_VIEW_NONE,
		.via = h->flags & ST_F_IO_URING ? "io_uring" : NULL,
		.abi = event_abi(h->flags),
	};

	enrich_begin(r, event_type_name(h->type), wall_ns, s);
	process_cached(e, r, s, &p, h);
	switch (h->type) {
	case ST_EV_EXEC:
		event_exec(e, r, s, ev);
		break;
	case ST_EV_FORK: {
		const struct st_fork *f = ev->body;

		enrich_fork(r, f->child_tgid);
		if (p.image)
			proctable_fork(&e->procs, h->tgid, f->child_tgid);
		break;
	}
	case ST_EV_EXIT:
		enrich_exit(r, ((const struct st_exit *)ev->body)->status);
		proctable_del(&e->procs, h->tgid);
		break;
	case ST_EV_OPEN:
		event_open(e, r, s, ev);
		break;
	case ST_EV_UNLINK: {
		const struct st_unlink *u = ev->body;

		enrich_unlink(e, r, s, &(struct enrich_unlink){
			.path = resolved(e, 0, &ev->str[0], &ev->str[1]), .requested = from_event(&ev->str[0]),
			.dirfd = u->dirfd, .ret = u->ret, .dir = h->syscall == ST_SYS_RMDIR || (u->flags & AT_REMOVEDIR) });
		break;
	}
	case ST_EV_RENAME: {
		const struct st_rename *x = ev->body;

		enrich_rename(e, r, s, &(struct enrich_rename){
			.from = resolved(e, 0, &ev->str[0], &ev->str[2]), .to = resolved(e, 1, &ev->str[1], &ev->str[3]),
			.from_requested = from_event(&ev->str[0]), .to_requested = from_event(&ev->str[1]),
			.dirfds = h->syscall != ST_SYS_RENAME, .from_dirfd = x->olddirfd, .to_dirfd = x->newdirfd,
			.flags = x->flags, .ret = x->ret });
		break;
	}
	case ST_EV_CONNECT:
	case ST_EV_DATAGRAM:
		event_connect(e, r, s, ev);
		break;
	case ST_EV_BIND:
	case ST_EV_LISTEN:
	case ST_EV_ACCEPT:
		event_sock(e, r, s, ev);
		break;
	case ST_EV_CGROUP_LEAVE: {
		const struct st_cgroup_leave *l = ev->body;

		enrich_cgroup_leave(e, r, s, &(struct enrich_cgroup_leave){
			.dst = l->dst_cgid, .dst_path = from_event(&ev->str[0]), .task = l->task,
			.threadgroup = l->threadgroup });
		break;
	}
	case ST_EV_IO_URING:
		event_io_uring(e, r, s, ev);
		break;
	case ST_EV_ABI32: {
		const struct st_abi32 *a = ev->body;
		struct enrich_abi32 x = { .nr = a->nr, .ret = a->ret };

		memcpy(x.args, a->args, sizeof(x.args));
		enrich_abi32(r, &x);
		break;
	}
	default:
		event_fileop(e, r, s, ev);
		break;
	}
}
