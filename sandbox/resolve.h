/* The egress allowlist as the kernel enforces it: CIDR rules as written,
 * HOST:PORT rules resolved at start (A and AAAA, with their TTLs) and again
 * whenever the shortest TTL runs out. */
#ifndef SANDTRAIL_RESOLVE_H
#define SANDTRAIL_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "collector/collector.h"
#include "policy.h"

/* Fills out (enforce = network allowlist); *ttl_s: seconds until a host rule
 * must be resolved again, 0 when none must.  -1 with err naming the rule. */
int resolve_netpolicy(const struct policy *p, struct netpolicy *out, uint32_t *ttl_s, char *err, size_t errlen);

#endif
