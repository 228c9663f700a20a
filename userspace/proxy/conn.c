/* One client connection of sandtrail-proxy: its first bytes say what it is
 * (a TLS ClientHello of a transparent client, an HTTP CONNECT, a plain HTTP
 * request in absolute form from a proxy-aware client or in origin form from
 * a transparent one); the name it carries is checked against the session's
 * domains, resolved by the proxy and connected; then bytes are relayed,
 * bounded each way.  Every connection ends in one record. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <http_parser.h>

#include "escape.h"
#include "events.h"
#include "inspect.h"
#include "proxy.h"
#include "sni.h"
#include "tunnel.h"

enum pstate { ST_HEAD, ST_TUNNEL_HELLO, ST_RESOLVING, ST_CONNECTING, ST_RELAY };

struct pconn {
	struct proxy *px;
	struct proxy_session *s;
	struct bufferevent *cl, *up;
	struct event *deadline;
	struct evdns_getaddrinfo_request *dns;
	enum pstate state;
	bool transparent, is_connect, tunnel_open, closing, recorded;
	uint16_t orig_port, orig_family;
	uint8_t orig_addr[16];   /* what a transparent client connected to */
	bool by_addr;            /* an address rule let it through: dst, no name */
	struct sockaddr_storage dst;
	socklen_t dstlen;
	char host[DOMAIN_MAX + 1];
	uint16_t port;
	char method[24];
	char request[320];
	const char *rule, *reason;
	const char *tls_version;
	char alpn[SNI_ALPN_LEN];
	int status;
	uint64_t bytes_out, bytes_in;
	struct timespec t0;
	struct evbuffer *pending; /* for upstream once connected */
	struct tunnel *tun;       /* the relay, once nothing in it is read */
	/* the request head */
	char url[2048];
	size_t urllen;
	char field[256], value[2048];
	size_t flen, vlen;
	bool in_value, head_done, head_overflow, two_hosts;
	char host_hdr[DOMAIN_MAX + 8];
	bool has_host_hdr;
	/* the response head, for its status */
	http_parser rp;
	bool resp_done;
	/* --inspect-tls: inspect.c holds both sides until its on_end */
	struct inspect_config icfg;
	bool inspected;
	char error[160];
};

static const struct timeval head_timeout = { PROXY_HEAD_TIMEOUT_S, 0 };

static const char *const hop_headers[] = { "connection", "keep-alive", "proxy-connection", "proxy-authorization",
					   "proxy-authenticate", "te", "trailer", "upgrade", NULL };

static void conn_free(struct pconn *c)
{
	if (c->dns)
		evdns_getaddrinfo_cancel(c->dns);
	if (c->cl)
		bufferevent_free(c->cl);
	if (c->up)
		bufferevent_free(c->up);
	if (c->deadline)
		event_free(c->deadline);
	if (c->pending)
		evbuffer_free(c->pending);
	tunnel_free(c->tun);
	c->px->nconns--;
	c->s->refs--;
	proxy_session_put(c->s);
	free(c);
}

static void record(struct pconn *c)
{
	struct timespec t1;
	json_t *r;
	int64_t ns;

	if (c->recorded)
		return;
	c->recorded = true;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (int64_t)(t1.tv_sec - c->t0.tv_sec) * 1000000000 + (t1.tv_nsec - c->t0.tv_nsec);
	r = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I}", "type", "proxy", "session", c->s->id, "verdict",
		      c->reason ? "deny" : "allow", "transparent", c->transparent, "bytes_out", (json_int_t)c->bytes_out,
		      "bytes_in", (json_int_t)c->bytes_in, "duration_ns", (json_int_t)ns);
	if (!r)
		return;
	json_object_set_new(r, "domain", c->host[0] ? json_string(c->host) : json_null());
	if (c->port)
		json_object_set_new(r, "port", json_integer(c->port));
	if (c->method[0])
		json_object_set_new(r, "method", json_string(c->method));
	json_object_set_new(r, "rule", c->rule ? json_string(c->rule) : json_null());
	if (c->reason)
		json_object_set_new(r, "reason", json_string(c->reason));
	if (c->tls_version)
		json_object_set_new(r, "tls_version", json_string(c->tls_version));
	if (c->alpn[0])
		json_object_set_new(r, "alpn", json_string(c->alpn));
	if (c->request[0])
		json_object_set_new(r, "request", json_string(c->request));
	if (c->status)
		json_object_set_new(r, "status", json_integer(c->status));
	if (c->inspected)
		json_object_set_new(r, "inspected", json_true());
	if (c->error[0])
		json_object_set_new(r, "error", json_string(c->error));
	proxy_record(c->px, r);
}

static void finish(struct pconn *c)
{
	record(c);
	conn_free(c);
}

/* Refuses: an HTTP answer when the client spoke HTTP (code 0: none), the
 * record, the end. */
static void refuse(struct pconn *c, const char *reason, int code, const char *text)
{
	c->reason = reason;
	c->rule = NULL;
	/* what is left is writing the answer: bounded too */
	evtimer_add(c->deadline, &head_timeout);
	if (c->up) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	if (code && c->cl) {
		bufferevent_enable(c->cl, EV_WRITE);
		evbuffer_add_printf(bufferevent_get_output(c->cl),
				    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nConnection: close\r\n"
				    "Content-Length: %zu\r\n\r\nsandtrail-proxy: %s\n",
				    code, text, strlen("sandtrail-proxy: \n") + strlen(reason), reason);
		c->closing = true;
		bufferevent_disable(c->cl, EV_READ);
		record(c);
		return; /* freed once the answer is written (conn_write) */
	}
	finish(c);
}

/* Whether an address rule lets family/addr/port through: then the
 * connection goes there (c->dst), its address as its name. */
static bool by_addr(struct pconn *c, int family, const uint8_t *addr, uint16_t port)
{
	c->rule = proxy_session_match_addr(c->s, family, addr, port);
	if (!c->rule)
		return false;
	c->port = port;
	memset(&c->dst, 0, sizeof(c->dst));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&c->dst;

		in->sin_family = AF_INET;
		in->sin_port = htons(c->port);
		memcpy(&in->sin_addr, addr, 4);
		c->dstlen = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c->dst;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(c->port);
		memcpy(&in6->sin6_addr, addr, 16);
		c->dstlen = sizeof(*in6);
	}
	inet_ntop(family, addr, c->host, sizeof(c->host));
	c->by_addr = true;
	return true;
}

/* A literal as inet_pton reads it (bracketed for IPv6 or not), against
 * the address rules; other spellings ("127.1", a trailing dot) match none. */
static bool literal_allowed(struct pconn *c, const char *host, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t a[16];

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = 0;
	if (inet_pton(AF_INET, buf, a) == 1)
		return by_addr(c, AF_INET, a, c->port);
	return inet_pton(AF_INET6, buf, a) == 1 && by_addr(c, AF_INET6, a, c->port);
}

/* The name decides: an IP literal only by an address rule, a name only by
 * a domain rule. */
static bool check_name(struct pconn *c, const char *host, size_t len, int code)
{
	char canon[DOMAIN_MAX + 1];

	if (domain_is_ip_literal(host, len)) {
		if (literal_allowed(c, host, len))
			return true;
		snprintf(c->host, sizeof(c->host), "%.*s", (int)(len < DOMAIN_MAX ? len : DOMAIN_MAX), host);
		refuse(c, "ip_literal", code, "Forbidden");
		return false;
	}
	if (domain_host_canon(host, len, canon) < 0) {
		char *e = escape_bytes(host, len < 255 ? len : 255);

		snprintf(c->host, sizeof(c->host), "%s", e ? e : "");
		free(e);
		refuse(c, "bad_name", code ? 400 : 0, "Bad Request");
		return false;
	}
	snprintf(c->host, sizeof(c->host), "%s", canon);
	c->rule = proxy_session_match(c->s, canon);
	if (!c->rule) {
		refuse(c, "not_allowed", code, "Forbidden");
		return false;
	}
	return true;
}

/* Whether a failure can be answered in HTTP: not to TLS, not to bytes of
 * a protocol no one named (a transparent client let through by address). */
static bool speaks_http(const struct pconn *c)
{
	return c->method[0] && strcmp(c->method, "TLS");
}

/* Whether the relay reads what it passes: a plain HTTP response's head,
 * for its status.  Every other relay is a tunnel (tunnel.c). */
static bool relay_reads(const struct pconn *c)
{
	return speaks_http(c) && !c->is_connect;
}

static void relay_read(struct bufferevent *bev, void *arg);
static void relay_write(struct bufferevent *bev, void *arg);
static void conn_event(struct bufferevent *bev, short what, void *arg);

/* The status of the upstream's answer, parsed from the bytes as they pass. */
static int on_resp_headers(http_parser *p)
{
	struct pconn *c = p->data;

	c->status = (int)p->status_code;
	c->resp_done = true;
	return 1;
}

static void parse_status(struct pconn *c, struct evbuffer *in)
{
	static const http_parser_settings rs = { .on_headers_complete = on_resp_headers };
	struct evbuffer_iovec v[8];
	int n = evbuffer_peek(in, -1, NULL, v, 8);

	for (int i = 0; i < n && i < 8 && !c->resp_done; i++) {
		size_t done = http_parser_execute(&c->rp, &rs, v[i].iov_base, v[i].iov_len);

		if (HTTP_PARSER_ERRNO(&c->rp) != HPE_OK || done != v[i].iov_len)
			c->resp_done = true;
	}
}

static void relay_read(struct bufferevent *bev, void *arg)
{
	struct pconn *c = arg;
	struct bufferevent *to = bev == c->cl ? c->up : c->cl;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);

	if (!to)
		return;
	if (bev == c->up && !c->resp_done && relay_reads(c))
		parse_status(c, in);
	if (bev == c->cl)
		c->bytes_out += n;
	else
		c->bytes_in += n;
	evbuffer_add_buffer(bufferevent_get_output(to), in);
	/* the other side reads slower: stop reading here until it drained */
	if (evbuffer_get_length(bufferevent_get_output(to)) >= PROXY_RELAY_MAX) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(to, EV_WRITE, PROXY_RELAY_MAX / 2, 0);
	}
}

static void relay_write(struct bufferevent *bev, void *arg)
{
	struct pconn *c = arg;
	struct bufferevent *from = bev == c->cl ? c->up : c->cl;

	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			finish(c);
		return;
	}
	if (from && !(bufferevent_get_enabled(from) & EV_READ)) {
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(from, EV_READ);
	}
}

static void tunnel_done(void *arg)
{
	struct pconn *c = arg;

	c->bytes_out += tunnel_bytes_from_a(c->tun);
	c->bytes_in += tunnel_bytes_from_b(c->tun);
	finish(c);
}

/* The relay as a tunnel: what either side's buffers hold goes first, then
 * the sockets are the tunnel's.  false (the buffers as they were, in
 * order) when it cannot start: the buffered relay does the work. */
/* Appends a copy of a bufferevent's output (its own writes drain it: the
 * start of the buffer is frozen to anyone else). */
static int copy_append(struct evbuffer *dst, struct evbuffer *src)
{
	size_t n = evbuffer_get_length(src);
	struct evbuffer_iovec v;

	if (!n)
		return 0;
	if (evbuffer_reserve_space(dst, (ev_ssize_t)n, &v, 1) != 1 ||
	    evbuffer_copyout(src, v.iov_base, n) != (ev_ssize_t)n)
		return -1;
	v.iov_len = n;
	return evbuffer_commit_space(dst, &v, 1);
}

static bool start_tunnel(struct pconn *c)
{
	struct evbuffer *to_up = evbuffer_new(), *to_cl = evbuffer_new();
	size_t from_cl, from_up, up_queued, cl_queued;
	bool ok = false;

	if (!to_up || !to_cl || copy_append(to_up, bufferevent_get_output(c->up)) < 0 ||
	    copy_append(to_cl, bufferevent_get_output(c->cl)) < 0)
		goto out;
	up_queued = evbuffer_get_length(to_up);
	cl_queued = evbuffer_get_length(to_cl); /* the proxy's own answer */
	from_cl = evbuffer_get_length(c->pending) + evbuffer_get_length(bufferevent_get_input(c->cl));
	from_up = evbuffer_get_length(bufferevent_get_input(c->up));
	evbuffer_add_buffer(to_up, c->pending);
	evbuffer_add_buffer(to_up, bufferevent_get_input(c->cl));
	evbuffer_add_buffer(to_cl, bufferevent_get_input(c->up));
	c->bytes_out += from_cl;
	c->bytes_in += from_up;
	c->tun = tunnel_start(c->px->base, bufferevent_getfd(c->cl), bufferevent_getfd(c->up),
			      evbuffer_pullup(to_up, -1), evbuffer_get_length(to_up), evbuffer_pullup(to_cl, -1),
			      evbuffer_get_length(to_cl), PROXY_IDLE_TIMEOUT_S, tunnel_done, c);
	ok = c->tun != NULL;
	if (ok) {
		/* the sockets are the tunnel's */
		bufferevent_setfd(c->cl, -1);
		bufferevent_setfd(c->up, -1);
		bufferevent_free(c->cl);
		bufferevent_free(c->up);
		c->cl = c->up = NULL;
	} else {
		/* the buffered relay sends what was taken, after what it holds */
		evbuffer_drain(to_up, up_queued);
		evbuffer_drain(to_cl, cl_queued);
		evbuffer_add_buffer(bufferevent_get_output(c->up), to_up);
		evbuffer_add_buffer(bufferevent_get_output(c->cl), to_cl);
	}
out:
	if (to_up)
		evbuffer_free(to_up);
	if (to_cl)
		evbuffer_free(to_cl);
	return ok;
}

/* The upstream is there and the name checked: bytes flow both ways. */
static void start_relay(struct pconn *c)
{
	const struct timeval idle = { PROXY_IDLE_TIMEOUT_S, 0 };

	c->state = ST_RELAY;
	event_del(c->deadline);
	if (!relay_reads(c) && start_tunnel(c))
		return;
	bufferevent_set_timeouts(c->cl, &idle, &idle);
	bufferevent_set_timeouts(c->up, &idle, &idle);
	/* libevent reads and writes 16 KiB a call by default: a bulk transfer
	 * costs a quarter of the syscalls in 64 KiB pieces */
	bufferevent_set_max_single_read(c->cl, PROXY_RELAY_CHUNK);
	bufferevent_set_max_single_read(c->up, PROXY_RELAY_CHUNK);
	bufferevent_set_max_single_write(c->cl, PROXY_RELAY_CHUNK);
	bufferevent_set_max_single_write(c->up, PROXY_RELAY_CHUNK);
	c->bytes_out += evbuffer_get_length(c->pending);
	evbuffer_add_buffer(bufferevent_get_output(c->up), c->pending);
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	bufferevent_enable(c->cl, EV_READ | EV_WRITE);
	relay_read(c->cl, c); /* what came meanwhile */
}

/* One request of an inspected connection: a record of its own. */
static void on_inspected(void *arg, const struct http1_exchange *x)
{
	struct pconn *c = arg;
	json_t *r = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:I}", "type", "proxy_request", "session", c->s->id,
			      "domain", c->host, "port", c->port, "method", x->method, "path", x->path, "req_body",
			      (json_int_t)x->req_body, "resp_body", (json_int_t)x->resp_body);

	if (!r)
		return;
	if (x->status)
		json_object_set_new(r, "status", json_integer(x->status));
	if (x->content_type[0])
		json_object_set_new(r, "content_type", json_string(x->content_type));
	if (x->path_cut)
		json_object_set_new(r, "path_cut", json_true());
	proxy_record(c->px, r);
}

static void on_inspect_end(void *arg, const char *why, uint64_t out, uint64_t in)
{
	struct pconn *c = arg;

	c->bytes_out += out;
	c->bytes_in += in;
	if (why && strstr(why, "another host")) {
		c->reason = "host_mismatch"; /* a request on the connection named another host */
		c->rule = NULL;
	}
	if (why)
		snprintf(c->error, sizeof(c->error), "%s", why);
	finish(c);
}

/* An allowed TLS connection: relayed as it is, or, for an --inspect-tls
 * session, ended here and opened again to the origin (inspect.h). */
static void start_tls(struct pconn *c)
{
	const struct timeval idle = { PROXY_IDLE_TIMEOUT_S, 0 };
	const struct proxy_session *s = c->s;

	if (!s->inspect) {
		start_relay(c);
		return;
	}
	c->icfg = (struct inspect_config){ .host = c->host, .port = c->port, .ca = s->ca, .upstream = c->px->upstream,
					   .on_exchange = on_inspected, .on_end = on_inspect_end, .arg = c };
	for (size_t i = 0; i < s->ninject; i++)
		if (domain_match(s->inject[i].domain, c->host)) {
			c->icfg.inject_name = s->inject[i].name;
			c->icfg.inject_value = s->inject[i].value;
			break;
		}
	c->state = ST_RELAY;
	event_del(c->deadline);
	bufferevent_set_timeouts(c->cl, &idle, &idle);
	bufferevent_set_timeouts(c->up, &idle, &idle);
	if (inspect_start(c->px->base, c->cl, c->up, &c->icfg, c->error, sizeof(c->error)) < 0) {
		refuse(c, "inspect_failed", 0, NULL);
		return;
	}
	c->cl = c->up = NULL;
	c->inspected = true;
}

static void on_hello(struct pconn *c);

static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

/* Bytes for bev's socket, written at once when none wait before them (a
 * CONNECT's 200 then leaves without a turn of the loop, and the client's
 * hello comes that much sooner); what the socket does not take, and any
 * error, is the buffer's to meet. */
static void send_now(struct bufferevent *bev, const char *s, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	ssize_t n = 0;

	if (!evbuffer_get_length(out))
		n = send(bufferevent_getfd(bev), s, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		n = 0;
	if ((size_t)n < len) {
		bufferevent_enable(bev, EV_WRITE);
		evbuffer_add(out, s + n, len - (size_t)n);
	}
}

/* One side ended: what the other still has to write goes, then the end. */
static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct pconn *c = arg;
	struct bufferevent *other = bev == c->cl ? c->up : c->cl;

	if (c->state == ST_CONNECTING && bev == c->up) {
		if (!(what & BEV_EVENT_CONNECTED)) {
			refuse(c, "connect_failed", speaks_http(c) ? 502 : 0, "Bad Gateway");
			return;
		}
		if (c->is_connect) {
			/* the tunnel is open once the upstream is; its first bytes are checked still */
			c->tunnel_open = true;
			if (c->by_addr) {
				/* no name to hold a hello to: the tunnel sends the 200 first */
				evbuffer_add(bufferevent_get_output(c->cl), established, sizeof(established) - 1);
				start_relay(c);
				return;
			}
			c->state = ST_TUNNEL_HELLO;
			send_now(c->cl, established, sizeof(established) - 1);
			bufferevent_disable(c->up, EV_READ);
			bufferevent_enable(c->cl, EV_READ);
			if (evbuffer_get_length(bufferevent_get_input(c->cl)))
				on_hello(c);
			return;
		}
		if (!strcmp(c->method, "TLS"))
			start_tls(c);
		else
			start_relay(c);
		return;
	}
	if (bev == c->cl && c->state != ST_RELAY && !c->closing) {
		/* the client left or stalled before it said where to */
		refuse(c, (what & BEV_EVENT_TIMEOUT) ? "timeout" : "client_closed",
		       (what & BEV_EVENT_TIMEOUT) && c->state == ST_HEAD ? 408 : 0, "Request Timeout");
		return;
	}
	if (other && bev != other) {
		relay_read(bev, c); /* the last bytes */
		if (evbuffer_get_length(bufferevent_get_output(other))) {
			c->closing = true;
			bufferevent_disable(other, EV_READ);
			if (bev == c->cl) {
				bufferevent_free(c->cl);
				c->cl = NULL;
			} else {
				bufferevent_free(c->up);
				c->up = NULL;
			}
			return;
		}
	}
	finish(c);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* The cache slot of host (a hash; a collision replaces the older). */
static struct proxy_dns_entry *dns_slot(struct proxy *px, const char *host)
{
	uint32_t h = 2166136261u;

	for (const char *p = host; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &px->dns_cache[h % PROXY_DNS_CACHE];
}

static void connect_to(struct pconn *c, const struct sockaddr *sa, socklen_t len)
{
	bool http = speaks_http(c); /* a CONNECT's tunnel is not open yet */

	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		refuse(c, "connect_failed", http ? 502 : 0, "Bad Gateway");
		return;
	}
	/* no Nagle towards the origin (as Squid): a client's small record must
	 * not wait for the ACK of the one before (the client side inherits
	 * it from the listener) */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	c->up = bufferevent_socket_new(c->px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->up) {
		close(fd);
		refuse(c, "out_of_memory", http ? 503 : 0, "Service Unavailable");
		return;
	}
	bufferevent_setcb(c->up, relay_read, relay_write, conn_event, c);
	c->state = ST_CONNECTING;
	if (bufferevent_socket_connect(c->up, sa, (int)len) < 0) {
		refuse(c, "connect_failed", http ? 502 : 0, "Bad Gateway");
		return;
	}
	bufferevent_disable(c->cl, EV_READ); /* until the upstream is there */
}

static void resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct pconn *c = arg;
	struct proxy_dns_entry *e;

	/* cancelled by conn_free: libevent calls back from the loop, after c
	 * is freed (a lookup that outlived the head deadline) */
	if (err == EVUTIL_EAI_CANCEL)
		return;
	c->dns = NULL;
	if (err || !ai || ai->ai_addrlen > sizeof(e->sa)) {
		if (ai)
			evutil_freeaddrinfo(ai);
		refuse(c, "resolve_failed", speaks_http(c) ? 502 : 0, "Bad Gateway");
		return;
	}
	e = dns_slot(c->px, c->host);
	snprintf(e->host, sizeof(e->host), "%s", c->host);
	e->len = (socklen_t)ai->ai_addrlen;
	memcpy(&e->sa, ai->ai_addr, ai->ai_addrlen);
	e->expires_ms = now_ms() + PROXY_DNS_TTL_MS;
	evutil_freeaddrinfo(ai);
	connect_to(c, (struct sockaddr *)&e->sa, e->len);
}

/* The proxy's own resolution of the name (the sandbox's answers never count). */
static void resolve(struct pconn *c)
{
	/* no AI_ADDRCONFIG: its interface list needs netlink, which the filter refuses */
	struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	char port[8];

	if (c->by_addr) {
		connect_to(c, (const struct sockaddr *)&c->dst, c->dstlen);
		return;
	}
	c->state = ST_RESOLVING;
	bufferevent_disable(c->cl, EV_READ);
	snprintf(port, sizeof(port), "%u", c->port);
	for (size_t i = 0; i < c->px->nresolve; i++) {
		const struct proxy_resolve *r = &c->px->resolve[i];

		if (!strcmp(r->host, c->host) && r->port == c->port) {
			struct evutil_addrinfo *ai = NULL;
			int rc;

			hints.ai_flags = EVUTIL_AI_NUMERICHOST;
			rc = evutil_getaddrinfo(r->addr, port, &hints, &ai);
			resolved(rc, ai, c);
			return;
		}
	}
	{
		const struct proxy_dns_entry *e = dns_slot(c->px, c->host);

		if (e->expires_ms > now_ms() && !strcmp(e->host, c->host)) {
			struct sockaddr_storage sa = e->sa;

			/* the name's address, the port this connection asked for */
			if (sa.ss_family == AF_INET)
				((struct sockaddr_in *)&sa)->sin_port = htons(c->port);
			else
				((struct sockaddr_in6 *)&sa)->sin6_port = htons(c->port);
			connect_to(c, (const struct sockaddr *)&sa, e->len);
			return;
		}
	}
	c->dns = evdns_getaddrinfo(c->px->dns, c->host, port, &hints, resolved, c);
}

/* The ClientHello (transparent TLS, or the first bytes in a CONNECT tunnel):
 * its SNI names the destination, and must be the CONNECT host if any. */
static void on_hello(struct pconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->cl);
	size_t len = evbuffer_get_length(in);
	struct sni_hello h;
	unsigned char *buf;
	int rc;

	if (len > SNI_HELLO_MAX + 64)
		len = SNI_HELLO_MAX + 64;
	buf = evbuffer_pullup(in, (ssize_t)len);
	if (c->state == ST_TUNNEL_HELLO && len && buf[0] != 0x16) {
		start_relay(c); /* not TLS inside the tunnel: the CONNECT host decided */
		return;
	}
	memset(&h, 0, sizeof(h));
	rc = sni_client_hello(buf, len, &h);
	if (rc == 0)
		return; /* more to come, within the deadline */
	if (rc > 0 || rc == SNI_NO_NAME) {
		c->tls_version = sni_version_name(h.version);
		snprintf(c->alpn, sizeof(c->alpn), "%s", h.alpn);
	}
	if (c->state == ST_TUNNEL_HELLO) {
		if (rc > 0 && strcmp(h.name, c->host)) {
			refuse(c, "sni_mismatch", 0, NULL);
			return;
		}
		if (rc < 0 && rc != SNI_NO_NAME) {
			refuse(c, "malformed_tls", 0, NULL);
			return;
		}
		start_tls(c);
		return;
	}
	if (rc < 0) {
		refuse(c, rc == SNI_NO_NAME || rc == SNI_BAD_NAME ? "no_name" : "malformed_tls", 0, NULL);
		return;
	}
	if (check_name(c, h.name, strlen(h.name), 0))
		resolve(c);
}

/* ---- the request head ---- */

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct pconn *c = p->data;

	if (c->urllen + len >= sizeof(c->url)) {
		c->head_overflow = true;
		return 1;
	}
	memcpy(c->url + c->urllen, at, len);
	c->urllen += len;
	return 0;
}

static bool is_hop(const char *name)
{
	for (size_t i = 0; hop_headers[i]; i++)
		if (!strcasecmp(name, hop_headers[i]))
			return true;
	return false;
}

/* One complete header: kept for the upstream unless hop-by-hop. */
static void header_done(struct pconn *c)
{
	c->field[c->flen] = 0;
	c->value[c->vlen] = 0;
	if (!strcasecmp(c->field, "host")) {
		/* two Host headers: which one would the server take? */
		if (c->has_host_hdr)
			c->two_hosts = true;
		if (c->vlen >= sizeof(c->host_hdr))
			c->head_overflow = true;
		c->has_host_hdr = true;
		snprintf(c->host_hdr, sizeof(c->host_hdr), "%.*s", (int)sizeof(c->host_hdr) - 1, c->value);
	}
	if (!is_hop(c->field))
		evbuffer_add_printf(c->pending, "%s: %s\r\n", c->field, c->value);
	c->flen = c->vlen = 0;
	c->in_value = false;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct pconn *c = p->data;

	if (c->in_value)
		header_done(c);
	if (c->flen + len >= sizeof(c->field)) {
		c->head_overflow = true;
		return 1;
	}
	memcpy(c->field + c->flen, at, len);
	c->flen += len;
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct pconn *c = p->data;

	c->in_value = true;
	if (c->vlen + len >= sizeof(c->value)) {
		c->head_overflow = true;
		return 1;
	}
	memcpy(c->value + c->vlen, at, len);
	c->vlen += len;
	return 0;
}

static int on_headers(http_parser *p)
{
	struct pconn *c = p->data;

	if (c->in_value)
		header_done(c);
	c->head_done = true;
	return 0;
}

/* host[:port] of a Host header or CONNECT target into host/len and *port. */
static int split_host_port(const char *s, size_t slen, const char **host, size_t *hlen, uint16_t *port)
{
	const char *colon = NULL;

	if (slen && s[0] == '[') {
		const char *close = memchr(s, ']', slen);

		if (!close)
			return -1;
		colon = close + 1 < s + slen && close[1] == ':' ? close + 1 : NULL;
		*host = s;
		*hlen = (size_t)(close + 1 - s);
	} else {
		colon = memrchr(s, ':', slen);
		*host = s;
		*hlen = colon ? (size_t)(colon - s) : slen;
	}
	if (colon) {
		unsigned long v = 0;

		if (colon + 1 == s + slen)
			return -1;
		for (const char *d = colon + 1; d < s + slen; d++) {
			if (*d < '0' || *d > '9' || (v = v * 10 + (unsigned long)(*d - '0')) > 65535)
				return -1;
		}
		if (v == 0)
			return -1;
		*port = (uint16_t)v;
	}
	return 0;
}

static void on_head(struct pconn *c, size_t headlen)
{
	static const http_parser_settings hs = { .on_url = on_url, .on_header_field = on_field,
						 .on_header_value = on_value, .on_headers_complete = on_headers };
	struct evbuffer *in = bufferevent_get_input(c->cl);
	unsigned char *head = evbuffer_pullup(in, (ssize_t)headlen);
	struct http_parser_url u;
	const char *host;
	size_t hlen, done;
	http_parser p;

	c->pending = evbuffer_new();
	if (!c->pending) {
		refuse(c, "out_of_memory", 503, "Service Unavailable");
		return;
	}
	http_parser_init(&p, HTTP_REQUEST);
	p.data = c;
	done = http_parser_execute(&p, &hs, (const char *)head, headlen);
	if (c->head_overflow) {
		refuse(c, "headers_too_large", 431, "Request Header Fields Too Large");
		return;
	}
	if (HTTP_PARSER_ERRNO(&p) != HPE_OK || !c->head_done || (done != headlen && !p.upgrade) || c->two_hosts) {
		refuse(c, "malformed", 400, "Bad Request");
		return;
	}
	snprintf(c->method, sizeof(c->method), "%s", http_method_str(p.method));
	evbuffer_drain(in, headlen);
	c->is_connect = p.method == HTTP_CONNECT;
	http_parser_url_init(&u);
	if (http_parser_parse_url(c->url, c->urllen, c->is_connect, &u)) {
		refuse(c, "malformed", 400, "Bad Request");
		return;
	}
	if (c->is_connect) {
		c->port = u.port;
		if (!check_name(c, c->url + u.field_data[UF_HOST].off, u.field_data[UF_HOST].len, 403))
			return;
		evbuffer_drain(c->pending, evbuffer_get_length(c->pending)); /* no head goes upstream */
		resolve(c);
		return;
	}
	/* plain HTTP: the record keeps the path without its query */
	if (u.field_set & (1 << UF_PATH)) {
		char *e = escape_bytes(c->url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);

		snprintf(c->request, sizeof(c->request), "%s %.256s", c->method, e ? e : "");
		free(e);
	} else {
		snprintf(c->request, sizeof(c->request), "%s /", c->method);
	}
	if (u.field_set & (1 << UF_HOST)) {
		/* absolute form: a proxy-aware client; a Host header must say the same */
		if (!(u.field_set & (1 << UF_SCHEMA)) || u.field_data[UF_SCHEMA].len != 4 ||
		    strncasecmp(c->url + u.field_data[UF_SCHEMA].off, "http", 4)) {
			refuse(c, "scheme", 400, "Bad Request");
			return;
		}
		host = c->url + u.field_data[UF_HOST].off;
		hlen = u.field_data[UF_HOST].len;
		c->port = (u.field_set & (1 << UF_PORT)) ? u.port : 80;
		if (c->has_host_hdr) {
			const char *hh;
			size_t hhlen;
			uint16_t hport = 80;

			if (split_host_port(c->host_hdr, strlen(c->host_hdr), &hh, &hhlen, &hport) < 0 || hhlen != hlen ||
			    strncasecmp(hh, host, hlen) || hport != c->port) {
				snprintf(c->host, sizeof(c->host), "%.*s", (int)(hlen < DOMAIN_MAX ? hlen : DOMAIN_MAX), host);
				refuse(c, "host_mismatch", 403, "Forbidden");
				return;
			}
		}
	} else {
		/* origin form: only a transparent client sends it, its Host names the destination */
		uint16_t hport = 0;

		if (!c->transparent || !c->has_host_hdr) {
			refuse(c, "not_a_proxy_request", 400, "Bad Request");
			return;
		}
		if (split_host_port(c->host_hdr, strlen(c->host_hdr), &host, &hlen, &hport) < 0) {
			refuse(c, "malformed", 400, "Bad Request");
			return;
		}
		c->port = c->orig_port;
		if (hport && hport != c->orig_port) {
			snprintf(c->host, sizeof(c->host), "%.*s", (int)(hlen < DOMAIN_MAX ? hlen : DOMAIN_MAX), host);
			refuse(c, "host_mismatch", 403, "Forbidden");
			return;
		}
	}
	if (!check_name(c, host, hlen, 403))
		return;
	/* the head for the upstream: origin form, its own headers, one request */
	{
		struct evbuffer *h = evbuffer_new();
		const char *path = "/";
		size_t plen = 1;

		if (!h) {
			refuse(c, "out_of_memory", 503, "Service Unavailable");
			return;
		}
		if (u.field_set & (1 << UF_PATH)) {
			path = c->url + u.field_data[UF_PATH].off;
			plen = c->url + c->urllen - path; /* with its query */
		}
		evbuffer_add_printf(h, "%s %.*s HTTP/1.1\r\n", c->method, (int)plen, path);
		if (!c->has_host_hdr)
			evbuffer_add_printf(h, "Host: %.*s\r\n", (int)hlen, host);
		evbuffer_add_buffer(h, c->pending);
		evbuffer_add_printf(h, "Connection: close\r\n\r\n");
		evbuffer_free(c->pending);
		c->pending = h;
	}
	http_parser_init(&c->rp, HTTP_RESPONSE);
	c->rp.data = c;
	resolve(c);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct pconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	struct evbuffer_ptr end;
	unsigned char first;

	if (c->state == ST_TUNNEL_HELLO) {
		on_hello(c);
		return;
	}
	if (c->state != ST_HEAD || len == 0)
		return;
	evbuffer_copyout(in, &first, 1);
	if (first == 0x16) {
		if (!c->transparent) {
			refuse(c, "tls_to_proxy", 0, NULL); /* a TLS hello sent to the proxy itself names nothing to check against */
			return;
		}
		if (!c->pending && !(c->pending = evbuffer_new())) {
			refuse(c, "out_of_memory", 0, NULL);
			return;
		}
		strcpy(c->method, "TLS");
		c->port = c->orig_port;
		on_hello(c);
		if (c->state == ST_HEAD && !c->closing && len > SNI_HELLO_MAX + 64)
			refuse(c, "malformed_tls", 0, NULL);
		return;
	}
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0) {
		if (len > PROXY_HEAD_MAX)
			refuse(c, "headers_too_large", 431, "Request Header Fields Too Large");
		return;
	}
	if ((size_t)end.pos + 4 > PROXY_HEAD_MAX) {
		refuse(c, "headers_too_large", 431, "Request Header Fields Too Large");
		return;
	}
	on_head(c, (size_t)end.pos + 4);
}

/* After a refusal's answer is written; in the relay the relay's own. */
static void conn_write(struct bufferevent *bev, void *arg)
{
	struct pconn *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		finish(c);
}

static void head_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;

	if (c->closing)
		finish(c);
	else
		refuse(c, "timeout", c->state == ST_HEAD ? 408 : 0, "Request Timeout");
}

/* In the relay, the hello state moves the bytes once the upstream is there. */
static void conn_read_any(struct bufferevent *bev, void *arg)
{
	struct pconn *c = arg;

	if (c->state == ST_RELAY)
		relay_read(bev, c);
	else if (c->state == ST_HEAD || c->state == ST_TUNNEL_HELLO)
		conn_read(bev, c);
}

static void conn_write_any(struct bufferevent *bev, void *arg)
{
	struct pconn *c = arg;

	if (c->state == ST_RELAY)
		relay_write(bev, c);
	else
		conn_write(bev, c);
}

/* The destination a transparent client asked for (the connect hook kept it). */
static void lookup_orig(struct pconn *c, const struct sockaddr *sa)
{
	struct st_proxy_key k = { .session = c->s->cgid };
	struct st_proxy_dst d;

	if (c->px->map_fd < 0 || !c->s->cgid)
		return;
	if (sa->sa_family == AF_INET) {
		k.family = AF_INET;
		k.sport = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		k.family = IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ? AF_INET : AF_INET6;
		k.sport = ntohs(s6->sin6_port);
	} else {
		return;
	}
	if (bpf_map_lookup_elem(c->px->map_fd, &k, &d) == 0) {
		bpf_map_delete_elem(c->px->map_fd, &k);
		c->transparent = true;
		c->orig_port = d.port;
		c->orig_family = d.family;
		memcpy(c->orig_addr, d.addr, sizeof(c->orig_addr));
	}
}

void proxy_conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct proxy_session *s = arg;
	struct pconn *c;

	if (s->px->nconns >= PROXY_CONNS_MAX || !(c = calloc(1, sizeof(*c)))) {
		evutil_closesocket(fd);
		return;
	}
	s->px->nconns++;
	s->refs++;
	c->px = s->px;
	c->s = s;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	lookup_orig(c, sa);
	c->cl = bufferevent_socket_new(s->px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(s->px->base, head_deadline, c);
	if (!c->cl || !c->deadline) {
		if (!c->cl)
			evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	bufferevent_setcb(c->cl, conn_read_any, conn_write_any, conn_event, c);
	/* the whole head within the deadline, however slowly it trickles */
	evtimer_add(c->deadline, &head_timeout);
	bufferevent_setwatermark(c->cl, EV_READ, 0, PROXY_HEAD_MAX + SNI_HELLO_MAX);
	/* writing is enabled with the first bytes to write (an armed write
	 * event on an empty buffer costs a wake-up and two epoll_ctl) */
	bufferevent_enable(c->cl, EV_READ);
	/* a transparent client's destination an address rule covers: decided
	 * now, before any byte (a server may speak first), and relayed */
	if (c->transparent && (c->orig_family == AF_INET || c->orig_family == AF_INET6) &&
	    by_addr(c, c->orig_family, c->orig_addr, c->orig_port)) {
		c->pending = evbuffer_new();
		if (!c->pending) {
			refuse(c, "out_of_memory", 0, NULL);
			return;
		}
		resolve(c);
	}
}
