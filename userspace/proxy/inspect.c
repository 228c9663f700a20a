/* One inspected connection (inspect.h), on libevent's OpenSSL filters. */
#include "inspect.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

struct inspect {
	const struct inspect_config *cfg;
	struct event_base *base;
	struct bufferevent *cl, *up;           /* the TLS filters */
	struct bufferevent *raw_cl, *raw_up;   /* the caller's, under them */
	struct http1 *http;
	struct http1_config hc;
	uint64_t bytes_out, bytes_in;
	bool closing, ending;
	bool cl_gone, up_gone; /* ended: what is queued for it is never written */
	const char *why;
	char whybuf[160];
};

static const unsigned char alpn_http11[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };

static void free_filter(struct bufferevent *f)
{
	SSL *ssl;

	if (!f)
		return;
	ssl = bufferevent_openssl_get_ssl(f);
	bufferevent_free(f);
	SSL_free(ssl);
}

static void do_end(evutil_socket_t fd, short what, void *arg)
{
	struct inspect *in = arg;

	in->cfg->on_end(in->cfg->arg, in->why, in->bytes_out, in->bytes_in);
	free_filter(in->cl);
	free_filter(in->up);
	bufferevent_free(in->raw_cl);
	bufferevent_free(in->raw_up);
	http1_free(in->http);
	free(in);
}

/* the end, from the loop: nothing is freed under a callback of its own */
static void finish(struct inspect *in, const char *why)
{
	if (in->ending)
		return;
	in->ending = true;
	in->why = why;
	bufferevent_setcb(in->cl, NULL, NULL, NULL, NULL);
	bufferevent_setcb(in->up, NULL, NULL, NULL, NULL);
	bufferevent_disable(in->cl, EV_READ | EV_WRITE);
	bufferevent_disable(in->up, EV_READ | EV_WRITE);
	if (event_base_once(in->base, -1, EV_TIMEOUT, do_end, in, NULL) < 0)
		do_end(-1, 0, in);
}

/* what is queued for either side goes first, then the end */
static void end_after_flush(struct inspect *in, const char *why)
{
	if (!in->closing) {
		in->closing = true;
		in->why = why;
	}
	bufferevent_disable(in->cl, EV_READ);
	bufferevent_disable(in->up, EV_READ);
	if ((in->cl_gone || evbuffer_get_length(bufferevent_get_output(in->cl)) == 0) &&
	    (in->up_gone || evbuffer_get_length(bufferevent_get_output(in->up)) == 0))
		finish(in, in->why);
}

static int to_origin(void *arg, const void *p, size_t n)
{
	struct inspect *in = arg;

	return evbuffer_add(bufferevent_get_output(in->up), p, n) ? -ENOMEM : 0;
}

static void exchange(void *arg, const struct http1_exchange *x)
{
	struct inspect *in = arg;

	in->cfg->on_exchange(in->cfg->arg, x);
}

/* one side's bytes through fn; the other side pauses us when it is full */
static int drain(struct inspect *in, struct bufferevent *from, int (*fn)(struct http1 *, const char *, size_t))
{
	struct evbuffer *b = bufferevent_get_input(from);
	struct evbuffer_iovec v[16];
	int n = evbuffer_peek(b, -1, NULL, v, 16);
	size_t total = 0;

	for (int i = 0; i < n && i < 16; i++) {
		*(from == in->cl ? &in->bytes_out : &in->bytes_in) += v[i].iov_len;
		if (fn(in->http, v[i].iov_base, v[i].iov_len) < 0)
			return -1;
		total += v[i].iov_len;
	}
	if (from == in->cl)
		evbuffer_drain(b, total);
	else /* the origin's bytes go to the client as they are */
		evbuffer_remove_buffer(b, bufferevent_get_output(in->cl), total);
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct inspect *in = arg;
	struct bufferevent *to = bev == in->cl ? in->up : in->cl;

	if (in->ending)
		return;
	if (drain(in, bev, bev == in->cl ? http1_request : http1_response) < 0) {
		snprintf(in->whybuf, sizeof(in->whybuf), "%s: %s", bev == in->cl ? "request" : "response",
			 http1_why(in->http));
		end_after_flush(in, in->whybuf);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(to)) >= INSPECT_QUEUE_MAX) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(to, EV_WRITE, INSPECT_QUEUE_MAX / 2, 0);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct inspect *in = arg;
	struct bufferevent *from = bev == in->cl ? in->up : in->cl;

	if (in->ending)
		return;
	if (in->closing) {
		end_after_flush(in, in->why);
		return;
	}
	if (!(bufferevent_get_enabled(from) & EV_READ)) {
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(from, EV_READ);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct inspect *in = arg;
	bool client = bev == in->cl;
	unsigned long e;

	if (in->ending || (what & BEV_EVENT_CONNECTED))
		return; /* a handshake done */
	*(client ? &in->cl_gone : &in->up_gone) = true;
	if (what & BEV_EVENT_ERROR) {
		e = bufferevent_get_openssl_error(bev);
		snprintf(in->whybuf, sizeof(in->whybuf), "%s TLS: %s", client ? "client" : "origin",
			 e ? ERR_reason_error_string(e) : "connection failed");
		while (bufferevent_get_openssl_error(bev))
			;
	} else if (what & BEV_EVENT_TIMEOUT) {
		snprintf(in->whybuf, sizeof(in->whybuf), "%s idle", client ? "client" : "origin");
	}
	if (!client && !in->closing)
		on_read(bev, in); /* the last bytes */
	if (in->closing) {
		end_after_flush(in, in->why);
		return;
	}
	/* an answer read until the close ends; requests left unanswered are recorded */
	if (http1_response_end(in->http) < 0 && !in->whybuf[0])
		snprintf(in->whybuf, sizeof(in->whybuf), "response: %s", http1_why(in->http));
	end_after_flush(in, in->whybuf[0] ? in->whybuf : NULL);
}

/* the client may offer h2: it gets HTTP/1.1, which is what is inspected */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *inp,
		       unsigned int inlen, void *arg)
{
	unsigned char *o;

	if (SSL_select_next_proto(&o, outlen, alpn_http11, sizeof(alpn_http11), inp, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

int inspect_start(struct event_base *base, struct bufferevent *client, struct bufferevent *origin,
		  const struct inspect_config *cfg, char *err, size_t errlen)
{
	struct inspect *in = calloc(1, sizeof(*in));
	SSL_CTX *leaf;
	SSL *s = NULL, *c = NULL;

	if (!in) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	in->cfg = cfg;
	in->hc = (struct http1_config){ .host = cfg->host, .port = cfg->port, .inject_name = cfg->inject_name,
					.inject_value = cfg->inject_value, .emit = to_origin,
					.on_exchange = exchange, .arg = in };
	leaf = ca_leaf_ctx(cfg->ca, cfg->host, err, errlen);
	if (!leaf)
		goto fail;
	SSL_CTX_set_alpn_select_cb(leaf, select_alpn, NULL);
	s = SSL_new(leaf);
	c = SSL_new(cfg->upstream);
	in->http = http1_new(&in->hc);
	if (!s || !c || !in->http || SSL_set_tlsext_host_name(c, cfg->host) != 1 || SSL_set1_host(c, cfg->host) != 1 ||
	    SSL_set_alpn_protos(c, alpn_http11, sizeof(alpn_http11))) {
		snprintf(err, errlen, "TLS setup: %s", ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
	/* the filters read and write the caller's bufferevents; all four are
	 * freed at the end (not on free of the filters: a failure here leaves
	 * the caller's as they were) */
	in->cl = bufferevent_openssl_filter_new(base, client, s, BUFFEREVENT_SSL_ACCEPTING, 0);
	in->up = in->cl ? bufferevent_openssl_filter_new(base, origin, c, BUFFEREVENT_SSL_CONNECTING, 0) : NULL;
	if (!in->cl || !in->up) {
		snprintf(err, errlen, "TLS filter: out of memory");
		goto fail;
	}
	in->base = base;
	in->raw_cl = client;
	in->raw_up = origin;
	/* many origins and clients end without close_notify */
	bufferevent_openssl_set_allow_dirty_shutdown(in->cl, 1);
	bufferevent_openssl_set_allow_dirty_shutdown(in->up, 1);
	bufferevent_setcb(in->cl, on_read, on_write, on_event, in);
	bufferevent_setcb(in->up, on_read, on_write, on_event, in);
	bufferevent_enable(in->cl, EV_READ | EV_WRITE);
	bufferevent_enable(in->up, EV_READ | EV_WRITE);
	return 0;
fail:
	ERR_clear_error();
	if (in->cl)
		bufferevent_free(in->cl);
	SSL_free(s);
	SSL_free(c);
	http1_free(in->http);
	free(in);
	return -EPROTO;
}
