#include <fcntl.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "flagnames.h"

/* glibc defines O_LARGEFILE as 0 on 64-bit; the kernel's bit is what we see */
#define KERNEL_O_LARGEFILE 00100000

struct flagname {
	uint64_t bits;
	const char *name;
};

/* Multi-bit flags come before the single bits they contain. */
static const struct flagname open_flags[] = {
	{ O_TMPFILE, "O_TMPFILE" }, { O_SYNC, "O_SYNC" },         { O_CREAT, "O_CREAT" },
	{ O_EXCL, "O_EXCL" },       { O_NOCTTY, "O_NOCTTY" },     { O_TRUNC, "O_TRUNC" },
	{ O_APPEND, "O_APPEND" },   { O_NONBLOCK, "O_NONBLOCK" }, { O_DSYNC, "O_DSYNC" },
	{ O_DIRECT, "O_DIRECT" },   { KERNEL_O_LARGEFILE, "O_LARGEFILE" }, { O_DIRECTORY, "O_DIRECTORY" },
	{ O_NOFOLLOW, "O_NOFOLLOW" }, { O_NOATIME, "O_NOATIME" }, { O_CLOEXEC, "O_CLOEXEC" },
	{ O_PATH, "O_PATH" },       { FASYNC, "O_ASYNC" },
};

static const struct flagname rename_flags[] = {
	{ RENAME_NOREPLACE, "RENAME_NOREPLACE" },
	{ RENAME_EXCHANGE, "RENAME_EXCHANGE" },
	{ RENAME_WHITEOUT, "RENAME_WHITEOUT" },
};

static const struct flagname at_flags[] = {
	{ AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW" }, { AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW" },
	{ AT_EMPTY_PATH, "AT_EMPTY_PATH" },             { AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT" },
	{ AT_REMOVEDIR, "AT_REMOVEDIR" },
};

static const struct flagname xattr_flags[] = {
	{ XATTR_CREATE, "XATTR_CREATE" },
	{ XATTR_REPLACE, "XATTR_REPLACE" },
};

/* mount(2): the old magic in the high half is ignored by the kernel */
static const struct flagname mount_flags[] = {
	{ MS_RDONLY, "MS_RDONLY" },       { MS_NOSUID, "MS_NOSUID" },     { MS_NODEV, "MS_NODEV" },
	{ MS_NOEXEC, "MS_NOEXEC" },       { MS_SYNCHRONOUS, "MS_SYNCHRONOUS" }, { MS_REMOUNT, "MS_REMOUNT" },
	{ MS_MANDLOCK, "MS_MANDLOCK" },   { MS_DIRSYNC, "MS_DIRSYNC" },   { MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW" },
	{ MS_NOATIME, "MS_NOATIME" },     { MS_NODIRATIME, "MS_NODIRATIME" }, { MS_BIND, "MS_BIND" },
	{ MS_MOVE, "MS_MOVE" },           { MS_REC, "MS_REC" },           { MS_SILENT, "MS_SILENT" },
	{ MS_POSIXACL, "MS_POSIXACL" },   { MS_UNBINDABLE, "MS_UNBINDABLE" }, { MS_PRIVATE, "MS_PRIVATE" },
	{ MS_SLAVE, "MS_SLAVE" },         { MS_SHARED, "MS_SHARED" },     { MS_RELATIME, "MS_RELATIME" },
	{ MS_KERNMOUNT, "MS_KERNMOUNT" }, { MS_I_VERSION, "MS_I_VERSION" }, { MS_STRICTATIME, "MS_STRICTATIME" },
	{ MS_LAZYTIME, "MS_LAZYTIME" },
};

/* Indexed by IORING_OP_*, as the kernel names them (io_uring_get_opcode);
 * Debian's headers stop short of the newest. */
static const char *const io_uring_ops[] = {
	"NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED", "POLL_ADD", "POLL_REMOVE",
	"SYNC_FILE_RANGE", "SENDMSG", "RECVMSG", "TIMEOUT", "TIMEOUT_REMOVE", "ACCEPT", "ASYNC_CANCEL",
	"LINK_TIMEOUT", "CONNECT", "FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE", "STATX", "READ", "WRITE",
	"FADVISE", "MADVISE", "SEND", "RECV", "OPENAT2", "EPOLL_CTL", "SPLICE", "PROVIDE_BUFFERS",
	"REMOVE_BUFFERS", "TEE", "SHUTDOWN", "RENAMEAT", "UNLINKAT", "MKDIRAT", "SYMLINKAT", "LINKAT",
	"MSG_RING", "FSETXATTR", "SETXATTR", "FGETXATTR", "GETXATTR", "SOCKET", "URING_CMD", "SEND_ZC",
	"SENDMSG_ZC", "READ_MULTISHOT", "WAITID", "FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_WAITV",
	"FIXED_FD_INSTALL", "FTRUNCATE", "BIND", "LISTEN", "RECV_ZC", "EPOLL_WAIT", "READV_FIXED",
	"WRITEV_FIXED", "PIPE",
};

const char *flagnames_io_uring_op(unsigned op)
{
	return op < sizeof(io_uring_ops) / sizeof(io_uring_ops[0]) ? io_uring_ops[op] : NULL;
}

/* <sys/mount.h> has these but clashes with <linux/mount.h> */
static const struct flagname umount_flags[] = {
	{ 1, "MNT_FORCE" },
	{ 2, "MNT_DETACH" },
	{ 4, "MNT_EXPIRE" },
	{ 8, "UMOUNT_NOFOLLOW" },
};

static const struct flagname move_mount_flags[] = {
	{ MOVE_MOUNT_F_SYMLINKS, "MOVE_MOUNT_F_SYMLINKS" },     { MOVE_MOUNT_F_AUTOMOUNTS, "MOVE_MOUNT_F_AUTOMOUNTS" },
	{ MOVE_MOUNT_F_EMPTY_PATH, "MOVE_MOUNT_F_EMPTY_PATH" }, { MOVE_MOUNT_T_SYMLINKS, "MOVE_MOUNT_T_SYMLINKS" },
	{ MOVE_MOUNT_T_AUTOMOUNTS, "MOVE_MOUNT_T_AUTOMOUNTS" }, { MOVE_MOUNT_T_EMPTY_PATH, "MOVE_MOUNT_T_EMPTY_PATH" },
	{ 0x100, "MOVE_MOUNT_SET_GROUP" },                      { 0x200, "MOVE_MOUNT_BENEATH" },
};

#define FLAGS(tab) tab, sizeof(tab) / sizeof(tab[0])

/* Packs the names of the bits of flags (after `first`, if any) as an array. */
static void pack_names(struct rec *r, const char *key, const char *first, uint64_t flags,
		       const struct flagname *tab, size_t n)
{
	const char *names[40];
	size_t k = 0;
	char rest[24];

	if (first)
		names[k++] = first;
	for (size_t i = 0; flags && i < n; i++) { /* no entry is 0: none left to match */
		if ((flags & tab[i].bits) == tab[i].bits) {
			names[k++] = tab[i].name;
			flags &= ~tab[i].bits;
		}
	}
	if (flags) {
		snprintf(rest, sizeof(rest), "0x%llx", (unsigned long long)flags);
		names[k++] = rest;
	}
	rec_strs(r, key, names, k);
}

void flagnames_open(struct rec *r, const char *key, uint64_t flags)
{
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };

	/* O_PATH ignores the access mode; O_TMPFILE contains O_DIRECTORY */
	pack_names(r, key, (flags & O_PATH) ? NULL : acc[flags & O_ACCMODE], flags & ~(uint64_t)O_ACCMODE,
		   FLAGS(open_flags));
}

void flagnames_rename(struct rec *r, const char *key, uint32_t flags)
{
	pack_names(r, key, NULL, flags, FLAGS(rename_flags));
}

void flagnames_at(struct rec *r, const char *key, uint32_t flags)
{
	pack_names(r, key, NULL, flags, FLAGS(at_flags));
}

void flagnames_xattr(struct rec *r, const char *key, uint32_t flags)
{
	pack_names(r, key, NULL, flags, FLAGS(xattr_flags));
}

void flagnames_mount(struct rec *r, const char *key, uint32_t flags)
{
	pack_names(r, key, NULL, flags, FLAGS(mount_flags));
}

void flagnames_umount(struct rec *r, const char *key, uint32_t flags)
{
	pack_names(r, key, NULL, flags, FLAGS(umount_flags));
}

void flagnames_move_mount(struct rec *r, const char *key, uint32_t flags)
{
	pack_names(r, key, NULL, flags, FLAGS(move_mount_flags));
}

const char *flagnames_file_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case 0:
	case S_IFREG: return "regular"; /* mknod's 0 type is a regular file */
	case S_IFIFO: return "fifo";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFSOCK: return "socket";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	default: return NULL;
	}
}

const char *flagnames_family(int family)
{
	switch (family) {
	case AF_INET: return "AF_INET";
	case AF_INET6: return "AF_INET6";
	case AF_UNIX: return "AF_UNIX";
	default: return NULL;
	}
}
