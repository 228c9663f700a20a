#include <arpa/inet.h>
#include <fcntl.h>
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
}

void enrich_begin(struct rec *r, const char *type, uint64_t wall_ns, const struct session *s)
{
	rec_begin(r, type, wall_ns);
	if (!s)
		return;
	rec_str(r, "session", s->id);
	rec_raw(r, "labels", s->labels_mp, s->labels_mp_len);
}

void enrich_pack_bin(struct enrich *e, struct rec *r, const struct session *s, const void *p, size_t len)
{
	const uint8_t *out = p;

	if (s && s->nsecrets) {
		out = redact(s->secrets, s->nsecrets, p, &len, &e->rb);
		if (!out) { /* no memory for the copy: the secret must still not leak */
			msgpack_pack_bin_with_body(&r->pk, "[redaction failed]", 18);
			return;
		}
	}
	msgpack_pack_bin_with_body(&r->pk, out, len);
}

void enrich_bytes(struct enrich *e, struct rec *r, const struct session *s, const char *key, const void *p,
		  size_t len)
{
	rec_key(r, key);
	enrich_pack_bin(e, r, s, p, len);
}

static void put_flag(struct rec *r, const char *key, const char *suffix)
{
	char k[64];

	snprintf(k, sizeof(k), "%s_%s", key, suffix);
	rec_bool(r, k, true);
}

/* key: the string; key_truncated: true when the kernel cut it. */
static void put_str(struct enrich *e, struct rec *r, const struct session *s, const char *key,
		    const struct event_str *str)
{
	enrich_bytes(e, r, s, key, str->p, str->len);
	if (str->truncated)
		put_flag(r, key, "truncated");
	if (!str->present)
		put_flag(r, key, "unreadable");
	if (str->late)
		put_flag(r, key, "late");
}

/* The path in e->path (n bytes) as key.  A file outside the mount
 * namespace: a memfd is named as the kernel names it, "memfd:NAME", with
 * " (memfd)" (no path starts so); others keep the names walked, flagged
 * key_detached. */
static void put_built(struct enrich *e, struct rec *r, const struct session *s, const char *key, size_t n,
		      bool truncated, bool detached)
{
	static const char memfd[] = "/memfd:", suffix[] = " (memfd)";

	if (detached && n >= sizeof(memfd) - 1 && !memcmp(e->path, memfd, sizeof(memfd) - 1) &&
	    !memchr(e->path + 1, '/', n - 1) && n + sizeof(suffix) <= sizeof(e->path)) {
		memcpy(e->path + n, suffix, sizeof(suffix) - 1);
		enrich_bytes(e, r, s, key, e->path + 1, n - 1 + sizeof(suffix) - 1);
		detached = false;
	} else {
		enrich_bytes(e, r, s, key, e->path, n);
	}
	if (truncated)
		put_flag(r, key, "truncated");
	if (detached)
		put_flag(r, key, "detached");
}

/* key: the file a walk names (successful open, exe). */
static void put_walk(struct enrich *e, struct rec *r, const struct session *s, const char *key,
		     const struct event_str *walk)
{
	bool truncated;
	size_t n = event_path_join(walk, e->path, sizeof(e->path), &truncated);

	put_built(e, r, s, key, n, truncated, walk->detached);
}

/* key: the absolute path of the path argument req (NULL: the call named no
 * path, it acted on an fd) resolved from the walk base; when base could
 * not be walked, the path as passed with key_unresolved, never a guess.
 * req_key (optional): the path as passed. */
static void put_resolved(struct enrich *e, struct rec *r, const struct session *s, const char *key,
			 const char *req_key, const struct event_str *req, const struct event_str *base)
{
	bool truncated;
	size_t n;

	if (base->present && (!req || req->present)) {
		n = event_path_resolve(base, req ? req->p : NULL, req ? req->len : 0, e->path, sizeof(e->path),
				       &truncated);
		put_built(e, r, s, key, n, truncated || (req && req->truncated), base->detached);
	} else {
		enrich_bytes(e, r, s, key, req ? (const void *)req->p : "", req ? req->len : 0);
		put_flag(r, key, "unresolved");
	}
	if (req && req_key)
		put_str(e, r, s, req_key, req);
}

/* The dirfd a relative path was resolved from, when not the cwd. */
static void put_dirfd(struct rec *r, const char *key, int32_t dirfd, const struct event_str *req)
{
	if (dirfd != AT_FDCWD && (!req->present || !req->len || req->p[0] != '/'))
		rec_int(r, key, dirfd);
}

static void put_process(struct enrich *e, struct rec *r, const struct session *s, const struct st_hdr *h)
{
	const struct proc *p = proctable_get(&e->procs, h->tgid);
	const char *sys = event_syscall_name(h->syscall);

	rec_uint(r, "pid", h->tgid);
	rec_uint(r, "tid", h->tid);
	rec_uint(r, "ppid", h->ppid);
	rec_uint(r, "uid", h->uid);
	rec_uint(r, "gid", h->gid);
	enrich_bytes(e, r, s, "comm", h->comm, strnlen(h->comm, sizeof(h->comm)));
	rec_uint(r, "cgroup", h->cgroup_id);
	if (sys)
		rec_str(r, "syscall", sys);
	if (p)
		enrich_bytes(e, r, s, "image", p->image, p->image_len);
}

static void put_exec(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_exec *x = ev->body;
	const struct event_str *fn = &ev->str[0], *argv = &ev->str[1], *exe = &ev->str[2], *base = &ev->str[3];
	uint32_t off = 0;

	put_str(e, r, s, "filename", fn);
	put_resolved(e, r, s, "path", NULL, fn, base);
	if (ev->h->syscall == ST_SYS_EXECVEAT) {
		put_dirfd(r, "dirfd", x->dirfd, fn);
		if (x->at_flags)
			flagnames_at(r, "at_flags", x->at_flags);
	}
	rec_key(r, "argv");
	msgpack_pack_array(&r->pk, x->argc);
	for (uint32_t i = 0; i < x->argc; i++) {
		const uint8_t *a = argv->p + off;
		size_t len = off < argv->len ? strnlen((const char *)a, argv->len - off) : 0;

		enrich_pack_bin(e, r, s, a, len);
		off += len + 1;
	}
	if (argv->truncated || (ev->h->flags & ST_F_TRUNC_ARGS))
		put_flag(r, "argv", "truncated");
	if (!argv->present)
		put_flag(r, "argv", "unreadable");
	if (exe->len)
		put_walk(e, r, s, "exe", exe);
	/* an interpreter ran the file named (#!): argv is the interpreter's,
	 * exe the interpreter, script the file */
	if (ev->h->flags & ST_F_SCRIPT)
		put_resolved(e, r, s, "script", NULL, fn, base);
	rec_int(r, "ret", x->ret);
	if (x->ret == 0) {
		/* the process now runs exe: later records carry it as image */
		bool t;
		size_t n = exe->len ? event_path_join(exe, e->path, sizeof(e->path), &t) : fn->len;

		proctable_set(&e->procs, ev->h->tgid, exe->len ? e->path : fn->p, n);
	}
}

static void put_exit(struct enrich *e, struct rec *r, const struct event *ev)
{
	const struct st_exit *x = ev->body;

	if (WIFSIGNALED(x->status)) {
		rec_int(r, "signal", WTERMSIG(x->status));
		rec_bool(r, "core", WCOREDUMP(x->status));
	} else {
		rec_int(r, "code", WEXITSTATUS(x->status));
	}
	proctable_del(&e->procs, ev->h->tgid);
}

static void put_open(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_open *o = ev->body;
	const struct event_str *req = &ev->str[0], *res = &ev->str[1], *base = &ev->str[2];

	/* the file the returned fd refers to; else where the path led */
	if (o->ret >= 0 && res->present && res->len > 0) {
		put_walk(e, r, s, "path", res);
		put_str(e, r, s, "requested", req);
	} else {
		put_resolved(e, r, s, "path", "requested", req, base);
	}
	flagnames_open(r, "flags", o->flags);
	if (o->flags & (O_CREAT | __O_TMPFILE))
		rec_uint(r, "mode", o->mode);
	put_dirfd(r, "dirfd", o->dirfd, req);
	if (o->resolve)
		rec_uint(r, "resolve", o->resolve);
	rec_int(r, "ret", o->ret);
}

static void put_unlink(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_unlink *u = ev->body;

	put_resolved(e, r, s, "path", "requested", &ev->str[0], &ev->str[1]);
	rec_bool(r, "dir", ev->h->syscall == ST_SYS_RMDIR || (u->flags & AT_REMOVEDIR));
	put_dirfd(r, "dirfd", u->dirfd, &ev->str[0]);
	rec_int(r, "ret", u->ret);
}

static void put_rename(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_rename *x = ev->body;

	put_resolved(e, r, s, "from", "from_requested", &ev->str[0], &ev->str[2]);
	put_resolved(e, r, s, "to", "to_requested", &ev->str[1], &ev->str[3]);
	/* both, as passed, for the calls that take them */
	if (ev->h->syscall != ST_SYS_RENAME) {
		rec_int(r, "from_dirfd", x->olddirfd);
		rec_int(r, "to_dirfd", x->newdirfd);
	}
	if (x->flags)
		flagnames_rename(r, "flags", x->flags);
	rec_int(r, "ret", x->ret);
}

static void put_connect(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	static const char *const sources[] = { "none", "hook", "socket", "user" };
	const struct st_connect *c = ev->body;
	const char *fam = flagnames_family(c->family);
	char addr[INET6_ADDRSTRLEN];

	if (fam)
		rec_str(r, "family", fam);
	else
		rec_uint(r, "family", c->family);
	if (c->family == AF_INET || c->family == AF_INET6) {
		inet_ntop(c->family, c->addr, addr, sizeof(addr));
		rec_str(r, "addr", addr);
		rec_uint(r, "port", c->port);
	} else if (c->family == AF_UNIX) {
		put_str(e, r, s, "addr", &ev->str[0]);
	}
	rec_str(r, "verdict", c->verdict == ST_VERDICT_DENY ? "deny" : "allow");
	rec_str(r, "source", c->source < 4 ? sources[c->source] : "none");
	rec_int(r, "fd", c->fd);
	rec_int(r, "ret", c->ret);
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

/* chmod, mkdir, mknod: the mode in octal text's value, and the bits that
 * give privilege called out. */
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

/* The file operations of struct st_fileop: operand 1 (path, or the file of
 * fd), operand 2 and the name, by type (events.h). */
static void put_fileop(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_fileop *x = ev->body;
	const struct event_str *path = &ev->str[0], *path2 = &ev->str[1], *name = &ev->str[2];
	const struct event_str *base = &ev->str[3], *base2 = &ev->str[4];
	bool fd = ev->h->flags & ST_F_FD_1;
	uint32_t type = ev->h->type, sys = ev->h->syscall;

	if (fd) {
		put_resolved(e, r, s, "path", NULL, NULL, base);
		rec_int(r, "fd", x->dirfd);
	} else {
		put_resolved(e, r, s, "path", "requested", path, base);
		put_dirfd(r, "dirfd", x->dirfd, path);
	}
	switch (type) {
	case ST_EV_TRUNCATE:
		rec_int(r, "length", (int64_t)x->arg[0]);
		break;
	case ST_EV_MKDIR:
		put_mode(r, x->mode);
		break;
	case ST_EV_MKNOD: {
		const char *t = flagnames_file_type(x->mode);

		if (t)
			rec_str(r, "file_type", t);
		else
			rec_uint(r, "file_type", x->mode & S_IFMT);
		put_mode(r, x->mode);
		if (S_ISCHR(x->mode) || S_ISBLK(x->mode)) {
			rec_uint(r, "major", major(x->arg[0]));
			rec_uint(r, "minor", minor(x->arg[0]));
		}
		break;
	}
	case ST_EV_SYMLINK:
		/* the link's content, as given: resolved only when followed */
		put_str(e, r, s, "target", path2);
		break;
	case ST_EV_LINK:
		put_resolved(e, r, s, "target", "target_requested", path2, base2);
		put_dirfd(r, "target_dirfd", x->dirfd2, path2);
		if (x->flags)
			flagnames_at(r, "flags", x->flags);
		break;
	case ST_EV_CHMOD:
		put_mode(r, x->mode);
		if (x->flags)
			flagnames_at(r, "flags", x->flags);
		break;
	case ST_EV_CHOWN:
		/* -1 leaves that id as it is */
		if ((uint32_t)x->arg[0] != (uint32_t)-1)
			rec_uint(r, "owner", (uint32_t)x->arg[0]);
		if ((uint32_t)x->arg[1] != (uint32_t)-1)
			rec_uint(r, "group", (uint32_t)x->arg[1]);
		if (x->flags || sys == ST_SYS_LCHOWN)
			flagnames_at(r, "flags", sys == ST_SYS_LCHOWN ? AT_SYMLINK_NOFOLLOW : x->flags);
		break;
	case ST_EV_UTIMES:
		if (ev->h->flags & ST_F_ARG_FAULT) {
			rec_bool(r, "times_unreadable", true);
		} else {
			put_time(r, "atime", (int64_t)x->arg[0], (int64_t)x->arg[1]);
			put_time(r, "mtime", (int64_t)x->arg[2], (int64_t)x->arg[3]);
		}
		if (x->flags)
			flagnames_at(r, "flags", x->flags);
		break;
	case ST_EV_SETXATTR:
	case ST_EV_REMOVEXATTR:
		put_str(e, r, s, "name", name);
		if (type == ST_EV_REMOVEXATTR) {
			if (x->flags)
				flagnames_at(r, "flags", x->flags);
			break;
		}
		/* never the value: its size */
		if (ev->h->flags & ST_F_ARG_FAULT)
			rec_bool(r, "size_unreadable", true);
		else
			rec_uint(r, "size", x->arg[0]);
		if (sys == ST_SYS_SETXATTRAT) {
			if (x->flags)
				flagnames_at(r, "flags", x->flags);
			if (x->arg[1])
				flagnames_xattr(r, "xattr_flags", (uint32_t)x->arg[1]);
		} else if (x->flags) {
			flagnames_xattr(r, "xattr_flags", x->flags);
		}
		break;
	case ST_EV_MOUNT:
		if (sys == ST_SYS_MOVE_MOUNT) {
			put_resolved(e, r, s, "source", "source_requested", path2, base2);
			put_dirfd(r, "source_dirfd", x->dirfd2, path2);
			flagnames_move_mount(r, "flags", x->flags);
			break;
		}
		/* a path for a bind or a move, else a device or a name */
		if (x->flags & (MS_BIND | MS_MOVE))
			put_resolved(e, r, s, "source", "source_requested", path2, base2);
		else if (path2->len || !path2->present)
			put_str(e, r, s, "source", path2);
		if (name->len || !name->present)
			put_str(e, r, s, "fstype", name);
		flagnames_mount(r, "flags", x->flags);
		break;
	case ST_EV_UMOUNT:
		flagnames_umount(r, "flags", x->flags);
		break;
	case ST_EV_PIVOT_ROOT:
		put_resolved(e, r, s, "put_old", "put_old_requested", path2, base2);
		break;
	}
	rec_int(r, "ret", x->ret);
}

void enrich_event(struct enrich *e, const struct event *ev, const struct session *s, uint64_t wall_ns,
		  struct rec *r)
{
	const struct st_hdr *h = ev->h;

	enrich_begin(r, event_type_name(h->type), wall_ns, s);
	put_process(e, r, s, h);
	switch (h->type) {
	case ST_EV_EXEC:
		put_exec(e, r, s, ev);
		break;
	case ST_EV_FORK: {
		const struct st_fork *f = ev->body;
		const struct proc *parent = proctable_get(&e->procs, h->tgid);

		rec_uint(r, "child_pid", f->child_tgid);
		if (parent)
			proctable_set(&e->procs, f->child_tgid, parent->image, parent->image_len);
		break;
	}
	case ST_EV_EXIT:
		put_exit(e, r, ev);
		break;
	case ST_EV_OPEN:
		put_open(e, r, s, ev);
		break;
	case ST_EV_UNLINK:
		put_unlink(e, r, s, ev);
		break;
	case ST_EV_RENAME:
		put_rename(e, r, s, ev);
		break;
	case ST_EV_CONNECT:
		put_connect(e, r, s, ev);
		break;
	default:
		put_fileop(e, r, s, ev);
		break;
	}
}
