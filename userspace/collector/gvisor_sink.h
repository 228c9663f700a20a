/* sandtraild's end of gVisor's remote sink: how a gvisor session's own
 * syscalls reach the trail.  One listening socket per collector, root only.
 * The Sentry of each session connects once, through runsc started in the
 * session's cgroup: the peer's cgroup binds the connection to that session,
 * and every message must name the session's container.  Messages become the
 * records the kernel's events become (enrich.h), with view "sandbox"; what
 * the Sentry dropped, and what it sent that does not decode, become loss
 * records.  The Sentry is untrusted (schemas/gvisor.proto, gvisor_wire.h). */
#ifndef SANDTRAIL_GVISOR_SINK_H
#define SANDTRAIL_GVISOR_SINK_H

#include "enrich.h"
#include "session.h"

struct gvisor_sink;

struct gvisor_sink_config {
	const char *path;               /* the listening socket; NULL: none (tests) */
	const char *cgroup2_root;       /* cgroup2 mount, for the peer's cgroup */
	struct session_table *sessions;
	struct enrich *enrich;
	struct rec *rec;
	void (*write)(void *ctx);       /* appends the record built in rec */
	void *ctx;
};

/* Listens; -errno. */
int gvisor_sink_open(struct gvisor_sink **g, const struct gvisor_sink_config *cfg);
/* Readable when gvisor_sink_process has work (an epoll fd of its own). */
int gvisor_sink_fd(const struct gvisor_sink *g);
/* Accepts Sentries, reads what they sent (a bounded batch per connection,
 * so that one flooding Sentry does not starve the others). */
void gvisor_sink_process(struct gvisor_sink *g);
/* s ends: everything its Sentry sent is recorded, its losses too, and its
 * connection is closed. */
void gvisor_sink_end(struct gvisor_sink *g, struct session *s);
/* Loss records for every session whose counts grew since the last call. */
void gvisor_sink_report_losses(struct gvisor_sink *g);
void gvisor_sink_close(struct gvisor_sink *g);
/* As if s's Sentry had sent the datagram p of len bytes (tests, fuzzing). */
void gvisor_sink_feed(struct gvisor_sink *g, struct session *s, const void *p, size_t len);

#endif
