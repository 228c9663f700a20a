/* Control socket: one JSON object per SOCK_SEQPACKET message, request then
 * reply.  Requests carry "cmd"; replies carry "ok" and, on failure, "error"
 * (one line, meant for the user).  Only root may connect (SO_PEERCRED).
 *
 * watch   {cgroup: absolute cgroup v2 path, mode: watch|hardened|gvisor|microvm,
 *          labels: {k: v}, keep: bool, policy_digest?, argv?: [escaped bytes],
 *          redact?: [{name, value}], network?: {...}}  -> {id}
 *          Replies only once the kernel traces the cgroup.  keep=false: the
 *          session ends (reason manager_lost) if this connection closes first,
 *          and a session below the session parent then has its cgroup (and
 *          cgroups_v1?: [paths], its v1 limits) killed and removed.
 *          setup_pid?: the requester's own pid (a run manager): records of
 *          its child, the sandbox's init, are marked setup.  The root
 *          of the hierarchy and sandtraild's own cgroup are refused.
 *          Connections: at most 32 per process and 1024 in all; the excess
 *          gets one error reply and is closed.
 * unwatch {id, reason?, exit_status?, signal?, memory_peak?, pids_peak?, cpu_usec?}  -> {seq}
 *          Drains the kernel's events of the session, writes session_end (seq)
 *          and replies once it is sealed and written (a reader sees it); on
 *          disk follows on the syncer's thread (--fsync always: before the reply).
 * netpolicy {id, network}  replaces the session's egress policy (re-resolved names).
 * stop    {id}  kills every process of the session (cgroup.kill).
 * ps      {}    -> {sessions: [{id, mode, cgroup, labels, start}]}
 * reattach {id} a run manager claims its session back from the collector that
 *          took it over after a restart; only the manager that started it
 *          (setup_pid) may.  The connection owns the session from then on.
 * A collector that hands over (SIGUSR2, or SIGTERM for a systemd restart)
 * sends {event: "handover"} to each run manager before it goes, which may
 * come in place of the reply to a request it did not read: the manager then
 * reconnects, reattaches within CONTROL_HANDOVER_MS (and sends an unwatch
 * that went unread again); a connection closed without it is a lost collector.  A session not
 * claimed back in that time ends (manager_lost).
 */
#ifndef SANDTRAIL_CONTROL_H
#define SANDTRAIL_CONTROL_H

#include <stddef.h>
#include <jansson.h>

#include <sys/types.h>

#define CONTROL_DEFAULT_SOCKET "/run/sandtrail/control.sock"
#define CONTROL_MSG_MAX (256 * 1024)
/* How long a client waits on sandtraild (to connect, to send, for each
 * reply) unless $SANDTRAIL_CONTROL_TIMEOUT says otherwise ("30s", "500ms"). */
#define CONTROL_DEADLINE_MS 10000
/* How long a run manager waits for the next collector after a hand-over,
 * and the next collector for the managers of the run sessions it took over. */
#define CONTROL_HANDOVER_MS 30000

/* The socket path: the flag's value, else $SANDTRAIL_SOCKET, else the default. */
const char *control_socket_path(const char *flag);
/* Daemon side: a listening socket at path, root's only (its directory made
 * 0700), or with group != (gid_t)-1 also that group's (socket 0660 root:group,
 * a directory it makes 0755). */
int control_listen(const char *path, gid_t group);
/* As control_listen, for a socket of type (SOCK_STREAM: a VMM's byte stream). */
int control_listen_as(const char *path, gid_t group, int type);
/* Client: a connection whose connect, sends and receives each give up after
 * control_deadline_ms() (then -EAGAIN). */
int control_connect(const char *path);
int control_deadline_ms(void);
int control_send(int fd, json_t *msg);
/* 0 and *msg set; -ECONNRESET when the peer closed; -errno otherwise. */
int control_recv(int fd, json_t **msg);
/* Client: sends req on fd and waits for the reply.  Returns the reply when
 * "ok" is true; otherwise NULL with the daemon's error (or a transport error)
 * in err. */
json_t *control_call_fd(int fd, json_t *req, char *err, size_t errlen);
/* As control_call_fd on a fresh connection to path. */
json_t *control_call(const char *path, json_t *req, char *err, size_t errlen);

#endif
