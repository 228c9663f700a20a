/* The collector's live sessions: what each watched cgroup is called, its
 * labels and secrets, and who owns it. */
#ifndef SANDTRAIL_SESSION_H
#define SANDTRAIL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "events.h"
#include "netpolicy.h"

#define SESSION_ID_LEN 16
#define SESSION_V1_MAX 8

struct secret {
	char *name;
	char *value;
	size_t len;
};

struct session {
	char id[SESSION_ID_LEN + 1];
	char *mode;
	bool gvisor;             /* the kernel sees runsc; the sandbox speaks through gvisor.c */
	bool microvm;            /* the kernel sees the VMM; the guest speaks through microvm_sink.c */
	char *cgroup_path;
	int cgroup_fd;
	uint64_t cgroup_id;
	uint64_t start_ns;       /* wall clock */
	json_t *labels;
	char *labels_mp;         /* labels as one msgpack map, copied into every record */
	size_t labels_mp_len;
	struct secret *secrets;
	size_t nsecrets;
	uint64_t gen;            /* new for each session and each secret added: caches of what they shape compare it */
	int owner_fd;            /* keep=false: the session ends when this connection closes */
	uint64_t claim_by_ms;    /* taken over: its manager must reattach by then (mono ms); 0: not awaited */
	char *v1[SESSION_V1_MAX]; /* run sessions: their v1 cgroups, removed if the manager is lost */
	uint32_t setup_ppid;      /* run sessions: the manager; its child (the sandbox's init) is setup */
	size_t nv1;
	uint64_t lost_seen[ST_EV_MAX][ST_LOSS_MAX]; /* kernel losses already in loss records */
	char gvisor_container[65]; /* gvisor: the container id its Sentry must report */
	struct netpolicy *netpolicy; /* gvisor: the egress policy, for the Sentry's own connects */
	json_t *proxy_domains;   /* --network proxy: the patterns; NULL otherwise */
	json_t *proxy_allow;     /* --network proxy: the address rules ("ADDR[/PREFIX][:PORT]") */
	json_t *proxy_tls;       /* --inspect-tls: {"ca": PEM key and certificate, "inject": [...]}; NULL otherwise */
	int proxy_fd;            /* its listener in the session's netns (proxysup.h); -1: none yet */
	int proxy_dns_fd;        /* its DNS socket there, answered by the proxy; -1: none yet */
	bool stop_requested;
	bool ended;              /* kept a while to attribute late events */
	uint64_t ended_mono_ms;
};

struct session_table {
	struct session **v;
	size_t n, cap;
	struct session *last; /* most events come in runs from one session */
};

/* A new session (random id) with the given labels (reference taken). */
struct session *session_new(const char *mode, const char *cgroup_path, json_t *labels);
int session_add_secret(struct session *s, const char *name, const char *value);
int session_add_v1(struct session *s, const char *path);
void session_free(struct session *s);

int session_table_add(struct session_table *t, struct session *s);
struct session *session_by_cgroup(struct session_table *t, uint64_t cgroup_id);
/* Live sessions only. */
struct session *session_by_id(struct session_table *t, const char *id);
/* The live session whose cgroup path is path, holds it or is held by it. */
struct session *session_overlapping(struct session_table *t, const char *path);
/* The live session whose cgroup is path or holds it. */
struct session *session_holding(struct session_table *t, const char *path);
/* Frees ended sessions older than max_age_ms. */
void session_table_reap(struct session_table *t, uint64_t now_ms, uint64_t max_age_ms);
void session_table_free(struct session_table *t);

#endif
