#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "beside.h"
#include "proxysup.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STABLE_MS 10000 /* up this long: the next exit restarts at once again */

void proxysup_init(struct proxysup *ps, const char *path, const char *user, const char *dns, const char *upstream_ca,
		   int map_fd)
{
	memset(ps, 0, sizeof(*ps));
	ps->pidfd = ps->ctl = -1;
	ps->map_fd = map_fd;
	ps->backoff_ms = BACKOFF_MIN_MS;
	snprintf(ps->user, sizeof(ps->user), "%s", user);
	snprintf(ps->dns, sizeof(ps->dns), "%s", dns);
	snprintf(ps->upstream_ca, sizeof(ps->upstream_ca), "%s", upstream_ca);
	if (!strcmp(path, "none"))
		return;
	if (path[0])
		snprintf(ps->path, sizeof(ps->path), "%s", path);
	else if (beside_self("sandtrail-proxy", ps->path, sizeof(ps->path)) < 0)
		ps->path[0] = 0;
	if (ps->path[0] && access(ps->path, X_OK) < 0)
		ps->path[0] = 0;
}

bool proxysup_enabled(const struct proxysup *ps)
{
	return ps->path[0] != 0;
}

int proxysup_send(struct proxysup *ps, json_t *msg, const int *fds, size_t nfds)
{
	char *text = json_dumps(msg, JSON_COMPACT), cbuf[CMSG_SPACE(PROXYSUP_FDS_MAX * sizeof(int))] = { 0 };
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (!text)
		return -ENOMEM;
	if (ps->ctl < 0 || nfds > PROXYSUP_FDS_MAX) {
		free(text);
		return -ENOTCONN;
	}
	iov = (struct iovec){ text, strlen(text) };
	if (nfds) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	n = sendmsg(ps->ctl, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(text);
	return n < 0 ? -errno : 0;
}

int proxysup_start(struct proxysup *ps, uint64_t now_ms)
{
	int sv[2], rc;
	pid_t pid;
	json_t *m;

	if (!ps->path[0])
		return -ENOENT;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (pid == 0) {
		char *argv[12] = { "sandtrail-proxy", "--control-fd", "3", "--user", ps->user };
		int n = 5;
		sigset_t none;

		/* it dies with sandtraild; the signals sandtraild blocks are its own again */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		syscall(SYS_close_range, 4, ~0U, 0);
		if (ps->dns[0]) {
			argv[n++] = "--dns";
			argv[n++] = ps->dns;
		}
		if (ps->upstream_ca[0]) {
			argv[n++] = "--upstream-ca";
			argv[n++] = ps->upstream_ca;
		}
		execv(ps->path, argv);
		_exit(127);
	}
	close(sv[1]);
	ps->pid = pid;
	ps->ctl = sv[0];
	ps->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	ps->started_ms = now_ms;
	if (ps->pidfd < 0) {
		rc = -errno;
		proxysup_stop(ps);
		return rc;
	}
	fcntl(ps->pidfd, F_SETFD, FD_CLOEXEC);
	m = json_pack("{s:s}", "cmd", "map");
	rc = ps->map_fd >= 0 ? proxysup_send(ps, m, &ps->map_fd, 1) : 0;
	json_decref(m);
	return rc;
}

void proxysup_exited(struct proxysup *ps, uint64_t now_ms, uint64_t now_ns)
{
	int status = 0;

	if (ps->pid > 0 && waitpid(ps->pid, &status, WNOHANG) == 0)
		return; /* not yet */
	/* the gap runs from the first exit to the next ready */
	if (!ps->down_since_ns) {
		ps->down_since_ns = now_ns;
		ps->last_status = status;
	}
	ps->pid = 0;
	if (ps->pidfd >= 0)
		close(ps->pidfd);
	if (ps->ctl >= 0)
		close(ps->ctl);
	ps->pidfd = ps->ctl = -1;
	if (now_ms - ps->started_ms >= STABLE_MS)
		ps->backoff_ms = BACKOFF_MIN_MS;
	ps->restart_at_ms = now_ms + ps->backoff_ms;
	ps->backoff_ms = ps->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ps->backoff_ms * 2;
}

void proxysup_stop(struct proxysup *ps)
{
	if (ps->pid > 0) {
		kill(ps->pid, SIGTERM);
		waitpid(ps->pid, NULL, 0);
	}
	ps->pid = 0;
	if (ps->pidfd >= 0)
		close(ps->pidfd);
	if (ps->ctl >= 0)
		close(ps->ctl);
	ps->pidfd = ps->ctl = -1;
}

struct listen_job {
	int pidfd;
	int type;
	uint16_t port;
	int fd; /* result, or -errno */
};

/* A thread of its own enters the namespace: the others stay in the host's. */
static void *listen_thread(void *arg)
{
	struct listen_job *j = arg;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(j->port), .sin6_addr = IN6ADDR_ANY_INIT };
	int fd, zero = 0, one = 1;

	if (setns(j->pidfd, CLONE_NEWNET) < 0) {
		j->fd = -errno;
		return NULL;
	}
	fd = socket(AF_INET6, j->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* SO_REUSEADDR for the listener's quick rebinds; never on the datagram
	 * socket, where it would let a second socket share the port */
	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
	    (j->type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		j->fd = -errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	j->fd = fd;
	return NULL;
}

int proxysup_socket(int pidfd, int type, uint16_t port)
{
	struct listen_job j = { .pidfd = pidfd, .type = type, .port = port, .fd = -EINVAL };
	pthread_t t;
	int rc = pthread_create(&t, NULL, listen_thread, &j);

	if (rc)
		return -rc;
	pthread_join(t, NULL);
	return j.fd;
}
