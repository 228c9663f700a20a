/* A forged Sentry: registers a gvisor session for CGROUP with sandtraild
 * (container CID), moves itself into it, connects to the gVisor sink and
 * sends, after the handshake: one good open of PATH, a datagram that does
 * not decode, one of another container, one past the size bound, and a
 * header claiming DROPPED points dropped.  Prints the session id; ends the
 * session by exiting (its manager is gone).
 *
 *   gvisor_peer CONTROL_SOCKET CGROUP CID PATH DROPPED */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/gvisor_wire.h"

static uint8_t buf[GVISOR_HDR_SIZE + GVISOR_MSG_MAX + 64];

static void die(const char *what)
{
	fprintf(stderr, "gvisor_peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static size_t header(uint16_t type, uint32_t dropped)
{
	buf[0] = GVISOR_HDR_SIZE;
	buf[1] = 0;
	buf[2] = (uint8_t)type;
	buf[3] = (uint8_t)(type >> 8);
	for (int i = 0; i < 4; i++)
		buf[4 + i] = (uint8_t)(dropped >> (8 * i));
	return GVISOR_HDR_SIZE;
}

static void send_open(int fd, const char *cid, const char *path, uint32_t dropped)
{
	Sandtrail__Gvisor__ContextData ctx = SANDTRAIL__GVISOR__CONTEXT_DATA__INIT;
	Sandtrail__Gvisor__Exit ex = SANDTRAIL__GVISOR__EXIT__INIT;
	Sandtrail__Gvisor__Open o = SANDTRAIL__GVISOR__OPEN__INIT;
	size_t n = header(SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_OPEN, dropped);

	ctx.thread_id = ctx.thread_group_id = 1;
	ctx.container_id = (ProtobufCBinaryData){ strlen(cid), (uint8_t *)cid };
	ctx.process_name = (ProtobufCBinaryData){ 4, (uint8_t *)"peer" };
	ex.result = 3;
	o.context_data = &ctx;
	o.exit = &ex;
	o.sysno = 257;
	o.fd = -100;
	o.pathname = (ProtobufCBinaryData){ strlen(path), (uint8_t *)path };
	n += sandtrail__gvisor__open__pack(&o, buf + n);
	if (send(fd, buf, n, 0) != (ssize_t)n)
		die("send open");
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char req[4096], err[512], procs[4200];
	uint8_t hs[16];
	json_t *rep;
	int ctl, fd, pfd, big = 1 << 20;
	size_t n;

	if (argc != 6) {
		fprintf(stderr, "usage: gvisor_peer CONTROL_SOCKET CGROUP CID PATH DROPPED\n");
		return 2;
	}
	ctl = control_connect(argv[1]);
	if (ctl < 0)
		die("control socket");
	snprintf(req, sizeof(req),
		 "{\"cmd\":\"watch\",\"cgroup\":\"%s\",\"mode\":\"gvisor\",\"keep\":false,\"gvisor\":{\"container\":\"%s\"}}",
		 argv[2], argv[3]);
	rep = control_call_fd(ctl, json_loads(req, 0, NULL), err, sizeof(err));
	if (!rep) {
		fprintf(stderr, "gvisor_peer: watch: %s\n", err);
		return 1;
	}
	printf("%s\n", json_string_value(json_object_get(rep, "id")));
	fflush(stdout);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", argv[2]);
	pfd = open(procs, O_WRONLY | O_CLOEXEC);
	if (pfd < 0 || dprintf(pfd, "%d", (int)getpid()) < 0)
		die("join the cgroup");
	close(pfd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", json_string_value(json_object_get(rep, "gvisor_sink")));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("connect to the sink");
	/* as the Sentry does: version 1, then wait for the collector's */
	if (send(fd, "\x08\x01", 2, 0) != 2 || recv(fd, hs, sizeof(hs), 0) <= 0)
		die("handshake");
	send_open(fd, argv[3], argv[4], 0);
	n = header(SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_OPEN, 0);
	memcpy(buf + n, "\x0a\xff\xff\x01", 4); /* a length past the end */
	if (send(fd, buf, n + 4, 0) != (ssize_t)(n + 4))
		die("send malformed");
	send_open(fd, "someone-else", "/forged", 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	n = header(SANDTRAIL__GVISOR__MESSAGE_TYPE__MESSAGE_SYSCALL_EXECVE, 0);
	memset(buf + n, 0, GVISOR_MSG_MAX + 1);
	if (send(fd, buf, n + GVISOR_MSG_MAX + 1, 0) < 0)
		die("send oversized");
	send_open(fd, argv[3], argv[4], (uint32_t)strtoul(argv[5], NULL, 10));
	/* the session ends when its manager (this process) goes; the collector
	 * reads what waits in the sink first */
	json_decref(rep);
	return 0;
}
