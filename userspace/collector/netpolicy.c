#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netpolicy.h"

/* "443" -> 443; 0 is refused: a rule for port 0 would mean "any" on the wire. */
static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Host bits must be zero: "10.1.2.3/8" is more likely a typo than intent. */
static int host_bits_clear(const uint8_t *addr, unsigned prefix, unsigned bits)
{
	for (unsigned i = prefix; i < bits; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

int netpolicy_parse_rule(const char *spec, struct netpolicy_rule *out, char *err, size_t errlen)
{
	char buf[128], *addr, *slash, *port = NULL;
	unsigned long prefix;
	unsigned bits;

	memset(out, 0, sizeof(*out));
	if (strlen(spec) >= sizeof(buf))
		goto bad;
	strcpy(buf, spec);
	addr = buf;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close)
			goto bad;
		*close = 0;
		addr = buf + 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			goto bad;
	} else if (strchr(buf, ':') == strrchr(buf, ':')) {
		/* one colon: IPv4 and its port; an IPv6 address has two or more
		 * (::ffff:a.b.c.d too) and takes a port only in brackets */
		port = strchr(buf, ':');
		if (port)
			*port++ = 0;
	}
	slash = strchr(addr, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		bits = 128;
	} else {
		goto bad;
	}
	prefix = bits;
	if (slash) {
		char *end;

		if (*slash < '0' || *slash > '9')
			goto bad;
		prefix = strtoul(slash, &end, 10);
		if (*end || prefix > bits)
			goto bad;
	}
	if (!host_bits_clear(out->addr, (unsigned)prefix, bits)) {
		snprintf(err, errlen, "'%s': address has bits set beyond the /%lu prefix", spec, prefix);
		return -1;
	}
	out->prefix = (uint8_t)prefix;
	if (port && parse_port(port, &out->port) < 0) {
		snprintf(err, errlen, "'%s': port must be 1 to 65535", spec);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "'%s': expected \"CIDR[:PORT]\" or \"[IPv6 CIDR]:PORT\"", spec);
	return -1;
}

json_t *netpolicy_to_json(const struct netpolicy *p)
{
	json_t *allow = json_array();

	for (uint32_t i = 0; i < p->n; i++) {
		const struct netpolicy_rule *r = &p->rules[i];
		char a[INET6_ADDRSTRLEN], cidr[INET6_ADDRSTRLEN + 8];
		json_t *j;

		inet_ntop(r->family, r->addr, a, sizeof(a));
		snprintf(cidr, sizeof(cidr), "%s/%u", a, r->prefix);
		j = json_pack("{s:s}", "cidr", cidr);
		if (r->port)
			json_object_set_new(j, "port", json_integer(r->port));
		json_array_append_new(allow, j);
	}
	json_t *out = json_pack("{s:b, s:o, s:b}", "enforce", p->enforce, "allow", allow, "abstract_unix",
				p->abstract_unix);

	if (out && p->proxy)
		json_object_set_new(out, "proxy", json_true());
	return out;
}

int netpolicy_from_json(const json_t *j, struct netpolicy *out, char *err, size_t errlen)
{
	const json_t *enforce = json_object_get(j, "enforce");
	const json_t *allow = json_object_get(j, "allow");
	const json_t *abstract_unix = json_object_get(j, "abstract_unix");
	const json_t *proxy = json_object_get(j, "proxy");
	const json_t *r;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j)) {
		snprintf(err, errlen, "network: expected an object");
		return -1;
	}
	if (!json_is_boolean(enforce)) {
		snprintf(err, errlen, "network.enforce: expected true or false");
		return -1;
	}
	if (allow && !json_is_array(allow)) {
		snprintf(err, errlen, "network.allow: expected an array");
		return -1;
	}
	if (json_array_size(allow) > NETPOLICY_RULES_MAX) {
		snprintf(err, errlen, "network.allow: more than %d rules", NETPOLICY_RULES_MAX);
		return -1;
	}
	if (abstract_unix && !json_is_boolean(abstract_unix)) {
		snprintf(err, errlen, "network.abstract_unix: expected true or false");
		return -1;
	}
	out->enforce = json_is_true(enforce);
	if (proxy && (!json_is_boolean(proxy) || (json_is_true(proxy) && !json_is_true(enforce)))) {
		snprintf(err, errlen, "network.proxy: expected true (with enforce) or false");
		return -1;
	}
	out->abstract_unix = json_is_true(abstract_unix);
	out->proxy = json_is_true(proxy);
	json_array_foreach(allow, i, r) {
		const char *cidr = json_string_value(json_object_get(r, "cidr"));
		const json_t *port = json_object_get(r, "port");
		char why[160];

		if (!cidr) {
			snprintf(err, errlen, "network.allow[%zu].cidr: expected a string", i);
			return -1;
		}
		if (netpolicy_parse_rule(cidr, &out->rules[i], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "network.allow[%zu].cidr: %s", i, why);
			return -1;
		}
		if (out->rules[i].port) {
			snprintf(err, errlen, "network.allow[%zu].cidr: a port belongs in \"port\"", i);
			return -1;
		}
		if (port) {
			json_int_t v = json_integer_value(port);

			if (!json_is_integer(port) || v < 1 || v > 65535) {
				snprintf(err, errlen, "network.allow[%zu].port: expected 1 to 65535", i);
				return -1;
			}
			out->rules[i].port = (uint16_t)v;
		}
		out->n++;
	}
	return 0;
}

/* IPv4-mapped IPv6 rules are IPv4 rules: the kernel side looks mapped
 * destinations up as IPv4. */
void netpolicy_key(struct st_np_key *k, uint64_t session, uint8_t gen, const struct netpolicy_rule *r)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *addr = r->addr;
	unsigned bits = r->prefix, family = r->family;

	memset(k, 0, sizeof(*k));
	if (family == AF_INET6 && bits >= 96 && !memcmp(addr, mapped, 12)) {
		family = AF_INET;
		addr += 12;
		bits -= 96;
	}
	k->prefixlen = ST_NP_FIXED_BITS + bits;
	memcpy(k->session, &session, sizeof(session));
	k->family = (uint8_t)family;
	k->gen = gen;
	k->port = htons(r->port);
	for (unsigned i = 0; i < bits / 8; i++)
		k->addr[i] = addr[i];
	if (bits % 8)
		k->addr[bits / 8] = addr[bits / 8] & (uint8_t)(0xff << (8 - bits % 8));
}

bool netpolicy_allows(const struct netpolicy *p, int family, const uint8_t *addr, uint16_t port)
{
	return !p->enforce || netpolicy_match(p, family, addr, port) >= 0;
}

int netpolicy_match(const struct netpolicy *p, int family, const uint8_t *addr, uint16_t port)
{
	struct netpolicy_rule d = { .family = (uint8_t)family, .prefix = family == AF_INET ? 32 : 128, .port = port };
	struct st_np_key dk, rk;

	memcpy(d.addr, addr, family == AF_INET ? 4 : 16);
	netpolicy_key(&dk, 0, 0, &d);
	/* the kernel's lookup over the keys this policy puts in its map */
	for (uint32_t i = 0; i < p->n; i++) {
		unsigned bits;

		netpolicy_key(&rk, 0, 0, &p->rules[i]);
		bits = rk.prefixlen - ST_NP_FIXED_BITS;
		if (rk.family != dk.family || (rk.port && rk.port != dk.port) ||
		    memcmp(rk.addr, dk.addr, bits / 8) ||
		    (bits % 8 && (rk.addr[bits / 8] ^ dk.addr[bits / 8]) & (uint8_t)(0xff << (8 - bits % 8))))
			continue;
		return (int)i;
	}
	return -1;
}
