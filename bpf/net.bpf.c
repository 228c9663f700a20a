/* connect for AF_INET, AF_INET6 and AF_UNIX, and egress enforcement.
 *
 * sys_enter_connect saves the user's sockaddr; the cgroup sock_addr hooks
 * (attached once to the parent of `sandtrail run`'s sessions, and to each
 * other watched cgroup: tasks elsewhere never run them) replace it
 * with the kernel's copy and decide allow/deny from the session's rules;
 * sys_exit_connect sends the event, for AF_UNIX with the peer's address
 * read from the connected socket.  A denied attempt that is not a connect
 * syscall (sendmsg to an address, io_uring) is sent by the hook itself, as
 * is the first allowed datagram to each destination (the others counted).
 * bind, listen and accept are recorded with the addresses the kernel gave
 * the socket. */
#include <bpf/bpf_endian.h>

#include "common.bpf.h"
#include "egress.bpf.h"

#define ST_EPERM    1

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/* The address at ua (alen bytes of user memory): *family, and *port
 * (host order) and addr (network order) for inet, or the unix path into
 * path; returns the path's length.  *family stays 0 when unreadable. */
static __always_inline __u32 user_sockaddr(const void *ua, long alen, __u16 *family, __u16 *port, __u8 *addr,
					   char *path)
{
	__u16 fam = 0;

	if (alen < 2 || bpf_probe_read_user(&fam, sizeof(fam), ua))
		return 0;
	*family = fam;
	if (fam == ST_AF_INET && alen >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin = {};

		bpf_probe_read_user(&sin, sizeof(sin), ua);
		*port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(addr, &sin.sin_addr, 4);
	} else if (fam == ST_AF_INET6 && alen >= 24) {
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_user(&sin6, 24, ua);
		*port = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(addr, &sin6.sin6_addr, 16);
	} else if (fam == ST_AF_UNIX) {
		return read_sun_path(path, ua + ST_SUN_PATH, alen - ST_SUN_PATH, true);
	}
	return 0;
}

static __noinline int connect_enter(struct trace_event_raw_sys_enter *ctx, __u64 session, __u32 sys)
{
	struct st_connect *ev;
	char *buf;

	buf = scratch_buf();
	if (!buf)
		return 0;
	ev = (struct st_connect *)buf;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->fd = ctx->args[0];
	ev->path_len = user_sockaddr((const void *)ctx->args[1], (int)ctx->args[2], &ev->family, &ev->port, ev->addr,
				     buf + sizeof(*ev));
	if (ev->family)
		ev->source = ST_ADDR_USER;
	pend(&pend_connect, &ev->h, session, sys, ST_EV_CONNECT);
	return 0;
}

ST_SYSCALL_ENTER(connect, connect_enter, ST_SYS_CONNECT)

/* The socket behind the current task's fd, NULL if it is none. */
static __always_inline struct sock *fd_sock(long fd)
{
	struct file *file = fd_file(fd);
	struct socket *sock = BPF_CORE_READ(file, private_data);

	/* the descriptor may have been replaced since the call returned */
	if (!file || BPF_CORE_READ(sock, file) != file)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

/* The path a unix socket is bound to, into dst; its length. */
static __always_inline __u32 unix_path(char *dst, struct unix_sock *u)
{
	struct unix_address *ua = BPF_CORE_READ(u, addr);

	if (!ua)
		return 0;
	return read_sun_path(dst, (const char *)ua + bpf_core_field_offset(struct unix_address, name) + ST_SUN_PATH,
			     BPF_CORE_READ(ua, len) - ST_SUN_PATH, false);
}

/* The address the connected unix socket's peer is bound to. */
static __always_inline __u32 peer_path(char *dst, long fd)
{
	struct sock *sk = fd_sock(fd);

	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) != ST_AF_UNIX)
		return 0;
	return unix_path(dst, (struct unix_sock *)BPF_CORE_READ((struct unix_sock *)sk, peer));
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

/* bind, listen: the socket (its address, as asked, for bind) at entry; at
 * exit the addresses the kernel gave it. */
static __noinline int sock_enter(struct trace_event_raw_sys_enter *ctx, __u64 session, __u32 sys)
{
	struct st_sock *ev;
	char *buf;
	__u32 type = sys == ST_SYS_BIND ? ST_EV_BIND : ST_EV_LISTEN;

	buf = scratch_buf();
	if (!buf)
		return 0;
	ev = (struct st_sock *)buf;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->fd = sys_arg(ctx, 0);
	if (sys == ST_SYS_BIND) {
		ev->path_len = user_sockaddr((const void *)sys_arg(ctx, 1), (int)sys_arg(ctx, 2), &ev->family, &ev->port,
					     ev->addr, buf + sizeof(*ev));
		ev->source = ST_ADDR_USER;
	} else {
		ev->backlog = sys_arg(ctx, 1);
	}
	pend(&pend_sock, &ev->h, session, sys, type);
	return 0;
}

ST_SYSCALL_ENTER(bind, sock_enter, ST_SYS_BIND)
ST_SYSCALL_ENTER(listen, sock_enter, ST_SYS_LISTEN)

/* The socket's own address (inet: local; unix: its path), and for accept
 * the peer's. */
static __always_inline void sock_addrs(struct pend_sock *ps, struct sock *sk, bool peer)
{
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);

	ps->ev.family = fam;
	ps->ev.source = ST_ADDR_SOCKET;
	ps->ev.path_len = 0;
	if (fam == ST_AF_INET) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

		__builtin_memset(ps->ev.addr, 0, 16);
		__builtin_memcpy(ps->ev.addr, &a, 4);
		ps->ev.port = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (peer) {
			a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
			__builtin_memcpy(ps->ev.peer, &a, 4);
			ps->ev.peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
	} else if (fam == ST_AF_INET6) {
		BPF_CORE_READ_INTO(&ps->ev.addr, sk, __sk_common.skc_v6_rcv_saddr);
		ps->ev.port = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (peer) {
			BPF_CORE_READ_INTO(&ps->ev.peer, sk, __sk_common.skc_v6_daddr);
			ps->ev.peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
	} else if (fam == ST_AF_UNIX) {
		ps->ev.path_len = unix_path(ps->s, (struct unix_sock *)sk);
	}
}

static __noinline int sock_exit(long ret, __u32 tid)
{
	struct pend_sock *ps;
	struct sock *sk;
	__u32 plen;

	ps = bpf_map_lookup_elem(&pend_sock, &tid);
	if (!ps)
		return 0;
	if (!still_watched(ps->ev.h.session_cgid))
		goto out;
	ps->ev.ret = ret;
	sk = ret >= 0 ? fd_sock(ps->ev.fd) : NULL;
	if (sk)
		sock_addrs(ps, sk, false);
	plen = ps->ev.path_len;
	if (plen <= ST_UNIX_PATH_MAX) {
		finish_hdr(&ps->ev.h, ps->ev.h.type);
		emit(&ps->ev.h, sizeof(ps->ev) + plen);
	}
out:
	bpf_map_delete_elem(&pend_sock, &tid);
	return 0;
}

ST_SYSCALL_EXIT(bind, sock_exit)
ST_SYSCALL_EXIT(listen, sock_exit)

/* accept, accept4: the connections accepted (a failed accept, EAGAIN in
 * every event loop, accepted nothing), from the new socket alone at exit:
 * no entry to pair, so an accept costs a session no pending entry. */
static __noinline int accept_exit(long ret, __u64 session, __u32 sys)
{
	struct pend_sock *ps = (struct pend_sock *)scratch_buf();
	struct sock *sk = fd_sock(ret);
	__u32 plen;

	if (!ps || !sk)
		return 0;
	__builtin_memset(&ps->ev, 0, sizeof(ps->ev));
	fill_hdr(&ps->ev.h, ST_EV_ACCEPT, session);
	ps->ev.h.syscall = sys;
	ps->ev.ret = ret;
	ps->ev.fd = -1;
	sock_addrs(ps, sk, true);
	plen = ps->ev.path_len;
	asm volatile("%[p] &= 0x7f" : [p] "+r"(plen)); /* <= 108 already: for the verifier */
	emit(&ps->ev.h, sizeof(ps->ev) + plen);
	return 0;
}

#define ACCEPT_EXIT(name, sys)                                            \
	SEC("tracepoint/syscalls/sys_exit_" #name)                        \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)             \
	{                                                                 \
		__u64 session;                                            \
									  \
		if (ctx->ret < 0)                                         \
			return 0;                                         \
		session = current_session();                              \
		return session ? accept_exit(ctx->ret, session, sys) : 0; \
	}
ACCEPT_EXIT(accept, ST_SYS_ACCEPT)
ACCEPT_EXIT(accept4, ST_SYS_ACCEPT4)

/* The session of the socket (the hooks run for sockets created in a
 * watched cgroup, whoever uses them): its cgroup's watched ancestor. */
static __always_inline __u64 sock_session(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *k = bpf_cast_to_kern_ctx(ctx);

	if (!st_active()) /* the other load's hooks answer */
		return 0;
	return cgroup_session(BPF_CORE_READ(k, sk, sk_cgrp_data.cgroup));
}

/* An attempt the connect syscall does not report (denied), or the first
 * datagram to a destination: sent from here. */
static __always_inline void emit_hook(__u64 session, __u32 type, __u32 sys, __u8 verdict, __u16 family,
				      const __u32 *addr, __u16 port, const char *path, __u32 plen)
{
	struct {
		struct st_connect ev;
		char s[ST_UNIX_PATH_MAX];
	} d = {};

	fill_hdr(&d.ev.h, type, session);
	d.ev.h.syscall = sys;
	d.ev.ret = verdict == ST_VERDICT_DENY ? -ST_EPERM : 0;
	d.ev.fd = -1;
	d.ev.family = family;
	d.ev.port = port;
	d.ev.source = ST_ADDR_HOOK;
	d.ev.verdict = verdict;
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

static __always_inline void emit_denied(__u64 session, __u32 sys, __u16 family, const __u32 *addr, __u16 port,
					const char *path, __u32 plen)
{
	emit_hook(session, ST_EV_CONNECT, sys, ST_VERDICT_DENY, family, addr, port, path, plen);
}

/* Allowed datagrams, per session and destination (events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_DGRAM_MAX);
	__type(key, struct st_dgram_key);
	__type(value, __u64);
} dgrams SEC(".maps");

/* Destinations in dgrams, per session slot (the collector zeroes a slot
 * for its new session). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_LOSS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} dgram_dests SEC(".maps");

/* Datagrams to destinations beyond a full table, per session. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ST_WATCH_MAX);
	__type(key, __u64);
	__type(value, __u64);
} dgram_untracked SEC(".maps");

/* Counts an allowed datagram; the first to a destination is a record, the
 * rest a number the collector writes at the session's end.  A full table
 * (the session's share or the whole map) counts the datagram untracked. */
static __always_inline void count_datagram(__u64 session, __u16 family, const __u32 *addr, __u16 port)
{
	struct st_dgram_key k = { .session = session, .family = family, .port = port };
	struct st_watch *w = bpf_map_lookup_elem(&watched, &session);
	__u32 slot = w ? w->slot : ST_WATCH_MAX;
	__u64 *dests = bpf_map_lookup_elem(&dgram_dests, &slot);
	__u64 one = 1, *n;

	__builtin_memcpy(k.addr, addr, 16);
	n = bpf_map_lookup_elem(&dgrams, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (!dests)
		return;
	/* racing first datagrams may pass the bound by a few: still bounded */
	if (*(volatile __u64 *)dests >= ST_DGRAM_DESTS || bpf_map_update_elem(&dgrams, &k, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&dgrams, &k); /* another CPU's first one */
		if (!n) {
			bpf_map_update_elem(&dgram_untracked, &session, &(__u64){ 0 }, BPF_NOEXIST);
			n = bpf_map_lookup_elem(&dgram_untracked, &session);
		}
		if (n)
			__sync_fetch_and_add(n, 1);
		return;
	}
	__sync_fetch_and_add(dests, 1);
	emit_hook(session, ST_EV_DATAGRAM, ST_SYS_SENDMSG, ST_VERDICT_ALLOW, family, addr, port, NULL, 0);
}

/* --network proxy: the destination a TCP connect asked for, on its socket
 * until the source port is known (proxy_sockops). */
struct proxy_orig {
	__u64 session;
	struct st_proxy_dst dst;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct proxy_orig);
} proxy_sk SEC(".maps");

/* ... then under (session, family, source port), for sandtrail-proxy to
 * read (and delete) when it accepts the connection: events.h. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ST_PROXY_DST_MAX);
	__type(key, struct st_proxy_key);
	__type(value, struct st_proxy_dst);
} proxy_dst SEC(".maps");

static __always_inline bool is_loopback(__u16 family, const __u32 *addr)
{
	if (family == ST_AF_INET)
		return (bpf_ntohl(addr[0]) >> 24) == 127;
	if (addr[0] == 0 && addr[1] == 0 && addr[2] == bpf_htonl(0xffff))
		return (bpf_ntohl(addr[3]) >> 24) == 127;
	return addr[0] == 0 && addr[1] == 0 && addr[2] == 0 && addr[3] == bpf_htonl(1);
}

/* A proxy session: its own loopback (its network namespace's) stays its
 * own; every other TCP connect goes to the proxy's listener on it, the
 * destination asked for kept for the proxy; anything else is denied. */
static __always_inline __u8 proxy_verdict(struct bpf_sock_addr *ctx, __u64 session, __u16 family, const __u32 *addr,
					  __u16 port, __u32 sys)
{
	struct proxy_orig *o;

	if (is_loopback(family, addr))
		return ST_VERDICT_ALLOW;
	if (sys != ST_SYS_CONNECT || ctx->type != SOCK_STREAM)
		return ST_VERDICT_DENY;
	o = bpf_sk_storage_get(&proxy_sk, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return ST_VERDICT_DENY; /* no place for the destination: the proxy could not tell it */
	o->session = session;
	__builtin_memcpy(o->dst.addr, addr, 16);
	o->dst.port = port;
	o->dst.family = family;
	if (family == ST_AF_INET) {
		ctx->user_ip4 = bpf_htonl(0x7f000001);
	} else if (addr[0] == 0 && addr[1] == 0 && addr[2] == bpf_htonl(0xffff)) {
		ctx->user_ip6[3] = bpf_htonl(0x7f000001); /* ::ffff:127.0.0.1: the socket may be IPv4 only */
	} else {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
	}
	ctx->user_port = bpf_htons(ST_PROXY_PORT);
	return ST_VERDICT_ALLOW;
}

SEC("sockops")
int proxy_sockops(struct bpf_sock_ops *skops)
{
	struct st_proxy_key k = {};
	struct proxy_orig *o;
	struct bpf_sock *sk;

	if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	o = bpf_sk_storage_get(&proxy_sk, sk, 0, 0);
	if (!o)
		return 1;
	k.session = o->session;
	k.family = skops->family;
	/* the proxy's dual-stack listener sees an IPv4-mapped peer as IPv4 */
	if (k.family == ST_AF_INET6 && skops->remote_ip6[0] == 0 && skops->remote_ip6[1] == 0 &&
	    skops->remote_ip6[2] == bpf_htonl(0xffff))
		k.family = ST_AF_INET;
	k.sport = skops->local_port;
	bpf_map_update_elem(&proxy_dst, &k, &o->dst, BPF_ANY);
	return 1;
}

static __always_inline int on_inet(struct bpf_sock_addr *ctx, __u16 family, __u32 sys)
{
	__u64 session = sock_session(ctx);
	__u32 addr[4] = {}, tid = current_tid();
	__u16 port = bpf_ntohs(ctx->user_port);
	struct pend_connect *pc;
	struct st_watch *w;
	__u8 v;

	if (!session)
		return 1;
	w = bpf_map_lookup_elem(&watched, &session);
	if (family == ST_AF_INET) {
		addr[0] = ctx->user_ip4;
	} else {
		addr[0] = ctx->user_ip6[0];
		addr[1] = ctx->user_ip6[1];
		addr[2] = ctx->user_ip6[2];
		addr[3] = ctx->user_ip6[3];
	}
	if (w && (w->enforce & ST_ENFORCE_PROXY))
		v = proxy_verdict(ctx, session, family, addr, port, sys);
	else if (family == ST_AF_INET)
		v = egress_verdict(session, ST_AF_INET, addr, bpf_htons(port));
	else
		v = inet6_verdict(session, addr, bpf_htons(port));
	pc = sys == ST_SYS_CONNECT ? bpf_map_lookup_elem(&pend_connect, &tid) : NULL;
	if (pc) {
		pc->ev.family = family;
		pc->ev.port = port;
		__builtin_memcpy(pc->ev.addr, addr, 16);
		pc->ev.source = ST_ADDR_HOOK;
		pc->ev.verdict = v;
	} else if (v == ST_VERDICT_DENY) {
		emit_denied(session, sys, family, addr, port, NULL, 0);
	} else if (sys == ST_SYS_SENDMSG) {
		count_datagram(session, family, addr, port);
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
