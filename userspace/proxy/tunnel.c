#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "tunnel.h"

/* A pipe this large holds what a socket read gives in few pieces; splice
 * takes a pipe slot per piece of an skb, not per byte. */
#define TUNNEL_PIPE_BYTES (1 << 20)

/* Empty pipes of ended tunnels, for the next ones: making, sizing and
 * closing two pipes was a quarter of a CONNECT's system calls.  Only a
 * pipe the kernel says is empty comes back: never a byte of one connection
 * into another.  Bounded: each idle 1 MiB pipe counts 256 pages against
 * the user's pipe-user-pages-soft (16384 by default, shared with every
 * process of the proxy's user); 16 hold a quarter of it. */
#define TUNNEL_POOL 16
static struct pooled {
	int p[2];
	size_t cap;
} pool[TUNNEL_POOL];
static size_t npool;

struct half {
	struct tunnel *t;
	int from, to;
	int p[2];
	size_t cap;             /* the pipe's size */
	size_t queued;          /* in the pipe */
	bool eof;
	uint64_t moved;
	struct timeval last_read;  /* or the start */
	struct timeval last_write; /* or when bytes began to wait */
};

/* One edge-triggered event per socket, armed once: a relay that re-armed
 * read and write interest as its pipes filled and emptied spent more
 * system calls on epoll_ctl than on splice.  Idle limits are one timer. */
struct tunnel {
	struct half h[2]; /* [0]: a to b, [1]: b to a */
	struct event *ev[2]; /* a, b */
	struct event *timer;
	size_t cap;
	struct timeval idle;
	int error;
	bool ended;
	tunnel_done_fn done;
	void *arg;
};

/* the vDSO's coarse monotonic clock: no system call, steady under clock
 * changes, and fine enough for limits of seconds */
static void now(struct timeval *tv)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
}

/* What waits in the pipe towards its socket: the bytes moved, 0 for none
 * (or a full socket), -errno on an error. */
static ssize_t flush(struct half *h)
{
	ssize_t n;

	if (!h->queued)
		return 0;
	n = splice(h->p[0], NULL, h->to, NULL, h->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		h->queued -= (size_t)n;
		now(&h->last_write);
		return n;
	}
	return n < 0 && errno != EAGAIN && errno != EINTR ? -errno : 0;
}

/* Moves what it can, until the socket it reads is empty (or the pipe
 * full) and the socket it writes is full (or the pipe empty), as edge
 * triggering needs; 1 once the side is read to its end and all of it
 * passed on, -errno on an error. */
static int pump(struct half *h)
{
	bool progress = true;

	while (progress) {
		ssize_t n;

		progress = false;
		if (!h->eof && h->queued < h->t->cap) {
			n = splice(h->from, NULL, h->p[1], NULL, h->t->cap - h->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				now(&h->last_read);
				if (!h->queued)
					h->last_write = h->last_read;
				h->queued += (size_t)n;
				h->moved += (uint64_t)n;
				progress = true;
			} else if (n == 0) {
				h->eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				/* EAGAIN: an empty socket, or a pipe out of slots,
				 * which the write below frees (then read again) */
				return -errno;
			}
		}
		n = flush(h);
		if (n > 0)
			progress = true;
		else if (n < 0)
			return (int)n;
	}
	return h->eof && !h->queued ? 1 : 0;
}

static void end(struct tunnel *t, int error)
{
	if (t->ended)
		return;
	t->ended = true;
	t->error = error;
	for (int i = 0; i < 2; i++)
		event_del(t->ev[i]);
	event_del(t->timer);
	t->done(t->arg); /* may free t */
}

static void pump_or_end(struct half *h)
{
	int rc = pump(h);

	if (rc != 0)
		end(h->t, rc < 0 ? -rc : 0);
}

/* Socket i is h[i]'s source and h[1 - i]'s destination. */
static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	int i = fd == t->h[0].from ? 0 : 1;

	if (what & EV_READ)
		pump_or_end(&t->h[i]);
	if (!t->ended && (what & EV_WRITE) && t->h[1 - i].queued)
		pump_or_end(&t->h[1 - i]);
}

/* How long until a half is idle: nothing read from a side that has not
 * ended (while the pipe has room for it), or nothing taken by a side that
 * has bytes waiting for it. */
static bool idle_left(const struct half *h, const struct timeval *at, struct timeval *left)
{
	struct timeval since, rest;

	*left = h->t->idle;
	for (int k = 0; k < 2; k++) {
		const struct timeval *last = k ? &h->last_write : &h->last_read;

		if (k ? !h->queued : h->eof || h->queued >= h->t->cap)
			continue;
		evutil_timersub(at, last, &since);
		if (!evutil_timercmp(&since, &h->t->idle, <))
			return false;
		evutil_timersub(&h->t->idle, &since, &rest);
		if (evutil_timercmp(&rest, left, <))
			*left = rest;
	}
	return true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;
	struct timeval at, left[2];

	(void)fd;
	(void)what;
	now(&at);
	for (int i = 0; i < 2; i++)
		if (!idle_left(&t->h[i], &at, &left[i])) {
			end(t, 0);
			return;
		}
	event_add(t->timer, evutil_timercmp(&left[0], &left[1], <) ? &left[0] : &left[1]);
}

static int half_init(struct tunnel *t, struct half *h, int from, int to, const void *first, size_t len)
{
	h->t = t;
	h->from = from;
	h->to = to;
	if (npool) {
		npool--;
		h->p[0] = pool[npool].p[0];
		h->p[1] = pool[npool].p[1];
		h->cap = pool[npool].cap;
	} else if (pipe2(h->p, O_NONBLOCK | O_CLOEXEC) < 0) {
		h->p[0] = h->p[1] = -1;
		return -1;
	} else {
		/* a bigger pipe where the system allows it; the default one works too */
		int sz = fcntl(h->p[1], F_SETPIPE_SZ, TUNNEL_PIPE_BYTES);

		if (sz <= 0)
			sz = fcntl(h->p[1], F_GETPIPE_SZ);
		if (sz <= 0)
			return -1;
		h->cap = (size_t)sz;
	}
	if (len && write(h->p[1], first, len) != (ssize_t)len) {
		errno = EMSGSIZE;
		return -1;
	}
	h->queued = len;
	now(&h->last_read);
	h->last_write = h->last_read;
	return 0;
}

struct tunnel *tunnel_start(struct event_base *base, int a, int b, const void *to_b, size_t to_b_len,
			    const void *to_a, size_t to_a_len, int idle_s, tunnel_done_fn done, void *arg)
{
	struct tunnel *t = calloc(1, sizeof(*t));
	int e;

	if (!t)
		return NULL;
	t->h[0].p[0] = t->h[0].p[1] = t->h[1].p[0] = t->h[1].p[1] = -1;
	t->h[0].from = t->h[0].to = t->h[1].from = t->h[1].to = -1;
	t->idle = (struct timeval){ idle_s, 0 };
	t->done = done;
	t->arg = arg;
	if (half_init(t, &t->h[0], a, b, to_b, to_b_len) < 0 || half_init(t, &t->h[1], b, a, to_a, to_a_len) < 0)
		goto fail;
	t->cap = t->h[0].cap < t->h[1].cap ? t->h[0].cap : t->h[1].cap;
	t->ev[0] = event_new(base, a, EV_READ | EV_WRITE | EV_ET | EV_PERSIST, on_socket, t);
	t->ev[1] = event_new(base, b, EV_READ | EV_WRITE | EV_ET | EV_PERSIST, on_socket, t);
	t->timer = evtimer_new(base, on_timer, t);
	if (!t->ev[0] || !t->ev[1] || !t->timer || event_add(t->ev[0], NULL) < 0 || event_add(t->ev[1], NULL) < 0 ||
	    event_add(t->timer, &t->idle) < 0)
		goto fail;
	/* what came before goes now, not at the loop's next turn: a CONNECT's
	 * ClientHello waits for nothing else (an error here is met again by
	 * the first edge, from the loop, which also reports what may wait) */
	for (int i = 0; i < 2; i++)
		flush(&t->h[i]);
	return t;
fail:
	e = errno;
	/* the sockets stay the caller's */
	t->h[0].from = t->h[1].from = -1;
	tunnel_free(t);
	errno = e;
	return NULL;
}

uint64_t tunnel_bytes_from_a(const struct tunnel *t)
{
	return t->h[0].moved;
}

uint64_t tunnel_bytes_from_b(const struct tunnel *t)
{
	return t->h[1].moved;
}

int tunnel_error(const struct tunnel *t)
{
	return t->error;
}

/* A pipe back to the pool if it is empty and there is room, else closed. */
static void pipe_put(struct half *h)
{
	int left = -1;

	if (h->p[0] < 0)
		return;
	if (npool < TUNNEL_POOL && ioctl(h->p[0], FIONREAD, &left) == 0 && left == 0) {
		pool[npool++] = (struct pooled){ { h->p[0], h->p[1] }, h->cap };
		return;
	}
	close(h->p[0]);
	close(h->p[1]);
}

void tunnel_free(struct tunnel *t)
{
	if (!t)
		return;
	if (t->timer)
		event_free(t->timer);
	for (int i = 0; i < 2; i++) {
		struct half *h = &t->h[i];

		if (t->ev[i])
			event_free(t->ev[i]);
		pipe_put(h);
		if (h->from >= 0)
			close(h->from);
	}
	free(t);
}
