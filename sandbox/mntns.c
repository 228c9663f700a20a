#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "mntns.h"
#include "userns.h"

static const char *const dev_nodes[MNTNS_DEVS] = { "null", "zero", "full", "random", "urandom", "tty" };

static int efail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int efail(char *err, size_t errlen, const char *fmt, ...)
{
	int e = errno;
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s", what, strerrorname_np(e) ? strerrorname_np(e) : strerror(e));
	return -1;
}

static int setattr(int fd, unsigned flags, uint64_t set, int userns_fd)
{
	struct mount_attr a = { .attr_set = set, .propagation = MS_PRIVATE };

	if (userns_fd >= 0)
		a.userns_fd = (uint64_t)userns_fd;
	return mount_setattr(fd, "", AT_EMPTY_PATH | flags, &a, sizeof(a));
}

static int depth(const char *path)
{
	int n = 0;

	for (; *path; path++)
		n += *path == '/';
	return n;
}

/* An O_PATH fd on the absolute path, opened one component at a time and
 * refusing symbolic links: a link planted in a workspace by an earlier
 * session cannot redirect a later session's volume, and nothing can swap a
 * component between the check and the open.  -errno; on ELOOP, link holds
 * the path up to the link. */
int mntns_open_nofollow(const char *path, char *link, size_t linklen)
{
	char buf[PATH_MAX], *save = NULL, *c;
	int fd, next;

	if (path[0] != '/' || strlen(path) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, path);
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		struct stat st;

		next = openat(fd, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 || fstat(next, &st) < 0) {
			int e = errno;

			close(fd);
			if (next >= 0)
				close(next);
			return -e;
		}
		close(fd);
		fd = next;
		if (S_ISLNK(st.st_mode)) {
			snprintf(link, linklen, "%.*s", (int)(c - buf + strlen(c)), path);
			close(fd);
			return -ELOOP;
		}
	}
	return fd;
}

/* One idmapping user namespace per owner of bind sources. */
struct idmap_cache {
	uid_t uid[POLICY_MOUNTS_MAX];
	gid_t gid[POLICY_MOUNTS_MAX];
	int fd[POLICY_MOUNTS_MAX];
	size_t n;
};

static int idmap_for(struct idmap_cache *c, const struct policy *p, enum mntns_viewer v, uid_t uid, gid_t gid)
{
	bool host = v == MNTNS_HOST;
	int fd;

	for (size_t i = 0; i < c->n; i++)
		if (c->uid[i] == uid && c->gid[i] == gid)
			return c->fd[i];
	fd = userns_idmap_fd(uid, gid, host ? p->uid : USERNS_HOST_BASE + p->uid,
			     host ? p->gid : USERNS_HOST_BASE + p->gid, host);
	if (fd < 0)
		return fd;
	c->uid[c->n] = uid;
	c->gid[c->n] = gid;
	c->fd[c->n++] = fd;
	return fd;
}

/* Of the host, the root shows what programs need to run and nothing else:
 * no /home, /root, /var, /run (its sockets), /srv, /mnt, /opt, /sys. */
static const char *const host_top[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
/* What of /etc the C library, the dynamic linker, name resolution, TLS,
 * locales and shells read; nothing about the host's users, services or keys
 * (passwd and group are made for the session). */
static const char *const host_etc[] = {
	"alternatives", "bash.bashrc", "ca-certificates", "ca-certificates.conf", "debian_version", "environment",
	"gai.conf", "host.conf", "hosts", "inputrc", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "locale.alias",
	"locale.conf", "localtime", "mime.types", "nsswitch.conf", "os-release", "profile", "protocols", "resolv.conf",
	"rpc", "services", "ssl", "timezone",
};
/* Made fresh in every root: never taken from the host or the image. */
static const char *const own_top[] = { "dev", "proc", "tmp" };

static bool listed(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return true;
	return false;
}

static int add_entry(struct mntns_plan *plan, const char *path, int fd, const char *link, bool dir)
{
	struct mntns_entry *e;

	if (plan->nentries == MNTNS_ENTRIES_MAX) {
		errno = E2BIG;
		return -1;
	}
	e = &plan->entries[plan->nentries++];
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->fd = fd;
	e->dir = dir;
	e->link = link ? strdup(link) : NULL;
	return 0;
}

/* The entry name of dirfd, as a read-only tree (or the link it is) at path
 * of the new root.  follow: a link is opened through (the host's /etc is
 * root's; some of its files are links into /run), else recreated. */
static int take_entry(struct mntns_plan *plan, int dirfd, const char *name, const char *path, bool follow)
{
	char target[PATH_MAX];
	struct stat st = { 0 };
	ssize_t n;
	int tree;

	/* a link is recreated, never cloned: the tree of a link would be a
	 * detached mount whose close waits for an RCU grace period */
	if (!follow && (n = readlinkat(dirfd, name, target, sizeof(target) - 1)) >= 0) {
		target[n] = 0;
		return add_entry(plan, path, -1, target, false);
	}
	if (!follow && errno != EINVAL)
		return errno == ENOENT ? 0 : -1;
	/* the tree, then what it is (a start pays per call: no O_PATH open
	 * around it) */
	tree = open_tree(dirfd, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
					      (follow ? 0 : AT_SYMLINK_NOFOLLOW));
	if (tree < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(tree, &st) < 0 || S_ISLNK(st.st_mode)) {
		int e = S_ISLNK(st.st_mode) ? EAGAIN : errno; /* became a link since */

		close(tree);
		errno = e;
		return -1;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		close(tree); /* sockets, devices, fifos: never part of a root */
		return 0;
	}
	if (setattr(tree, AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, -1) < 0 ||
	    add_entry(plan, path, tree, NULL, S_ISDIR(st.st_mode)) < 0) {
		int e = errno;

		close(tree);
		errno = e;
		return -1;
	}
	return 0;
}

/* The trees of the new root: the host's needed directories and a filtered
 * /etc, or every top-level entry of --rootfs. */
static int plan_root(struct mntns_plan *plan, const struct policy *p, char *err, size_t errlen)
{
	const char *root = p->rootfs ? p->rootfs : "/";
	char link[PATH_MAX], path[NAME_MAX + 8];
	struct dirent *de;
	int rootfd, etcfd;
	DIR *d;

	rootfd = mntns_open_nofollow(root, link, sizeof(link));
	if (rootfd == -ELOOP) {
		snprintf(err, errlen, "rootfs %s: %s is a symbolic link", root, link);
		return -1;
	}
	if (rootfd < 0) {
		errno = -rootfd;
		return efail(err, errlen, "open(\"%s\", O_PATH|O_NOFOLLOW)", root);
	}
	if (!p->rootfs) {
		for (size_t i = 0; i < sizeof(host_top) / sizeof(host_top[0]); i++)
			if (take_entry(plan, rootfd, host_top[i], host_top[i], false) < 0)
				goto fail_top;
		close(rootfd);
		etcfd = open("/etc", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (etcfd < 0)
			return efail(err, errlen, "open(\"/etc\")");
		for (size_t i = 0; i < sizeof(host_etc) / sizeof(host_etc[0]); i++) {
			/* proxy: the session's own resolver (write_etc), never the host's */
			if (p->network == POLICY_NET_PROXY && !strcmp(host_etc[i], "resolv.conf"))
				continue;
			snprintf(path, sizeof(path), "etc/%s", host_etc[i]);
			if (take_entry(plan, etcfd, host_etc[i], path, true) < 0) {
				efail(err, errlen, "open_tree(\"/etc/%s\", OPEN_TREE_CLONE)", host_etc[i]);
				close(etcfd);
				return -1;
			}
		}
		close(etcfd);
		plan->own_etc = true;
		return 0;
	}
	d = fdopendir(openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!d) {
		efail(err, errlen, "opendir(\"%s\")", root);
		close(rootfd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (listed(de->d_name, own_top, sizeof(own_top) / sizeof(own_top[0])))
			continue;
		if (take_entry(plan, rootfd, de->d_name, de->d_name, false) < 0) {
			efail(err, errlen, "open_tree(\"%s/%s\", OPEN_TREE_CLONE)", root, de->d_name);
			closedir(d);
			close(rootfd);
			return -1;
		}
	}
	closedir(d);
	close(rootfd);
	return 0;
fail_top:
	efail(err, errlen, "open_tree(\"%s\", OPEN_TREE_CLONE|AT_RECURSIVE)", root);
	close(rootfd);
	return -1;
}

int mntns_parent(struct mntns_plan *plan, const struct policy *p, enum mntns_viewer v, char *err, size_t errlen)
{
	struct idmap_cache ids = { .n = 0 };
	int rc = -1;

	memset(plan, 0, sizeof(*plan));
	plan->p = p;
	for (size_t i = 0; i < MNTNS_DEVS; i++)
		plan->dev_fds[i] = -1;
	for (size_t i = 0; i < POLICY_MOUNTS_MAX; i++)
		plan->bind_fds[i] = -1;
	if (plan_root(plan, p, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < MNTNS_DEVS; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		plan->dev_fds[i] = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (plan->dev_fds[i] < 0)
			return efail(err, errlen, "open_tree(\"%s\", OPEN_TREE_CLONE)", path);
		if (setattr(plan->dev_fds[i], 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, -1) < 0)
			return efail(err, errlen, "mount_setattr(\"%s\", MOUNT_ATTR_NOSUID)", path);
	}
	for (size_t i = 0; i < p->nmounts; i++) {
		const struct policy_mount *m = &p->mounts[i];
		uint64_t flags = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (m->ro ? MOUNT_ATTR_RDONLY : 0);
		struct stat st;
		char link[PATH_MAX];
		uid_t owner_uid;
		gid_t owner_gid;
		int fd, ns, src;

		plan->order[i] = i;
		if (m->type != POLICY_MOUNT_BIND)
			continue;
		src = mntns_open_nofollow(m->src, link, sizeof(link));
		if (src == -ELOOP) {
			snprintf(err, errlen, "mount %s: %s is a symbolic link: volume sources are opened without "
				 "following links (name the real directory, or add the option follow)", m->dst, link);
			goto out;
		}
		if (src < 0) {
			errno = -src;
			efail(err, errlen, "mount %s: open(\"%s\", O_PATH|O_NOFOLLOW)", m->dst, m->src);
			goto out;
		}
		fd = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		close(src);
		if (fd < 0 || fstat(fd, &st) < 0) {
			efail(err, errlen, "mount %s: open_tree(\"%s\", OPEN_TREE_CLONE)", m->dst, m->src);
			goto out;
		}
		plan->bind_fds[i] = fd;
		/* the sandbox user is the owner of the source (reads) or of what the
		 * session creates there (writes): never host root unasked */
		owner_uid = st.st_uid;
		owner_gid = st.st_gid;
		if (!m->ro && p->volume_owner_set) {
			owner_uid = p->volume_uid;
			owner_gid = p->volume_gid;
		} else if (!m->ro && st.st_uid == 0) {
			snprintf(err, errlen, "mount %s: %s belongs to root, so what the session writes there would be "
				 "root's on the host: name its owner with --volume-owner UID[:GID] (--volume-owner 0 "
				 "to accept root), or mount it read-only", m->dst, m->src);
			goto out;
		}
		ns = idmap_for(&ids, p, v, owner_uid, owner_gid);
		if (ns < 0) {
			errno = -ns;
			efail(err, errlen, "mount %s: idmapping user namespace", m->dst);
			goto out;
		}
		if (setattr(fd, 0, flags | MOUNT_ATTR_IDMAP, ns) == 0)
			continue;
		/* a read-only mount is still useful on a filesystem without idmapping */
		if (!m->ro || setattr(fd, 0, flags, -1) < 0) {
			efail(err, errlen, "mount %s: mount_setattr(\"%s\", MOUNT_ATTR_IDMAP)%s", m->dst, m->src,
			      m->ro ? "" : " (a writable bind needs a filesystem with idmapped mounts)");
			goto out;
		}
	}
	/* parents before children: /tmp before /tmp/ws */
	for (size_t i = 1; i < p->nmounts; i++)
		for (size_t j = i; j > 0 && depth(p->mounts[plan->order[j - 1]].dst) >
						depth(p->mounts[plan->order[j]].dst); j--) {
			size_t t = plan->order[j];

			plan->order[j] = plan->order[j - 1];
			plan->order[j - 1] = t;
		}
	rc = 0;
out:
	for (size_t i = 0; i < ids.n; i++)
		close(ids.fd[i]);
	return rc;
}

void mntns_release(struct mntns_plan *plan)
{
	for (size_t i = 0; i < plan->nentries; i++) {
		if (plan->entries[i].fd >= 0)
			close(plan->entries[i].fd);
		free(plan->entries[i].link);
	}
	for (size_t i = 0; i < MNTNS_DEVS; i++)
		if (plan->dev_fds[i] >= 0)
			close(plan->dev_fds[i]);
	for (size_t i = 0; i < POLICY_MOUNTS_MAX; i++)
		if (plan->bind_fds[i] >= 0)
			close(plan->bind_fds[i]);
	/* released twice (early by hardened_start, then at the end) closes nothing */
	memset(plan, 0, sizeof(*plan));
	for (size_t i = 0; i < MNTNS_DEVS; i++)
		plan->dev_fds[i] = -1;
	for (size_t i = 0; i < POLICY_MOUNTS_MAX; i++)
		plan->bind_fds[i] = -1;
}

/* ---- child side ---- */

/* A mount point for dst: a directory (or an empty file when the source is
 * one).  Only possible where the tree is writable: under a tmpfs. */
static int make_point(const char *dst, bool file, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	if (stat(dst, &st) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s", dst);
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			goto fail;
		*s = '/';
	}
	if (file) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			goto fail;
		close(fd);
	} else if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		goto fail;
	}
	return 0;
fail:
	if (errno == EROFS) {
		snprintf(err, errlen, "mount %s: %s cannot be made in a read-only directory of the root (the "
			 "host's /usr, /bin, /sbin, /lib* or the --rootfs image): choose a destination outside them",
			 dst, path);
		return -1;
	}
	return efail(err, errlen, "mkdir(\"%s\")", path);
}

static int attach(int fd, const char *dst, char *err, size_t errlen)
{
	if (move_mount(fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return efail(err, errlen, "move_mount(\"%s\")", dst);
	return 0;
}

static int setup_dev(const struct mntns_plan *plan, char *err, size_t errlen)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },     { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
		{ "pts/ptmx", "/dev/ptmx" },
	};

	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") < 0)
		return efail(err, errlen, "mount(\"tmpfs\", \"/dev\")");
	for (size_t i = 0; i < MNTNS_DEVS; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		/* the tmpfs is fresh: one call makes the point (each is a setup record) */
		if (mknod(path, S_IFREG | 0644, 0) < 0)
			return efail(err, errlen, "mknod(\"%s\")", path);
		if (attach(plan->dev_fds[i], path, err, errlen) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlink(links[i][0], links[i][1]) < 0)
			return efail(err, errlen, "symlink(\"%s\", \"%s\")", links[i][0], links[i][1]);
	if (mkdir("/dev/pts", 0755) < 0 || mkdir("/dev/shm", 01777) < 0)
		return efail(err, errlen, "mkdir(\"/dev/pts\")");
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
		return efail(err, errlen, "mount(\"devpts\", \"/dev/pts\")");
	if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777") < 0)
		return efail(err, errlen, "mount(\"tmpfs\", \"/dev/shm\")");
	/* nodes stay writable (writes go to the device, not the tmpfs) */
	if (mount(NULL, "/dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
		return efail(err, errlen, "mount(\"/dev\", MS_REMOUNT|MS_RDONLY)");
	return 0;
}

/* A small file of the new root (the sandbox user's: only it is mapped in
 * the namespace; the root is read-only once filled). */
static int write_file(const char *path, const char *text, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		efail(err, errlen, "write(\"%s\")", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* passwd, group and hostname of the session: the host's users are none of
 * its business. */
static int write_etc(const struct policy *p, char *err, size_t errlen)
{
	char text[512];
	int n;

	n = snprintf(text, sizeof(text), "root:x:0:0:root:/root:/bin/sh\n");
	if (p->uid != 0 && p->uid != 65534)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "sandbox:x:%u:%u:sandtrail session:/tmp:/bin/sh\n",
			      (unsigned)p->uid, (unsigned)p->gid);
	snprintf(text + n, sizeof(text) - (size_t)n, "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
	if (write_file("etc/passwd", text, err, errlen) < 0)
		return -1;
	n = snprintf(text, sizeof(text), "root:x:0:\n");
	if (p->gid != 0 && p->gid != 65534)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "sandbox:x:%u:\n", (unsigned)p->gid);
	snprintf(text + n, sizeof(text) - (size_t)n, "nogroup:x:65534:\n");
	if (write_file("etc/group", text, err, errlen) < 0)
		return -1;
	snprintf(text, sizeof(text), "%s\n", p->hostname ? p->hostname : "sandtrail");
	if (write_file("etc/hostname", text, err, errlen) < 0)
		return -1;
	if (symlink("../proc/self/mounts", "etc/mtab") < 0)
		return efail(err, errlen, "symlink(\"etc/mtab\")");
	/* proxy: the names are answered by sandtrail-proxy on the session's
	 * loopback (sandtraild binds its port 53 there at proxy_attach) */
	if (p->network == POLICY_NET_PROXY && write_file("etc/resolv.conf", "nameserver 127.0.0.1\n", err, errlen) < 0)
		return -1;
	return 0;
}

/* --inspect-tls: the Debian bundle path names the session's bundle too, for
 * clients that read no environment (openssl's default store, python's with
 * the environment cleared, `env -i curl`): etc/sandtrail-ca.crt, on the
 * root's tmpfs, bound over the host's file in this namespace only (the
 * host's file is never written).  No bundle there: nothing to cover. */
static int cover_bundle(char *err, size_t errlen)
{
	/* beneath the new root, no link followed: a link there would resolve
	 * against the host's root before the pivot */
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	struct stat st;
	int dst, src, rc = -1;

	dst = (int)syscall(SYS_openat2, AT_FDCWD, MNTNS_DEBIAN_BUNDLE, &how, sizeof(how));
	if (dst < 0)
		return errno == ENOENT ? 0 : efail(err, errlen, "openat2(\"/%s\", RESOLVE_NO_SYMLINKS)", MNTNS_DEBIAN_BUNDLE);
	if (fstat(dst, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "--inspect-tls: /%s is not a regular file: cannot put the session CA there",
			 MNTNS_DEBIAN_BUNDLE);
		close(dst);
		return -1;
	}
	src = open_tree(AT_FDCWD, "etc/sandtrail-ca.crt", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (src < 0)
		efail(err, errlen, "open_tree(\"/etc/sandtrail-ca.crt\", OPEN_TREE_CLONE)");
	else if (setattr(src, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, -1) < 0)
		efail(err, errlen, "mount_setattr(\"/etc/sandtrail-ca.crt\", MOUNT_ATTR_RDONLY)");
	else if (move_mount(src, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		efail(err, errlen, "move_mount(\"/etc/sandtrail-ca.crt\", \"/%s\")", MNTNS_DEBIAN_BUNDLE);
	else
		rc = 0;
	if (src >= 0)
		close(src);
	close(dst);
	return rc;
}

/* In the current directory (the new root's tmpfs): the planned entries,
 * the session's /etc files, the points of what is made fresh. */
static int fill_root(const struct mntns_plan *plan, char *err, size_t errlen)
{
	if (plan->own_etc && mkdir("etc", 0755) < 0)
		return efail(err, errlen, "mkdir(\"etc\")");
	for (size_t i = 0; i < plan->nentries; i++) {
		const struct mntns_entry *e = &plan->entries[i];

		if (e->link) {
			if (symlink(e->link, e->path) < 0)
				return efail(err, errlen, "symlink(\"%s\", \"%s\")", e->link, e->path);
			continue;
		}
		if (e->dir ? mkdir(e->path, 0755) < 0 : mknod(e->path, S_IFREG | 0644, 0) < 0)
			return efail(err, errlen, "mkdir(\"%s\")", e->path);
		if (attach(e->fd, e->path, err, errlen) < 0)
			return -1;
	}
	if (plan->own_etc && write_etc(plan->p, err, errlen) < 0)
		return -1;
	/* --inspect-tls: what the session's TLS clients trust (the session CA too) */
	if (plan->ca_bundle && (!plan->own_etc || write_file("etc/sandtrail-ca.crt", plan->ca_bundle, err, errlen) < 0 ||
				cover_bundle(err, errlen) < 0))
		return plan->own_etc ? -1 : efail(err, errlen, "--inspect-tls with --rootfs: no /etc of the session's to put its CA in");
	for (size_t i = 0; i < sizeof(own_top) / sizeof(own_top[0]); i++)
		if (mkdir(own_top[i], 0755) < 0)
			return efail(err, errlen, "mkdir(\"%s\")", own_top[i]);
	/* programs that want a second temporary directory get the first */
	if (mkdirat(AT_FDCWD, "var", 0755) == 0 && symlink("../tmp", "var/tmp") < 0)
		return efail(err, errlen, "symlink(\"var/tmp\")");
	return 0;
}

int mntns_child(const struct mntns_plan *plan, char *err, size_t errlen)
{
	const struct policy *p = plan->p;

	/* nothing done here may propagate back to the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return efail(err, errlen, "mount(\"/\", MS_REC|MS_PRIVATE)");
	/* the new root is a tmpfs of this namespace: mount points can be made
	 * in it for any destination, and nothing is ever written to the host */
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755") < 0)
		return efail(err, errlen, "mount(\"tmpfs\", root)");
	if (chdir("/tmp") < 0)
		return efail(err, errlen, "chdir(root)");
	if (fill_root(plan, err, errlen) < 0)
		return -1;
	/* the kernel mounts a proc in a user namespace only while one is fully
	 * visible in the mount namespace: the host's, until the pivot */
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return efail(err, errlen, "mount(\"proc\", \"/proc\")");
	/* pivot_root(".", "."): the old root ends up under the new one, then goes */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return efail(err, errlen, "pivot_root(\".\", \".\")");
	if (umount2(".", MNT_DETACH) < 0)
		return efail(err, errlen, "umount2(old root, MNT_DETACH)");
	if (chdir("/") < 0)
		return efail(err, errlen, "chdir(\"/\")");
	if (setup_dev(plan, err, errlen) < 0)
		return -1;
	for (size_t k = 0; k < p->nmounts; k++) {
		size_t i = plan->order[k];
		const struct policy_mount *m = &p->mounts[i];
		char opts[64];

		if (m->type == POLICY_MOUNT_TMPFS) {
			snprintf(opts, sizeof(opts), "size=%llu,mode=1777", (unsigned long long)m->size);
			if (make_point(m->dst, false, err, errlen) < 0)
				return -1;
			if (mount("tmpfs", m->dst, "tmpfs", MS_NOSUID | MS_NODEV | (m->ro ? MS_RDONLY : 0), opts) < 0)
				return efail(err, errlen, "mount(\"tmpfs\", \"%s\", \"%s\")", m->dst, opts);
			continue;
		}
		{
			struct stat st;

			if (fstat(plan->bind_fds[i], &st) < 0)
				return efail(err, errlen, "fstat(mount %s)", m->dst);
			if (make_point(m->dst, !S_ISDIR(st.st_mode), err, errlen) < 0 ||
			    attach(plan->bind_fds[i], m->dst, err, errlen) < 0)
				return -1;
		}
	}
	/* every mount point exists: the root itself becomes read-only */
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return efail(err, errlen, "mount(\"/\", MS_REMOUNT|MS_RDONLY)");
	return 0;
}

int mntns_stage(const struct mntns_plan *plan, const char *dir, char *err, size_t errlen)
{
	const struct policy *p = plan->p;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return efail(err, errlen, "mount(\"/\", MS_REC|MS_PRIVATE)");
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755") < 0)
		return efail(err, errlen, "mount(\"tmpfs\", \"%s\")", dir);
	if (chdir(dir) < 0 || mkdir("root", 0755) < 0 || chdir("root") < 0)
		return efail(err, errlen, "mkdir(\"%s/root\")", dir);
	if (fill_root(plan, err, errlen) < 0)
		return -1;
	if (mkdir("dev/shm", 0755) < 0)
		return efail(err, errlen, "mkdir(\"%s/root/dev/shm\")", dir);
	/* as mntns_child, parents before children, each point made in what is
	 * mounted above it (relative to the root: make_point's walk starts past
	 * the first byte); the runtime binds each onto itself.  The runtime's
	 * own memory file systems would keep writes from the host's programs:
	 * the tmpfs mounts are host tmpfs here */
	for (size_t k = 0; k < p->nmounts; k++) {
		size_t i = plan->order[k];
		const struct policy_mount *m = &p->mounts[i];
		struct stat st = { .st_mode = S_IFDIR };
		char opts[64];

		if (m->type == POLICY_MOUNT_BIND && fstat(plan->bind_fds[i], &st) < 0)
			return efail(err, errlen, "fstat(mount %s)", m->dst);
		if (m->dst[1] && make_point(m->dst + 1, !S_ISDIR(st.st_mode), err, errlen) < 0)
			return -1;
		if (m->type == POLICY_MOUNT_BIND) {
			if (attach(plan->bind_fds[i], m->dst[1] ? m->dst + 1 : ".", err, errlen) < 0)
				return -1;
			continue;
		}
		snprintf(opts, sizeof(opts), "size=%llu,mode=1777", (unsigned long long)m->size);
		if (mount("tmpfs", m->dst[1] ? m->dst + 1 : ".", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
			return efail(err, errlen, "mount(\"tmpfs\", \"%s\", \"%s\")", m->dst, opts);
	}
	if (chdir("..") < 0 || mkdir("shm", 0700) < 0 ||
	    mount("tmpfs", "shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777") < 0)
		return efail(err, errlen, "mount(\"tmpfs\", \"%s/shm\")", dir);
	if (mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return efail(err, errlen, "mount(\"%s\", MS_REMOUNT|MS_RDONLY)", dir);
	return 0;
}
