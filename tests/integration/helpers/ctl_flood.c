/* Opens N connections to sandtraild's control socket from this one process,
 * as a runaway client would, and tells what became of them: "held H refused
 * R other O", where refused ones got an error reply naming the bound and
 * were closed, held ones are still open and unanswered.  A refused
 * connection is closed here as soon as its reply is read, so that the
 * flood is bounded by the collector, not by this process's descriptors.
 * With PROCS, N is shared by that many processes (the bound per process is
 * then not enough: the one in all must hold); each keeps its connections
 * until all have reported, and the sum is printed.
 * Usage: ctl_flood SOCKET N [PROCS] */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int *open_fds;
static size_t nopen;
static long held, refused, other;

/* What came on fd (readable): 1 refused, -1 closed otherwise, 0 nothing. */
static int settle(int fd)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n > 0) {
		buf[n] = 0;
		if (strstr(buf, "too many control connections")) {
			refused++;
			return 1;
		}
		if (other < 3)
			fprintf(stderr, "ctl_flood: unexpected reply: %s\n", buf);
	}
	other++;
	return -1;
}

/* Closes every open connection that has an answer, waiting at most wait_ms
 * for the first one. */
static void sweep(int wait_ms)
{
	struct pollfd *pf = calloc(nopen ? nopen : 1, sizeof(*pf));
	size_t k = 0;

	if (!pf)
		return;
	for (size_t i = 0; i < nopen; i++)
		pf[i] = (struct pollfd){ open_fds[i], POLLIN, 0 };
	if (poll(pf, nopen, wait_ms) > 0)
		for (size_t i = 0; i < nopen; i++)
			if (pf[i].revents && settle(open_fds[i]) != 0)
				close(open_fds[i]), open_fds[i] = -1;
	for (size_t i = 0; i < nopen; i++)
		if (open_fds[i] >= 0)
			open_fds[k++] = open_fds[i];
	nopen = k;
	free(pf);
}

static int flood(const struct sockaddr_un *sun, long n);

/* PROCS floods of n/procs each; each child writes its counts to the pipe
 * and keeps its connections until the parent closes the other one. */
static int flood_procs(const struct sockaddr_un *sun, long n, long procs)
{
	int counts[2], release[2];
	long h, r, o;
	FILE *in;

	if (pipe(counts) < 0 || pipe(release) < 0)
		return 2;
	for (long p = 0; p < procs; p++) {
		pid_t pid = fork();

		if (pid < 0)
			return 2;
		if (pid == 0) {
			char c;

			close(counts[0]);
			close(release[1]);
			if (dup2(counts[1], 1) < 0)
				_exit(2);
			flood(sun, n / procs + (p < n % procs));
			while (read(release[0], &c, 1) > 0)
				;
			_exit(0);
		}
	}
	close(counts[1]);
	close(release[0]);
	in = fdopen(counts[0], "r");
	for (long p = 0; in && p < procs && fscanf(in, " held %ld refused %ld other %ld", &h, &r, &o) == 3; p++)
		held += h, refused += r, other += o;
	printf("held %ld refused %ld other %ld\n", held, refused, other);
	fflush(stdout);
	close(release[1]);
	while (wait(NULL) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long n, procs = argc == 4 ? atol(argv[3]) : 1;

	if (argc < 3 || argc > 4 || strlen(argv[1]) >= sizeof(sun.sun_path) || (n = atol(argv[2])) <= 0 ||
	    procs <= 0) {
		fprintf(stderr, "usage: ctl_flood SOCKET N [PROCS]\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	return procs > 1 ? flood_procs(&sun, n, procs) : flood(&sun, n);
}

static int flood(const struct sockaddr_un *sun, long n)
{
	struct timeval tv = { 10, 0 };

	open_fds = calloc((size_t)n, sizeof(int));
	if (!open_fds)
		return 2;
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			sweep(100);
			fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		}
		if (fd < 0) {
			perror("ctl_flood: socket");
			return 1;
		}
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) < 0) {
			if (other++ < 3)
				fprintf(stderr, "ctl_flood: connect %ld: %s\n", i, strerror(errno));
			close(fd);
			continue;
		}
		open_fds[nopen++] = fd;
		if (nopen % 256 == 0)
			sweep(0);
	}
	/* the last replies are on their way */
	for (int round = 0; round < 50 && nopen; round++) {
		size_t before = nopen;

		sweep(round ? 100 : 0);
		if (nopen == before && round > 5)
			break;
	}
	held = (long)nopen;
	printf("held %ld refused %ld other %ld\n", held, refused, other);
	fflush(stdout);
	/* held connections stay until told: the caller checks the collector meanwhile */
	if (getenv("CTL_FLOOD_HOLD"))
		pause();
	return 0;
}
