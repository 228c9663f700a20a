/* sandtrail-proxy: the egress of --network proxy sessions.  One process per
 * host, unprivileged, under its own seccomp filter; sandtraild hands it a
 * listener per session (bound in the session's network namespace: whoever
 * connects to it is that session) and receives a record per connection.
 * It decides by name (CONNECT host, TLS SNI, Host header), resolves the
 * name itself and never trusts the client's addresses. */
#ifndef SANDTRAIL_PROXY_H
#define SANDTRAIL_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <event2/dns.h>
#include <event2/listener.h>
#include <jansson.h>

#include "ca.h"
#include "collector/netpolicy.h"
#include "dnsd.h"
#include "domain.h"

#define PROXY_DOMAINS_MAX 256
#define PROXY_HEAD_MAX 16384        /* request head (line + headers) */
#define PROXY_HEAD_TIMEOUT_S 10     /* whole head, however slowly it trickles */
#define PROXY_IDLE_TIMEOUT_S 300    /* a relay with no byte either way */
#define PROXY_RELAY_MAX (256 << 10) /* bytes queued towards one side */
#define PROXY_RELAY_CHUNK (64 << 10) /* bytes a read or write of the relay moves at most */
#define PROXY_CONNS_MAX 4096
#define PROXY_RESOLVE_MAX 16
#define PROXY_DNS_CACHE 256     /* names the proxy resolved, kept a while */
#define PROXY_DNS_TTL_MS 30000

/* An answer of the proxy's own resolver (never the sandbox's): the next
 * connection to the name does not wait for DNS again. */
struct proxy_dns_entry {
	char host[DOMAIN_MAX + 1];
	socklen_t len;
	struct sockaddr_storage sa;
	uint64_t expires_ms;
};

/* The session's own DNS answers (dnsd.h): one address for every allowed
 * name, 198.18.0.1 (RFC 2544's benchmark range: no route anywhere), so that
 * no address says which name it was; a few seconds of TTL. */
#define PROXY_DNS_ADDR { 198, 18, 0, 1 }
#define PROXY_DNS_ANSWER_TTL 10
#define PROXY_DNS_NAMES 256 /* names not allowed that each keep a count */

struct proxy_dns_denied {
	char name[DOMAIN_MAX + 1];
	uint64_t count; /* queries so far */
};

#define PROXY_INJECT_MAX 16

/* --inject-header DOMAIN:NAME=@FILE */
struct proxy_inject {
	char *domain; /* canonical pattern */
	char *name, *value;
};

struct proxy_session {
	char id[64];
	uint64_t cgid; /* key of its entries in the proxy_dst map; 0: none */
	size_t ndomains;
	char *domains[PROXY_DOMAINS_MAX];
	/* --allow ADDR[/PREFIX][:PORT]: addresses let through by address, the
	 * bytes as they are (no name to check, none to inspect); each rule's
	 * text, as written, for the records */
	struct netpolicy allow;
	char *allow_specs[NETPOLICY_RULES_MAX];
	struct evconnlistener *listener;
	struct evdns_server_port *dns_port; /* its resolver; NULL: none (standalone) */
	struct proxy_dns_denied *denied;    /* names refused, PROXY_DNS_NAMES, lazily */
	size_t ndenied;
	struct proxy_dns_denied denied_other; /* names past the table, together */
	unsigned refs;  /* its connections */
	bool retired;   /* the session ended: freed with its last connection */
	/* --inspect-tls: the session CA, and headers added at the proxy (the
	 * first whose domain pattern matches a connection's name) */
	bool inspect;
	struct ca *ca;
	size_t ninject;
	struct proxy_inject inject[PROXY_INJECT_MAX];
	struct proxy *px;
	struct proxy_session *next;
};

/* --resolve HOST:PORT:ADDR, as curl's */
struct proxy_resolve {
	char host[DOMAIN_MAX + 1];
	uint16_t port;
	char addr[64];
};

struct proxy {
	struct event_base *base;
	struct evdns_base *dns;
	struct proxy_session *sessions;
	int map_fd;     /* proxy_dst (bpf/events.h); -1: no transparent clients */
	int control_fd; /* to sandtraild; -1: standalone */
	FILE *records;  /* standalone: JSON lines */
	SSL_CTX *upstream; /* verifies the origins of inspected connections */
	size_t nconns;
	size_t nresolve;
	struct proxy_resolve resolve[PROXY_RESOLVE_MAX];
	struct proxy_dns_entry dns_cache[PROXY_DNS_CACHE];
};

/* The accept callback of every session's listener (arg: the session). */
void proxy_conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg);
/* The pattern of s that host (canonical) matches; NULL if none. */
const char *proxy_session_match(const struct proxy_session *s, const char *host);
/* The address rule of s that lets family/addr (network order; AF_INET:
 * 4 bytes, AF_INET6: 16)/port through, as written; NULL if none does.  A
 * loopback or unspecified address never passes: it would be the proxy's
 * host, not the session's (whose own loopback never reaches the proxy). */
const char *proxy_session_match_addr(const struct proxy_session *s, int family, const uint8_t *addr, uint16_t port);
/* A connection of s ended: frees s if it was the last of a retired one. */
void proxy_session_put(struct proxy_session *s);
/* Sends or writes one record (consumed). */
void proxy_record(struct proxy *px, json_t *rec);

#endif
