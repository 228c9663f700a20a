/* Domain patterns of --network proxy: "name.example" matches that name only,
 * "*.example" every name below it (not example itself).  Shared by the
 * policy (which checks what the user wrote) and the proxy (which matches). */
#ifndef SANDTRAIL_PROXY_DOMAIN_H
#define SANDTRAIL_PROXY_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#define DOMAIN_MAX 253

/* Checks a pattern and writes its canonical form (lower case) into out
 * (DOMAIN_MAX + 1 bytes); -1 with a one-line reason. */
int domain_pattern_parse(const char *pat, char *out, char *err, size_t errlen);
/* A host name as a client sent it, canonical (lower case, one trailing dot
 * dropped) into out; -1 when it is no DNS name (an IP literal included). */
int domain_host_canon(const char *host, size_t len, char *out);
/* Whether canonical host matches canonical pattern. */
bool domain_match(const char *pattern, const char *host);
/* Whether s (len bytes) is an IPv4 or IPv6 literal, bracketed or not. */
bool domain_is_ip_literal(const char *s, size_t len);

#endif
