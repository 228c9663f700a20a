/* loadgen: the syscall loops `make bench` measures, each printing one JSON
 * line {"ops":N,"wall_ns":W,"cpu_ns":C,"pid":P} (cpu: this process and its
 * waited-for children, user + system).
 *
 *   loadgen open N PATH             N x (openat PATH O_RDONLY, close)
 *   loadgen forkexec N              N x (fork, execve /bin/true, waitpid)
 *   loadgen connect N               N x (socket, connect to its own 127.0.0.1
 *                                   listener, accept, close both)
 *   loadgen uring N PATH            N x (an io_uring OPENAT request of PATH,
 *                                   waited for; close)
 *   loadgen unlink N DIR            N x (openat DIR/f O_CREAT, close, unlink)
 *   loadgen rename N DIR            N x (rename DIR/f -> DIR/g, then back):
 *                                   2N renames, counted as N operations
 *   loadgen open-for SECS PATH      open+close as fast as it can for SECS
 *   loadgen paced RATE SECS PATH    open+close at RATE per second for SECS
 *   loadgen stamped RATE SECS DIR   paced failed opens of DIR/<CLOCK_REALTIME ns
 *                                   read just before the call>: the path
 *                                   carries the syscall's time into the journal
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tests/uring_ring.h"

#define PACE_SLICE_NS 1000000ull /* paced modes catch up once per millisecond */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return ((uint64_t)self.ru_utime.tv_sec + (uint64_t)self.ru_stime.tv_sec + (uint64_t)kids.ru_utime.tv_sec +
		(uint64_t)kids.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)self.ru_utime.tv_usec + (uint64_t)self.ru_stime.tv_usec + (uint64_t)kids.ru_utime.tv_usec +
		(uint64_t)kids.ru_stime.tv_usec) * 1000ull;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void open_close(const char *path)
{
	int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die(path);
	close(fd);
}

static uint64_t loop_open(uint64_t n, const char *path)
{
	for (uint64_t i = 0; i < n; i++)
		open_close(path);
	return n;
}

static uint64_t loop_uring(uint64_t n, const char *path)
{
	struct io_uring_sqe s;
	struct ring r;

	if (ring_init(&r) < 0)
		exit(1);
	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_OPENAT;
	s.fd = AT_FDCWD;
	s.addr = (uintptr_t)path;
	s.open_flags = O_RDONLY | O_CLOEXEC;
	for (uint64_t i = 0; i < n; i++) {
		int fd;

		if (ring_submit(&r, &s, &fd) < 0)
			exit(1);
		if (fd < 0) {
			errno = -fd;
			die(path);
		}
		close(fd);
	}
	return n;
}

static void dir_path(char *out, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size) {
		errno = ENAMETOOLONG;
		die(dir);
	}
}

static uint64_t loop_unlink(uint64_t n, const char *dir)
{
	char f[4096];

	dir_path(f, sizeof(f), dir, "f");
	for (uint64_t i = 0; i < n; i++) {
		int fd = openat(AT_FDCWD, f, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			die(f);
		close(fd);
		if (unlink(f) < 0)
			die(f);
	}
	return n;
}

static uint64_t loop_rename(uint64_t n, const char *dir)
{
	char f[4096], g[4096];
	int fd;

	dir_path(f, sizeof(f), dir, "f");
	dir_path(g, sizeof(g), dir, "g");
	fd = openat(AT_FDCWD, f, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		die(f);
	close(fd);
	for (uint64_t i = 0; i < n; i++)
		if (rename(f, g) < 0 || rename(g, f) < 0)
			die(f);
	unlink(f);
	return n;
}

static uint64_t loop_forkexec(uint64_t n)
{
	char *const argv[] = { "true", NULL };
	char *const envp[] = { NULL };

	for (uint64_t i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execve("/bin/true", argv, envp);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "loadgen: /bin/true failed (status %d)\n", status);
			exit(1);
		}
	}
	return n;
}

/* One thread plays both ends: a loopback connect completes in the kernel
 * before accept, so no second thread or process adds scheduling noise. */
static uint64_t loop_connect(uint64_t n)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct linger rst = { .l_onoff = 1, .l_linger = 0 }; /* no TIME_WAIT: ports last any n */
	socklen_t alen = sizeof(addr);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(l, 128) < 0 ||
	    getsockname(l, (struct sockaddr *)&addr, &alen) < 0)
		die("listener on 127.0.0.1");
	for (uint64_t i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a;

		if (s < 0)
			die("socket");
		if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
			die("connect 127.0.0.1");
		a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0)
			die("accept4");
		setsockopt(s, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		close(s);
		close(a);
	}
	close(l);
	return n;
}

static uint64_t loop_open_for(double secs, const char *path)
{
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + (uint64_t)(secs * 1e9), n = 0;

	/* the clock is read every 1024 calls: its cost stays out of the loop */
	do {
		for (int i = 0; i < 1024; i++)
			open_close(path);
		n += 1024;
	} while (clock_ns(CLOCK_MONOTONIC) < end);
	return n;
}

static void stamped_open(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%" PRIu64, dir, clock_ns(CLOCK_REALTIME));
	fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
}

/* rate calls per second for secs: each millisecond, the calls due so far,
 * then sleep to the next millisecond (absolute, so sleeps do not drift). */
static uint64_t loop_paced(double rate, double secs, const char *arg, void (*op)(const char *))
{
	uint64_t start = clock_ns(CLOCK_MONOTONIC), dur = (uint64_t)(secs * 1e9), n = 0, t;

	for (uint64_t slice = 1; (t = clock_ns(CLOCK_MONOTONIC) - start) < dur; slice++) {
		uint64_t due = (uint64_t)(rate * (double)t / 1e9);
		uint64_t next = start + slice * PACE_SLICE_NS;
		struct timespec ts = { .tv_sec = (time_t)(next / 1000000000ull), .tv_nsec = (long)(next % 1000000000ull) };

		for (; n < due; n++)
			op(arg);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	return n;
}

static double number(const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v <= 0) {
		fprintf(stderr, "loadgen: %s: '%s' is not a positive number\n", what, s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen open N PATH | forkexec N | connect N | uring N PATH |\n"
			"       unlink N DIR | rename N DIR | open-for SECS PATH |\n"
			"       paced RATE SECS PATH | stamped RATE SECS DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	uint64_t w0, c0, ops;

	w0 = clock_ns(CLOCK_MONOTONIC);
	c0 = cpu_ns();
	if (!strcmp(mode, "open") && argc == 4)
		ops = loop_open((uint64_t)number(argv[2], "N"), argv[3]);
	else if (!strcmp(mode, "forkexec") && argc == 3)
		ops = loop_forkexec((uint64_t)number(argv[2], "N"));
	else if (!strcmp(mode, "connect") && argc == 3)
		ops = loop_connect((uint64_t)number(argv[2], "N"));
	else if (!strcmp(mode, "uring") && argc == 4)
		ops = loop_uring((uint64_t)number(argv[2], "N"), argv[3]);
	else if (!strcmp(mode, "unlink") && argc == 4)
		ops = loop_unlink((uint64_t)number(argv[2], "N"), argv[3]);
	else if (!strcmp(mode, "rename") && argc == 4)
		ops = loop_rename((uint64_t)number(argv[2], "N"), argv[3]);
	else if (!strcmp(mode, "open-for") && argc == 4)
		ops = loop_open_for(number(argv[2], "SECS"), argv[3]);
	else if (!strcmp(mode, "paced") && argc == 5)
		ops = loop_paced(number(argv[2], "RATE"), number(argv[3], "SECS"), argv[4], open_close);
	else if (!strcmp(mode, "stamped") && argc == 5)
		ops = loop_paced(number(argv[2], "RATE"), number(argv[3], "SECS"), argv[4], stamped_open);
	else
		usage();
	printf("{\"ops\":%" PRIu64 ",\"wall_ns\":%" PRIu64 ",\"cpu_ns\":%" PRIu64 ",\"pid\":%d}\n", ops,
	       clock_ns(CLOCK_MONOTONIC) - w0, cpu_ns() - c0, (int)getpid());
	return 0;
}
