/* One HTTP/1.1 connection the proxy sees in clear (plain HTTP, or TLS it
 * terminates for --inspect-tls), on libhttp-parser, bytes in and out: every
 * request head is checked (its Host names the connection's host) and
 * rebuilt for the origin (an injected header added, the client's copy of it
 * dropped), bodies re-framed from what the parser read; the origin's bytes
 * are watched (the caller forwards them as they are).  Each request with
 * its answer becomes one exchange for the record: no header value but Host
 * and Content-Type is kept, so Authorization and cookies never are. */
#ifndef SANDTRAIL_PROXY_HTTP1_H
#define SANDTRAIL_PROXY_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain.h"

#define HTTP1_HEAD_MAX 65536  /* a request head above this is refused */
#define HTTP1_PATH_MAX 512    /* recorded path, escaped; longer is cut */
#define HTTP1_PENDING_MAX 32  /* requests sent, not yet answered */

struct http1_exchange {
	char method[24];
	char path[HTTP1_PATH_MAX]; /* without the query; bytes outside 0x21-0x7e as %XX */
	bool path_cut;
	int status;                /* 0: the connection ended before an answer */
	char content_type[128];    /* of the answer; "" when it had none */
	uint64_t req_body, resp_body; /* body bytes each way, as the parser read them */
};

struct http1_config {
	const char *host;          /* canonical name every request must be for */
	uint16_t port;             /* a Host with a port must say this one */
	const char *inject_name;   /* header added to every request, or NULL */
	const char *inject_value;
	/* the bytes to send to the origin, in order: 0 or -errno */
	int (*emit)(void *arg, const void *p, size_t n);
	/* an answered request (or one left unanswered at the end) */
	void (*on_exchange)(void *arg, const struct http1_exchange *x);
	void *arg;
};

/* NULL on ENOMEM; cfg's strings must outlive the connection. */
struct http1 *http1_new(const struct http1_config *cfg);
/* The client's bytes: 0, or -EBADMSG (not HTTP/1.x), -E2BIG (head too
 * large), -EPERM (a request for another host), -ENOBUFS (too many
 * unanswered), -errno of emit; then http1_why says why, and the connection
 * is over. */
int http1_request(struct http1 *h, const char *buf, size_t len);
/* The origin's bytes, and its end: 0 or -EBADMSG.  At the end, requests
 * still unanswered become exchanges with status 0. */
int http1_response(struct http1 *h, const char *buf, size_t len);
int http1_response_end(struct http1 *h);
/* After an upgrade (101) both directions are opaque: the caller relays. */
bool http1_upgraded(const struct http1 *h);
const char *http1_why(const struct http1 *h);
void http1_free(struct http1 *h);

#endif
