#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/bpf.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <cmocka.h>

#include "policy.h"
#include "seccomp_profile.h"

static char err[512];

static void expect_error(const char *json, const char *want)
{
	struct seccomp_prog prog;

	assert_int_equal(seccomp_profile_compile(json, strlen(json), "p.json", 0, &prog, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

/* The build-time program is what schemas/seccomp/default.json compiles to
 * now, whatever the capabilities (the profile has no conditional rule). */
static void test_seccomp_default_program_is_the_compiled_profile(void **state)
{
	struct seccomp_prog prog, def;
	bool conditional = true;
	char *json;
	size_t len;

	assert_int_equal(policy_read_file("schemas/seccomp/default.json", &json, &len), 0);
	assert_int_equal(len, seccomp_default_profile_len);
	assert_memory_equal(json, seccomp_default_profile, len);
	assert_int_equal(seccomp_profile_compile(json, len, "default.json", ~0ull, &prog, &conditional, err, sizeof(err)),
			 0);
	free(json);
	assert_false(conditional);
	assert_int_equal(seccomp_default_filter_len, prog.fprog.len);
	assert_memory_equal(seccomp_default_filter, prog.fprog.filter, prog.fprog.len * sizeof(struct sock_filter));
	assert_int_equal(seccomp_profile_prepare(NULL, 1ull << 10, &def, err, sizeof(err)), 0);
	assert_ptr_equal(def.fprog.filter, seccomp_default_filter);
	assert_false(def.owned);
	seccomp_profile_release(&def);
	seccomp_profile_release(&prog);
}

/* A classic BPF interpreter for what libseccomp emits: the filter's
 * decision for one syscall, as the kernel would run it. */
static uint32_t run_filter(const struct sock_filter *f, size_t n, const struct seccomp_data *d)
{
	uint32_t a = 0;

	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &f[pc];

		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_true(i->k + 4 <= sizeof(*d) && i->k % 4 == 0);
			memcpy(&a, (const char *)d + i->k, 4);
			break;
		case BPF_ALU | BPF_AND | BPF_K: a &= i->k; break;
		case BPF_ALU | BPF_OR | BPF_K: a |= i->k; break;
		case BPF_JMP | BPF_JA: pc += i->k; break;
		case BPF_JMP | BPF_JEQ | BPF_K: pc += a == i->k ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGT | BPF_K: pc += a > i->k ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JGE | BPF_K: pc += a >= i->k ? i->jt : i->jf; break;
		case BPF_JMP | BPF_JSET | BPF_K: pc += a & i->k ? i->jt : i->jf; break;
		case BPF_RET | BPF_K: return i->k;
		default: fail_msg("instruction %zu: opcode 0x%x is not interpreted here", pc, i->code);
		}
	}
	fail_msg("the filter ran off its end");
	return 0;
}

static uint32_t ret_of(const json_t *rule, uint32_t default_errno)
{
	const char *act = json_string_value(json_object_get(rule, "action"));
	const json_t *er = json_object_get(rule, "errnoRet");

	if (!strcmp(act, "SCMP_ACT_ALLOW"))
		return SECCOMP_RET_ALLOW;
	assert_string_equal(act, "SCMP_ACT_ERRNO");
	return SECCOMP_RET_ERRNO | (er ? (uint32_t)json_integer_value(er) : default_errno);
}

/* What the profile says of syscall nr with these arguments, read from the
 * JSON independently of the compiler (names, EQ and MASKED_EQ conditions:
 * what default.json uses). */
static uint32_t profile_says(const json_t *root, int nr, const uint64_t *args)
{
	const json_t *rule, *name, *cmp;
	uint32_t def_errno = (uint32_t)json_integer_value(json_object_get(root, "defaultErrnoRet"));
	size_t i, j, k;

	assert_string_equal(json_string_value(json_object_get(root, "defaultAction")), "SCMP_ACT_ERRNO");
	json_array_foreach(json_object_get(root, "syscalls"), i, rule) {
		bool named = false, holds = true;

		assert_null(json_object_get(rule, "includes"));
		assert_null(json_object_get(rule, "excludes"));
		json_array_foreach(json_object_get(rule, "names"), j, name)
			named |= seccomp_syscall_resolve_name(json_string_value(name)) == nr;
		if (!named)
			continue;
		json_array_foreach(json_object_get(rule, "args"), k, cmp) {
			const char *op = json_string_value(json_object_get(cmp, "op"));
			uint64_t arg = args[json_integer_value(json_object_get(cmp, "index"))];
			uint64_t v = (uint64_t)json_integer_value(json_object_get(cmp, "value"));
			uint64_t two = (uint64_t)json_integer_value(json_object_get(cmp, "valueTwo"));

			if (!strcmp(op, "SCMP_CMP_EQ"))
				holds &= arg == v;
			else if (!strcmp(op, "SCMP_CMP_MASKED_EQ"))
				holds &= (arg & v) == two;
			else
				fail_msg("op %s is not modelled here", op);
		}
		if (holds)
			return ret_of(rule, def_errno);
	}
	return SECCOMP_RET_ERRNO | def_errno;
}

/* The default program (a binary tree, not libseccomp's plain list) decides
 * every syscall number as default.json says, for arguments around the
 * flags its conditions test; other architectures and x32 are killed. */
static void test_seccomp_default_program_decides_as_the_profile_says(void **state)
{
	static const uint64_t vals[] = { 0, 8, 17, 0x200, 0x400, 0x600, 0x20000, 0x20008, 0x40000, 0x10f00, 0x3d0f00,
					 0x10000000, 0x40000000, 0x7e020000, 0x7e020080, 0xffffffff, 0x100000000,
					 ~0ull };
	struct seccomp_data d = { .arch = AUDIT_ARCH_X86_64 };
	const struct sock_filter *f = seccomp_default_filter;
	size_t n = seccomp_default_filter_len, allowed = 0;
	json_t *root = json_loads(seccomp_default_profile, 0, NULL);

	assert_non_null(root);
	assert_true(n > 0);
	for (int nr = 0; nr < 1024; nr++)
		for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
			uint64_t args[6] = { vals[v] };
			uint32_t want = profile_says(root, nr, args);

			d.nr = nr;
			for (int a = 0; a < 6; a++)
				d.args[a] = args[a];
			if (run_filter(f, n, &d) != want)
				fail_msg("syscall %d (arg0 0x%llx): filter 0x%x, profile 0x%x", nr,
					 (unsigned long long)vals[v], run_filter(f, n, &d), want);
			allowed += want == SECCOMP_RET_ALLOW;
			d.nr = nr | 0x40000000; /* __X32_SYSCALL_BIT */
			assert_int_equal(run_filter(f, n, &d), SECCOMP_RET_KILL_THREAD);
			d.nr = nr;
			d.arch = AUDIT_ARCH_I386;
			assert_int_equal(run_filter(f, n, &d), SECCOMP_RET_KILL_THREAD);
			d.arch = AUDIT_ARCH_X86_64;
		}
	assert_true(allowed > 250 * sizeof(vals) / sizeof(vals[0])); /* the model is not vacuous */
	json_decref(root);
}

static void test_seccomp_malformed_profiles_name_the_field(void **state)
{
	expect_error("{\"syscalls\":[]}", "p.json: defaultAction: missing or not a string");
	expect_error("{\"defaultAction\":\"SCMP_ACT_NOPE\"}", "p.json: defaultAction: unknown action \"SCMP_ACT_NOPE\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
		     "{\"names\":[\"write\"],\"action\":\"ALLOW\"}]}",
		     "p.json: syscalls[1].action: unknown action \"ALLOW\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\","
		     "\"args\":[{\"index\":7,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
		     "p.json: syscalls[0].args[0].index: expected 0 to 5");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\","
		     "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_SIMILAR\"}]}]}",
		     "p.json: syscalls[0].args[0].op: expected SCMP_CMP_EQ, _NE, _LT, _LE, _GT, _GE or _MASKED_EQ");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":\"read\",\"action\":\"SCMP_ACT_ALLOW\"}]}",
		     "p.json: syscalls[0].names: expected a non-empty array of syscall names");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\",7],\"action\":\"SCMP_ACT_ALLOW\"}]}",
		     "p.json: syscalls[0].names[1]: expected a syscall name");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"X86_64\"]}",
		     "p.json: architectures[0]: expected an architecture like \"SCMP_ARCH_X86_64\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscals\":[]}", "p.json: syscals: unknown field");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\","
		     "\"includes\":{\"caps\":[\"CAP_FLYING\"]}}]}",
		     "p.json: syscalls[0].includes.caps[0]: expected a capability name like \"CAP_SYS_ADMIN\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":-3}",
		     "p.json: defaultErrnoRet: expected an errno from 0 to 4095");
	expect_error("{\"defaultAction\":", "p.json: line 1 column 17: unexpected token near end of file");
}

/* Runs fn in a child under a profile (NULL: the default); returns fn's exit
 * code.  The child is root on this machine: should the filter let a probe
 * through (a bug, a mutation), the probe must harm nothing here, so the
 * child has a mount namespace of its own (the mount probe mounts on /tmp). */
static int under(const char *json, uint64_t caps, int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct seccomp_prog prog;
		int rc = json ? seccomp_profile_compile(json, strlen(json), "p", caps, &prog, NULL, err, sizeof(err))
			      : seccomp_profile_prepare(NULL, caps, &prog, err, sizeof(err));

		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(98);
		if (rc < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_profile_apply(&prog) < 0)
			_exit(99);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#define REFUSED(call, e) ((call) < 0 && errno == (e) ? 0 : 1)

static int try_mount(void) { return REFUSED(mount("none", "/tmp", "tmpfs", 0, NULL), EPERM); }
/* a child of the probe's own, not a process of this machine's (init would
 * stop should the filter let the attach through) */
static int try_ptrace(void)
{
	pid_t t = fork();
	int rc;

	if (t == 0) {
		pause();
		_exit(0);
	}
	if (t < 0)
		return 1;
	rc = REFUSED(ptrace(PTRACE_ATTACH, t, NULL, NULL), EPERM);
	kill(t, SIGKILL);
	waitpid(t, NULL, 0);
	return rc;
}
static int try_bpf(void)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	return REFUSED(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)), EPERM);
}
static int try_unshare_user(void) { return REFUSED(unshare(CLONE_NEWUSER), EPERM); }
static int try_clone_newns(void) { return REFUSED(syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0), EPERM); }
static int try_clone3(void) { return REFUSED(syscall(SYS_clone3, NULL, 0), ENOSYS); }
static int try_keyctl(void) { return REFUSED(syscall(SYS_keyctl, 0, 0, 0, 0, 0), EPERM); }
static int try_perf(void) { return REFUSED(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM); }
static int try_personality(void) { return REFUSED(personality(ADDR_NO_RANDOMIZE), EPERM); }
static int try_kexec(void) { return REFUSED(syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0), EPERM); }
static int try_init_module(void) { return REFUSED(syscall(SYS_finit_module, -1, "", 0), EPERM); }
static int try_setns(void) { return REFUSED(setns(0, 0), EPERM); }
static int try_allowed(void)
{
	pid_t pid;
	int st;

	if (getpid() <= 0 || personality(0xffffffff) < 0 || unshare(CLONE_FILES) < 0)
		return 1;
	pid = fork(); /* clone without namespace flags */
	if (pid == 0)
		_exit(0);
	return pid > 0 && waitpid(pid, &st, 0) == pid ? 0 : 1;
}

static void test_seccomp_default_refuses_escapes(void **state)
{
	assert_int_equal(under(NULL, 0, try_mount), 0);
	assert_int_equal(under(NULL, 0, try_ptrace), 0);
	assert_int_equal(under(NULL, 0, try_bpf), 0);
	assert_int_equal(under(NULL, 0, try_unshare_user), 0);
	assert_int_equal(under(NULL, 0, try_clone_newns), 0);
	assert_int_equal(under(NULL, 0, try_clone3), 0);
	assert_int_equal(under(NULL, 0, try_keyctl), 0);
	assert_int_equal(under(NULL, 0, try_perf), 0);
	assert_int_equal(under(NULL, 0, try_personality), 0);
	assert_int_equal(under(NULL, 0, try_kexec), 0);
	assert_int_equal(under(NULL, 0, try_init_module), 0);
	assert_int_equal(under(NULL, 0, try_setns), 0);
}

static void test_seccomp_default_allows_ordinary_work(void **state)
{
	assert_int_equal(under(NULL, 0, try_allowed), 0);
}

static int try_getppid_refused(void) { return REFUSED(syscall(SYS_getppid), EACCES); }

static void test_seccomp_caps_select_rules(void **state)
{
	const char *j = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],"
			"\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,\"excludes\":{\"caps\":[\"CAP_SYS_PTRACE\"]}}]}";
	struct seccomp_prog prog;
	bool conditional = false;

	assert_int_equal(seccomp_profile_compile(j, strlen(j), "p", 0, &prog, &conditional, err, sizeof(err)), 0);
	assert_true(conditional); /* as a default, the build would leave it to each run */
	seccomp_profile_release(&prog);
	/* the rule holds only for a sandbox without CAP_SYS_PTRACE (19) */
	assert_int_equal(under(j, 0, try_getppid_refused), 0);
	assert_int_equal(under(j, 1ull << 19, try_getppid_refused), 1);
}

/* ---- the fixed filter ---- */

#define NOSYS_RET (SECCOMP_RET_ERRNO | ENOSYS)
#define EPERM_RET (SECCOMP_RET_ERRNO | EPERM)

static uint32_t fixed_says(uint32_t arch, uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct seccomp_data d = { .arch = arch, .nr = (int)nr, .args = { a0, a1, a2, a3 } };

	return run_filter(seccomp_fixed_prog.filter, seccomp_fixed_prog.len, &d);
}

/* Each refusal of the fixed filter, and its neighbours that stay allowed
 * (the upper half of an int argument is garbage the kernel ignores). */
static void test_seccomp_fixed_filter_decides_each_case(void **state)
{
	const uint32_t X = AUDIT_ARCH_X86_64, ok = SECCOMP_RET_ALLOW;
	const uint64_t hi = 0xdead000000000000ull;

	assert_int_equal(fixed_says(AUDIT_ARCH_I386, SYS_getpid, 0, 0, 0, 0), NOSYS_RET);
	assert_int_equal(fixed_says(X, 0x40000000 | SYS_getpid, 0, 0, 0, 0), NOSYS_RET);
	assert_int_equal(fixed_says(X, SYS_getpid, 0, 0, 0, 0), ok);
	assert_int_equal(fixed_says(X, SYS_socket, AF_UNIX, SOCK_STREAM, 0, 0), ok);
	assert_int_equal(fixed_says(X, SYS_socket, hi | AF_INET, SOCK_STREAM, 0, 0), ok);
	assert_int_equal(fixed_says(X, SYS_socket, AF_INET6, SOCK_DGRAM, 0, 0), ok);
	assert_int_equal(fixed_says(X, SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0), ok);
	assert_int_equal(fixed_says(X, SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, 0),
			 SECCOMP_RET_ERRNO | EPROTONOSUPPORT);
	assert_int_equal(fixed_says(X, SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG, 0),
			 SECCOMP_RET_ERRNO | EPROTONOSUPPORT);
	assert_int_equal(fixed_says(X, SYS_socket, AF_VSOCK, SOCK_STREAM, 0, 0), SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(fixed_says(X, SYS_socket, hi | AF_VSOCK, SOCK_STREAM, 0, 0), SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(fixed_says(X, SYS_socket, AF_PACKET, SOCK_RAW, 0, 0), SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(fixed_says(X, SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, 0), ok);
	assert_int_equal(fixed_says(X, SYS_socketpair, AF_VSOCK, SOCK_STREAM, 0, 0), SECCOMP_RET_ERRNO | EAFNOSUPPORT);
	assert_int_equal(fixed_says(X, 425 /* io_uring_setup */, 8, 0, 0, 0), NOSYS_RET);
	assert_int_equal(fixed_says(X, 426 /* io_uring_enter */, 3, 1, 0, 0), NOSYS_RET);
	assert_int_equal(fixed_says(X, 427 /* io_uring_register */, 3, 0, 0, 0), NOSYS_RET);
	assert_int_equal(fixed_says(X, SYS_chmod, 0, 04755, 0, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_chmod, 0, 02755, 0, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_chmod, 0, hi | 0755, 0, 0), ok);
	assert_int_equal(fixed_says(X, SYS_fchmod, 3, 06777, 0, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_fchmodat, 3, 0, 04000, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_fchmodat, 3, 0, 01777, 0), ok);
	assert_int_equal(fixed_says(X, 452 /* fchmodat2 */, 3, 0, 04000, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_creat, 0, 04755, 0, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_mknod, 0, 0100000 | 04755, 0, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_mknodat, 3, 0, 0100000 | 02755, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_open, 0, O_WRONLY | O_CREAT, 04755, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_open, 0, O_WRONLY | O_CREAT, 0755, 0), ok);
	/* without O_CREAT the mode is whatever was in the register */
	assert_int_equal(fixed_says(X, SYS_open, 0, O_RDONLY | O_DIRECTORY, 04755, 0), ok);
	assert_int_equal(fixed_says(X, SYS_openat, 3, 0, O_RDWR | O_CREAT | O_EXCL, 06755), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_openat, 3, 0, O_RDWR | O_TMPFILE, 04700), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_openat, 3, 0, O_RDONLY, 06755), ok);
	assert_int_equal(fixed_says(X, 437 /* openat2 */, 3, 0, 0, 24), NOSYS_RET);
	assert_int_equal(fixed_says(X, SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS, 0, 0, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_unshare, CLONE_FILES, 0, 0, 0), ok);
	assert_int_equal(fixed_says(X, SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0), EPERM_RET);
	assert_int_equal(fixed_says(X, SYS_clone, CLONE_VM | CLONE_THREAD | CLONE_SIGHAND, 0, 0, 0), ok);
	assert_int_equal(fixed_says(X, 435 /* clone3 */, 0, 0, 0, 0), NOSYS_RET);
}

/* A profile that lets everything through, other ABIs included: the
 * strongest relaxation a user can ask for. */
static const char permissive[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"archMap\":[{\"architecture\":"
				 "\"SCMP_ARCH_X86_64\",\"subArchitectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]}]}";

/* fn in a child under the permissive profile, with or without the fixed
 * filter under it: fn's exit code (or 100 + signal). */
static int under_permissive(bool with_fixed, int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct seccomp_prog prog;

		if (seccomp_profile_compile(permissive, strlen(permissive), "p", 0, &prog, NULL, err, sizeof(err)) < 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || (with_fixed && seccomp_fixed_apply() < 0) ||
		    seccomp_profile_apply(&prog) < 0)
			_exit(99);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

/* 0: refused with the errno the fixed filter gives; 1: it went through;
 * 2: refused some other way (this kernel lacks the feature). */
#define OUTCOME(call, e) ((call) >= 0 ? 1 : errno == (e) ? 0 : 2)

static int try_packet(void) { return OUTCOME(socket(AF_PACKET, SOCK_RAW, 0), EAFNOSUPPORT); }
static int try_netlink_audit(void) { return OUTCOME(socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), EPROTONOSUPPORT); }
static int try_vsock(void) { return OUTCOME(socket(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT); }
static int try_io_uring(void)
{
	char params[120] = { 0 }; /* struct io_uring_params */

	return OUTCOME(syscall(425, 4, params), ENOSYS);
}
static int try_setuid_chmod(void)
{
	char path[] = "/tmp/sandtrail-fixed-XXXXXX";
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return 3;
	rc = OUTCOME(fchmod(fd, 04755), EPERM);
	close(fd);
	if (rc == 0 && chmod(path, 0755) < 0)
		rc = 3; /* plain modes still work */
	unlink(path);
	return rc;
}
static int try_setuid_create(void)
{
	char path[] = "/tmp/sandtrail-fixed-create";
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 04755);
	int e = errno;

	unlink(path);
	errno = e; /* unlink's ENOENT is not the answer */
	return OUTCOME(fd, EPERM);
}
static int try_userns(void) { return OUTCOME(unshare(CLONE_NEWUSER), EPERM); }
static void no_ia32(int sig) { _exit(2); }
static int try_int80(void)
{
	long ret = 20; /* i386 getpid */

	/* a kernel without IA32 emulation answers int 0x80 with SIGSEGV */
	signal(SIGSEGV, no_ia32);
	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory", "cc", "r8", "r9", "r10", "r11");
	return ret > 0 ? 1 : ret == -ENOSYS ? 0 : 2;
}
static int try_x32(void)
{
	long ret = syscall(0x40000000 | SYS_getpid);

	return ret > 0 ? 1 : errno == ENOSYS ? 0 : 2;
}

/* Refused under the fixed filter; and, where this kernel has the feature,
 * allowed by the permissive profile alone (the filter is what refuses). */
static void expect_fixed_refuses(const char *what, int (*fn)(void))
{
	int with = under_permissive(true, fn), without = under_permissive(false, fn);

	if (without != 0 && without != 1 && without != 2)
		fail_msg("%s: the probe itself failed (%d)", what, without);
	if (without == 2) {
		print_message("%s: this kernel does not have it\n", what);
		return;
	}
	if (with != 0)
		fail_msg("%s: not refused under the fixed filter (%d)", what, with);
}

static void test_seccomp_fixed_filter_holds_under_a_permissive_profile(void **state)
{
	expect_fixed_refuses("AF_PACKET", try_packet);
	expect_fixed_refuses("NETLINK_AUDIT", try_netlink_audit);
	expect_fixed_refuses("AF_VSOCK", try_vsock);
	expect_fixed_refuses("io_uring_setup", try_io_uring);
	expect_fixed_refuses("fchmod 04755", try_setuid_chmod);
	expect_fixed_refuses("open(O_CREAT, 04755)", try_setuid_create);
	expect_fixed_refuses("unshare(CLONE_NEWUSER)", try_userns);
	expect_fixed_refuses("int 0x80", try_int80);
	expect_fixed_refuses("x32", try_x32);
	/* these run as root here: the kernel would allow them all */
	assert_int_equal(under_permissive(false, try_packet), 1);
	assert_int_equal(under_permissive(false, try_setuid_chmod), 1);
	assert_int_equal(under_permissive(false, try_userns), 1);
	assert_int_equal(under_permissive(true, try_allowed), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seccomp_default_program_is_the_compiled_profile),
		cmocka_unit_test(test_seccomp_default_program_decides_as_the_profile_says),
		cmocka_unit_test(test_seccomp_malformed_profiles_name_the_field),
		cmocka_unit_test(test_seccomp_default_refuses_escapes),
		cmocka_unit_test(test_seccomp_default_allows_ordinary_work),
		cmocka_unit_test(test_seccomp_caps_select_rules),
		cmocka_unit_test(test_seccomp_fixed_filter_decides_each_case),
		cmocka_unit_test(test_seccomp_fixed_filter_holds_under_a_permissive_profile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
