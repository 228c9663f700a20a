#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>

#include "seccomp_profile.h"

/* Numbers newer than the distribution's headers (the kernel's own). */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#define __NR_io_uring_enter 426
#define __NR_io_uring_register 427
#endif

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_BIT 0x40000000u /* __X32_SYSCALL_BIT: same arch, other ABI */
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "the fixed seccomp filter knows x86_64 and aarch64"
#endif

/* The low 32 bits of an argument: what the kernel reads of an int, a mode or
 * a flag word, whatever the caller left in the upper half. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#endif

#define LD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define LD_ARG(i) LD(ARG_LO(i))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define ALLOW RET(SECCOMP_RET_ALLOW)
#define REFUSE(e) RET(SECCOMP_RET_ERRNO | (e))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define JSET(k, t, f) BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (k), (t), (f))
#define JGE(k, t, f) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (k), (t), (f))
/* the n instructions that follow are for syscall nr only (each ends in a RET) */
#define ONLY(nr, n) JEQ((nr), 0, (n))

#define SETID_BITS 06000 /* S_ISUID | S_ISGID */
/* O_TMPFILE without its O_DIRECTORY (glibc's __O_TMPFILE holds both): a plain
 * O_DIRECTORY open has no mode, only what its caller left in the register */
#define TMPFILE_BIT 020000000

/* 4 instructions: EPERM when the argument has any of bits, else allowed */
#define REFUSE_BITS(arg, bits) LD_ARG(arg), JSET((bits), 0, 1), REFUSE(EPERM), ALLOW
/* a file mode given to a call that may create a file: setuid/setgid refused */
#define MODE(nr, arg) ONLY((nr), 4), REFUSE_BITS((arg), SETID_BITS)
/* open-like calls: the mode counts only with O_CREAT or O_TMPFILE */
#define CREATE_MODE(nr, flags, mode)                                                                               \
	ONLY((nr), 6), LD_ARG(flags), JSET(O_CREAT | TMPFILE_BIT, 0, 3), REFUSE_BITS((mode), SETID_BITS)
#define NOSYS(nr) ONLY((nr), 1), REFUSE(ENOSYS)

/* What the capture cannot see or the network modes cannot police, refused
 * whatever profile the session runs under:
 * - other syscall ABIs (i386 int 0x80, x32): the tracepoints the capture
 *   uses never see them;
 * - socket families other than unix, inet, inet6 and netlink route: the
 *   cgroup hooks police inet and unix only (vsock reaches the host or the
 *   hypervisor, packet and the other netlink families read or drive the host);
 * - io_uring: its operations bypass the syscalls the capture traces;
 * - setuid/setgid bits, through chmod or a creating call's mode: a workspace
 *   outlives the session, and such a file would be a privilege on the host;
 * - new user namespaces: in one, a process holds CAP_SETFCAP over the files it
 *   owns and could plant file capabilities (clone3's flags are in memory a
 *   filter cannot read: ENOSYS, and libc falls back to clone);
 * - openat2: its mode is in memory too (ENOSYS: callers fall back to openat).
 * seccomp_fixed_oci() below is the same list for gVisor: change both. */
static const struct sock_filter fixed[] = {
	LD(offsetof(struct seccomp_data, arch)),
	JEQ(NATIVE_ARCH, 1, 0),
	REFUSE(ENOSYS),
	LD(offsetof(struct seccomp_data, nr)),
#ifdef X32_BIT
	JGE(X32_BIT, 0, 1),
	REFUSE(ENOSYS),
#endif
	ONLY(__NR_socket, 10),
	LD_ARG(0),
	JEQ(AF_UNIX, 6, 0),
	JEQ(AF_INET, 5, 0),
	JEQ(AF_INET6, 4, 0),
	JEQ(AF_NETLINK, 1, 0),
	REFUSE(EAFNOSUPPORT),
	LD_ARG(2),
	JEQ(NETLINK_ROUTE, 0, 1),
	ALLOW,
	REFUSE(EPROTONOSUPPORT),
	ONLY(__NR_socketpair, 4),
	LD_ARG(0),
	JEQ(AF_UNIX, 0, 1),
	ALLOW,
	REFUSE(EAFNOSUPPORT),
	NOSYS(__NR_io_uring_setup),
	NOSYS(__NR_io_uring_enter),
	NOSYS(__NR_io_uring_register),
	ONLY(__NR_clone, 4), REFUSE_BITS(0, CLONE_NEWUSER),
	ONLY(__NR_unshare, 4), REFUSE_BITS(0, CLONE_NEWUSER),
	NOSYS(__NR_clone3),
	NOSYS(__NR_openat2),
	MODE(__NR_fchmod, 1),
	MODE(__NR_fchmodat, 2),
	MODE(__NR_fchmodat2, 2),
	MODE(__NR_mknodat, 2),
	CREATE_MODE(__NR_openat, 2, 3),
#ifdef __NR_open
	MODE(__NR_chmod, 1),
	MODE(__NR_mknod, 1),
	MODE(__NR_creat, 1),
	CREATE_MODE(__NR_open, 1, 2),
#endif
	ALLOW,
};

const struct sock_fprog seccomp_fixed_prog = {
	.len = sizeof(fixed) / sizeof(fixed[0]),
	.filter = (struct sock_filter *)fixed,
};

/* ---- the same list for gVisor, as OCI seccomp rules the Sentry applies ---- */

static json_t *rule(const char *const *names, json_t *args)
{
	json_t *n = json_array();

	for (; *names; names++)
		json_array_append_new(n, json_string(*names));
	/* this runsc ignores errnoRet: every refusal is EPERM */
	return json_pack("{s:o, s:s, s:i, s:o}", "names", n, "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM, "args",
			 args ? args : json_array());
}

static json_t *arg(int index, const char *op, uint64_t value, uint64_t value2)
{
	return json_pack("{s:i, s:s, s:I, s:I}", "index", index, "op", op, "value", (json_int_t)value, "valueTwo",
			 (json_int_t)value2);
}

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Other ABIs need no rule: the Sentry runs int 0x80 as the native call of
 * that number (its points see it) and refuses x32; clone3 and openat2 it
 * does not implement (ENOSYS, and libc falls back). */
json_t *seccomp_fixed_oci(void)
{
	static const int setid[] = { S_ISUID, S_ISGID };
	static const int creating[] = { O_CREAT, TMPFILE_BIT };
	json_t *r = json_array();

	/* families other than unix, inet, inet6, netlink: the rules are ORed,
	 * one comparison of an argument each */
	for (int fam = 0; fam < AF_NETLINK; fam++)
		if (fam != AF_UNIX && fam != AF_INET && fam != AF_INET6)
			json_array_append_new(r, rule(NAMES("socket"), json_pack("[o]", arg(0, "SCMP_CMP_EQ", (uint64_t)fam, 0))));
	json_array_append_new(r, rule(NAMES("socket"), json_pack("[o]", arg(0, "SCMP_CMP_GT", AF_NETLINK, 0))));
	json_array_append_new(r, rule(NAMES("socket"), json_pack("[o, o]", arg(0, "SCMP_CMP_EQ", AF_NETLINK, 0),
								 arg(2, "SCMP_CMP_NE", NETLINK_ROUTE, 0))));
	json_array_append_new(r, rule(NAMES("socketpair"), json_pack("[o]", arg(0, "SCMP_CMP_NE", AF_UNIX, 0))));
	json_array_append_new(r, rule(NAMES("io_uring_setup", "io_uring_enter", "io_uring_register"), NULL));
	json_array_append_new(r, rule(NAMES("clone", "unshare"),
				      json_pack("[o]", arg(0, "SCMP_CMP_MASKED_EQ", CLONE_NEWUSER, CLONE_NEWUSER))));
	for (size_t b = 0; b < 2; b++) {
		json_array_append_new(r, rule(NAMES("chmod", "fchmod", "mknod", "creat"),
					      json_pack("[o]", arg(1, "SCMP_CMP_MASKED_EQ", setid[b], setid[b]))));
		json_array_append_new(r, rule(NAMES("fchmodat", "mknodat"),
					      json_pack("[o]", arg(2, "SCMP_CMP_MASKED_EQ", setid[b], setid[b]))));
		for (size_t c = 0; c < 2; c++) {
			json_array_append_new(r, rule(NAMES("open"), json_pack("[o, o]",
					arg(1, "SCMP_CMP_MASKED_EQ", creating[c], creating[c]),
					arg(2, "SCMP_CMP_MASKED_EQ", setid[b], setid[b]))));
			json_array_append_new(r, rule(NAMES("openat"), json_pack("[o, o]",
					arg(2, "SCMP_CMP_MASKED_EQ", creating[c], creating[c]),
					arg(3, "SCMP_CMP_MASKED_EQ", setid[b], setid[b]))));
		}
	}
	return json_pack("{s:s, s:o}", "defaultAction", "SCMP_ACT_ALLOW", "syscalls", r);
}

int seccomp_fixed_apply(void)
{
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &seccomp_fixed_prog) < 0 ? -errno : 0;
}
