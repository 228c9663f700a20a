/* inspect_peer: the smallest CONNECT proxy around userspace/proxy/inspect.c,
 * so that --inspect-tls's engine (session CA, TLS both ways, HTTP/1.1
 * checked and recorded, a header injected) is tested against the proxy
 * fixture's origin on its own.  Every CONNECT goes to --origin, whatever it
 * names, and is inspected as --host.  Records are JSON lines: one per
 * exchange, one per connection's end.  The session CA's certificate goes
 * to --ca-out; "inspect_peer: ready" on stderr once it listens.
 *
 *   inspect_peer --listen ADDR:PORT --host NAME --origin ADDR:PORT
 *                --upstream-ca FILE --ca-out FILE --records FILE [--inject NAME=VALUE]
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "proxy/inspect.h"

static struct event_base *base;
static struct inspect_config cfg;
static struct sockaddr_storage origin;
static int originlen;
static FILE *records;

static void put(json_t *r)
{
	char *s = json_dumps(r, JSON_COMPACT);

	fprintf(records, "%s\n", s);
	fflush(records);
	free(s);
	json_decref(r);
}

static void on_exchange(void *arg, const struct http1_exchange *x)
{
	put(json_pack("{s:s, s:s, s:b, s:i, s:s, s:I, s:I}", "method", x->method, "path", x->path, "path_cut",
		      x->path_cut, "status", x->status, "content_type", x->content_type, "req_body",
		      (json_int_t)x->req_body, "resp_body", (json_int_t)x->resp_body));
}

static void on_end(void *arg, const char *why, uint64_t out, uint64_t in)
{
	put(json_pack("{s:s?, s:I, s:I}", "end", why, "bytes_out", (json_int_t)out, "bytes_in", (json_int_t)in));
}

struct peer {
	struct bufferevent *cl, *up;
};

static void fail(struct peer *p, const char *why)
{
	on_end(NULL, why, 0, 0);
	bufferevent_free(p->cl);
	if (p->up)
		bufferevent_free(p->up);
	free(p);
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
	struct peer *p = arg;
	char err[256];

	if (!(what & BEV_EVENT_CONNECTED)) {
		fail(p, "origin connect failed");
		return;
	}
	evbuffer_add_printf(bufferevent_get_output(p->cl), "HTTP/1.1 200 Connection established\r\n\r\n");
	if (inspect_start(base, p->cl, p->up, &cfg, err, sizeof(err)) < 0) {
		fail(p, err);
		return;
	}
	free(p);
}

static void cl_read(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);

	if (end.pos < 0) {
		if (evbuffer_get_length(in) > 8192)
			fail(p, "CONNECT head too large");
		return;
	}
	evbuffer_drain(in, (size_t)end.pos + 4);
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	p->up = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(p->up, NULL, NULL, up_event, p);
	if (bufferevent_socket_connect(p->up, (struct sockaddr *)&origin, originlen) < 0)
		fail(p, "origin connect failed");
}

static void cl_event(struct bufferevent *bev, short what, void *arg)
{
	fail(arg, "client left before its CONNECT");
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct peer *p = calloc(1, sizeof(*p));

	p->cl = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(p->cl, cl_read, NULL, cl_event, p);
	bufferevent_enable(p->cl, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },      { "host", required_argument, NULL, 'h' },
		{ "origin", required_argument, NULL, 'o' },      { "upstream-ca", required_argument, NULL, 'u' },
		{ "ca-out", required_argument, NULL, 'c' },      { "records", required_argument, NULL, 'r' },
		{ "inject", required_argument, NULL, 'i' },      { NULL, 0, NULL, 0 },
	};
	const char *listen_at = NULL, *upstream_ca = NULL, *ca_out = NULL, *recs = NULL;
	struct sockaddr_storage la;
	int lalen = sizeof(la), c;
	char err[256], *pem;
	size_t pemlen;
	FILE *f;

	originlen = sizeof(origin);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_at = optarg; break;
		case 'h': cfg.host = optarg; break;
		case 'o':
			if (evutil_parse_sockaddr_port(optarg, (struct sockaddr *)&origin, &originlen) < 0)
				originlen = 0;
			break;
		case 'u': upstream_ca = optarg; break;
		case 'c': ca_out = optarg; break;
		case 'r': recs = optarg; break;
		case 'i':
			cfg.inject_name = optarg;
			cfg.inject_value = strchr(optarg, '=');
			if (cfg.inject_value)
				*(char *)cfg.inject_value++ = 0;
			break;
		default: return 2;
		}
	}
	if (!listen_at || !cfg.host || originlen <= 0 || !upstream_ca || !ca_out || !recs ||
	    (cfg.inject_name && !cfg.inject_value) ||
	    evutil_parse_sockaddr_port(listen_at, (struct sockaddr *)&la, &lalen) < 0) {
		fprintf(stderr, "usage: inspect_peer --listen ADDR:PORT --host NAME --origin ADDR:PORT "
				"--upstream-ca FILE --ca-out FILE --records FILE [--inject NAME=VALUE]\n");
		return 2;
	}
	cfg.port = ntohs(((struct sockaddr_in *)&origin)->sin_port);
	cfg.on_exchange = on_exchange;
	cfg.on_end = on_end;
	cfg.ca = ca_new("inspect_peer", err, sizeof(err));
	cfg.upstream = SSL_CTX_new(TLS_client_method());
	if (!cfg.ca || !cfg.upstream || SSL_CTX_load_verify_locations(cfg.upstream, upstream_ca, NULL) != 1) {
		fprintf(stderr, "inspect_peer: %s\n", cfg.ca ? "upstream CA unreadable" : err);
		return 1;
	}
	SSL_CTX_set_verify(cfg.upstream, SSL_VERIFY_PEER, NULL);
	if (ca_cert_pem(cfg.ca, &pem, &pemlen) < 0 || !(f = fopen(ca_out, "w")) || fwrite(pem, 1, pemlen, f) != pemlen ||
	    fclose(f) || !(records = fopen(recs, "a"))) {
		fprintf(stderr, "inspect_peer: cannot write %s or %s\n", ca_out, recs);
		return 1;
	}
	free(pem);
	base = event_base_new();
	if (!base || !evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
					      (struct sockaddr *)&la, lalen)) {
		fprintf(stderr, "inspect_peer: cannot listen on %s\n", listen_at);
		return 1;
	}
	fprintf(stderr, "inspect_peer: ready\n");
	event_base_dispatch(base);
	return 0;
}
