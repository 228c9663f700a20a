#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cgroup2.h"
#include "clock.h"
#include "control.h"
#include "microvm_sink.h"
#include "vmframe.h"

#define READ_MAX  (256 * 1024) /* bytes read from one guest per wakeup */
#define DRAIN_MAX (64 << 20)   /* read at a session's end, then the door */

/* why events of a guest were lost */
enum { LOSS_RINGBUF, LOSS_PENDING, LOSS_GAP, LOSS_MALFORMED, LOSS_OVERSIZED, LOSS_N };
static const char *const loss_reasons[LOSS_N] = { "guest_ringbuf", "guest_pending", "gap", "malformed", "oversized" };

struct microvm_conn {
	int fd;
	struct session *s;
	struct enrich enrich;              /* the guest's pids, not the host's */
	uint64_t bad_seen[VMFRAME_BAD_N];  /* the decoder's counts, as last turned into losses */
	uint64_t lost[ST_EV_MAX][LOSS_N], seen[ST_EV_MAX][LOSS_N];
	struct microvm_conn *next;
	struct vmframe_dec dec;
};

struct microvm_sink {
	struct microvm_sink_config cfg;
	char path_copy[4200], root_copy[4200];
	int epfd, lfd;
	struct microvm_conn *conns;
	/* a sample, aligned, with the host-only fields cleared */
	union {
		struct st_hdr h;
		uint8_t b[VMFRAME_MAX];
	} ev;
};

static bool guest_type(uint32_t t)
{
	switch (t) {
	case ST_EV_EXEC: case ST_EV_FORK: case ST_EV_EXIT: case ST_EV_OPEN: case ST_EV_UNLINK: case ST_EV_RENAME:
	case ST_EV_CONNECT: case ST_EV_DATAGRAM: case ST_EV_BIND: case ST_EV_LISTEN: case ST_EV_ACCEPT:
		return true;
	}
	/* the file operations of struct st_fileop */
	return t >= ST_EV_TRUNCATE && t <= ST_EV_PIVOT_ROOT;
}

static void count(struct microvm_conn *c, uint32_t type, int reason, uint64_t n)
{
	c->lost[type < ST_EV_MAX ? type : 0][reason] += n;
}

static void on_event(struct microvm_sink *m, struct microvm_conn *c, const struct vmframe *f)
{
	uint32_t type = f->len >= sizeof(struct st_hdr) ? ((const struct st_hdr *)f->p)->type : 0;
	struct event ev;

	memcpy(m->ev.b, f->p, f->len);
	/* what only the host's kernel can say: no cgroup of the host's */
	if (f->len >= sizeof(struct st_hdr)) {
		m->ev.h.cgroup_id = 0;
		m->ev.h.session_cgid = 0;
	}
	if (!guest_type(type) || event_decode(m->ev.b, f->len, &ev) < 0) {
		count(c, type, LOSS_MALFORMED, 1);
		return;
	}
	/* the guest's clock is its own: the time is when the host received it */
	enrich_event(&c->enrich, &ev, c->s, clock_ns(CLOCK_REALTIME), m->cfg.rec);
	m->cfg.write(m->cfg.ctx);
}

static void on_loss(struct microvm_conn *c, const struct vmframe *f)
{
	struct vmloss l;

	if (f->len != sizeof(l)) {
		count(c, 0, LOSS_MALFORMED, 1);
		return;
	}
	memcpy(&l, f->p, sizeof(l));
	if (l.type >= ST_EV_MAX || l.reason >= ST_LOSS_MAX) {
		count(c, 0, LOSS_MALFORMED, 1);
		return;
	}
	count(c, l.type, l.reason == ST_LOSS_RINGBUF ? LOSS_RINGBUF : LOSS_PENDING, l.count);
}

/* The guest's count of the datagrams to one destination: the record the
 * host's collector writes at a session's end, written now (the guest sends
 * them once CMD is gone, before the session ends). */
static void on_dgrams(struct microvm_sink *m, struct microvm_conn *c, const struct vmframe *f)
{
	struct vmdgrams d;

	if (f->len != sizeof(d)) {
		count(c, ST_EV_DATAGRAM, LOSS_MALFORMED, 1);
		return;
	}
	memcpy(&d, f->p, sizeof(d));
	if (d.family != AF_INET && d.family != AF_INET6 && d.family != 0) {
		count(c, ST_EV_DATAGRAM, LOSS_MALFORMED, 1);
		return;
	}
	enrich_datagrams(m->cfg.rec, c->s, clock_ns(CLOCK_REALTIME), d.family, d.addr, d.port, d.count);
	m->cfg.write(m->cfg.ctx);
}

static void frames(struct microvm_sink *m, struct microvm_conn *c)
{
	struct vmframe f;
	uint64_t *bad = c->dec.bad;

	while (vmframe_next(&c->dec, &f)) {
		if (f.gap)
			count(c, 0, LOSS_GAP, f.gap);
		if (f.type == VMFRAME_EVENT && f.stream == VMFRAME_STREAM_EVENTS)
			on_event(m, c, &f);
		else if (f.type == VMFRAME_LOSS && f.stream == VMFRAME_STREAM_AGENT)
			on_loss(c, &f);
		else if (f.type == VMFRAME_DGRAMS && f.stream == VMFRAME_STREAM_AGENT)
			on_dgrams(m, c, &f);
		else
			count(c, 0, LOSS_MALFORMED, 1);
	}
	/* frames that never made it through the decoder */
	count(c, 0, LOSS_OVERSIZED, bad[VMFRAME_BAD_LEN] - c->bad_seen[VMFRAME_BAD_LEN]);
	/* and bytes between frames: one malformed frame per run of them */
	for (int k = 0; k < VMFRAME_BAD_N; k++)
		if (k != VMFRAME_BAD_LEN && k != VMFRAME_BAD_SKIPPED)
			count(c, 0, LOSS_MALFORMED, bad[k] - c->bad_seen[k]);
	memcpy(c->bad_seen, bad, sizeof(c->bad_seen));
}

static void feed(struct microvm_sink *m, struct microvm_conn *c, const uint8_t *p, size_t len)
{
	while (len) {
		size_t n = vmframe_feed(&c->dec, p, len);

		p += n;
		len -= n;
		frames(m, c);
	}
}

static void report(struct microvm_sink *m, struct microvm_conn *c)
{
	for (int t = 0; t < ST_EV_MAX; t++) {
		for (int r = 0; r < LOSS_N; r++) {
			if (c->lost[t][r] == c->seen[t][r])
				continue;
			enrich_loss(m->cfg.rec, c->s, clock_ns(CLOCK_REALTIME), event_type_name((uint32_t)t) ?
				    event_type_name((uint32_t)t) : "unknown", loss_reasons[r], c->lost[t][r] - c->seen[t][r]);
			m->cfg.write(m->cfg.ctx);
			c->seen[t][r] = c->lost[t][r];
		}
	}
}

/* Reads up to max bytes; false when the connection is gone. */
static bool conn_read(struct microvm_sink *m, struct microvm_conn *c, size_t max)
{
	uint8_t buf[16384];

	for (size_t got = 0; got < max;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0)
			return false;
		feed(m, c, buf, (size_t)n);
		got += (size_t)n;
	}
	return true;
}

static void conn_close(struct microvm_sink *m, struct microvm_conn *c)
{
	struct microvm_conn **pp = &m->conns;

	/* a frame cut short by the end of the stream */
	if (c->dec.have)
		count(c, 0, LOSS_MALFORMED, 1);
	report(m, c);
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	if (c->fd >= 0) {
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	enrich_free(&c->enrich);
	free(c);
}

static struct microvm_conn *conn_new(struct microvm_sink *m, int fd, struct session *s)
{
	struct microvm_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->s = s;
	enrich_init(&c->enrich);
	c->enrich.guest = true;
	c->next = m->conns;
	m->conns = c;
	return c;
}

static struct session *peer_session(struct microvm_sink *m, int fd, const char **why)
{
	char path[8400];
	struct session *s;

	if (cgroup2_peer(fd, m->cfg.cgroup2_root, path, sizeof(path), why) < 0)
		return NULL;
	*why = "not in a microvm session's cgroup";
	s = session_holding(m->cfg.sessions, path);
	if (!s || !s->microvm)
		return NULL;
	*why = "its session has a VMM already";
	for (struct microvm_conn *c = m->conns; c; c = c->next)
		if (c->s == s)
			return NULL;
	return s;
}

static void accept_vmms(struct microvm_sink *m)
{
	for (;;) {
		int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct epoll_event ee = { .events = EPOLLIN | EPOLLRDHUP };
		struct microvm_conn *c;
		const char *why;
		struct session *s;

		if (fd < 0)
			return;
		s = peer_session(m, fd, &why);
		c = s ? conn_new(m, fd, s) : NULL;
		if (!c) {
			fprintf(stderr, "sandtraild: microvm sink: connection refused: %s\n", s ? "out of memory" : why);
			close(fd);
			continue;
		}
		ee.data.ptr = c;
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
			c->fd = -1;
			close(fd);
			conn_close(m, c);
		}
	}
}

int microvm_sink_open(struct microvm_sink **out, const struct microvm_sink_config *cfg)
{
	struct microvm_sink *m = calloc(1, sizeof(*m));
	struct epoll_event ee = { .events = EPOLLIN };
	int rc;

	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	snprintf(m->path_copy, sizeof(m->path_copy), "%s", cfg->path ? cfg->path : "");
	snprintf(m->root_copy, sizeof(m->root_copy), "%s", cfg->cgroup2_root ? cfg->cgroup2_root : "");
	m->cfg.path = cfg->path ? m->path_copy : NULL;
	m->cfg.cgroup2_root = m->root_copy;
	m->lfd = -1;
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	rc = m->epfd < 0 ? -errno : 0;
	if (rc == 0 && cfg->path) {
		/* the same guarantees as the control socket: root-only directory,
		 * 0600; a byte stream, as QEMU's socket chardev writes one */
		m->lfd = control_listen_as(cfg->path, (gid_t)-1, SOCK_STREAM);
		rc = m->lfd < 0 ? m->lfd : 0;
		ee.data.ptr = NULL; /* the listener */
		if (rc == 0 && epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->lfd, &ee) < 0)
			rc = -errno;
	}
	if (rc < 0) {
		microvm_sink_close(m);
		return rc;
	}
	*out = m;
	return 0;
}

int microvm_sink_fd(const struct microvm_sink *m)
{
	return m->epfd;
}

void microvm_sink_process(struct microvm_sink *m)
{
	struct epoll_event evs[32];
	int n = epoll_wait(m->epfd, evs, 32, 0);

	for (int i = 0; i < n; i++) {
		struct microvm_conn *c = evs[i].data.ptr;

		if (!c)
			accept_vmms(m);
		else if (!conn_read(m, c, READ_MAX))
			conn_close(m, c);
	}
}

void microvm_sink_end(struct microvm_sink *m, struct session *s)
{
	for (struct microvm_conn *c = m->conns; c; c = c->next) {
		if (c->s != s)
			continue;
		/* the VMM has exited: what the guest sent waits in the socket */
		if (c->fd >= 0)
			conn_read(m, c, DRAIN_MAX);
		conn_close(m, c);
		return;
	}
}

void microvm_sink_report_losses(struct microvm_sink *m)
{
	for (struct microvm_conn *c = m->conns; c; c = c->next)
		report(m, c);
}

void microvm_sink_feed(struct microvm_sink *m, struct session *s, const void *p, size_t len)
{
	struct microvm_conn *c = m->conns;

	while (c && c->s != s)
		c = c->next;
	if (!c && !(c = conn_new(m, -1, s)))
		return;
	feed(m, c, p, len);
}

void microvm_sink_close(struct microvm_sink *m)
{
	if (!m)
		return;
	while (m->conns)
		conn_close(m, m->conns);
	if (m->lfd >= 0) {
		close(m->lfd);
		unlink(m->cfg.path);
	}
	if (m->epfd >= 0)
		close(m->epfd);
	free(m);
}
