#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"

#define TTL_MIN 5 /* never hammer the resolver, whatever the zone says */

static int add_rule(struct netpolicy *out, int family, const void *addr, uint16_t port, const char *spec,
		    char *err, size_t errlen)
{
	struct netpolicy_rule *r;

	for (uint32_t i = 0; i < out->n; i++) {
		r = &out->rules[i];
		if (r->family == family && r->port == port && !memcmp(r->addr, addr, family == AF_INET ? 4 : 16) &&
		    r->prefix == (family == AF_INET ? 32 : 128))
			return 0;
	}
	if (out->n == NETPOLICY_RULES_MAX) {
		snprintf(err, errlen, "%s: more than %d addresses in the allowlist", spec, NETPOLICY_RULES_MAX);
		return -1;
	}
	r = &out->rules[out->n++];
	memset(r, 0, sizeof(*r));
	r->family = (uint8_t)family;
	r->prefix = family == AF_INET ? 32 : 128;
	r->port = port;
	memcpy(r->addr, addr, family == AF_INET ? 4 : 16);
	return 0;
}

/* One DNS query; adds every answer of type t; returns how many, *ttl lowered
 * to the shortest answer's TTL. */
static int query(res_state rs, const char *host, int t, uint16_t port, struct netpolicy *out, uint32_t *ttl,
		 const char *spec, char *err, size_t errlen)
{
	unsigned char ans[4096];
	ns_msg msg;
	int len, n = 0;

	len = res_nquery(rs, host, ns_c_in, t, ans, sizeof(ans));
	if (len < 0 || ns_initparse(ans, len, &msg) < 0)
		return 0;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || (int)ns_rr_type(rr) != t)
			continue;
		if (ns_rr_rdlen(rr) != (t == ns_t_a ? 4 : 16))
			continue;
		if (add_rule(out, t == ns_t_a ? AF_INET : AF_INET6, ns_rr_rdata(rr), port, spec, err, errlen) < 0)
			return -1;
		if (ns_rr_ttl(rr) < *ttl)
			*ttl = ns_rr_ttl(rr) < TTL_MIN ? TTL_MIN : ns_rr_ttl(rr);
		n++;
	}
	return n;
}

/* /etc/hosts and other NSS sources: no TTL, resolved once. */
static int lookup_static(const char *host, uint16_t port, struct netpolicy *out, const char *spec, char *err,
			 size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int n = 0;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
							: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (add_rule(out, ai->ai_family, a, port, spec, err, errlen) < 0) {
			freeaddrinfo(res);
			return -1;
		}
		n++;
	}
	freeaddrinfo(res);
	return n;
}

int resolve_netpolicy(const struct policy *p, struct netpolicy *out, uint32_t *ttl_s, char *err, size_t errlen)
{
	struct __res_state rs;
	bool rs_ready = false;
	uint32_t ttl = UINT32_MAX;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->enforce = p->network == POLICY_NET_ALLOWLIST || p->network == POLICY_NET_PROXY;
	out->proxy = p->network == POLICY_NET_PROXY;
	/* with the proxy, the kernel admits the proxy only: the address rules
	 * are the proxy's to enforce (manager.c hands them to it) */
	for (size_t i = 0; i < p->nallow && rc == 0 && !out->proxy; i++) {
		const char *spec = p->allow[i];
		struct netpolicy_rule rule;
		char why[160], host[256];
		const char *colon;
		uint16_t port;
		int a, b;

		if (netpolicy_parse_rule(spec, &rule, why, sizeof(why)) == 0) {
			if (out->n == NETPOLICY_RULES_MAX) {
				snprintf(err, errlen, "%s: more than %d rules", spec, NETPOLICY_RULES_MAX);
				rc = -1;
				break;
			}
			out->rules[out->n++] = rule;
			continue;
		}
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
			snprintf(err, errlen, "%s: expected \"CIDR[:PORT]\" or \"HOST:PORT\"", spec);
			rc = -1;
			break;
		}
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = 0;
		port = (uint16_t)atoi(colon + 1);
		if (!rs_ready) {
			memset(&rs, 0, sizeof(rs));
			if (res_ninit(&rs) < 0) {
				snprintf(err, errlen, "%s: res_ninit failed", spec);
				rc = -1;
				break;
			}
			rs.retrans = 2;
			rs.retry = 2;
			rs_ready = true;
		}
		a = query(&rs, host, ns_t_a, port, out, &ttl, spec, err, errlen);
		b = a < 0 ? 0 : query(&rs, host, ns_t_aaaa, port, out, &ttl, spec, err, errlen);
		if (a < 0 || b < 0) {
			rc = -1;
			break;
		}
		if (a + b == 0) {
			a = lookup_static(host, port, out, spec, err, errlen);
			if (a <= 0) {
				if (a == 0)
					snprintf(err, errlen, "%s: cannot resolve %s", spec, host);
				rc = -1;
			}
		}
	}
	if (rs_ready)
		res_nclose(&rs);
	*ttl_s = ttl == UINT32_MAX ? 0 : ttl;
	return rc;
}
