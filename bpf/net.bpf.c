/* connect for AF_INET, AF_INET6 and AF_UNIX, and egress enforcement.
 *
 * sys_enter_connect saves the user's sockaddr; the cgroup sock_addr hooks
 * (attached once to the parent of `sandtrail run`'s sessions, and to each
 * other watched cgroup: tasks elsewhere never run them) replace it
 * with the kernel's copy and decide allow/deny from the session's rules;
 * sys_exit_connect sends the event, for AF_UNIX with the peer's address
 * read from the connected socket.  A denied attempt that is not a connect
 * syscall (sendmsg to an address, io_uring) is sent by the hook itself. */
#include <bpf/bpf_endian.h>

#include "common.bpf.h"
#include "egress.bpf.h"

#define ST_EPERM    1

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

static __noinline int connect_enter(struct trace_event_raw_sys_enter *ctx, __u64 session, __u32 sys)
{
	const void *ua = (const void *)ctx->args[1];
	long alen = (int)ctx->args[2];
	struct st_connect *ev;
	__u16 family = 0;
	char *buf;

	buf = scratch_buf();
	if (!buf)
		return 0;
	ev = (struct st_connect *)buf;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->fd = ctx->args[0];
	if (alen >= 2 && !bpf_probe_read_user(&family, sizeof(family), ua)) {
		ev->family = family;
		ev->source = ST_ADDR_USER;
	}
	if (family == ST_AF_INET && alen >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin = {};

		bpf_probe_read_user(&sin, sizeof(sin), ua);
		ev->port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(ev->addr, &sin.sin_addr, 4);
	} else if (family == ST_AF_INET6 && alen >= 24) {
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_user(&sin6, 24, ua);
		ev->port = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(ev->addr, &sin6.sin6_addr, 16);
	} else if (family == ST_AF_UNIX) {
		ev->path_len = read_sun_path(buf + sizeof(*ev), ua + ST_SUN_PATH, alen - ST_SUN_PATH, true);
	}
	pend(&pend_connect, &ev->h, session, sys, ST_EV_CONNECT);
	return 0;
}

ST_SYSCALL_ENTER(connect, connect_enter, ST_SYS_CONNECT)

/* The address the connected unix socket's peer is bound to. */
static __always_inline __u32 peer_path(char *dst, long fd)
{
	struct file *file = fd_file(fd);
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct unix_sock *peer;
	struct unix_address *ua;
	struct sock *sk;

	/* the descriptor may have been replaced since the call returned */
	if (!file || BPF_CORE_READ(sock, file) != file)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (BPF_CORE_READ(sk, __sk_common.skc_family) != ST_AF_UNIX)
		return 0;
	peer = (struct unix_sock *)BPF_CORE_READ((struct unix_sock *)sk, peer);
	ua = BPF_CORE_READ(peer, addr);
	if (!ua)
		return 0;
	return read_sun_path(dst, (const char *)ua + bpf_core_field_offset(struct unix_address, name) + ST_SUN_PATH,
			     BPF_CORE_READ(ua, len) - ST_SUN_PATH, false);
}

static __noinline int connect_exit(long ret, __u32 tid)
{
	struct pend_connect *pc;
	__u32 plen;

	pc = bpf_map_lookup_elem(&pend_connect, &tid);
	if (!pc)
		return 0;
	if (!still_watched(pc->ev.h.session_cgid))
		goto out;
	pc->ev.ret = ret;
	if (ret == 0 && pc->ev.family == ST_AF_UNIX) {
		plen = peer_path(pc->s, pc->ev.fd);
		if (plen) {
			pc->ev.path_len = plen;
			pc->ev.source = ST_ADDR_SOCKET;
		}
	}
	plen = pc->ev.path_len;
	if (plen <= ST_UNIX_PATH_MAX) {
		finish_hdr(&pc->ev.h, ST_EV_CONNECT);
		emit(&pc->ev.h, sizeof(pc->ev) + plen);
	}
out:
	bpf_map_delete_elem(&pend_connect, &tid);
	return 0;
}

ST_SYSCALL_EXIT(connect, connect_exit)

/* The session of the socket (the hooks run for sockets created in a
 * watched cgroup, whoever uses them): its cgroup's watched ancestor. */
static __always_inline __u64 sock_session(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *k = bpf_cast_to_kern_ctx(ctx);
	struct cgroup *cg = BPF_CORE_READ(k, sk, sk_cgrp_data.cgroup);
	__u32 levels = watched_levels, level = BPF_CORE_READ(cg, level);

	if (!st_active()) /* the other load's hooks answer */
		return 0;
	for (__u32 lvl = 0; lvl < ST_LEVELS && lvl <= level; lvl++) {
		struct cgroup *anc;
		__u64 id;

		if (!(levels & (1u << lvl)))
			continue;
		if (bpf_probe_read_kernel(&anc, sizeof(anc), &cg->ancestors[lvl]))
			return 0;
		id = BPF_CORE_READ(anc, kn, id);
		if (id && bpf_map_lookup_elem(&watched, &id))
			return id;
	}
	return 0;
}

/* An attempt the connect syscall does not report: sent from here. */
static __always_inline void emit_denied(__u64 session, __u32 sys, __u16 family, const __u32 *addr, __u16 port,
					const char *path, __u32 plen)
{
	struct {
		struct st_connect ev;
		char s[ST_UNIX_PATH_MAX];
	} d = {};

	fill_hdr(&d.ev.h, ST_EV_CONNECT, session);
	d.ev.h.syscall = sys;
	d.ev.ret = -ST_EPERM;
	d.ev.fd = -1;
	d.ev.family = family;
	d.ev.port = port;
	d.ev.source = ST_ADDR_HOOK;
	d.ev.verdict = ST_VERDICT_DENY;
	if (family == ST_AF_UNIX) {
		plen &= 0x7f;
		if (plen > ST_UNIX_PATH_MAX)
			plen = ST_UNIX_PATH_MAX;
		bpf_probe_read_kernel(d.s, plen, path);
		d.ev.path_len = plen;
	} else {
		__builtin_memcpy(d.ev.addr, addr, 16);
		plen = 0;
	}
	emit(&d.ev.h, sizeof(d.ev) + plen);
}

static __always_inline int on_inet(struct bpf_sock_addr *ctx, __u16 family, __u32 sys)
{
	__u64 session = sock_session(ctx);
	__u32 addr[4] = {}, tid = current_tid();
	__u16 port = bpf_ntohs(ctx->user_port);
	struct pend_connect *pc;
	__u8 v;

	if (!session)
		return 1;
	if (family == ST_AF_INET) {
		addr[0] = ctx->user_ip4;
		v = egress_verdict(session, ST_AF_INET, addr, bpf_htons(port));
	} else {
		addr[0] = ctx->user_ip6[0];
		addr[1] = ctx->user_ip6[1];
		addr[2] = ctx->user_ip6[2];
		addr[3] = ctx->user_ip6[3];
		v = inet6_verdict(session, addr, bpf_htons(port));
	}
	pc = sys == ST_SYS_CONNECT ? bpf_map_lookup_elem(&pend_connect, &tid) : NULL;
	if (pc) {
		pc->ev.family = family;
		pc->ev.port = port;
		__builtin_memcpy(pc->ev.addr, addr, 16);
		pc->ev.source = ST_ADDR_HOOK;
		pc->ev.verdict = v;
	} else if (v == ST_VERDICT_DENY) {
		emit_denied(session, sys, family, addr, port, NULL, 0);
	}
	return v == ST_VERDICT_ALLOW;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	return on_inet(ctx, ST_AF_INET, ST_SYS_CONNECT);
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	return on_inet(ctx, ST_AF_INET6, ST_SYS_CONNECT);
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	return on_inet(ctx, ST_AF_INET, ST_SYS_SENDMSG);
}

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx)
{
	return on_inet(ctx, ST_AF_INET6, ST_SYS_SENDMSG);
}

static __always_inline int on_unix(struct bpf_sock_addr *ctx, __u32 sys)
{
	struct bpf_sock_addr_kern *k = bpf_cast_to_kern_ctx(ctx);
	__u64 session = sock_session(ctx);
	__u32 tid = current_tid(), len;
	struct pend_connect *pc;
	const char *path;
	char first = 1;
	__u8 v;

	if (!session)
		return 1;
	len = k->uaddrlen;
	path = (const char *)k->uaddr + ST_SUN_PATH;
	if (len > ST_SUN_PATH)
		bpf_probe_read_kernel(&first, 1, path);
	v = unix_verdict(session, first);
	pc = sys == ST_SYS_CONNECT ? bpf_map_lookup_elem(&pend_connect, &tid) : NULL;
	if (pc) {
		pc->ev.path_len = read_sun_path(pc->s, path, (long)len - ST_SUN_PATH, false);
		pc->ev.source = ST_ADDR_HOOK;
		pc->ev.verdict = v;
	} else if (v == ST_VERDICT_DENY) {
		emit_denied(session, sys, ST_AF_UNIX, NULL, 0, path, len - ST_SUN_PATH);
	}
	return v == ST_VERDICT_ALLOW;
}

/* Loaded as BPF_CGROUP_UNIX_CONNECT and BPF_CGROUP_UNIX_SENDMSG (kernel
 * 6.7+; libbpf 1.1 has no section names for them, the loader sets the
 * attach types).  Abstract sockets reach past the filesystem's view, so an
 * enforcing session may neither connect nor send to them. */
SEC("cgroup/connect4")
int connect_unix(struct bpf_sock_addr *ctx)
{
	return on_unix(ctx, ST_SYS_CONNECT);
}

SEC("cgroup/sendmsg4")
int sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return on_unix(ctx, ST_SYS_SENDMSG);
}
