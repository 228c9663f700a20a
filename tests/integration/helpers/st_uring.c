/* File and socket operations through io_uring, with raw syscalls (Debian 12
 * has no liburing-dev), for test_uring.sh: in DIR, OPENAT "a" (created),
 * WRITE to it, RENAMEAT a -> b, UNLINKAT b (twice), MKDIRAT "d", SYMLINKAT
 * "target" -> "s", LINKAT "s" -> "l" relative to a dirfd of DIR, OPENAT
 * "link" (a symlink the caller made), an OPENAT of a bad address, then
 * CONNECT to 127.0.0.1:PORT.  Prints "OP RESULT" a line. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r)
{
	struct io_uring_params p;
	uint8_t *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = (int)syscall(SYS_io_uring_setup, 8, &p);
	if (r->fd < 0) {
		perror("io_uring_setup");
		return -1;
	}
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE, MAP_SHARED,
		  r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe), PROT_READ | PROT_WRITE,
		  MAP_SHARED, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		       IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED) {
		perror("mmap");
		return -1;
	}
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* Submits one request (filled by the caller in *sqe) and waits for it. */
static int ring_run(struct ring *r, const struct io_uring_sqe *sqe, const char *name)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	int res;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
		perror("io_uring_enter");
		exit(1);
	}
	head = *r->cq_head;
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
		fprintf(stderr, "%s: no completion\n", name);
		exit(1);
	}
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
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
