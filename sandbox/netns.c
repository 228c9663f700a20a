#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"

#define PASTA_READY_MS 10000
#define PASTA_ARGS 40

int netns_child(void)
{
	struct ifreq ifr;
	int fd, rc = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (!rc && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static bool in_rule(const struct netpolicy_rule *r, const uint8_t *a)
{
	for (unsigned b = 0; b < r->prefix; b++)
		if ((r->addr[b / 8] ^ a[b / 8]) & (0x80 >> (b % 8)))
			return false;
	return true;
}

/* Whether r lets the session reach the host's loopback: inside its own
 * namespace 127.0.0.1 and ::1 are its own, so pasta forwards such ports. */
static bool opens_loopback(const struct netpolicy_rule *r)
{
	static const uint8_t v4[4] = { 127, 0, 0, 1 }, v6[16] = { [15] = 1 },
			     mapped[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 };

	if (r->family == AF_INET)
		return in_rule(r, v4);
	return in_rule(r, v6) || in_rule(r, mapped);
}

void netns_host_ports(const struct netpolicy *np, char *out, size_t len)
{
	size_t n = 0;

	out[0] = 0;
	for (uint32_t i = 0; np && i < np->n; i++) {
		const struct netpolicy_rule *r = &np->rules[i];
		char port[8];
		int k;

		if (!opens_loopback(r))
			continue;
		if (!r->port) {
			snprintf(out, len, "auto");
			return;
		}
		snprintf(port, sizeof(port), "%u", r->port);
		/* each port once: ",P," searched in ",list," */
		for (const char *c = out; (c = strstr(c, port)); c++)
			if ((c == out || c[-1] == ',') && (c[strlen(port)] == ',' || !c[strlen(port)]))
				goto next;
		k = snprintf(out + n, len - n, "%s%s", n ? "," : "", port);
		if (k < 0 || (size_t)k >= len - n) {
			snprintf(out, len, "auto"); /* the hooks police each port anyway */
			return;
		}
		n += (size_t)k;
next:;
	}
	if (!n)
		snprintf(out, len, "none");
}

/* pasta's -t/-u list of p's published ports of one protocol. */
static void published(const struct policy *p, bool udp, char *out, size_t len)
{
	size_t n = 0;

	out[0] = 0;
	for (size_t i = 0; i < p->npublish; i++) {
		const struct policy_publish *pub = &p->publish[i];
		int k;

		if (pub->udp != udp)
			continue;
		k = snprintf(out + n, len - n, "%s%s%s%u:%u", n ? "," : "", pub->addr, pub->addr[0] ? "/" : "",
			     pub->host_port, pub->port);
		if (k > 0 && (size_t)k < len - n)
			n += (size_t)k;
	}
	if (!n)
		snprintf(out, len, "none");
}

/* pasta's messages, for a failed start: its last line that says something
 * (pasta also complains on stderr that it has no syslog) */
static void pasta_error(int memfd, char *err, size_t errlen)
{
	char buf[4096], *line, *save, *last = NULL;
	ssize_t n = pread(memfd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "Failed to send", 14) && strncmp(line, "Don't run as root", 17) && *line)
			last = line;
	snprintf(err, errlen, "pasta: %s", last ? last : "exited without configuring the network");
}

static void __attribute__((noreturn)) exec_pasta(char **argv, int pidw, int memfd, pid_t parent)
{
	sigset_t none;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* the session's network ends with its manager, whatever ends it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(127);
	/* out of the caller's process group: Ctrl-C is for CMD, not for pasta */
	setsid();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (null < 0 || dup2(null, 0) < 0 || dup2(memfd, 1) < 0 || dup2(memfd, 2) < 0 || dup2(pidw, 3) < 0)
		_exit(127);
	syscall(SYS_close_range, 4, ~0U, 0);
	execve(argv[0], argv, (char *[]){ NULL });
	dprintf(2, "execve(\"%s\"): %s (Debian's passt package has it)\n", argv[0], strerror(errno));
	_exit(127);
}

int netns_pasta_start(struct netns_pasta *n, pid_t child, const struct policy *p, const struct netpolicy *np,
		      char *err, size_t errlen)
{
	char netns[64], userns[64], tcp[POLICY_PUBLISH_MAX * 64], udp[POLICY_PUBLISH_MAX * 64], host[1024];
	char *argv[PASTA_ARGS], buf[32];
	struct pollfd pf;
	int pidp[2], memfd, i = 0, rc = -1;
	pid_t parent = getpid();
	ssize_t got;

	n->pid = -1;
	n->pidfd = -1;
	snprintf(netns, sizeof(netns), "/proc/%d/ns/net", (int)child);
	snprintf(userns, sizeof(userns), "/proc/%d/ns/user", (int)child);
	published(p, false, tcp, sizeof(tcp));
	published(p, true, udp, sizeof(udp));
	netns_host_ports(np, host, sizeof(host));
	argv[i++] = NETNS_PASTA;
	argv[i++] = "--foreground";
	argv[i++] = "--quiet";
	/* root only to join the session's namespaces: pasta then isolates
	 * itself (a user namespace of its own, an empty root, seccomp) */
	argv[i++] = "--runas";
	argv[i++] = "0";
	argv[i++] = "--config-net";
	/* the gateway is the gateway, not a back door to the host's loopback */
	argv[i++] = "--no-map-gw";
	/* no echo requests: nothing of the session's reaches them through a hook */
	argv[i++] = "--no-icmp";
	argv[i++] = "--tcp-ports";
	argv[i++] = tcp;
	argv[i++] = "--udp-ports";
	argv[i++] = udp;
	argv[i++] = "--tcp-ns";
	argv[i++] = host;
	argv[i++] = "--udp-ns";
	argv[i++] = "none";
	argv[i++] = "--netns";
	argv[i++] = netns;
	argv[i++] = "--userns";
	argv[i++] = userns;
	/* written once the namespace is configured: our readiness signal */
	argv[i++] = "--pid";
	argv[i++] = "/proc/self/fd/3";
	argv[i] = NULL;
	memfd = memfd_create("pasta-stderr", MFD_CLOEXEC);
	if (memfd < 0 || pipe2(pidp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: %s", memfd < 0 ? "memfd_create" : "pipe2", strerror(errno));
		if (memfd >= 0)
			close(memfd);
		return -1;
	}
	n->pid = fork();
	if (n->pid == 0)
		exec_pasta(argv, pidp[1], memfd, parent);
	close(pidp[1]);
	if (n->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	n->pidfd = (int)syscall(SYS_pidfd_open, n->pid, 0);
	pf = (struct pollfd){ pidp[0], POLLIN, 0 };
	do
		rc = poll(&pf, 1, PASTA_READY_MS);
	while (rc < 0 && errno == EINTR);
	got = rc > 0 ? read(pidp[0], buf, sizeof(buf)) : -1;
	if (got > 0) {
		rc = 0;
	} else {
		if (rc == 0)
			snprintf(err, errlen, "pasta did not configure the session's network within %d ms",
				 PASTA_READY_MS);
		else
			pasta_error(memfd, err, errlen);
		netns_pasta_stop(n);
		rc = -1;
	}
out:
	close(pidp[0]);
	close(memfd);
	return rc;
}

void netns_pasta_stop(struct netns_pasta *n)
{
	if (n->pid > 0) {
		if (n->pidfd >= 0)
			syscall(SYS_pidfd_send_signal, n->pidfd, SIGKILL, NULL, 0);
		else
			kill(n->pid, SIGKILL);
		waitpid(n->pid, NULL, 0);
	}
	if (n->pidfd >= 0)
		close(n->pidfd);
	n->pid = -1;
	n->pidfd = -1;
}
