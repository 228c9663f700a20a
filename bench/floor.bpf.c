/* The floor of the capture design: a program on every hook bpf/ attaches
 * (same sections, same attach types), each returning at once.  What this
 * costs is the price of being attached at all; bench/floor.c checks that
 * the sections still match build/sandtrail.bpf.o before it attaches. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define FLOOR_TP(name)                                   \
	SEC("tracepoint/syscalls/" #name)                \
	int name(void *ctx)                              \
	{                                                \
		return 0;                                \
	}

#define FLOOR_TP_PAIR(sys) FLOOR_TP(sys_enter_##sys) FLOOR_TP(sys_exit_##sys)

FLOOR_TP_PAIR(execve)
FLOOR_TP_PAIR(execveat)
FLOOR_TP_PAIR(open)
FLOOR_TP_PAIR(openat)
FLOOR_TP_PAIR(openat2)
FLOOR_TP_PAIR(creat)
FLOOR_TP_PAIR(unlink)
FLOOR_TP_PAIR(unlinkat)
FLOOR_TP_PAIR(rmdir)
FLOOR_TP_PAIR(rename)
FLOOR_TP_PAIR(renameat)
FLOOR_TP_PAIR(renameat2)
FLOOR_TP_PAIR(connect)
FLOOR_TP_PAIR(truncate)
FLOOR_TP_PAIR(ftruncate)
FLOOR_TP_PAIR(mkdir)
FLOOR_TP_PAIR(mkdirat)
FLOOR_TP_PAIR(mknod)
FLOOR_TP_PAIR(mknodat)
FLOOR_TP_PAIR(symlink)
FLOOR_TP_PAIR(symlinkat)
FLOOR_TP_PAIR(link)
FLOOR_TP_PAIR(linkat)
FLOOR_TP_PAIR(chmod)
FLOOR_TP_PAIR(fchmod)
FLOOR_TP_PAIR(fchmodat)
FLOOR_TP_PAIR(fchmodat2)
FLOOR_TP_PAIR(chown)
FLOOR_TP_PAIR(fchown)
FLOOR_TP_PAIR(lchown)
FLOOR_TP_PAIR(fchownat)
FLOOR_TP_PAIR(utime)
FLOOR_TP_PAIR(utimes)
FLOOR_TP_PAIR(futimesat)
FLOOR_TP_PAIR(utimensat)
FLOOR_TP_PAIR(setxattr)
FLOOR_TP_PAIR(lsetxattr)
FLOOR_TP_PAIR(fsetxattr)
FLOOR_TP_PAIR(setxattrat)
FLOOR_TP_PAIR(removexattr)
FLOOR_TP_PAIR(lremovexattr)
FLOOR_TP_PAIR(fremovexattr)
FLOOR_TP_PAIR(removexattrat)
FLOOR_TP_PAIR(mount)
FLOOR_TP_PAIR(umount)
FLOOR_TP_PAIR(pivot_root)
FLOOR_TP_PAIR(move_mount)
FLOOR_TP_PAIR(bind)
FLOOR_TP_PAIR(listen)
FLOOR_TP_PAIR(io_uring_setup)
FLOOR_TP(sys_exit_accept)
FLOOR_TP(sys_exit_accept4)

/* BTF tracepoints whose arguments a floor program never reads */
#define FLOOR_BTF(event, name)                           \
	SEC("tp_btf/" #event)                            \
	int name(void *ctx)                              \
	{                                                \
		return 0;                                \
	}

FLOOR_BTF(io_uring_submit_req, on_uring_submit)
FLOOR_BTF(io_uring_req_failed, on_uring_failed)
FLOOR_BTF(io_uring_complete, on_uring_complete)
FLOOR_BTF(cgroup_attach_task, on_cgroup_attach)
FLOOR_BTF(sys_exit, on_sys_exit)          /* bpf/abi32.bpf.c's */
FLOOR_BTF(sched_process_exec, on_exec32) /* bpf/abi32.bpf.c's */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return 0;
}

/* cgroup hooks: 1 lets the call through */
#define FLOOR_HOOK(sec, name)                            \
	SEC(sec)                                         \
	int name(struct bpf_sock_addr *ctx)              \
	{                                                \
		return 1;                                \
	}

FLOOR_HOOK("cgroup/connect4", connect4)
FLOOR_HOOK("cgroup/connect6", connect6)
FLOOR_HOOK("cgroup/sendmsg4", sendmsg4)
FLOOR_HOOK("cgroup/sendmsg6", sendmsg6)
/* loaded as BPF_CGROUP_UNIX_CONNECT / _SENDMSG where the kernel has them,
 * as bpf/net.bpf.c's */
FLOOR_HOOK("cgroup/connect4", connect_unix)
FLOOR_HOOK("cgroup/sendmsg4", sendmsg_unix)

/* sockops (the proxy sessions' TCP_CONNECT_CB): 1 lets it through */
SEC("sockops")
int tcp_sockops(struct bpf_sock_ops *skops)
{
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
