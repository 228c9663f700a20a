/* Workloads for the capture tests: operations a shell cannot do exactly
 * (racing threads, exec from a thread, a counted burst, connect and sendto
 * with a result), each printing what really happened.
 *
 *   st_workload burst N PATH         waits for a line on stdin, then N opens of PATH
 *   st_workload burst-mix N M DIR    prints its pid, waits for a line on stdin, then N times an
 *                                    unlink of DIR/nope-unlink, a rename of DIR/nope-from and a UDP
 *                                    connect to 127.0.0.1:9, among them M forks whose child execs
 *                                    /bin/true as "st-mix-true"; prints N M
 *   st_workload race N A B           opens a buffer a thread flips between A and B;
 *                                    prints "ok LINK" (the fd's /proc link) or "err ERRNO" per open
 *   st_workload connect ADDR PORT    TCP connect (IPv4 or IPv6); prints "ret ERRNO"
 *   st_workload sendto ADDR PORT     one UDP datagram; prints "ret ERRNO"
 *   st_workload connect-unix PATH    stream connect; @NAME is abstract; prints "ret ERRNO"
 *   st_workload sendto-unix PATH     one datagram to PATH (@NAME: abstract); prints "ret ERRNO"
 *   st_workload openat2 PATH         openat2 with RESOLVE_NO_SYMLINKS; prints "ret ERRNO"
 *   st_workload syscalls DIR         every traced file syscall once, in DIR (see file_syscalls)
 *   st_workload thread-exec PROG ARG...  execv from a thread that is not the leader
 *   st_workload execveat DIR NAME ARG... execveat of NAME relative to DIR
 *   st_workload cold DIR             open, unlink and rename of paths whose pages the
 *                                    process has never touched (DIR/cold-*, all missing)
 *   st_workload cold-exec DIR PROG ARG...  execv of PROG named from a page never touched
 *   st_workload memfd-exec PROG ARG...     PROG copied into a memfd named "st-payload", fexecve'd
 *   st_workload sendmmsg ADDR PORT N       N UDP datagrams to ADDR:PORT in one sendmmsg; prints "ret ERRNO"
 *   st_workload listen               listens on a free 127.0.0.1 port, prints it, accepts until killed
 *   st_workload hold-ports N         holds N consecutive ports on every address (bound, never
 *                                    listened on: connects are refused) until killed; prints the first
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void result(long ret)
{
	printf("%ld %d\n", ret, ret < 0 ? errno : 0);
}

static int burst(long n, const char *path)
{
	char line[16];

	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (long i = 0; i < n; i++) {
		int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);

		if (fd >= 0)
			close(fd);
	}
	printf("%ld\n", n);
	return 0;
}

static int burst_mix(long n, long m, const char *dir)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char line[16], u[4096], from[4096], to[4096], prog[] = "/bin/true";
	long every = m ? n / m : 0, forks = 0;

	snprintf(u, sizeof(u), "%s/nope-unlink", dir);
	snprintf(from, sizeof(from), "%s/nope-from", dir);
	snprintf(to, sizeof(to), "%s/nope-to", dir);
	printf("%d\n", getpid());
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		unlink(u);
		rename(from, to);
		if (fd >= 0) {
			connect(fd, (struct sockaddr *)&sin, sizeof(sin));
			close(fd);
		}
		if (every && i % every == 0 && forks < m) {
			/* prog on the stack: the child has it in its pages at exec */
			pid_t pid = fork();

			if (pid == 0) {
				execl(prog, "st-mix-true", (char *)NULL);
				_exit(127);
			}
			if (pid < 0 || waitpid(pid, NULL, 0) < 0)
				return 1;
			forks++;
		}
	}
	printf("%ld %ld\n", n, forks);
	return 0;
}

static char race_buf[4096];
static const char *race_paths[2];
static atomic_int race_go = 1;

static void *flipper(void *arg)
{
	(void)arg;
	for (unsigned i = 0; atomic_load_explicit(&race_go, memory_order_relaxed); i++) {
		const char *p = race_paths[i & 1];

		memcpy(race_buf, p, strlen(p) + 1);
	}
	return NULL;
}

static int race(long n, const char *a, const char *b)
{
	pthread_t t;

	race_paths[0] = a;
	race_paths[1] = b;
	memcpy(race_buf, a, strlen(a) + 1);
	if (pthread_create(&t, NULL, flipper, NULL))
		return 1;
	for (long i = 0; i < n; i++) {
		int fd = open(race_buf, O_RDONLY | O_CLOEXEC);
		char link[64], target[4096];
		ssize_t len;

		if (fd < 0) {
			printf("err %d\n", errno);
			continue;
		}
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = 0;
		printf("ok %s\n", target);
		close(fd);
	}
	atomic_store(&race_go, 0);
	pthread_join(t, NULL);
	return 0;
}

static int inet(const char *addr, const char *port, int type)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd;

	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)atoi(port));
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)atoi(port));
		len = sizeof(*sin6);
	} else {
		fprintf(stderr, "st_workload: %s: not an address\n", addr);
		return 2;
	}
	fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	if (type == SOCK_STREAM)
		result(connect(fd, (struct sockaddr *)&ss, len));
	else
		result(sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len));
	close(fd);
	return 0;
}

static int unix_peer(const char *path, int type)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (fd < 0 || n >= sizeof(sun.sun_path))
		return 1;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = 0;
	if (type == SOCK_STREAM)
		result(connect(fd, (struct sockaddr *)&sun, len));
	else
		result(sendto(fd, "x", 1, 0, (struct sockaddr *)&sun, len));
	close(fd);
	return 0;
}

static int do_openat2(const char *path)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS };
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	result(fd);
	return 0;
}

/* open, creat, openat2, rename, renameat, renameat2, unlink, rmdir,
 * unlinkat (file and AT_REMOVEDIR), each through its own syscall number. */
static int file_syscalls(const char *dir)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS };
	char a[4096], b[4096], c[4096], e[4096];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return 1;
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(c, sizeof(c), "%s/c", dir);
	snprintf(e, sizeof(e), "%s/e", dir);
	close((int)syscall(SYS_open, a, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	close((int)syscall(SYS_creat, b, 0640));
	close((int)syscall(SYS_openat2, AT_FDCWD, a, &how, sizeof(how)));
	syscall(SYS_rename, a, c);
	syscall(SYS_renameat, dfd, "b", dfd, "d");
	syscall(SYS_renameat2, AT_FDCWD, c, dfd, "d", RENAME_EXCHANGE);
	syscall(SYS_unlink, c);
	mkdir(e, 0700);
	syscall(SYS_rmdir, e);
	mkdirat(dfd, "f", 0700);
	syscall(SYS_unlinkat, dfd, "f", AT_REMOVEDIR);
	syscall(SYS_unlinkat, dfd, "d", 0);
	close(dfd);
	return 0;
}

static char **exec_argv;

static void *exec_thread(void *arg)
{
	(void)arg;
	execv(exec_argv[0], exec_argv);
	perror("execv");
	exit(127);
}

static int thread_exec(char **argv)
{
	pthread_t t;

	exec_argv = argv;
	if (pthread_create(&t, NULL, exec_thread, NULL))
		return 1;
	pthread_join(t, NULL); /* never returns: the exec ends this thread */
	return 1;
}

/* A bound socket on 127.0.0.1 and a free port; its port is printed. */
static int bound(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, len) < 0 || getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	printf("%u\n", ntohs(sin.sin_port));
	return fd;
}

/* Ports P..P+n-1 bound on every IPv4 and IPv6 address (a dual-stack socket
 * on [::] each) and never listened on: a connect to any of them is refused,
 * and nothing else can take them until the holder is killed.  Prints P. */
static int hold_ports(long n)
{
	for (int attempt = 0; attempt < 1000; attempt++) {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
		socklen_t len = sizeof(sin6);
		int fds[16], off = 0, got = 0;
		uint16_t first;

		if (n < 1 || n > 16)
			return 2;
		/* the kernel picks the first, the others must follow it */
		fds[0] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[0] < 0 || setsockopt(fds[0], IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
		    bind(fds[0], (struct sockaddr *)&sin6, len) < 0 ||
		    getsockname(fds[0], (struct sockaddr *)&sin6, &len) < 0)
			return 1;
		first = ntohs(sin6.sin6_port);
		for (got = 1; got < n && first + got <= 65535; got++) {
			fds[got] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
			sin6.sin6_port = htons((uint16_t)(first + got));
			if (fds[got] < 0 || setsockopt(fds[got], IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
			    bind(fds[got], (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
				if (fds[got] >= 0)
					close(fds[got]);
				break;
			}
		}
		if (got == n) {
			printf("%u\n", first);
			for (;;)
				pause();
		}
		while (got--)
			close(fds[got]);
	}
	return 1;
}

static int listen_loop(void)
{
	int fd = bound();

	if (fd < 0 || listen(fd, 64) < 0)
		return 1;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
	}
}

/* A copy of path in a fresh file mapping the process never reads: the
 * kernel faults it in when the syscall copies it, not before. */
static const char *cold_copy(const char *dir, const char *path)
{
	char tmp[4096];
	int fd;
	void *p;

	snprintf(tmp, sizeof(tmp), "%s/.cold-XXXXXX", dir);
	fd = mkstemp(tmp);
	if (fd < 0 || write(fd, path, strlen(path) + 1) < 0)
		return NULL;
	unlink(tmp);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static int cold(const char *dir)
{
	char a[4096], b[4096], c[4096], d[4096];
	const char *pa, *pb, *pc, *pd;

	snprintf(a, sizeof(a), "%s/cold-open", dir);
	snprintf(b, sizeof(b), "%s/cold-unlink", dir);
	snprintf(c, sizeof(c), "%s/cold-from", dir);
	snprintf(d, sizeof(d), "%s/cold-to", dir);
	pa = cold_copy(dir, a);
	pb = cold_copy(dir, b);
	pc = cold_copy(dir, c);
	pd = cold_copy(dir, d);
	if (!pa || !pb || !pc || !pd)
		return 1;
	result(open(pa, O_RDONLY | O_CLOEXEC));
	result(unlink(pb));
	result(rename(pc, pd));
	return 0;
}

static int cold_exec(const char *dir, char **argv)
{
	const char *p = cold_copy(dir, argv[0]);

	if (!p)
		return 1;
	execv(p, argv);
	perror("execv");
	return 127;
}

static int memfd_exec(char **argv)
{
	int in = open(argv[0], O_RDONLY | O_CLOEXEC), fd = memfd_create("st-payload", 0);
	char buf[65536];
	ssize_t n;

	if (in < 0 || fd < 0)
		return 1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			return 1;
	fexecve(fd, argv, environ);
	perror("fexecve");
	return 127;
}

static int send_mmsg(const char *addr, const char *port, unsigned n)
{
	struct sockaddr_storage ss = { 0 };
	struct mmsghdr msgs[64];
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	socklen_t len;
	int fd;

	if (n > 64)
		return 2;
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(port));
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(port));
		len = sizeof(struct sockaddr_in6);
	} else {
		return 2;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (unsigned i = 0; i < n; i++)
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov,
							 .msg_iovlen = 1 } };
	result(sendmmsg(fd, msgs, n, 0));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "burst"))
		return burst(atol(argv[2]), argv[3]);
	if (argc == 5 && !strcmp(argv[1], "burst-mix"))
		return burst_mix(atol(argv[2]), atol(argv[3]), argv[4]);
	if (argc == 5 && !strcmp(argv[1], "race"))
		return race(atol(argv[2]), argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "connect"))
		return inet(argv[2], argv[3], SOCK_STREAM);
	if (argc == 4 && !strcmp(argv[1], "sendto"))
		return inet(argv[2], argv[3], SOCK_DGRAM);
	if (argc == 3 && !strcmp(argv[1], "connect-unix"))
		return unix_peer(argv[2], SOCK_STREAM);
	if (argc == 3 && !strcmp(argv[1], "sendto-unix"))
		return unix_peer(argv[2], SOCK_DGRAM);
	if (argc == 3 && !strcmp(argv[1], "openat2"))
		return do_openat2(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "cold"))
		return cold(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "syscalls"))
		return file_syscalls(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "thread-exec"))
		return thread_exec(argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "execveat")) {
		int dfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		syscall(SYS_execveat, dfd, argv[3], argv + 4, environ, 0);
		perror("execveat");
		return 127;
	}
	if (argc >= 4 && !strcmp(argv[1], "cold-exec"))
		return cold_exec(argv[2], argv + 3);
	if (argc >= 3 && !strcmp(argv[1], "memfd-exec"))
		return memfd_exec(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "sendmmsg"))
		return send_mmsg(argv[2], argv[3], (unsigned)atoi(argv[4]));
	if (argc == 2 && !strcmp(argv[1], "listen"))
		return listen_loop();
	if (argc == 3 && !strcmp(argv[1], "hold-ports"))
		return hold_ports(atol(argv[2]));
	fprintf(stderr, "usage: st_workload burst|burst-mix|race|connect|sendto|connect-unix|sendto-unix|openat2|syscalls|thread-exec|execveat|cold-exec|memfd-exec|sendmmsg|listen|hold-ports ...\n");
	return 2;
}
