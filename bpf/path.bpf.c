/* The kernel path walk shared by every event that names a file: the file
 * of an fd (open, exe) and the directory a path argument was resolved from. */
#include "common.bpf.h"

/* Read-only typed view of a kernel pointer held as a number: plain loads
 * (the kernel turns faults into zeros), no helper call per field. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KPTR(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))

struct walk_ctx {
	struct st_scratch *sc;
	struct st_walk *w;
};

/* One step up: the name of d, or the crossing of a mount. */
static long walk_step(__u64 i, struct walk_ctx *c)
{
	struct st_scratch *sc = c->sc;
	struct st_walk *w = c->w;
	struct dentry *d = KPTR(struct dentry, w->d);
	struct mount *m = KPTR(struct mount, w->m);
	__u32 base = w->base, off = w->off, len;
	char *dst;
	long n;

	if (base > ST_WALK_BASE_MAX)
		goto cut;
	dst = sc->b + base;
	if (!w->marked && w->d == w->root_d && w->m == w->root_m) {
		/* the task's root: an empty name, so ".." stops here */
		if (off >= ST_PATH_MAX)
			goto cut;
		dst[off] = 0;
		w->off = ++off;
		w->marked = 1;
	}
	if (w->d == (__u64)m->mnt.mnt_root) {
		__u64 up = (__u64)m->mnt_parent;

		if (up == w->m) { /* the top of a mount tree: ours, or another */
			if (w->m != w->ns_root)
				w->status |= ST_WALK_DETACHED;
			w->done = 1;
			return 1;
		}
		w->d = (__u64)m->mnt_mountpoint;
		w->m = up;
		return 0;
	}
	len = d->d_name.len;
	if (len >= ST_NAME_MAX || off + len + 1 > ST_PATH_MAX)
		goto cut;
	n = bpf_probe_read_kernel_str(dst + (off & (ST_PATH_MAX - 1)), (len & (ST_NAME_MAX - 1)) + 1, d->d_name.name);
	if (n <= 0)
		goto cut;
	w->off = off + n;
	if ((__u64)d->d_parent == w->d) {
		/* a root that is no mount's: a pseudo file (memfd, pipe) or a
		 * disconnected dentry; its name is all there is */
		w->status |= ST_WALK_DETACHED;
		w->done = 1;
		return 1;
	}
	w->d = (__u64)d->d_parent;
	return 0;
cut:
	w->status |= ST_WALK_CUT;
	w->done = 1;
	return 1;
}

/* Names leaf first, NUL after each, up to the root of the mount namespace,
 * crossing mounts through mnt_parent/mnt_mountpoint as d_path does.  The
 * bound is PATH_MAX bytes of names, whatever their number. */
__noinline int st_walk_path(__u64 dentry, __u64 vfsmount, __u64 base)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 mnt_off = bpf_core_field_offset(struct mount, mnt);
	struct walk_ctx c = { .sc = (struct st_scratch *)scratch_buf() };
	struct st_walk *w;
	__u32 zero = 0;

	c.w = w = bpf_map_lookup_elem(&walk_state, &zero);
	if (!c.sc || !w || base > ST_WALK_BASE_MAX || !dentry || !vfsmount)
		return ST_WALK_CUT;
	w->d = dentry;
	w->m = vfsmount - mnt_off;
	w->root_d = (__u64)task->fs->root.dentry;
	w->root_m = (__u64)task->fs->root.mnt - mnt_off;
	w->ns_root = (__u64)task->nsproxy->mnt_ns->root;
	w->base = base;
	w->off = 0;
	w->marked = 0;
	w->status = 0;
	w->done = 0;
	/* names of at least one byte and their NUL, the mark, mounts crossed */
	bpf_loop(ST_PATH_MAX + 64, walk_step, &c, 0);
	if (!w->done)
		w->status |= ST_WALK_CUT;
	return (w->off & (2 * ST_PATH_MAX - 1)) | w->status;
}
