/* A forged microVM guest: registers a microvm session for CGROUP with
 * sandtraild, moves itself into it, connects to the microvm sink as a VMM
 * does and sends, as a hostile guest may: GARBAGE bytes of noise, one good
 * open of PATH (frame 0), a header claiming a 1 GiB frame, a frame whose
 * checksum is wrong, a good open of PATH again as frame 4 (frames 1-3
 * never came), a sample of a type the guest has no business sending, and
 * the guest's report of 7 opens it dropped.  Prints the session id; the
 * session ends when this process exits (keep false).
 *
 *   microvm_peer CONTROL_SOCKET CGROUP PATH GARBAGE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "collector/collector.h"
#include "events.h"
#include "vmframe.h"

static uint8_t frame[VMFRAME_HDR + VMFRAME_MAX];

static void die(const char *what)
{
	fprintf(stderr, "microvm_peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w <= 0)
			die("send");
		b += w;
		n -= (size_t)w;
	}
}

/* An open of path as the guest's programs make it: requested, resolved
 * (a walk: names leaf first), no base. */
static size_t open_event(uint8_t *out, const char *path)
{
	struct st_open o = { 0 };
	size_t n = sizeof(o), plen = strlen(path);
	char walk[256];
	size_t wlen = 0;

	for (const char *end = path + plen; end > path;) {
		const char *start = end;

		while (start > path && start[-1] != '/')
			start--;
		if (end > start) {
			memcpy(walk + wlen, start, (size_t)(end - start));
			wlen += (size_t)(end - start);
			walk[wlen++] = 0;
		}
		end = start > path ? start - 1 : path;
	}
	o.h.type = ST_EV_OPEN;
	o.h.syscall = ST_SYS_OPENAT;
	o.h.tgid = o.h.tid = 42;
	o.h.ppid = 1;
	o.h.uid = o.h.gid = 1000;
	memcpy(o.h.comm, "peer", 4);
	o.h.strs = ST_STR(2, ST_S_ABSENT);
	o.ret = 3;
	o.dirfd = -100;
	o.path_len = (uint16_t)plen;
	o.resolved_len = (uint16_t)wlen;
	memcpy(out + n, path, plen);
	memcpy(out + n + plen, walk, wlen);
	n += plen + wlen;
	o.h.size = (uint32_t)n;
	memcpy(out, &o, sizeof(o));
	return n;
}

static void send_frame(int fd, uint16_t type, uint16_t stream, uint32_t seq, const void *p, size_t len)
{
	send_all(fd, frame, vmframe_encode(frame, type, stream, seq, p, len));
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static uint8_t ev[VMFRAME_MAX];
	char req[4096], err[512], procs[4200];
	struct vmloss loss = { .type = ST_EV_OPEN, .reason = ST_LOSS_RINGBUF, .count = 7 };
	size_t n, garbage;
	json_t *rep;
	int ctl, fd, pfd;

	if (argc != 5) {
		fprintf(stderr, "usage: microvm_peer CONTROL_SOCKET CGROUP PATH GARBAGE\n");
		return 2;
	}
	garbage = strtoul(argv[4], NULL, 10);
	ctl = control_connect(argv[1]);
	if (ctl < 0)
		die("control socket");
	snprintf(req, sizeof(req), "{\"cmd\":\"watch\",\"cgroup\":\"%s\",\"mode\":\"microvm\",\"keep\":false}", argv[2]);
	rep = control_call_fd(ctl, json_loads(req, 0, NULL), err, sizeof(err));
	if (!rep || !json_string_value(json_object_get(rep, "microvm_sink"))) {
		fprintf(stderr, "microvm_peer: watch: %s\n", rep ? "no microvm_sink in the reply" : err);
		return 1;
	}
	printf("%s\n", json_string_value(json_object_get(rep, "id")));
	fflush(stdout);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", argv[2]);
	pfd = open(procs, O_WRONLY | O_CLOEXEC);
	if (pfd < 0 || dprintf(pfd, "%d", (int)getpid()) < 0)
		die("join the cgroup");
	close(pfd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", json_string_value(json_object_get(rep, "microvm_sink")));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("connect to the sink");
	for (size_t left = garbage; left;) {
		size_t k = left < sizeof(ev) ? left : sizeof(ev);

		memset(ev, 0xa5, k);
		send_all(fd, ev, k);
		left -= k;
	}
	n = open_event(ev, argv[3]);
	send_frame(fd, VMFRAME_EVENT, VMFRAME_STREAM_EVENTS, 0, ev, n);
	/* a header that claims 1 GiB: refused before a byte of it is read */
	vmframe_encode(frame, VMFRAME_EVENT, VMFRAME_STREAM_EVENTS, 1, ev, 16);
	frame[7] = 0x40;
	send_all(fd, frame, VMFRAME_HDR + 16);
	/* a flipped byte after the checksum was made */
	vmframe_encode(frame, VMFRAME_EVENT, VMFRAME_STREAM_EVENTS, 2, ev, n);
	frame[VMFRAME_HDR + 1] ^= 0xff;
	send_all(fd, frame, VMFRAME_HDR + n);
	send_frame(fd, VMFRAME_EVENT, VMFRAME_STREAM_EVENTS, 4, ev, n);
	/* a well-formed sample of a type the guest's programs never make */
	memset(ev, 0, sizeof(struct st_cgroup_leave));
	((struct st_hdr *)ev)->type = ST_EV_CGROUP_LEAVE;
	((struct st_hdr *)ev)->size = sizeof(struct st_cgroup_leave);
	send_frame(fd, VMFRAME_EVENT, VMFRAME_STREAM_EVENTS, 5, ev, sizeof(struct st_cgroup_leave));
	send_frame(fd, VMFRAME_LOSS, VMFRAME_STREAM_AGENT, 0, &loss, sizeof(loss));
	json_decref(rep);
	return 0;
}
