/* A tunnel: bytes moved both ways between two sockets through a pipe each,
 * with splice(2), so that they never pass through the proxy's memory.  For
 * the connections whose bytes the proxy has no more to read (a CONNECT
 * tunnel, TLS by its SNI, an address rule): libevent's buffers copied every
 * byte in and out, and a 1 GiB download went at half Squid's rate. */
#ifndef SANDTRAIL_PROXY_TUNNEL_H
#define SANDTRAIL_PROXY_TUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

struct tunnel;

/* Called once, when either side ended (EOF, an error, idle_s seconds with
 * nothing read from a side, or nothing written to one that has bytes
 * waiting); the tunnel is then the caller's to free. */
typedef void (*tunnel_done_fn)(void *arg);

/* Takes the sockets a and b (closed by tunnel_free), and first sends
 * to_b/to_a (what was read before: at most a pipe's worth each).  NULL
 * with errno when it cannot start; the sockets are then the caller's. */
struct tunnel *tunnel_start(struct event_base *base, int a, int b, const void *to_b, size_t to_b_len,
			    const void *to_a, size_t to_a_len, int idle_s, tunnel_done_fn done, void *arg);
/* Bytes read from a (sent towards b) and from b. */
uint64_t tunnel_bytes_from_a(const struct tunnel *t);
uint64_t tunnel_bytes_from_b(const struct tunnel *t);
/* The error that ended it (errno), 0 for an EOF or the idle limit. */
int tunnel_error(const struct tunnel *t);
void tunnel_free(struct tunnel *t);

#endif
