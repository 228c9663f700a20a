#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "tunnel.h"

/* A pipe this large holds what a socket read gives in few pieces; splice
 * takes a pipe slot per piece of an skb, not per byte. */
#define TUNNEL_PIPE_BYTES (1 << 20)

struct half {
	struct tunnel *t;
	int from, to;
	int p[2];
	size_t queued;   /* in the pipe */
	bool pipe_full;  /* the last read found no room: wait until some left */
	bool eof;
	uint64_t moved;
	struct event *rd, *wr;
};

struct tunnel {
	struct half h[2]; /* [0]: a to b, [1]: b to a */
	size_t cap;
	struct timeval idle;
	int error;
	bool ended;
	tunnel_done_fn done;
	void *arg;
};

/* Moves what it can; 1 once the side is read to its end and all of it
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
				h->queued += (size_t)n;
				h->moved += (uint64_t)n;
				progress = true;
			} else if (n == 0) {
				h->eof = true;
			} else if (errno == EAGAIN) {
				/* an empty socket, or a pipe out of slots if it holds some */
				h->pipe_full = h->queued > 0;
			} else if (errno != EINTR) {
				return -errno;
			}
		}
		if (h->queued) {
			n = splice(h->p[0], NULL, h->to, NULL, h->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				h->queued -= (size_t)n;
				h->pipe_full = false;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				return -errno;
			}
		}
	}
	if (h->eof && !h->queued)
		return 1;
	if (!h->eof && !h->pipe_full)
		event_add(h->rd, &h->t->idle);
	else
		event_del(h->rd);
	if (h->queued) /* a side that stops reading is idle too */
		event_add(h->wr, &h->t->idle);
	else
		event_del(h->wr);
	return 0;
}

static void end(struct tunnel *t, int error)
{
	if (t->ended)
		return;
	t->ended = true;
	t->error = error;
	for (int i = 0; i < 2; i++) {
		event_del(t->h[i].rd);
		event_del(t->h[i].wr);
	}
	t->done(t->arg); /* may free t */
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct half *h = arg;
	int rc;

	(void)fd;
	if (what & EV_TIMEOUT) {
		end(h->t, 0);
		return;
	}
	rc = pump(h);
	if (rc != 0)
		end(h->t, rc < 0 ? -rc : 0);
}

static int half_init(struct tunnel *t, struct half *h, struct event_base *base, int from, int to, const void *first,
		     size_t len)
{
	h->t = t;
	h->from = from;
	h->to = to;
	if (pipe2(h->p, O_NONBLOCK | O_CLOEXEC) < 0) {
		h->p[0] = h->p[1] = -1;
		return -1;
	}
	/* a bigger pipe where the system allows it; the default one works too */
	fcntl(h->p[1], F_SETPIPE_SZ, TUNNEL_PIPE_BYTES);
	if (len && write(h->p[1], first, len) != (ssize_t)len) {
		errno = EMSGSIZE;
		return -1;
	}
	h->queued = len;
	h->rd = event_new(base, from, EV_READ, on_ready, h);
	h->wr = event_new(base, to, EV_WRITE, on_ready, h);
	return h->rd && h->wr ? 0 : -1;
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
	if (half_init(t, &t->h[0], base, a, b, to_b, to_b_len) < 0 ||
	    half_init(t, &t->h[1], base, b, a, to_a, to_a_len) < 0)
		goto fail;
	t->cap = (size_t)fcntl(t->h[0].p[1], F_GETPIPE_SZ);
	if ((ssize_t)t->cap <= 0)
		goto fail;
	for (int i = 0; i < 2; i++)
		if (pump(&t->h[i]) != 0)
			event_active(t->h[i].rd, EV_READ, 0); /* it ends from the loop, not here */
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

void tunnel_free(struct tunnel *t)
{
	if (!t)
		return;
	for (int i = 0; i < 2; i++) {
		struct half *h = &t->h[i];

		if (h->rd)
			event_free(h->rd);
		if (h->wr)
			event_free(h->wr);
		for (int k = 0; k < 2; k++)
			if (h->p[k] >= 0)
				close(h->p[k]);
		if (h->from >= 0)
			close(h->from);
	}
	free(t);
}
