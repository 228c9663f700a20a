/* Builds records from what a source saw: the kernel's events (bpf/) or
 * gVisor's monitoring stream (gvisor.c).  One builder per record type, fed
 * plain values, so that both sources write the same fields the same way:
 * session and labels, process fields, symbolic flags, secrets redacted, and
 * every cut or unreadable string marked. */
#ifndef SANDTRAIL_ENRICH_H
#define SANDTRAIL_ENRICH_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "proctable.h"
#include "journal/journal.h"
#include "redact.h"
#include "session.h"

/* Paths one kernel event may name at once (exec: path and exe), each with
 * room for " (memfd)". */
#define ENRICH_PATHS 2

/* Process fields cached per thread and syscall (direct-mapped). */
#define ENRICH_CACHE 64

/* Everything a kernel event's process fields are made of: the same key
 * writes the same bytes.  No padding: compared whole. */
struct enrich_task_key {
	uint64_t cgroup;
	uint64_t session_gen; /* the session's secrets redact comm and image */
	uint64_t image_gen;   /* the proctable entry's image; 0: none */
	uint32_t pid, tid, ppid, uid, gid;
	uint32_t setup_ppid;  /* the session's; 0: none */
	uint32_t syscall;
	uint16_t flags;       /* the event's ST_F_IO_URING and ST_F_ABI_* */
	uint16_t view;
	char comm[ST_COMM_LEN];
};

/* A thread's process fields, pid to setup, as its last record of that
 * syscall encoded them. */
struct enrich_task {
	struct enrich_task_key key;
	bool valid;
	uint8_t *mp;
	size_t len, cap;
	uint32_t keys;
};

struct enrich {
	struct proctable procs; /* host pids, from the kernel's events (a guest's, when guest) */
	bool guest;             /* the events are a microVM guest kernel's: the sandbox's own view */
	struct redact_buf rb;
	uint8_t path[ENRICH_PATHS][EVENT_PATH_MAX + 16];
	struct enrich_task tasks[ENRICH_CACHE];
};

/* A byte string from the sandbox and what happened to it on the way.
 * Optional fields are absent while p is NULL. */
struct enrich_str {
	const uint8_t *p;
	size_t len;
	bool truncated;  /* cut to its bound */
	bool unreadable; /* the source could not read it: empty */
	bool late;       /* read at the syscall's exit, not its entry */
	bool unresolved; /* a path that could not be made absolute: as passed */
	bool detached;   /* a file outside the task's mount namespace */
};

/* Which side of a gvisor or microvm session saw a record (the `view` field). */
enum enrich_view {
	ENRICH_VIEW_NONE,    /* a hardened or watched session: no field */
	ENRICH_VIEW_SANDBOX, /* the Sentry's, or the guest kernel's, account of the sandbox's syscalls */
	ENRICH_VIEW_HOST,    /* the host kernel's, of runsc's or the VMM's own processes */
};

struct enrich_proc {
	uint32_t pid, tid, ppid, uid, gid;
	const void *comm;
	size_t comm_len;
	uint64_t cgroup;           /* host cgroup v2 id; 0: none (gVisor's tasks) */
	const char *syscall;       /* NULL: none */
	const struct proc *image;  /* what the process runs; NULL: unknown */
	enum enrich_view view;
	const char *via;           /* "io_uring": a request of the task's ring, not a syscall; NULL: none */
	const char *abi;           /* "i386", "x32": a syscall of that ABI; NULL: the native one */
};

struct enrich_exec {
	struct enrich_str filename, exe; /* exe.len 0: none */
	struct enrich_str path;          /* the file filename names, absolute (optional) */
	struct enrich_str script;        /* an interpreter ran it: the script (optional) */
	const struct enrich_str *argv;
	uint32_t argc;
	bool argv_truncated, argv_unreadable;
	int32_t dirfd;                   /* execveat's; AT_FDCWD: none */
	uint32_t at_flags;
	int32_t ret;
};

struct enrich_open {
	struct enrich_str path, requested;
	uint64_t flags, resolve;
	uint32_t mode;
	int32_t dirfd; /* AT_FDCWD: none */
	int32_t ret;
};

struct enrich_unlink {
	struct enrich_str path, requested; /* requested: optional */
	bool dir;
	int32_t dirfd;
	int32_t ret;
};

struct enrich_rename {
	struct enrich_str from, to, from_requested, to_requested; /* *_requested: optional */
	bool dirfds;                     /* the call took them (renameat, renameat2) */
	int32_t from_dirfd, to_dirfd;
	uint32_t flags;
	int32_t ret;
};

/* truncate, mkdir, mknod, symlink, link, chmod, chown, utimes, setxattr,
 * removexattr, mount, umount, pivot_root (type: ST_EV_*). */
struct enrich_fileop {
	uint32_t type;
	struct enrich_str path, requested; /* requested absent: the call acted on fd */
	int32_t fd, dirfd;                 /* dirfd: AT_FDCWD none */
	/* link: the existing file; symlink: the link's content; mount: the
	 * source; pivot_root: put_old (optional) */
	struct enrich_str other, other_requested;
	int32_t other_dirfd;
	struct enrich_str name;            /* xattr name, mount's fs type (optional) */
	uint32_t mode;                     /* chmod, mkdir, mknod (with the type) */
	uint32_t flags;                    /* AT_*, MS_*, MNT_*, MOVE_MOUNT_* as the call took them */
	uint32_t xattr_flags;
	bool move_mount;
	int64_t length;                    /* truncate */
	uint64_t dev;                      /* mknod */
	uint32_t owner, group;             /* chown; (uint32_t)-1: unchanged */
	int64_t atime_s, atime_ns, mtime_s, mtime_ns; /* utimes; ns may be UTIME_NOW, UTIME_OMIT */
	uint64_t size;                     /* setxattr: the value's */
	bool args_unreadable;              /* the times or xattr arguments */
	int32_t ret;
};

struct enrich_connect {
	uint16_t family, port;  /* port in host order */
	uint8_t addr[16];       /* network order; IPv4 in the first 4 bytes */
	struct enrich_str unix_path;
	bool deny;
	bool datagram;          /* the first allowed datagram to addr: no fd, no result yet */
	const char *source;     /* where the address was read: hook, socket, user, sentry */
	int32_t fd, ret;
};

/* bind, listen, accept (type: ST_EV_*) */
struct enrich_sock {
	uint32_t type;
	uint16_t family, port, peer_port; /* ports in host order */
	uint8_t addr[16], peer[16];       /* network order; addr: the socket's own */
	struct enrich_str unix_path;
	const char *source;
	int32_t fd, backlog, ret;
	/* the socket's own address is not known (gVisor's accept and listen):
	 * no addr/port, family only when known */
	bool own_unknown;
};

/* A task of session s left for dst_path (cgroup dst): it stays in s. */
struct enrich_cgroup_leave {
	uint64_t dst;
	struct enrich_str dst_path;
	uint32_t task;
	bool threadgroup;
};

/* An io_uring request no other type stands for, or the ring's creation
 * (setup: entries, setup_flags, ret the ring's fd). */
struct enrich_io_uring {
	bool setup;
	unsigned op;                    /* IORING_OP_* */
	int32_t fd;                     /* -1: none */
	bool fixed;                     /* fd indexes the ring's fixed files */
	struct enrich_str file;         /* absolute (optional: the request had a file) */
	uint32_t entries, setup_flags;
	int32_t ret;
};

/* A syscall of another ABI no other type stands for (enrich_proc.abi). */
struct enrich_abi32 {
	uint32_t nr;
	uint64_t args[6];
	int64_t ret;
};

void enrich_init(struct enrich *e);
void enrich_free(struct enrich *e);
/* Starts a record of type for session s (NULL: not attributable): ts,
 * session id and labels. */
void enrich_begin(struct rec *r, const char *type, uint64_t wall_ns, const struct session *s);
/* The whole loss record: count events of kind lost for reason. */
void enrich_loss(struct rec *r, const struct session *s, uint64_t wall_ns, const char *kind, const char *reason,
		 uint64_t count);
/* The whole record of one kernel event; wall_ns is the event's time. */
void enrich_event(struct enrich *e, const struct event *ev, const struct session *s, uint64_t wall_ns,
		  struct rec *r);
/* Packs one bin value (no key) from the sandbox, with secrets of s redacted. */
void enrich_pack_bin(struct enrich *e, struct rec *r, const struct session *s, const void *p, size_t len);
/* key and a byte string from the sandbox, with secrets of s redacted. */
void enrich_bytes(struct enrich *e, struct rec *r, const struct session *s, const char *key, const void *p,
		  size_t len);
/* key and str, with key_truncated / key_unreadable / key_late /
 * key_unresolved / key_detached when so. */
void enrich_str(struct enrich *e, struct rec *r, const struct session *s, const char *key,
		const struct enrich_str *str);

/* The fields of each record type, after enrich_begin. */
void enrich_process(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_proc *p);
void enrich_exec(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_exec *x);
void enrich_fork(struct rec *r, uint32_t child_pid);
void enrich_exit(struct rec *r, int32_t wait_status);
void enrich_open(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_open *o);
void enrich_unlink(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_unlink *u);
void enrich_rename(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_rename *x);
void enrich_connect(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_connect *c);
void enrich_fileop(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_fileop *f);
void enrich_sock(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_sock *k);
void enrich_cgroup_leave(struct enrich *e, struct rec *r, const struct session *s,
			 const struct enrich_cgroup_leave *l);
/* The whole record of the datagrams sent to one destination (family, addr
 * in network order, port in host order) over session s; untracked: the
 * count of those to destinations beyond the session's table (family 0). */
void enrich_datagrams(struct rec *r, const struct session *s, uint64_t wall_ns, uint16_t family,
		      const uint8_t addr[16], uint16_t port, uint64_t count);
void enrich_io_uring(struct enrich *e, struct rec *r, const struct session *s, const struct enrich_io_uring *u);
void enrich_abi32(struct rec *r, const struct enrich_abi32 *a);

#endif
