/* Each file operation that once left no record, through its syscall and
 * its at/f variants, in DIR (made empty beforehand); prints "NAME RET ERRNO"
 * per operation, as the kernel answered it.
 *
 *   st_fileops DIR SETUID_MODE   SETUID_MODE (octal) is what chmod-setuid asks
 *
 * Then what the text replay must not blur: renames that exchange or must not
 * replace, an O_PATH open (no read), a connect that fails (no destination).
 * mount tries a tmpfs on DIR/d: run it in a mount namespace of its own
 * (unshare -m) when it runs as root on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

static char dir[2048];

static const char *at(const char *name)
{
	static char buf[4][4096];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void result(const char *name, long ret)
{
	printf("%s %ld %d\n", name, ret, ret < 0 ? errno : 0);
}

int main(int argc, char **argv)
{
	struct timeval tv[2] = { { 0, 0 }, { 0, 0 } };
	struct timespec ts[2] = { { 1, 0 }, { 2, 500 } };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long setuid_mode;
	int dfd, ddfd, fd, sock;

	if (argc != 3) {
		fprintf(stderr, "usage: st_fileops DIR SETUID_MODE\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	setuid_mode = strtol(argv[2], NULL, 8);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = open(at("f"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (dfd < 0 || fd < 0 || write(fd, "0123456789abcdef", 16) != 16)
		return 1;

	result("truncate", syscall(SYS_truncate, at("f"), 10L));
	result("ftruncate", syscall(SYS_ftruncate, fd, 5L));
	result("open-trunc", close((int)syscall(SYS_openat, dfd, "f", O_WRONLY | O_TRUNC | O_CLOEXEC)));
	result("mkdir", syscall(SYS_mkdir, at("d"), 0750));
	result("mkdirat", syscall(SYS_mkdirat, dfd, "d/e", 0700));
	/* no such dirfd: no directory to resolve from */
	result("mkdirat-badfd", syscall(SYS_mkdirat, 999, "nodir", 0700));
	result("mknod-reg", syscall(SYS_mknod, at("reg"), S_IFREG | 0640, 0));
	result("mknodat-fifo", syscall(SYS_mknodat, dfd, "fifo", S_IFIFO | 0600, 0));
	result("symlink", syscall(SYS_symlink, "f", at("sl")));
	result("symlinkat", syscall(SYS_symlinkat, "../f", dfd, "d/sl2"));
	result("link", syscall(SYS_link, at("f"), at("hl")));
	ddfd = open(at("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	result("linkat", syscall(SYS_linkat, dfd, "f", ddfd, "hl2", 0));
	result("chmod", syscall(SYS_chmod, at("reg"), 0604));
	result("chmod-setuid", syscall(SYS_fchmodat, dfd, "hl", setuid_mode));
	result("fchmod", syscall(SYS_fchmod, fd, 0640));
	result("chown", syscall(SYS_chown, at("f"), getuid(), getgid()));
	result("fchownat", syscall(SYS_fchownat, dfd, "sl", getuid(), -1, AT_SYMLINK_NOFOLLOW));
	result("fchown", syscall(SYS_fchown, fd, -1, getgid()));
	result("utimes", syscall(SYS_utimes, at("f"), tv));
	result("utimensat", syscall(SYS_utimensat, dfd, "d/hl2", ts, 0));
	result("futimens", syscall(SYS_utimensat, fd, NULL, NULL, 0));
	result("setxattr", syscall(SYS_setxattr, at("f"), "user.st", "12345", 5L, 0));
	result("fsetxattr", syscall(SYS_fsetxattr, fd, "user.st2", "ab", 2L, XATTR_CREATE));
	result("removexattr", syscall(SYS_removexattr, at("f"), "user.st"));
	result("fremovexattr", syscall(SYS_fremovexattr, fd, "user.st2"));
	result("mount", syscall(SYS_mount, "none", at("d"), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m"));
	result("umount", syscall(SYS_umount2, at("d"), 0));
	/* d is no mount point (any more): it fails, whoever asks */
	result("pivot_root", syscall(SYS_pivot_root, at("d"), at("d/e")));
	result("rename-exchange", syscall(SYS_renameat2, dfd, "reg", dfd, "fifo", RENAME_EXCHANGE));
	result("rename-noreplace", syscall(SYS_renameat2, AT_FDCWD, at("reg"), dfd, "f", RENAME_NOREPLACE));
	result("open-path", close((int)syscall(SYS_openat, dfd, "d/e", O_PATH | O_CLOEXEC)));
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", at("nosock"));
	result("connect-unix", connect(sock, (struct sockaddr *)&sun, sizeof(sun)));
	close(sock);
	close(fd);
	close(ddfd);
	close(dfd);
	return 0;
}
