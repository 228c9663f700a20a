/* Tries one thing a sandboxed process must (or may) do and says how it went:
 * "allowed", or "refused <ERRNO>".  Exit 0 when it was refused, 1 when it was
 * allowed, 2 on a usage error; `forks` and `memhog` report what they got. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void no_ia32(int sig)
{
	static const char msg[] = "refused ENOSYS\n"; /* this kernel has no such ABI */

	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(0);
}

static int report(long rc)
{
	if (rc >= 0) {
		puts("allowed");
		return 1;
	}
	printf("refused %s\n", strerrorname_np(errno));
	return 0;
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";

	if (!strcmp(op, "write") && argc == 3) {
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);

		return report(fd < 0 ? -1 : write(fd, "x\n", 2));
	}
	if (!strcmp(op, "mount"))
		return report(mount("none", "/tmp", "tmpfs", 0, NULL));
	if (!strcmp(op, "ptrace") && argc == 3)
		return report(ptrace(PTRACE_ATTACH, atoi(argv[2]), NULL, NULL));
	if (!strcmp(op, "unshare-user"))
		return report(unshare(CLONE_NEWUSER));
	if (!strcmp(op, "bpf")) {
		union bpf_attr a;

		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_ARRAY;
		a.key_size = 4;
		a.value_size = 4;
		a.max_entries = 1;
		return report(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
	}
	if (!strcmp(op, "raw-socket"))
		return report(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	if (!strcmp(op, "connect") && argc == 4) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3])) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1)
			return 2;
		return report(connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	}
	if (!strcmp(op, "forks") && argc == 3) {
		/* children that sleep until we are done: how many could start? */
		int want = atoi(argv[2]), got = 0, eagain = 0;
		pid_t *kids = calloc((size_t)want + 1, sizeof(pid_t));

		for (int i = 0; kids && i < want; i++) {
			pid_t pid = fork();

			if (pid == 0) {
				pause();
				_exit(0);
			}
			if (pid < 0) {
				eagain += errno == EAGAIN;
				continue;
			}
			kids[got++] = pid;
		}
		printf("forked %d refused %d\n", got, eagain);
		for (int i = 0; i < got; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
		return 0;
	}
	if (!strcmp(op, "memhog") && argc == 3) {
		/* touches MiB after MiB until killed */
		long mb = atol(argv[2]);

		for (long i = 0; i < mb; i++) {
			char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				return 3;
			memset(p, 1, 1 << 20);
		}
		puts("survived");
		return 0;
	}
	if (!strcmp(op, "socket") && argc == 5) /* FAMILY TYPE PROTOCOL, numbers */
		return report(socket(atoi(argv[2]), atoi(argv[3]), atoi(argv[4])));
	if (!strcmp(op, "socketpair") && argc == 3) {
		int sv[2];

		return report(socketpair(atoi(argv[2]), SOCK_STREAM, 0, sv));
	}
	if (!strcmp(op, "int80")) {
		long ret = 20; /* i386 getpid */

		/* a kernel without IA32 emulation answers with SIGSEGV: say so */
		signal(SIGSEGV, no_ia32);
		__asm__ volatile("int $0x80" : "+a"(ret) : : "memory", "cc", "r8", "r9", "r10", "r11");
		errno = ret < 0 ? (int)-ret : 0;
		return report(ret);
	}
	if (!strcmp(op, "x32"))
		return report(syscall(0x40000000 | SYS_getpid));
	if (!strcmp(op, "io_uring")) {
		char params[120] = { 0 }; /* struct io_uring_params */

		return report(syscall(425, 4, params));
	}
	if (!strcmp(op, "chmod-setuid") && argc == 3)
		return report(chmod(argv[2], 04755));
	if (!strcmp(op, "create-setuid") && argc == 3)
		return report(open(argv[2], O_WRONLY | O_CREAT | O_EXCL, 02755));
	if (!strcmp(op, "setcap") && argc == 3) {
		/* VFS_CAP_REVISION_2, CAP_SETUID permitted and effective */
		static const unsigned char cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x80 };

		return report(setxattr(argv[2], "security.capability", cap, sizeof(cap), 0));
	}
	if (!strcmp(op, "connect-unix") && argc == 3) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(argv[2]);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		if (fd < 0 || strlen(argv[2]) >= sizeof(sun.sun_path))
			return 2;
		memcpy(sun.sun_path, argv[2], strlen(argv[2]));
		if (sun.sun_path[0] == '@')
			sun.sun_path[0] = 0;
		return report(connect(fd, (struct sockaddr *)&sun, len));
	}
	if ((!strcmp(op, "listen-tcp") || !strcmp(op, "listen-abstract")) && argc == 3) {
		/* listens until stdin closes; says "listening" once it does */
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		bool tcp = !strcmp(op, "listen-tcp");
		int fd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0), one = 1;
		char c;

		if (fd < 0 || strlen(argv[2]) + 1 >= sizeof(sun.sun_path))
			return 2;
		strcpy(sun.sun_path + 1, argv[2]);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if ((tcp ? bind(fd, (struct sockaddr *)&sin, sizeof(sin))
			 : bind(fd, (struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path) + 1 + strlen(argv[2]))) < 0 ||
		    listen(fd, 8) < 0)
			return report(-1);
		puts("listening");
		fflush(stdout);
		while (read(0, &c, 1) > 0)
			;
		return 1;
	}
	fprintf(stderr, "usage: sbx_probe write PATH | mount | ptrace PID | unshare-user | bpf | raw-socket |\n"
			"       connect ADDR PORT | forks N | memhog MIB | socket FAMILY TYPE PROTO |\n"
			"       socketpair FAMILY | int80 | x32 | io_uring | chmod-setuid PATH | create-setuid PATH |\n"
			"       setcap PATH | connect-unix PATH|@NAME | listen-tcp PORT | listen-abstract NAME\n");
	return 2;
}
