#include <arpa/inet.h>
#include <fcntl.h>
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

/* key: the string; key_truncated: true when the kernel cut it. */
static void put_str(struct enrich *e, struct rec *r, const struct session *s, const char *key,
		    const struct event_str *str)
{
	char tkey[64];
	bool truncated = str->truncated;

	if (str->components) {
		size_t n = event_path_join(str, e->path, sizeof(e->path), &truncated);

		enrich_bytes(e, r, s, key, e->path, n);
	} else {
		enrich_bytes(e, r, s, key, str->p, str->len);
	}
	if (truncated) {
		snprintf(tkey, sizeof(tkey), "%s_truncated", key);
		rec_bool(r, tkey, true);
	}
	if (!str->present) {
		snprintf(tkey, sizeof(tkey), "%s_unreadable", key);
		rec_bool(r, tkey, true);
	}
	if (str->late) {
		snprintf(tkey, sizeof(tkey), "%s_late", key);
		rec_bool(r, tkey, true);
	}
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
	/* the manager's only child in the session is the sandbox's init: what it
	 * does is the sandbox building itself (CMD is the init's child, and an
	 * orphan is adopted by the init, never by the manager) */
	if (s && s->setup_ppid && h->ppid == s->setup_ppid)
		rec_bool(r, "setup", true);
}

static void put_exec(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_exec *x = ev->body;
	const struct event_str *argv = &ev->str[1], *exe = &ev->str[2];
	uint32_t off = 0;

	put_str(e, r, s, "filename", &ev->str[0]);
	rec_key(r, "argv");
	msgpack_pack_array(&r->pk, x->argc);
	for (uint32_t i = 0; i < x->argc; i++) {
		const uint8_t *a = argv->p + off;
		size_t len = off < argv->len ? strnlen((const char *)a, argv->len - off) : 0;

		enrich_pack_bin(e, r, s, a, len);
		off += len + 1;
	}
	if (argv->truncated || (ev->h->flags & ST_F_TRUNC_ARGS))
		rec_bool(r, "argv_truncated", true);
	if (exe->len)
		put_str(e, r, s, "exe", exe);
	rec_int(r, "ret", x->ret);
	if (x->ret == 0) {
		/* the process now runs exe: later records carry it as image */
		bool t;
		size_t n = exe->len ? event_path_join(exe, e->path, sizeof(e->path), &t) : ev->str[0].len;

		proctable_set(&e->procs, ev->h->tgid, exe->len ? e->path : ev->str[0].p, n);
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
	const struct event_str *req = &ev->str[0], *res = &ev->str[1];
	bool resolved = o->ret >= 0 && res->present && res->len > 0;

	put_str(e, r, s, "path", resolved ? res : req);
	put_str(e, r, s, "requested", req);
	flagnames_open(r, "flags", o->flags);
	if (o->flags & (O_CREAT | __O_TMPFILE))
		rec_uint(r, "mode", o->mode);
	if (o->dirfd != AT_FDCWD && req->len && req->p[0] != '/')
		rec_int(r, "dirfd", o->dirfd);
	if (o->resolve)
		rec_uint(r, "resolve", o->resolve);
	rec_int(r, "ret", o->ret);
}

static void put_unlink(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_unlink *u = ev->body;

	put_str(e, r, s, "path", &ev->str[0]);
	rec_bool(r, "dir", ev->h->syscall == ST_SYS_RMDIR || (u->flags & AT_REMOVEDIR));
	if (u->dirfd != AT_FDCWD && ev->str[0].len && ev->str[0].p[0] != '/')
		rec_int(r, "dirfd", u->dirfd);
	rec_int(r, "ret", u->ret);
}

static void put_rename(struct enrich *e, struct rec *r, const struct session *s, const struct event *ev)
{
	const struct st_rename *x = ev->body;

	put_str(e, r, s, "from", &ev->str[0]);
	put_str(e, r, s, "to", &ev->str[1]);
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
	}
}
