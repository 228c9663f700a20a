/* The kernel programs: load, attach, mark cgroups as sessions, consume events.
 * Owns the BPF skeleton; nothing else in userspace touches BPF objects. */
#ifndef SANDTRAIL_PROBES_H
#define SANDTRAIL_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "netpolicy.h"

struct probes_config {
	uint32_t ringbuf_bytes; /* power of two, >= page size; 0: default */
	uint32_t pending_max;   /* entries of each syscall's enter/exit map; 0: default */
	/* told what this kernel cannot do (optional; NULL: stderr) */
	void (*notice)(const char *msg);
	/* a directory on a bpffs (NULL: nothing pinned): the maps and links are
	 * pinned there, so the kernel side keeps recording while no collector
	 * runs, and the next collector given it takes over */
	const char *pin_dir;
};

struct probes;

/* Called for each ring-buffer sample; data is one event (bpf/events.h). */
typedef void (*probes_event_fn)(void *ctx, const void *data, size_t len);

/* Loads and attaches every program (mounting tracefs privately if needed). */
int probes_open(struct probes **out, const struct probes_config *cfg, probes_event_fn fn, void *ctx);
/* true until probes_takeover when probes_open found the kernel side of an
 * earlier collector still recording in pin_dir (it shares its maps). */
bool probes_inherited(const struct probes *p);
/* Takes over a cgroup that the earlier collector's kernel side traces (as
 * probes_watch, but its slot, levels and policy stay as they are); -ENOENT
 * when it does not trace it. */
int probes_adopt(struct probes *p, int cgroup_fd, uint64_t cgroup_id, int parent_fd, uint64_t parent_id);
/* This collector's programs record from now on and the earlier ones are
 * let go; what they traced and was not adopted is traced no more. */
int probes_takeover(struct probes *p);
/* What the collector must know of a session to take it over later, kept
 * beside the pinned maps (a string of at most PROBES_STATE_MAX bytes with
 * its NUL); -EOPNOTSUPP when nothing is pinned.  probes_unwatch drops it. */
#define PROBES_STATE_MAX 16384
int probes_state_set(struct probes *p, uint64_t cgroup_id, const char *state);
/* The state of the cgroup (malloc'd) or NULL. */
char *probes_state_get(struct probes *p, uint64_t cgroup_id);
/* An fd that turns readable when events wait (for epoll): at once when
 * many do, within 10 ms otherwise. */
int probes_fd(struct probes *p);
/* The map of proxy sessions' connect destinations (events.h), for sandtrail-proxy. */
int probes_proxy_map_fd(struct probes *p);
/* Consumes waiting events without blocking; returns how many, or -errno. */
int probes_consume(struct probes *p);
/* Traces the cgroup (an open cgroup v2 directory) and its descendants; once
 * this returns, every later event of its tasks is captured and its egress
 * policed.  A session parent (parent_fd, parent_id; -1, 0: none) that is an
 * ancestor gets the egress hooks once, for this and every later session
 * below it; other cgroups get hooks of their own.  -EEXIST when already
 * watched, -EINVAL when cgroup_id is not the fd's, -E2BIG when the cgroup
 * sits deeper than ST_LEVELS, -EBUSY when a watched session lies below it. */
int probes_watch(struct probes *p, int cgroup_fd, uint64_t cgroup_id, int parent_fd, uint64_t parent_id);
/* Stops tracing the cgroup; lost (may be NULL) gets the session's final
 * loss counts. */
int probes_unwatch(struct probes *p, uint64_t cgroup_id, uint64_t lost[ST_EV_MAX][ST_LOSS_MAX]);
/* The allowed datagrams of an unwatched session, one call per destination
 * (key->family 0: those to destinations its table had no room for), then
 * forgotten by the kernel; -EBUSY while the session is watched. */
typedef void (*probes_dgram_fn)(void *ctx, const struct st_dgram_key *key, uint64_t count);
int probes_datagrams(struct probes *p, uint64_t cgroup_id, probes_dgram_fn fn, void *ctx);
/* Enforces pol on the watched cgroup's egress (connect, sendmsg, abstract
 * unix sockets) from now on; NULL or !enforce allows everything.  The new
 * rule set replaces the old one in one step. */
int probes_set_netpolicy(struct probes *p, uint64_t cgroup_id, const struct netpolicy *pol);
/* A watched session's loss counts so far, per type and reason; cgroup_id 0:
 * losses of sessions already unwatched when they happened. */
int probes_losses(struct probes *p, uint64_t cgroup_id, uint64_t lost[ST_EV_MAX][ST_LOSS_MAX]);
/* keep: the pins stay, and the kernel side keeps recording for the next
 * collector; else everything is detached and unpinned. */
void probes_close(struct probes *p, bool keep);
/* The kernel ring buffer: bytes written and not yet consumed, of size. */
int probes_ring_fill(struct probes *p, uint64_t *used, uint64_t *size);

#endif
