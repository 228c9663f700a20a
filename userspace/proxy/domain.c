#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "domain.h"

bool domain_is_ip_literal(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 2];
	unsigned char a[16];
	const char *last;
	size_t n;

	if (len && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len && s[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (inet_pton(AF_INET6, buf, a) == 1)
		return true;
	/* resolvers read a name whose last label is a number as an IPv4
	 * address in inet_aton's forms too ("127.1", "0x7f000001") */
	last = strrchr(buf, '.');
	last = last ? last + 1 : buf;
	n = strlen(last);
	if (n > 2 && last[0] == '0' && (last[1] | 0x20) == 'x')
		return strspn(last + 2, "0123456789abcdefABCDEF") == n - 2;
	return n && strspn(last, "0123456789") == n;
}

/* Labels of 1..63 letters, digits and inner hyphens ("_" too: service
 * names use it), dot separated; canonical lower case into out. */
static int check_name(const char *s, size_t len, char *out, const char **why)
{
	size_t label = 0;

	if (len == 0) {
		*why = "empty name";
		return -1;
	}
	if (len > DOMAIN_MAX) {
		*why = "longer than 253 bytes";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-') {
				*why = "empty label or a label ending in '-'";
				return -1;
			}
			label = 0;
		} else if (isalnum(c) || c == '_' || (c == '-' && label > 0)) {
			if (++label > 63) {
				*why = "a label longer than 63 bytes";
				return -1;
			}
		} else {
			*why = "only letters, digits, '-', '_' and '.' belong in a name";
			return -1;
		}
		out[i] = (char)tolower(c);
	}
	if (label == 0 || s[len - 1] == '-') {
		*why = "empty label or a label ending in '-'";
		return -1;
	}
	out[len] = 0;
	return 0;
}

int domain_pattern_parse(const char *pat, char *out, char *err, size_t errlen)
{
	const char *name = pat, *why;
	size_t len = strlen(pat);

	if (!strncmp(pat, "*.", 2)) {
		name += 2;
		len -= 2;
		if (!memchr(name, '.', len)) {
			snprintf(err, errlen, "'%s': a wildcard needs at least two labels after '*.' (a whole top-level domain is too wide)", pat);
			return -1;
		}
	}
	if (strchr(name, '*')) {
		snprintf(err, errlen, "'%s': '*' only as a leading '*.'", pat);
		return -1;
	}
	if (domain_is_ip_literal(name, len)) {
		snprintf(err, errlen, "'%s': an IP address, not a domain (the proxy decides by name)", pat);
		return -1;
	}
	if (len && name[len - 1] == '.')
		len--;
	if (len + (size_t)(name - pat) > DOMAIN_MAX || check_name(name, len, out + (name - pat), &why) < 0) {
		snprintf(err, errlen, "'%s': %s", pat, len > DOMAIN_MAX ? "longer than 253 bytes" : why);
		return -1;
	}
	if (name != pat)
		memcpy(out, "*.", 2);
	return 0;
}

int domain_host_canon(const char *host, size_t len, char *out)
{
	const char *why;

	if (len && host[len - 1] == '.')
		len--;
	if (domain_is_ip_literal(host, len))
		return -1;
	return check_name(host, len, out, &why);
}

bool domain_match(const char *pattern, const char *host)
{
	size_t pl, hl;

	if (strncmp(pattern, "*.", 2))
		return !strcmp(pattern, host);
	pattern++; /* ".suffix": host must end in it with at least one label before */
	pl = strlen(pattern);
	hl = strlen(host);
	return hl > pl && !strcmp(host + hl - pl, pattern);
}
