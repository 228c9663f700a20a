/* sandtraild's end of the microVMs' event ports: how a microvm session's
 * own syscalls, captured by the guest agent's programs inside the guest
 * kernel, reach the trail.  One listening socket per collector, root only.
 * The VMM of each session connects once, from the session's cgroup: the
 * peer's cgroup binds the connection to that session.  The byte stream is
 * frames (userspace/vmframe.h) of bpf/events.h samples, decoded as the
 * host's own events are (event.h), made records with view "sandbox" and
 * the guest's pids; the guest is untrusted: a frame is bounded before it is
 * read, a connection is read a bounded amount per wakeup, and what does not
 * decode, what the stream skipped (sequence gaps) and what the guest says
 * it dropped become loss records. */
#ifndef SANDTRAIL_MICROVM_SINK_H
#define SANDTRAIL_MICROVM_SINK_H

#include <stddef.h>

#include "enrich.h"
#include "session.h"

struct microvm_sink;

struct microvm_sink_config {
	const char *path;               /* the listening socket; NULL: none (tests) */
	const char *cgroup2_root;       /* cgroup2 mount, for the peer's cgroup */
	struct session_table *sessions;
	struct rec *rec;
	void (*write)(void *ctx);       /* appends the record built in rec */
	void *ctx;
};

/* Listens; -errno. */
int microvm_sink_open(struct microvm_sink **m, const struct microvm_sink_config *cfg);
/* Readable when microvm_sink_process has work (an epoll fd of its own). */
int microvm_sink_fd(const struct microvm_sink *m);
/* Accepts VMMs, reads what their guests sent (a bounded amount each). */
void microvm_sink_process(struct microvm_sink *m);
/* s ends: everything its guest sent is recorded, its losses too, and the
 * connection is closed. */
void microvm_sink_end(struct microvm_sink *m, struct session *s);
/* Loss records for every session whose counts grew since the last call. */
void microvm_sink_report_losses(struct microvm_sink *m);
void microvm_sink_close(struct microvm_sink *m);
/* As if s's guest had sent the bytes p of len (tests, fuzzing). */
void microvm_sink_feed(struct microvm_sink *m, struct session *s, const void *p, size_t len);

#endif
