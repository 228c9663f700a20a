/* Socket addresses and the egress policy of sessions, shared by the cgroup
 * hooks (net.bpf.c), which enforce it, and by the records of connects no
 * connect syscall reports (io_uring, other ABIs), which say what the hook
 * decided. */
#ifndef SANDTRAIL_EGRESS_BPF_H
#define SANDTRAIL_EGRESS_BPF_H

#include <bpf/bpf_endian.h>

#include "common.bpf.h"

#define ST_AF_UNIX  1
#define ST_AF_INET  2
#define ST_AF_INET6 10
#define ST_SUN_PATH 2 /* offsetof(struct sockaddr_un, sun_path) */

/* Allowed destinations of all sessions, under (session, gen, family, port). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct st_np_key);
	__type(value, __u8);
} egress SEC(".maps") __weak;

/* allow unless the session enforces egress and no rule takes
 * family/addr (4 or 16 bytes)/port (network order). */
static __always_inline __u8 egress_verdict(__u64 session, __u8 family, const __u32 *addr, __u16 port)
{
	struct st_watch *w = bpf_map_lookup_elem(&watched, &session);
	struct st_np_key k = {};

	if (!w || !(w->enforce & ST_ENFORCE_INET))
		return ST_VERDICT_ALLOW;
	k.prefixlen = ST_NP_FIXED_BITS + 128;
	__builtin_memcpy(k.session, &session, sizeof(session));
	k.family = family;
	k.gen = w->gen;
	k.port = port;
	if (family == ST_AF_INET) {
		__builtin_memcpy(k.addr, addr, 4);
	} else {
		__builtin_memcpy(k.addr, addr, 16);
	}
	if (bpf_map_lookup_elem(&egress, &k))
		return ST_VERDICT_ALLOW;
	k.port = 0;
	return bpf_map_lookup_elem(&egress, &k) ? ST_VERDICT_ALLOW : ST_VERDICT_DENY;
}

/* An IPv6 destination (4 words, network order): ::ffff:a.b.c.d reaches
 * a.b.c.d, so the IPv4 rules decide it. */
static __always_inline __u8 inet6_verdict(__u64 session, const __u32 *addr, __u16 port)
{
	if (addr[0] == 0 && addr[1] == 0 && addr[2] == bpf_htonl(0xffff))
		return egress_verdict(session, ST_AF_INET, &addr[3], port);
	return egress_verdict(session, ST_AF_INET6, addr, port);
}

/* A unix socket address whose first byte is first: an abstract name
 * (leading NUL) reaches past the filesystem's view. */
static __always_inline __u8 unix_verdict(__u64 session, char first)
{
	struct st_watch *w = bpf_map_lookup_elem(&watched, &session);

	return w && (w->enforce & ST_ENFORCE_UNIX) && first == 0 ? ST_VERDICT_DENY : ST_VERDICT_ALLOW;
}

/* Reads a unix socket path of len bytes (sun_path, without the family):
 * an abstract name (leading NUL) is kept whole, a filesystem path up to its
 * NUL.  Returns the bytes kept. */
static __always_inline __u32 read_sun_path(char *dst, const char *src, long slen, bool user)
{
	__u64 len = slen > ST_UNIX_PATH_MAX ? ST_UNIX_PATH_MAX : slen;
	char first = 0;
	long n;

	if (slen <= 0)
		return 0;
	asm volatile("%[len] &= 0x7f" : [len] "+r"(len)); /* <= 108 already: for the verifier */
	if (user ? bpf_probe_read_user(&first, 1, src) : bpf_probe_read_kernel(&first, 1, src))
		return 0;
	if (first == 0) {
		if (user ? bpf_probe_read_user(dst, len, src) : bpf_probe_read_kernel(dst, len, src))
			return 0;
		return len;
	}
	n = user ? bpf_probe_read_user_str(dst, len + 1, src) : bpf_probe_read_kernel_str(dst, len + 1, src);
	return n > 0 ? n - 1 : 0;
}

#endif
