/* The kernel path walk shared by exec (exe) and open (resolved path). */
#include "common.bpf.h"

/* Names leaf first, NUL after each, up to the root of the mount namespace,
 * crossing mounts through mnt_parent/mnt_mountpoint as d_path does. */
__noinline int st_walk_path(__u64 dentry, __u64 vfsmount, __u64 base)
{
	struct dentry *d = (struct dentry *)dentry;
	struct mount *m = (void *)vfsmount - bpf_core_field_offset(struct mount, mnt);
	struct st_scratch *sc = (struct st_scratch *)scratch_buf();
	char *dst;

	if (!sc || base > ST_WALK_BASE_MAX)
		return ST_WALK_INCOMPLETE;
	dst = sc->b + base;
	/* The offset lives in memory: read back it is a number the verifier
	 * knows only by its mask, so the states of one iteration are equal
	 * whatever names came before, and the loop verifies in linear time. */
	sc->walk_off = 0;
	for (int i = 0; i < ST_DEPTH_MAX; i++) {
		struct dentry *root = BPF_CORE_READ(m, mnt.mnt_root);
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		__u32 off = sc->walk_off & (2 * ST_PATH_MAX - 1);
		const unsigned char *name;
		__u32 len;
		long n;

		if (d == root || d == parent) {
			struct mount *up = BPF_CORE_READ(m, mnt_parent);

			/* the namespace root, or a dentry no longer reachable */
			if (d != root || up == m)
				return off;
			d = BPF_CORE_READ(m, mnt_mountpoint);
			m = up;
			continue;
		}
		len = BPF_CORE_READ(d, d_name.len);
		name = BPF_CORE_READ(d, d_name.name);
		if (len >= ST_NAME_MAX || off + len + 1 > ST_PATH_MAX)
			break;
		n = bpf_probe_read_kernel_str(dst + (off & (ST_PATH_MAX - 1)), (len & (ST_NAME_MAX - 1)) + 1, name);
		if (n <= 0)
			break;
		sc->walk_off = off + n;
		d = parent;
	}
	return (sc->walk_off & (2 * ST_PATH_MAX - 1)) | ST_WALK_INCOMPLETE;
}
