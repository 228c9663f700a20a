/* --inspect-tls on one allowed connection: the proxy ends the client's TLS
 * with a leaf of the session CA (ca.h) for the name the connection was
 * allowed for, opens its own TLS to the origin (verified for that name),
 * and passes HTTP/1.1 between them through http1.h: every request checked
 * and recorded, an injected header added at the proxy. */
#ifndef SANDTRAIL_PROXY_INSPECT_H
#define SANDTRAIL_PROXY_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "ca.h"
#include "http1.h"

#define INSPECT_QUEUE_MAX (1 << 20) /* bytes queued towards one side before its source pauses */

struct inspect_config {
	const char *host;           /* canonical, allowed */
	uint16_t port;
	struct ca *ca;
	SSL_CTX *upstream;          /* verifies origins (SSL_VERIFY_PEER, trust store) */
	const char *inject_name;    /* or NULL */
	const char *inject_value;
	void (*on_exchange)(void *arg, const struct http1_exchange *x);
	/* once, at the end: why is NULL for a clean end, else one line */
	void (*on_end)(void *arg, const char *why, uint64_t bytes_out, uint64_t bytes_in);
	void *arg;
};

/* Takes over client (its input may hold the ClientHello already) and
 * origin (TCP connected to the allowed address): 0, or -errno with a reason
 * and both left to the caller.  cfg must outlive the connection, which
 * frees itself after on_end. */
int inspect_start(struct event_base *base, struct bufferevent *client, struct bufferevent *origin,
		  const struct inspect_config *cfg, char *err, size_t errlen);

#endif
