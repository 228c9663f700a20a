/* File and socket operations through io_uring, with raw syscalls (Debian 12
 * has no liburing-dev), for test_uring.sh: in DIR, OPENAT "a" (created),
 * WRITE to it, RENAMEAT a -> b, UNLINKAT b (twice), MKDIRAT "d", SYMLINKAT
 * "target" -> "s", LINKAT "s" -> "l" relative to a dirfd of DIR, OPENAT
 * "link" (a symlink the caller made), an OPENAT of a bad address, then
 * CONNECT to 127.0.0.1:PORT.  Prints "OP RESULT" a line. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "../../uring_ring.h"

/* Submits one request (filled by the caller in *sqe) and waits for it. */
static int ring_run(struct ring *r, const struct io_uring_sqe *sqe, const char *name)
{
	int res;

	if (ring_submit(r, sqe, &res) < 0) {
		fprintf(stderr, "%s: not run\n", name);
		exit(1);
	}
	printf("%s %d\n", name, res);
	return res;
}

static struct io_uring_sqe path_op(int op, int dfd, const char *path, const char *path2, int dfd2)
{
	struct io_uring_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = op;
	s.fd = dfd;
	s.addr = (uintptr_t)path;
	if (path2) {
		s.addr2 = (uintptr_t)path2;
		s.len = dfd2;
	}
	return s;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct io_uring_sqe s;
	struct ring r;
	int dir, fd, sock;

	if (argc != 3) {
		fprintf(stderr, "usage: st_uring DIR PORT\n");
		return 2;
	}
	dir = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0 || ring_init(&r))
		return 1;
	s = path_op(IORING_OP_OPENAT, dir, "a", NULL, 0);
	s.open_flags = O_CREAT | O_WRONLY | O_CLOEXEC;
	s.len = 0600;
	fd = ring_run(&r, &s, "OPENAT");
	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_WRITE;
	s.fd = fd;
	s.addr = (uintptr_t) "x\n";
	s.len = 2;
	ring_run(&r, &s, "WRITE");
	/* RENAMEAT: fd olddirfd, addr old, len newdirfd, addr2 new */
	s = path_op(IORING_OP_RENAMEAT, dir, "a", "b", dir);
	ring_run(&r, &s, "RENAMEAT");
	s = path_op(IORING_OP_UNLINKAT, dir, "b", NULL, 0);
	ring_run(&r, &s, "UNLINKAT");
	ring_run(&r, &s, "UNLINKAT-AGAIN"); /* gone: ENOENT */
	s = path_op(IORING_OP_MKDIRAT, dir, "d", NULL, 0);
	s.len = 0750;
	ring_run(&r, &s, "MKDIRAT");
	/* SYMLINKAT: addr target, fd newdirfd, addr2 link */
	s = path_op(IORING_OP_SYMLINKAT, dir, "target", NULL, 0);
	s.addr2 = (uintptr_t) "s";
	ring_run(&r, &s, "SYMLINKAT");
	/* LINKAT: fd olddirfd, addr old, len newdirfd, addr2 new */
	s = path_op(IORING_OP_LINKAT, dir, "s", "l", dir);
	ring_run(&r, &s, "LINKAT");
	s = path_op(IORING_OP_OPENAT, dir, "link", NULL, 0); /* a symlink the test made */
	s.open_flags = O_RDONLY | O_CLOEXEC;
	ring_run(&r, &s, "OPENAT-LINK");
	s = path_op(IORING_OP_OPENAT, dir, NULL, NULL, 0); /* no path to copy: refused at submission */
	s.addr = 1;
	ring_run(&r, &s, "OPENAT-BAD");
	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_CONNECT;
	s.fd = sock;
	s.addr = (uintptr_t)&sin;
	s.off = sizeof(sin);
	ring_run(&r, &s, "CONNECT");
	return 0;
}
