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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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
	fprintf(stderr, "usage: sbx_probe write PATH | mount | ptrace PID | unshare-user | bpf | raw-socket |\n"
			"       connect ADDR PORT | forks N | memhog MIB\n");
	return 2;
}
