/* sandtraild's side of sandtrail-proxy (userspace/proxy/): starts the one
 * proxy of the host, talks to it over a SOCK_SEQPACKET pair (sessions and
 * their listeners out, JSON records in), sees it exit through its pidfd and
 * starts it again after a backoff.  The collector owns the sessions: it
 * re-adds them after a restart and records the gap. */
#ifndef SANDTRAIL_PROXYSUP_H
#define SANDTRAIL_PROXYSUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

struct proxysup {
	char path[4096]; /* "": no proxy on this host */
	char user[64];
	char dns[128];
	char upstream_ca[4096]; /* "": the proxy's default trust store */
	int map_fd;
	pid_t pid;       /* 0: not running */
	int pidfd, ctl;  /* -1 when not running */
	uint64_t down_since_ns; /* wall clock of its first exit since it was last ready; 0: none */
	uint64_t started_ms, restart_at_ms;
	unsigned backoff_ms;
	int last_status; /* wait status of that exit */
};

/* path "" finds sandtrail-proxy beside the running binary; "none" disables.
 * Nothing runs yet. */
void proxysup_init(struct proxysup *ps, const char *path, const char *user, const char *dns, const char *upstream_ca,
		   int map_fd);
bool proxysup_enabled(const struct proxysup *ps);
/* Starts it and hands it the map; -errno. */
int proxysup_start(struct proxysup *ps, uint64_t now_ms);
/* Its pidfd was readable: reaps it, schedules the restart; the wall clock
 * of the exit is in down_since_ns. */
void proxysup_exited(struct proxysup *ps, uint64_t now_ms, uint64_t now_ns);
#define PROXYSUP_DNS_PORT 53 /* the session's resolver: its resolv.conf says 127.0.0.1 */
#define PROXYSUP_FDS_MAX 2
/* Sends msg with nfds (up to PROXYSUP_FDS_MAX) descriptors, duplicated by
 * the kernel, in one SCM_RIGHTS; -errno. */
int proxysup_send(struct proxysup *ps, json_t *msg, const int *fds, size_t nfds);
/* Stops it (SIGTERM, then reaped). */
void proxysup_stop(struct proxysup *ps);
/* A socket of type (SOCK_STREAM: the proxy's listener, SOCK_DGRAM: its DNS
 * answers) bound to [::]:port (dual stack) in the network namespace of the
 * process behind pidfd; -errno. */
int proxysup_socket(int pidfd, int type, uint16_t port);

#endif
