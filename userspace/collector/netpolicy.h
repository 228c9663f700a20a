/* A session's egress policy as the kernel enforces it (cgroup connect4/6,
 * sendmsg4/6 and connect_unix programs).  Built by the session manager from
 * --network/--allow or a policy file, carried to sandtraild in the watch
 * request as JSON, handed to the probes. */
#ifndef SANDTRAIL_NETPOLICY_H
#define SANDTRAIL_NETPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "events.h"

#define NETPOLICY_RULES_MAX 256

struct netpolicy_rule {
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t prefix;   /* prefix length in bits */
	uint16_t port;    /* host order; 0 = any port */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
};

struct netpolicy {
	bool enforce;     /* false: everything allowed (and recorded) */
	bool abstract_unix; /* abstract unix sockets stay reachable: the sandbox
			     * cannot make host unix sockets itself (gVisor) */
	bool proxy;       /* --network proxy: TCP goes to sandtrail-proxy, the rest is denied */
	uint32_t n;
	struct netpolicy_rule rules[NETPOLICY_RULES_MAX];
};

/* "CIDR[:PORT]" or "[v6 CIDR]:PORT" -> one rule; -1 with a one-line reason. */
int netpolicy_parse_rule(const char *spec, struct netpolicy_rule *out, char *err, size_t errlen);
/* Wire form: {"enforce": bool, "allow": [{"cidr": "10.0.0.0/8", "port": 443}, ...],
 * "abstract_unix"?: bool, "proxy"?: bool} */
json_t *netpolicy_to_json(const struct netpolicy *p);
int netpolicy_from_json(const json_t *j, struct netpolicy *out, char *err, size_t errlen);
/* The key of rule r in the kernel's egress map (an LPM trie: the kernel looks
 * destinations up with the full address length, and once more with port 0). */
void netpolicy_key(struct st_np_key *k, uint64_t session, uint8_t gen, const struct netpolicy_rule *r);
/* Whether p lets family/addr/port (host order) through, as the kernel's
 * lookup of these keys decides: for connects the kernel does not see (a
 * gVisor Sentry's own account of them). */
bool netpolicy_allows(const struct netpolicy *p, int family, const uint8_t *addr, uint16_t port);
/* The index of the first rule of p that lets family/addr/port through (as
 * netpolicy_allows, enforce aside); -1 when none does. */
int netpolicy_match(const struct netpolicy *p, int family, const uint8_t *addr, uint16_t port);

#endif
