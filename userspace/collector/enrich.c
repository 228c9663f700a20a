#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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

void enrich_loss(struct rec *r, const struct session *s, uint64_t wall_ns, const char *kind, const char *reason,
		 uint64_t count)
{
	enrich_begin(r, "loss", wall_ns, s);
	rec_str(r, "kind", kind);
	rec_str(r, "reason", reason);
	rec_uint(r, "count", count);
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

static void flag_key(struct rec *r, const char *key, const char *suffix)
{
	char tkey[64];

	snprintf(tkey, sizeof(tkey), "%s_%s", key, suffix);
	rec_bool(r, tkey, true);
}

void enrich_str(struct enrich *e, struct rec *r, const struct session *s, const char *key,
		const struct enrich_str *str)
{
	enrich_bytes(e, r, s, key, str->p, str->len);
	if (str->truncated)
		flag_key(r, key, "truncated");
	if (str->unreadable)
		flag_key(r, key, "unreadable");
	if (str->late)
		flag_key(r, key, "late");
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
}

void enrich_exec(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_exec *x)
{
	enrich_str(e, r, s, "filename", &x->filename);
	rec_key(r, "argv");
	msgpack_pack_array(&r->pk, x->argc);
	for (uint32_t i = 0; i < x->argc; i++)
		enrich_pack_bin(e, r, s, x->argv[i].p, x->argv[i].len);
	if (x->argv_truncated)
		rec_bool(r, "argv_truncated", true);
	if (x->exe.len)
		enrich_str(e, r, s, "exe", &x->exe);
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
	rec_bool(r, "dir", u->dir);
	if (u->dirfd != AT_FDCWD && u->path.len && u->path.p[0] != '/')
		rec_int(r, "dirfd", u->dirfd);
	rec_int(r, "ret", u->ret);
}

void enrich_rename(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_rename *x)
{
	enrich_str(e, r, s, "from", &x->from);
	enrich_str(e, r, s, "to", &x->to);
	if (x->flags)
		flagnames_rename(r, "flags", x->flags);
	rec_int(r, "ret", x->ret);
}

void enrich_connect(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_connect *c)
{
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
		enrich_str(e, r, s, "addr", &c->unix_path);
	}
	rec_str(r, "verdict", c->deny ? "deny" : "allow");
	rec_str(r, "source", c->source);
	rec_int(r, "fd", c->fd);
	rec_int(r, "ret", c->ret);
}

/* ---- the kernel's events ---- */

/* A string of ev as a record keeps it; a kernel path walk is joined into
 * e->path (one walk per event at most). */
static struct enrich_str from_event(struct enrich *e, const struct event_str *s)
{
	struct enrich_str out = {
		.p = s->p, .len = s->len, .truncated = s->truncated, .unreadable = !s->present, .late = s->late,
	};

	if (s->components) {
		out.len = event_path_join(s, e->path, sizeof(e->path), &out.truncated);
		out.p = e->path;
	}
	return out;
}

static void event_exec(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_exec *k = ev->body;
	const struct event_str *argv = &ev->str[1];
	struct enrich_str args[ST_ARGS_MAX];
	struct enrich_exec x = {
		.filename = from_event(e, &ev->str[0]), .argv = args, .ret = k->ret,
		.argv_truncated = argv->truncated || (ev->h->flags & ST_F_TRUNC_ARGS) || k->argc > ST_ARGS_MAX,
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
		x.exe = from_event(e, &ev->str[2]);
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
	bool resolved = k->ret >= 0 && res->present && res->len > 0;
	struct enrich_open o = {
		.requested = from_event(e, req), .flags = k->flags, .resolve = k->resolve, .mode = k->mode,
		.dirfd = k->dirfd, .ret = k->ret,
	};

	o.path = resolved ? from_event(e, res) : o.requested;
	enrich_open(e, r, s, &o);
}

static void event_connect(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	static const char *const sources[] = { "none", "hook", "socket", "user" };
	const struct st_connect *k = ev->body;
	struct enrich_connect c = {
		.family = k->family, .port = k->port, .deny = k->verdict == ST_VERDICT_DENY,
		.source = k->source < 4 ? sources[k->source] : "none", .fd = k->fd, .ret = k->ret,
	};

	memcpy(c.addr, k->addr, sizeof(c.addr));
	if (k->family == AF_UNIX)
		c.unix_path = from_event(e, &ev->str[0]);
	enrich_connect(e, r, s, &c);
}

void enrich_event(struct enrich *e, const struct event *ev, const struct session *s, uint64_t wall_ns,
		  struct rec *r)
{
	const struct st_hdr *h = ev->h;
	struct enrich_proc p = {
		.pid = h->tgid, .tid = h->tid, .ppid = h->ppid, .uid = h->uid, .gid = h->gid, .comm = h->comm,
		.comm_len = strnlen(h->comm, sizeof(h->comm)), .cgroup = h->cgroup_id,
		.syscall = event_syscall_name(h->syscall), .image = proctable_get(&e->procs, h->tgid),
		/* in a gVisor session the kernel sees runsc, never the sandbox's own processes */
		.view = s && s->gvisor ? ENRICH_VIEW_HOST : ENRICH_VIEW_NONE,
	};

	enrich_begin(r, event_type_name(h->type), wall_ns, s);
	enrich_process(e, r, s, &p);
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
			.path = from_event(e, &ev->str[0]), .dirfd = u->dirfd, .ret = u->ret,
			.dir = h->syscall == ST_SYS_RMDIR || (u->flags & AT_REMOVEDIR) });
		break;
	}
	case ST_EV_RENAME: {
		const struct st_rename *x = ev->body;

		enrich_rename(e, r, s, &(struct enrich_rename){
			.from = from_event(e, &ev->str[0]), .to = from_event(e, &ev->str[1]), .flags = x->flags,
			.ret = x->ret });
		break;
	}
	case ST_EV_CONNECT:
		event_connect(e, r, s, ev);
		break;
	}
}
