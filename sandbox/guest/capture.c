#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "events.h"
#include "capture.h"
#include "capture.skel.h"
#include "vmframe.h"

struct capture {
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	int fd;
	int ncpu;  /* read at the start: the command's root has no /sys */
	bool lost; /* the event port is gone */
	uint32_t seq[VMFRAME_STREAMS];
	uint64_t reported[ST_EV_MAX * ST_LOSS_MAX];
	uint8_t frame[VMFRAME_HDR + VMFRAME_MAX];
};

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* The host stopped taking events (the VMM's end of the port closed: the
 * port hangs up) or took none for this long: nothing the session does
 * after can be recorded. */
#define STALL_MS 10000

static void send_frame(struct capture *c, uint16_t type, uint16_t stream, const void *p, size_t len)
{
	size_t n = vmframe_encode(c->frame, type, stream, c->seq[stream]++, p, len);
	const uint8_t *b = c->frame;

	/* while the host reads slowly the programs' ring buffer, not the
	 * port, is where events are dropped (and counted) */
	while (n && !c->lost) {
		struct pollfd pf = { c->fd, POLLOUT, 0 };
		ssize_t w = write(c->fd, b, n);

		if (w > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if ((w < 0 && errno != EAGAIN) || poll(&pf, 1, STALL_MS) <= 0 || (pf.revents & (POLLHUP | POLLERR)))
			c->lost = true;
	}
}

static int on_sample(void *ctx, void *data, size_t len)
{
	struct capture *c = ctx;

	if (len <= VMFRAME_MAX)
		send_frame(c, VMFRAME_EVENT, VMFRAME_STREAM_EVENTS, data, len);
	return 0;
}

/* What the programs could not deliver since the last report, per type. */
static void report_losses(struct capture *c)
{
	int ncpu = c->ncpu;
	uint64_t *v = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*v)) : NULL;

	for (uint32_t k = 0; v && k < ST_EV_MAX * ST_LOSS_MAX; k++) {
		uint64_t sum = 0;
		struct vmloss l;

		if (bpf_map__lookup_elem(c->skel->maps.losses, &k, sizeof(k), v, sizeof(*v) * (size_t)ncpu, 0) < 0)
			continue;
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
		if (sum == c->reported[k])
			continue;
		l = (struct vmloss){ .type = k / ST_LOSS_MAX, .reason = k % ST_LOSS_MAX, .count = sum - c->reported[k] };
		send_frame(c, VMFRAME_LOSS, VMFRAME_STREAM_AGENT, &l, sizeof(l));
		c->reported[k] = sum;
	}
	free(v);
}

int capture_start(struct capture **out, int fd)
{
	struct capture *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->ncpu = libbpf_num_possible_cpus();
	libbpf_set_print(print_warnings);
	c->skel = capture_bpf__open();
	if (!c->skel) {
		rc = -errno;
		goto fail;
	}
	c->skel->rodata->agent_tgid = (uint32_t)getpid();
	rc = capture_bpf__load(c->skel);
	if (rc == 0)
		rc = capture_bpf__attach(c->skel);
	if (rc == 0) {
		c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_sample, c, NULL);
		rc = c->rb ? 0 : -errno;
	}
	if (rc < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	capture_bpf__destroy(c->skel);
	free(c);
	return rc;
}

int capture_poll(struct capture *c, int ms)
{
	ring_buffer__poll(c->rb, ms);
	report_losses(c);
	return c->lost ? -EPIPE : 0;
}

/* The datagrams of the session per destination, and those past the table,
 * for the records the host writes at the session's end. */
static void report_datagrams(struct capture *c)
{
	struct st_dgram_key k, next, *prev = NULL;
	struct vmdgrams d;
	uint32_t zero = 0;
	uint64_t n;

	while (bpf_map__get_next_key(c->skel->maps.dgrams, prev, &next, sizeof(next)) == 0) {
		k = next;
		prev = &k;
		if (bpf_map__lookup_elem(c->skel->maps.dgrams, &k, sizeof(k), &n, sizeof(n), 0) < 0)
			continue;
		d = (struct vmdgrams){ .family = k.family, .port = k.port, .count = n };
		memcpy(d.addr, k.addr, sizeof(d.addr));
		send_frame(c, VMFRAME_DGRAMS, VMFRAME_STREAM_AGENT, &d, sizeof(d));
	}
	if (bpf_map__lookup_elem(c->skel->maps.dgram_untracked, &zero, sizeof(zero), &n, sizeof(n), 0) == 0 && n) {
		d = (struct vmdgrams){ .count = n };
		send_frame(c, VMFRAME_DGRAMS, VMFRAME_STREAM_AGENT, &d, sizeof(d));
	}
}

void capture_stop(struct capture *c)
{
	ring_buffer__consume(c->rb);
	report_losses(c);
	report_datagrams(c);
	ring_buffer__free(c->rb);
	capture_bpf__destroy(c->skel);
	free(c);
}
