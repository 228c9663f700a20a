/* The DNS answers of a --network proxy session: a name its patterns allow
 * is PROXY_DNS_ADDR (its connect goes to the proxy anyway, which decides by
 * the name the client sends), any other is NXDOMAIN and recorded.  No
 * question ever reaches a real resolver. */
#ifndef SANDTRAIL_PROXY_DNSD_H
#define SANDTRAIL_PROXY_DNSD_H

struct proxy_session;

/* Answers the queries that come on fd (a UDP socket, taken over); -1. */
int dnsd_start(struct proxy_session *s, int fd);
/* Stops answering (closes fd) and forgets the names counted; idempotent. */
void dnsd_stop(struct proxy_session *s);

#endif
