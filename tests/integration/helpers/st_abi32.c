/* Syscalls of the other ABIs from a 64-bit program, for test_abi32.sh: i386
 * through int $0x80 (i386 numbers, 32-bit pointers: the strings live in a
 * page below 4 GiB) and x32 (the x32 bit in the number).  In DIR: open "a"
 * (created), creat "c", rename a -> b, unlink b, a failed execve; then a
 * socketcall(SYS_SOCKET) and socketcall(SYS_CONNECT) to 127.0.0.1:PORT,
 * getpid (no record type of its own), an x32 getpid and open of "x", and
 * last an execve of /bin/true through int $0x80.  Prints "CALL RESULT" a
 * line. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define X32_BIT 0x40000000L

static long int80(long nr, long a, long b, long c)
{
	long ret = nr;

	__asm__ volatile("int $0x80" : "+a"(ret) : "b"(a), "c"(b), "d"(c) : "memory", "cc", "r8", "r9", "r10", "r11");
	return ret;
}

static long x32(long nr, long a, long b, long c)
{
	long ret = nr | X32_BIT;

	__asm__ volatile("syscall" : "+a"(ret) : "D"(a), "S"(b), "d"(c) : "memory", "cc", "rcx", "r11");
	return ret;
}

static char *low; /* a page below 4 GiB */
static size_t used;

static char *put(const void *p, size_t n)
{
	char *at = low + used;

	memcpy(at, p, n);
	used += (n + 7) & ~(size_t)7;
	return at;
}

static char *put_str(const char *dir, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", name);
	return put(path, strlen(path) + 1);
}

#define P(x) ((long)(uintptr_t)(x))

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint32_t words[3], args[2];
	char *a, *b;
	long fd;

	if (argc != 3) {
		fprintf(stderr, "usage: st_abi32 DIR PORT\n");
		return 2;
	}
	low = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	a = put_str(argv[1], "a");
	b = put_str(argv[1], "b");
	fd = int80(5, P(a), O_CREAT | O_WRONLY, 0600); /* open */
	printf("open %ld\n", fd);
	printf("close %ld\n", int80(6, fd, 0, 0));
	fd = int80(8, P(put_str(argv[1], "c")), 0600, 0); /* creat */
	printf("creat %ld\n", fd);
	printf("rename %ld\n", int80(38, P(a), P(b), 0));
	printf("unlink %ld\n", int80(10, P(b), 0, 0));
	printf("execve-missing %ld\n", int80(11, P(put_str(argv[1], "missing")), 0, 0));
	words[0] = AF_INET;
	words[1] = SOCK_STREAM;
	words[2] = 0;
	fd = int80(102, 1, P(put(words, sizeof(words))), 0); /* socketcall(SYS_SOCKET) */
	printf("socket %ld\n", fd);
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	words[0] = (uint32_t)fd;
	words[1] = (uint32_t)P(put(&sin, sizeof(sin)));
	words[2] = sizeof(sin);
	printf("connect %ld\n", int80(102, 3, P(put(words, sizeof(words))), 0)); /* socketcall(SYS_CONNECT) */
	printf("getpid %ld\n", int80(20, 0, 0, 0));
	printf("x32-getpid %ld\n", x32(39, 0, 0, 0));
	printf("x32-open %ld\n", x32(2, P(put_str(argv[1], "x")), O_CREAT | O_WRONLY, 0600));
	args[0] = (uint32_t)P(put_str("", "/bin/true"));
	args[1] = 0;
	printf("execve\n");
	int80(11, args[0], P(put(args, sizeof(args))), 0);
	return 1;
}
