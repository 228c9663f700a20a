#include <errno.h>
#include <string.h>

#include "event.h"

static const char *const type_names[ST_EV_MAX] = {
	[ST_EV_EXEC] = "exec",         [ST_EV_FORK] = "fork",       [ST_EV_EXIT] = "exit",
	[ST_EV_OPEN] = "open",         [ST_EV_UNLINK] = "unlink",   [ST_EV_RENAME] = "rename",
	[ST_EV_CONNECT] = "connect",   [ST_EV_TRUNCATE] = "truncate", [ST_EV_MKDIR] = "mkdir",
	[ST_EV_MKNOD] = "mknod",       [ST_EV_SYMLINK] = "symlink", [ST_EV_LINK] = "link",
	[ST_EV_CHMOD] = "chmod",       [ST_EV_CHOWN] = "chown",     [ST_EV_UTIMES] = "utimes",
	[ST_EV_SETXATTR] = "setxattr", [ST_EV_REMOVEXATTR] = "removexattr",
	[ST_EV_MOUNT] = "mount",       [ST_EV_UMOUNT] = "umount",   [ST_EV_PIVOT_ROOT] = "pivot_root",
	[ST_EV_DATAGRAM] = "datagram", [ST_EV_BIND] = "bind",       [ST_EV_LISTEN] = "listen",
	[ST_EV_ACCEPT] = "accept",     [ST_EV_CGROUP_LEAVE] = "cgroup_leave",
	[ST_EV_IO_URING] = "io_uring", [ST_EV_ABI32] = "abi32",
};

static const char *const syscall_names[ST_SYS_MAX] = {
	[ST_SYS_EXECVE] = "execve",     [ST_SYS_EXECVEAT] = "execveat", [ST_SYS_OPEN] = "open",
	[ST_SYS_OPENAT] = "openat",     [ST_SYS_OPENAT2] = "openat2",   [ST_SYS_CREAT] = "creat",
	[ST_SYS_UNLINK] = "unlink",     [ST_SYS_UNLINKAT] = "unlinkat", [ST_SYS_RMDIR] = "rmdir",
	[ST_SYS_RENAME] = "rename",     [ST_SYS_RENAMEAT] = "renameat", [ST_SYS_RENAMEAT2] = "renameat2",
	[ST_SYS_CONNECT] = "connect",   [ST_SYS_SENDMSG] = "sendmsg",
	[ST_SYS_TRUNCATE] = "truncate", [ST_SYS_FTRUNCATE] = "ftruncate",
	[ST_SYS_MKDIR] = "mkdir",       [ST_SYS_MKDIRAT] = "mkdirat",
	[ST_SYS_MKNOD] = "mknod",       [ST_SYS_MKNODAT] = "mknodat",
	[ST_SYS_SYMLINK] = "symlink",   [ST_SYS_SYMLINKAT] = "symlinkat",
	[ST_SYS_LINK] = "link",         [ST_SYS_LINKAT] = "linkat",
	[ST_SYS_CHMOD] = "chmod",       [ST_SYS_FCHMOD] = "fchmod",
	[ST_SYS_FCHMODAT] = "fchmodat", [ST_SYS_FCHMODAT2] = "fchmodat2",
	[ST_SYS_CHOWN] = "chown",       [ST_SYS_FCHOWN] = "fchown",
	[ST_SYS_LCHOWN] = "lchown",     [ST_SYS_FCHOWNAT] = "fchownat",
	[ST_SYS_UTIME] = "utime",       [ST_SYS_UTIMES] = "utimes",
	[ST_SYS_FUTIMESAT] = "futimesat", [ST_SYS_UTIMENSAT] = "utimensat",
	[ST_SYS_SETXATTR] = "setxattr", [ST_SYS_LSETXATTR] = "lsetxattr",
	[ST_SYS_FSETXATTR] = "fsetxattr", [ST_SYS_SETXATTRAT] = "setxattrat",
	[ST_SYS_REMOVEXATTR] = "removexattr", [ST_SYS_LREMOVEXATTR] = "lremovexattr",
	[ST_SYS_FREMOVEXATTR] = "fremovexattr", [ST_SYS_REMOVEXATTRAT] = "removexattrat",
	[ST_SYS_MOUNT] = "mount",       [ST_SYS_UMOUNT2] = "umount2",
	[ST_SYS_PIVOT_ROOT] = "pivot_root", [ST_SYS_MOVE_MOUNT] = "move_mount",
	[ST_SYS_BIND] = "bind",         [ST_SYS_LISTEN] = "listen",
	[ST_SYS_ACCEPT] = "accept",     [ST_SYS_ACCEPT4] = "accept4",
	[ST_SYS_IO_URING_SETUP] = "io_uring_setup", [ST_SYS_SOCKETCALL] = "socketcall",
};

const char *event_type_name(uint32_t type)
{
	return type < ST_EV_MAX && type_names[type] ? type_names[type] : NULL;
}

const char *event_syscall_name(uint32_t sys)
{
	return sys < ST_SYS_MAX && syscall_names[sys] ? syscall_names[sys] : NULL;
}

/* Fixed size of each type, where its string lengths sit in it, and which
 * strings are kernel walks (the others come from the caller's memory). */
struct layout {
	size_t size;
	size_t len_off[EVENT_STR_MAX];
	unsigned nstr;
	uint8_t walks; /* bit i: string i is a walk */
};

#define LEN_AT(type, field) offsetof(struct type, field)
#define FILEOP_LAYOUT                                                                                    \
	{ sizeof(struct st_fileop),                                                                       \
	  { LEN_AT(st_fileop, path_len), LEN_AT(st_fileop, path2_len), LEN_AT(st_fileop, name_len),      \
	    LEN_AT(st_fileop, base_len), LEN_AT(st_fileop, base2_len) },                                 \
	  5, 1 << 3 | 1 << 4 }

static const struct layout layouts[ST_EV_MAX] = {
	[ST_EV_EXEC] = { sizeof(struct st_exec),
			 { LEN_AT(st_exec, filename_len), LEN_AT(st_exec, argv_len), LEN_AT(st_exec, exe_len),
			   LEN_AT(st_exec, base_len) },
			 4, 1 << 2 | 1 << 3 },
	[ST_EV_FORK] = { sizeof(struct st_fork), { 0 }, 0, 0 },
	[ST_EV_EXIT] = { sizeof(struct st_exit), { 0 }, 0, 0 },
	[ST_EV_OPEN] = { sizeof(struct st_open),
			 { LEN_AT(st_open, path_len), LEN_AT(st_open, resolved_len), LEN_AT(st_open, base_len) },
			 3, 1 << 1 | 1 << 2 },
	[ST_EV_UNLINK] = { sizeof(struct st_unlink), { LEN_AT(st_unlink, path_len), LEN_AT(st_unlink, base_len) },
			   2, 1 << 1 },
	[ST_EV_RENAME] = { sizeof(struct st_rename),
			   { LEN_AT(st_rename, from_len), LEN_AT(st_rename, to_len), LEN_AT(st_rename, from_base_len),
			     LEN_AT(st_rename, to_base_len) },
			   4, 1 << 2 | 1 << 3 },
	[ST_EV_CONNECT] = { sizeof(struct st_connect), { LEN_AT(st_connect, path_len) }, 1, 0 },
	[ST_EV_TRUNCATE] = FILEOP_LAYOUT,
	[ST_EV_MKDIR] = FILEOP_LAYOUT,
	[ST_EV_MKNOD] = FILEOP_LAYOUT,
	[ST_EV_SYMLINK] = FILEOP_LAYOUT,
	[ST_EV_LINK] = FILEOP_LAYOUT,
	[ST_EV_CHMOD] = FILEOP_LAYOUT,
	[ST_EV_CHOWN] = FILEOP_LAYOUT,
	[ST_EV_UTIMES] = FILEOP_LAYOUT,
	[ST_EV_SETXATTR] = FILEOP_LAYOUT,
	[ST_EV_REMOVEXATTR] = FILEOP_LAYOUT,
	[ST_EV_MOUNT] = FILEOP_LAYOUT,
	[ST_EV_UMOUNT] = FILEOP_LAYOUT,
	[ST_EV_PIVOT_ROOT] = FILEOP_LAYOUT,
	[ST_EV_DATAGRAM] = { sizeof(struct st_connect), { LEN_AT(st_connect, path_len) }, 1, 0 },
	[ST_EV_BIND] = { sizeof(struct st_sock), { LEN_AT(st_sock, path_len) }, 1, 0 },
	[ST_EV_LISTEN] = { sizeof(struct st_sock), { LEN_AT(st_sock, path_len) }, 1, 0 },
	[ST_EV_ACCEPT] = { sizeof(struct st_sock), { LEN_AT(st_sock, path_len) }, 1, 0 },
	[ST_EV_CGROUP_LEAVE] = { sizeof(struct st_cgroup_leave), { LEN_AT(st_cgroup_leave, path_len) }, 1, 0 },
	[ST_EV_IO_URING] = { sizeof(struct st_io_uring), { LEN_AT(st_io_uring, file_len) }, 1, 1 << 0 },
	[ST_EV_ABI32] = { sizeof(struct st_abi32), { 0 }, 0, 0 },
};

int event_decode(const void *data, size_t len, struct event *ev)
{
	const uint8_t *base = data;
	const struct st_hdr *h = data;
	const struct layout *l;
	size_t off;

	if (len < sizeof(*h) || h->size != len || h->type == 0 || h->type >= ST_EV_MAX)
		return -EBADMSG;
	l = &layouts[h->type];
	if (len < l->size)
		return -EBADMSG;
	ev->h = h;
	ev->body = data;
	ev->nstr = l->nstr;
	/* only the strings past the type's are cleared: a memset of the
	 * whole event was half the cost of decoding one */
	for (unsigned i = l->nstr; i < EVENT_STR_MAX; i++)
		ev->str[i] = (struct event_str){ 0 };
	off = l->size;
	for (unsigned i = 0; i < l->nstr; i++) {
		uint32_t st = h->strs >> (4 * i);
		bool walk = (l->walks >> i) & 1;
		uint16_t slen;

		memcpy(&slen, base + l->len_off[i], sizeof(slen));
		if (slen > len - off)
			return -EBADMSG;
		ev->str[i] = (struct event_str){
			.p = base + off,
			.len = slen,
			.truncated = (st & ST_S_CUT) != 0,
			.components = walk,
			.present = !(st & ST_S_ABSENT),
			.late = !walk && (st & ST_S_LATE),
			.detached = walk && (st & ST_S_DETACHED),
		};
		off += slen;
	}
	return off == len ? 0 : -EBADMSG;
}

/* Joined paths are built in out as a stack of "/name" segments. */
struct pathbuf {
	uint8_t *out;
	size_t cap, len;
	bool overflow;
};

static void push_name(struct pathbuf *b, const uint8_t *p, size_t len)
{
	if (b->len + 1 + len > b->cap) {
		b->overflow = true;
		return;
	}
	b->out[b->len++] = '/';
	memcpy(b->out + b->len, p, len);
	b->len += len;
}

static void pop_name(struct pathbuf *b)
{
	while (b->len > 0 && b->out[--b->len] != '/')
		;
}

/* Pushes the names of a walk root first; returns how many, and in *floor
 * how many of them lead to the task's root (the mark: an empty name), or
 * 0 if the walk never passed it. */
static size_t push_walk(struct pathbuf *b, const struct event_str *s, size_t *floor)
{
	static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026: the walk did not reach the root */
	size_t n = 0, end = s->len;

	*floor = 0;
	if (s->truncated && b->cap >= sizeof(ellipsis) - 1) {
		memcpy(b->out, ellipsis, sizeof(ellipsis) - 1);
		b->len = sizeof(ellipsis) - 1;
	}
	/* the walk is leaf first: take its names from the end */
	while (end > 0) {
		const uint8_t *nul = memrchr(s->p, 0, end - 1); /* the NUL before this name */
		size_t start = nul ? (size_t)(nul - s->p) + 1 : 0;
		if (start == end - 1) {
			*floor = n;
		} else {
			push_name(b, s->p + start, end - 1 - start);
			n++;
		}
		end = start;
	}
	return n;
}

size_t event_path_join(const struct event_str *s, uint8_t *out, size_t cap, bool *truncated)
{
	struct pathbuf b = { out, cap, 0, false };
	size_t floor;

	push_walk(&b, s, &floor);
	if (b.len == 0 && cap > 0)
		out[b.len++] = '/';
	*truncated = s->truncated || b.overflow;
	return b.len;
}

size_t event_path_resolve(const struct event_str *base, const uint8_t *req, size_t req_len, uint8_t *out,
			  size_t cap, bool *truncated)
{
	struct pathbuf b = { out, cap, 0, false };
	size_t floor, nbase = push_walk(&b, base, &floor), nreq = 0, i = 0;

	/* an absolute path starts at the task's root, which base is */
	if (req_len && req[0] == '/')
		floor = nbase;
	while (i < req_len) {
		size_t start = i, len;

		while (i < req_len && req[i] != '/')
			i++;
		len = i - start;
		i++;
		if (len == 0 || (len == 1 && req[start] == '.'))
			continue;
		/* ".." over a directory of the walk: its real parent; at the
		 * task's root: stays there; after a requested name: kept, as
		 * that name may be a symlink the kernel followed */
		if (len == 2 && req[start] == '.' && req[start + 1] == '.' && nreq == 0) {
			if (nbase > floor) {
				pop_name(&b);
				nbase--;
				continue;
			}
			if (nbase > 0 || !base->truncated)
				continue;
		}
		push_name(&b, req + start, len);
		nreq++;
	}
	if (b.len == 0 && cap > 0)
		out[b.len++] = '/';
	*truncated = base->truncated || b.overflow;
	return b.len;
}
