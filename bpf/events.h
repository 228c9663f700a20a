/* Event ABI between the kernel programs (bpf/) and the collector (userspace/collector/).
 *
 * Every event is one ring-buffer sample: struct st_hdr, the fixed part of its
 * type, then the type's byte strings packed back to back in the order the
 * fixed part lists their lengths (no NUL terminators, no padding).  Only
 * fixed-width types, no pointers: this header is compiled by clang -target bpf
 * and by the host compiler and must give the same layout to both.
 *
 * Paths walked in the kernel (the strings a type marks "walk") are the dentry
 * names from the file up to the root of its mount namespace, leaf first, each
 * followed by one NUL; the collector reverses them.  Names cannot hold '/' or
 * NUL, nor be empty: an empty name marks the task's own root (chroot, pivot)
 * where the walk passed it, so that ".." is not taken above it.
 *
 * Paths as the program passed them are kept beside the walk of the directory
 * they were resolved from (the dirfd's file, the cwd, or the task's root for
 * an absolute path, as the kernel held it), so that the collector can give
 * every path absolute even when its file is gone by the syscall's exit.
 */
#ifndef SANDTRAIL_EVENTS_H
#define SANDTRAIL_EVENTS_H

#ifdef __bpf__
/* vmlinux.h provides the __u* types */
#else
#include <linux/types.h>
#endif

#define ST_ABI_VERSION 2

#define ST_COMM_LEN    16
#define ST_PATH_MAX    4096 /* bytes of one path string kept */
#define ST_ARGV_MAX    4096 /* bytes of argv kept, each argument NUL-terminated */
#define ST_ARGS_MAX    64   /* arguments kept */
#define ST_NAME_MAX    256  /* one dentry name + NUL; also xattr names, fs types */
#define ST_UNIX_PATH_MAX 108

enum st_event_type {
	ST_EV_EXEC = 1,
	ST_EV_FORK,
	ST_EV_EXIT,
	ST_EV_OPEN,
	ST_EV_UNLINK,
	ST_EV_RENAME,
	ST_EV_CONNECT,
	/* struct st_fileop, one type per record type */
	ST_EV_TRUNCATE,
	ST_EV_MKDIR,
	ST_EV_MKNOD,
	ST_EV_SYMLINK,
	ST_EV_LINK,
	ST_EV_CHMOD,
	ST_EV_CHOWN,
	ST_EV_UTIMES,
	ST_EV_SETXATTR,
	ST_EV_REMOVEXATTR,
	ST_EV_MOUNT,
	ST_EV_UMOUNT,
	ST_EV_PIVOT_ROOT,
	ST_EV_DATAGRAM,     /* struct st_connect: the first allowed datagram to a destination */
	ST_EV_BIND,         /* struct st_sock */
	ST_EV_LISTEN,
	ST_EV_ACCEPT,
	ST_EV_CGROUP_LEAVE, /* struct st_cgroup_leave */
	ST_EV_IO_URING,     /* struct st_io_uring */
	ST_EV_ABI32,        /* struct st_abi32 */
	ST_EV_MAX
};

/* Why an event was lost; the kernel counts each (per CPU, per type). */
enum st_loss_reason {
	ST_LOSS_RINGBUF = 0, /* bpf_ringbuf_output/reserve failed: buffer full */
	ST_LOSS_PENDING,     /* enter/exit pairing map full: event never built */
	ST_LOSS_MAX
};

/* Which syscall produced an event (st_hdr.syscall). */
enum st_syscall {
	ST_SYS_NONE = 0,
	ST_SYS_EXECVE, ST_SYS_EXECVEAT,
	ST_SYS_OPEN, ST_SYS_OPENAT, ST_SYS_OPENAT2, ST_SYS_CREAT,
	ST_SYS_UNLINK, ST_SYS_UNLINKAT, ST_SYS_RMDIR,
	ST_SYS_RENAME, ST_SYS_RENAMEAT, ST_SYS_RENAMEAT2,
	ST_SYS_CONNECT,
	ST_SYS_SENDMSG,     /* a datagram to an address the egress policy denied */
	ST_SYS_TRUNCATE, ST_SYS_FTRUNCATE,
	ST_SYS_MKDIR, ST_SYS_MKDIRAT,
	ST_SYS_MKNOD, ST_SYS_MKNODAT,
	ST_SYS_SYMLINK, ST_SYS_SYMLINKAT,
	ST_SYS_LINK, ST_SYS_LINKAT,
	ST_SYS_CHMOD, ST_SYS_FCHMOD, ST_SYS_FCHMODAT, ST_SYS_FCHMODAT2,
	ST_SYS_CHOWN, ST_SYS_FCHOWN, ST_SYS_LCHOWN, ST_SYS_FCHOWNAT,
	ST_SYS_UTIME, ST_SYS_UTIMES, ST_SYS_FUTIMESAT, ST_SYS_UTIMENSAT,
	ST_SYS_SETXATTR, ST_SYS_LSETXATTR, ST_SYS_FSETXATTR, ST_SYS_SETXATTRAT,
	ST_SYS_REMOVEXATTR, ST_SYS_LREMOVEXATTR, ST_SYS_FREMOVEXATTR, ST_SYS_REMOVEXATTRAT,
	ST_SYS_MOUNT, ST_SYS_UMOUNT2, ST_SYS_PIVOT_ROOT, ST_SYS_MOVE_MOUNT,
	ST_SYS_BIND, ST_SYS_LISTEN, ST_SYS_ACCEPT, ST_SYS_ACCEPT4,
	ST_SYS_IO_URING_SETUP,
	ST_SYS_SOCKETCALL,  /* i386's connect through socketcall(SYS_CONNECT) */
	ST_SYS_MAX
};

/* st_hdr.flags */
#define ST_F_TRUNC_ARGS (1u << 0) /* more arguments than ST_ARGS_MAX */
#define ST_F_SCRIPT     (1u << 1) /* exec: an interpreter ran the file (#!, binfmt_misc) */
#define ST_F_FD_1       (1u << 2) /* the first path operand is the file of an fd (f* calls, NULL path) */
#define ST_F_TIMES_NULL (1u << 3) /* utimes: no times passed: both set to now */
#define ST_F_ARG_FAULT  (1u << 4) /* a struct argument (times, xattr args) could not be read */
#define ST_F_IO_URING   (1u << 5) /* an io_uring request (h.syscall: the call it stands for) */
#define ST_F_ABI_I386   (1u << 6) /* a syscall of the i386 ABI (int 0x80, sysenter) */
#define ST_F_ABI_X32    (1u << 7) /* a syscall of the x32 ABI (both: a successful exec of
				   * a 64-bit image by one of them, not told apart) */

/* st_hdr.strs: the state of each string, ST_S_* << 4 * i for the type's
 * string i (0: the first its fixed part lists). */
#define ST_S_CUT      1u /* cut to its bound (a walk: did not reach the root) */
#define ST_S_ABSENT   2u /* a user string unreadable; a walk not made (no such fd, raced) */
#define ST_S_LATE     4u /* a user string unreadable at entry, read at exit */
#define ST_S_DETACHED 8u /* a walk that ended outside the task's mount namespace (memfd, pipe, detached mount) */
#define ST_STR(i, s)  ((__u32)(s) << (4 * (i)))
#define ST_STR_MAX    8

struct st_hdr {
	__u64 ts;           /* bpf_ktime_get_boot_ns() at the event */
	__u64 cgroup_id;    /* cgroup v2 id of the task */
	__u64 session_cgid; /* the watched cgroup the task is in or below */
	__u32 type;         /* enum st_event_type */
	__u32 size;         /* whole event, header included */
	__u32 tgid;
	__u32 tid;
	__u32 ppid;         /* tgid of the real parent */
	__u32 uid;
	__u32 gid;
	__u32 flags;        /* ST_F_* */
	__u32 syscall;      /* enum st_syscall */
	__u32 reserved;
	__u32 strs;         /* ST_STR(i, ST_S_*) */
	__u32 pad;
	char comm[ST_COMM_LEN];
};

/* strings: filename (as requested), argv (NUL-terminated each, as the kernel
 * copied them to the new image on success: a script's interpreter's argv;
 * as requested otherwise), exe (walk of the new image's exe_file, on success
 * only), base (walk: where filename was resolved from, taken at entry) */
struct st_exec {
	struct st_hdr h;
	__s32 ret;
	__u32 argc;         /* arguments kept in argv */
	__s32 dirfd;        /* execveat's; AT_FDCWD for execve */
	__u32 at_flags;     /* execveat's AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW */
	__u16 filename_len;
	__u16 argv_len;
	__u16 exe_len;
	__u16 base_len;
};

/* h is the parent; child is a new process (threads are not reported) */
struct st_fork {
	struct st_hdr h;
	__u32 child_tgid;
	__u32 pad;
};

/* the last thread of the process exits: status as wait(2) encodes it */
struct st_exit {
	struct st_hdr h;
	__s32 status;
	__u32 pad;
};

/* strings: path as requested (copied at entry), resolved (walk of the
 * returned fd's file, successful opens), base (walk: where the path was
 * resolved from, failed opens) */
struct st_open {
	struct st_hdr h;
	__s32 ret;
	__s32 dirfd;        /* AT_FDCWD for open/creat */
	__u64 flags;        /* O_* as passed (creat: O_CREAT|O_WRONLY|O_TRUNC) */
	__u64 resolve;      /* openat2 RESOLVE_* */
	__u32 mode;
	__u16 path_len;
	__u16 resolved_len;
	__u16 base_len;
	__u16 pad[3];
};

/* strings: path as requested, base (walk) */
struct st_unlink {
	struct st_hdr h;
	__s32 ret;
	__s32 dirfd;
	__u32 flags;        /* AT_REMOVEDIR for rmdir */
	__u16 path_len;
	__u16 base_len;
};

/* strings: from, to (as requested), the base of each (walks) */
struct st_rename {
	struct st_hdr h;
	__s32 ret;
	__s32 olddirfd;
	__s32 newdirfd;
	__u32 flags;        /* RENAME_* */
	__u16 from_len;
	__u16 to_len;
	__u16 from_base_len;
	__u16 to_base_len;
};

/* truncate, mkdir, mknod, symlink, link, chmod, chown, utimes, setxattr,
 * removexattr, mount, umount, pivot_root (h.type says which), from their
 * syscalls and at/f variants.  Operand 1 is the file acted on (link: the
 * new name; mount: the mount point); operand 2 the other path (link: the
 * existing file; mount, move_mount: the source; pivot_root: put_old;
 * symlink: the target, as given, no base).
 * strings: path (operand 1 as requested; none when ST_F_FD_1), path2,
 * name (xattr name, mount's fs type), base (walk: where path was resolved
 * from, or the fd's file), base2 */
struct st_fileop {
	struct st_hdr h;
	__s32 ret;
	__s32 dirfd;        /* of path, or the fd of an f* call */
	__s32 dirfd2;       /* of path2 */
	__u32 flags;        /* AT_*, XATTR_*, MS_* (low 32 bits), MNT_*, MOVE_MOUNT_* as passed */
	__u32 mode;         /* chmod, mkdir, mknod (with the S_IFMT type) */
	__u32 pad;
	/* chown: uid, gid (-1: unchanged); truncate: length; mknod: dev;
	 * utimes: atime s, atime ns, mtime s, mtime ns (ns may be UTIME_NOW or
	 * UTIME_OMIT); setxattr: value size, XATTR_* for setxattrat */
	__u64 arg[4];
	__u16 path_len;
	__u16 path2_len;
	__u16 name_len;
	__u16 base_len;
	__u16 base2_len;
	__u16 pad2[3];
};

/* Where a connect's address was read from. */
enum st_addr_source {
	ST_ADDR_NONE = 0,   /* not read */
	ST_ADDR_HOOK,       /* cgroup sock_addr hook: the kernel's copy */
	ST_ADDR_SOCKET,     /* the connected socket at syscall exit */
	ST_ADDR_USER,       /* user memory at entry (only when the kernel had none) */
	ST_ADDR_REQUEST,    /* the kernel's copy in an io_uring request */
};

enum st_verdict {
	ST_VERDICT_ALLOW = 0,
	ST_VERDICT_DENY,
};

/* strings: unix socket path (family AF_UNIX; abstract names start with NUL).
 * A denied attempt no connect syscall reports (sendmsg/sendto to an address,
 * io_uring, TCP fast open) is sent by the hook: fd -1, ret -EPERM. */
struct st_connect {
	struct st_hdr h;
	__s32 ret;
	__s32 fd;
	__u16 family;       /* AF_INET, AF_INET6, AF_UNIX, or what was passed */
	__u16 port;         /* host byte order */
	__u8  addr[16];     /* IPv4 in the first 4 bytes, network order */
	__u8  source;       /* enum st_addr_source */
	__u8  verdict;      /* enum st_verdict */
	__u16 path_len;
};

/* bind, listen, accept: the socket's own address as the kernel holds it
 * after the call (a failed bind: the address asked for, source user);
 * accept (successful ones only): the new connection's, with its peer.
 * strings: unix socket path (bind, listen: the socket's; accept: the
 * listener's; abstract names start with NUL) */
struct st_sock {
	struct st_hdr h;
	__s32 ret;          /* accept: the new fd */
	__s32 fd;           /* the socket (accept: -1, not known) */
	__s32 backlog;      /* listen */
	__u16 family;
	__u16 port;         /* local, host byte order */
	__u8  addr[16];     /* local, network order; IPv4 in the first 4 bytes */
	__u8  peer[16];     /* accept: the peer's */
	__u16 peer_port;
	__u8  source;       /* enum st_addr_source: socket, or user for a failed bind */
	__u8  pad;
	__u16 path_len;
	__u16 pad2;
};

/* A task of a session moved (or moved itself) to a cgroup outside it:
 * dst is where it went.  It stays in its session (the filter follows it).
 * strings: the destination's path in the cgroup v2 hierarchy */
struct st_cgroup_leave {
	struct st_hdr h;
	__u64 dst_cgid;
	__u32 task;         /* tgid of the task moved (h: the task that moved it) */
	__u32 threadgroup;  /* the whole process moved, not one thread */
	__u16 path_len;
	__u16 pad[3];
};

/* Allowed datagrams per destination (key), counted by the sendmsg hooks
 * until the session's end, when the collector writes and removes them.
 * At most ST_DGRAM_DESTS destinations per session are tracked; datagrams
 * to others are counted under the session's id in another map. */
#define ST_DGRAM_DESTS 1024
#define ST_DGRAM_MAX   65536 /* destinations of all sessions */
struct st_dgram_key {
	__u64 session;
	__u8 addr[16];      /* network order */
	__u16 family;
	__u16 port;         /* host byte order */
	__u32 pad;
};

/* An io_uring request that no other type records (the requests that stand
 * for a syscall are that syscall's type with ST_F_IO_URING), or the ring's
 * creation (h.syscall ST_SYS_IO_URING_SETUP: entries, setup_flags, ret the
 * ring's fd).  strings: file (walk of the request's file at completion) */
struct st_io_uring {
	struct st_hdr h;
	__s32 ret;          /* the completion's result */
	__s32 fd;           /* the request's fd, or index of a fixed file */
	__u32 entries;
	__u32 setup_flags;  /* IORING_SETUP_* */
	__u8  opcode;       /* IORING_OP_* */
	__u8  fixed;        /* fd is a fixed file's index */
	__u16 file_len;
	__u32 pad;
};

/* A syscall of another ABI (h.flags: ST_F_ABI_*) that no other type
 * records: its number in that ABI (x32: without the x32 bit), arguments
 * and result; nothing is read from the caller's memory. */
struct st_abi32 {
	struct st_hdr h;
	__s64 ret;
	__u32 nr;
	__u32 pad;
	__u64 args[6];
};

/* One per CPU in a per-CPU array, indexed by event type. */
struct st_loss_counts {
	__u64 lost[ST_LOSS_MAX];
};

/* Maps the collector writes (not events). */

#define ST_LEVELS 32 /* cgroup v2 levels a session cgroup may sit at (bits of watched_levels) */
#define ST_WATCH_MAX 4096 /* sessions at once */
/* Loss counters: slot * ST_EV_MAX + type in a per-CPU array; the last slot
 * counts losses whose session was unwatched meanwhile. */
#define ST_LOSS_SLOTS (ST_WATCH_MAX + 1)

/* Value of the `watched` map, per session cgroup.  Egress rules are looked
 * up under gen, so a new rule set is written beside the old one and takes
 * effect with one update of this value. */
#define ST_ENFORCE_INET 1  /* deny IP egress that no rule allows */
#define ST_ENFORCE_UNIX 2  /* deny abstract unix sockets (the host's, when sharing its netns) */
#define ST_ENFORCE_PROXY 4 /* TCP goes to sandtrail-proxy's listener in the session's netns */

struct st_watch {
	__u8 enforce;       /* ST_ENFORCE_* */
	__u8 gen;           /* generation of the session's rules */
	__u16 slot;         /* of the session's loss counters */
};

/* Value of the `members` map, per tgid of a session's process. */
#define ST_MEMBERS_MAX 65536
struct st_member {
	__u64 session;      /* the watched cgroup it belongs to */
	__u32 left;         /* it moved out of that cgroup: the filter follows it */
	__u32 pad;
};

/* Where a proxy session's TCP connects go instead: the listener sandtraild
 * binds in the session's network namespace (loopback, dual stack). */
#define ST_PROXY_PORT 3128
/* Its backlog: sandtraild listens before the session's command runs (a
 * first connect waits for the proxy to take the listener, not refused),
 * and the proxy listens with the same. */
#define ST_PROXY_BACKLOG 512

/* The destination a proxy session's process asked for, under the source
 * port its connect got (the proxy sees it as its client's port): kept by
 * the sockops program, read and deleted by sandtrail-proxy. */
struct st_proxy_key {
	__u64 session;      /* session cgroup id */
	__u16 family;       /* AF_INET or AF_INET6, of the client's socket */
	__u16 sport;        /* host order */
	__u32 pad;
};

struct st_proxy_dst {
	__u8 addr[16];      /* network order; IPv4 in the first 4 bytes */
	__u16 port;         /* host order */
	__u16 family;
	__u32 pad;
};
#define ST_PROXY_DST_MAX 65536

/* Key of the egress allowlist (LPM trie): everything before addr must
 * match exactly, addr by the rule's prefix. */
struct st_np_key {
	__u32 prefixlen;    /* ST_NP_FIXED_BITS + the rule's prefix */
	__u8 session[8];    /* session cgroup id, host order */
	__u8 family;        /* AF_INET or AF_INET6 (IPv4-mapped IPv6 is AF_INET) */
	__u8 gen;
	__u16 port;         /* network order; 0: any port */
	__u8 addr[16];      /* network order; IPv4 in the first 4 bytes */
};
#define ST_NP_FIXED_BITS 96

#endif
