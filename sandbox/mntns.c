#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/* Homes that hold the caller's config files and keys: hidden unless mounted. */
static void plan_hides(struct mntns_plan *plan)
{
	const char *cands[MNTNS_HIDE_MAX] = { "/root", getenv("HOME"), NULL, NULL };
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());

	cands[2] = pw ? pw->pw_dir : NULL;
	if (sudo && (pw = getpwnam(sudo)))
		cands[3] = pw->pw_dir;
	for (size_t i = 0; i < MNTNS_HIDE_MAX; i++) {
		struct stat st;
		bool dup = false;

		if (!cands[i] || cands[i][0] != '/' || !strcmp(cands[i], "/") || stat(cands[i], &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		for (size_t j = 0; j < plan->nhide; j++)
			dup |= !strcmp(plan->hide[j], cands[i]);
		if (!dup)
			plan->hide[plan->nhide++] = strdup(cands[i]);
	}
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

static int idmap_for(struct idmap_cache *c, const struct policy *p, uid_t uid, gid_t gid)
{
	int fd;

	for (size_t i = 0; i < c->n; i++)
		if (c->uid[i] == uid && c->gid[i] == gid)
			return c->fd[i];
	fd = userns_idmap_fd(uid, gid, p->uid, p->gid);
	if (fd < 0)
		return fd;
	c->uid[c->n] = uid;
	c->gid[c->n] = gid;
	c->fd[c->n++] = fd;
	return fd;
}

int mntns_parent(struct mntns_plan *plan, const struct policy *p, char *err, size_t errlen)
{
	struct idmap_cache ids = { .n = 0 };
	const char *root = p->rootfs ? p->rootfs : "/";
	int rc = -1;

	memset(plan, 0, sizeof(*plan));
	plan->p = p;
	plan->root_fd = -1;
	for (size_t i = 0; i < MNTNS_DEVS; i++)
		plan->dev_fds[i] = -1;
	for (size_t i = 0; i < POLICY_MOUNTS_MAX; i++)
		plan->bind_fds[i] = -1;
	plan->root_fd = open_tree(AT_FDCWD, root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (plan->root_fd < 0)
		return efail(err, errlen, "open_tree(\"%s\", OPEN_TREE_CLONE|AT_RECURSIVE)", root);
	if (setattr(plan->root_fd, AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, -1) < 0)
		return efail(err, errlen, "mount_setattr(\"%s\", MOUNT_ATTR_RDONLY|AT_RECURSIVE)", root);
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
		ns = idmap_for(&ids, p, owner_uid, owner_gid);
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
	plan_hides(plan);
	rc = 0;
out:
	for (size_t i = 0; i < ids.n; i++)
		close(ids.fd[i]);
	return rc;
}

void mntns_release(struct mntns_plan *plan)
{
	if (plan->root_fd >= 0)
		close(plan->root_fd);
	for (size_t i = 0; i < MNTNS_DEVS; i++)
		if (plan->dev_fds[i] >= 0)
			close(plan->dev_fds[i]);
	for (size_t i = 0; i < POLICY_MOUNTS_MAX; i++)
		if (plan->bind_fds[i] >= 0)
			close(plan->bind_fds[i]);
	for (size_t i = 0; i < plan->nhide; i++)
		free(plan->hide[i]);
	memset(plan, 0, sizeof(*plan));
	plan->root_fd = -1;
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
		snprintf(err, errlen, "mount %s: no such mount point in the read-only root (choose an existing "
			 "directory or one under a tmpfs such as /tmp)", dst);
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
		if (make_point(path, true, err, errlen) < 0 || attach(plan->dev_fds[i], path, err, errlen) < 0)
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

int mntns_child(const struct mntns_plan *plan, char *err, size_t errlen)
{
	const struct policy *p = plan->p;

	/* nothing done here may propagate back to the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return efail(err, errlen, "mount(\"/\", MS_REC|MS_PRIVATE)");
	if (attach(plan->root_fd, "/tmp", err, errlen) < 0 || chdir("/tmp") < 0)
		return -1;
	/* pivot_root(".", "."): the old root ends up under the new one, then goes */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return efail(err, errlen, "pivot_root(\".\", \".\")");
	if (umount2(".", MNT_DETACH) < 0)
		return efail(err, errlen, "umount2(old root, MNT_DETACH)");
	if (chdir("/") < 0)
		return efail(err, errlen, "chdir(\"/\")");
	for (size_t i = 0; i < plan->nhide; i++)
		if (mount("tmpfs", plan->hide[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0755") < 0 &&
		    errno != ENOENT) /* a --rootfs without that home */
			return efail(err, errlen, "mount(\"tmpfs\", \"%s\")", plan->hide[i]);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return efail(err, errlen, "mount(\"proc\", \"/proc\")");
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
	for (size_t i = 0; i < plan->nhide; i++)
		if (mount(NULL, plan->hide[i], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0 && errno != ENOENT && errno != EINVAL)
			return efail(err, errlen, "mount(\"%s\", MS_REMOUNT|MS_RDONLY)", plan->hide[i]);
	return 0;
}
