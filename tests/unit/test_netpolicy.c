#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "collector/collector.h"

static struct netpolicy pol;

static void add(const char *spec)
{
	char err[256];

	assert_int_equal(netpolicy_parse_rule(spec, &pol.rules[pol.n], err, sizeof(err)), 0);
	pol.n++;
}

/* The kernel's side of the egress map, as bpf/net.bpf.c uses it: an LPM
 * trie matches a rule's key when the first prefixlen bits after prefixlen
 * (session, family, gen, port, then the address) are equal; the program
 * looks the destination up with its port, then with port 0, and an
 * IPv4-mapped destination as IPv4. */
#define SESSION 0x1234abcdULL
#define GEN 7

static bool lpm_match(const struct st_np_key *rule, const struct st_np_key *dst)
{
	const uint8_t *a = (const uint8_t *)rule + sizeof(rule->prefixlen);
	const uint8_t *b = (const uint8_t *)dst + sizeof(dst->prefixlen);

	for (unsigned i = 0; i < rule->prefixlen; i++)
		if ((a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

static bool kernel_allows(int family, const uint8_t *addr, uint16_t port)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct st_np_key dst = { .prefixlen = ST_NP_FIXED_BITS + 128, .gen = GEN }, k;
	uint64_t session = SESSION;

	if (!pol.enforce)
		return true;
	memcpy(dst.session, &session, sizeof(session));
	if (family == AF_INET6 && !memcmp(addr, mapped, 12)) {
		family = AF_INET;
		addr += 12;
	}
	dst.family = (uint8_t)family;
	memcpy(dst.addr, addr, family == AF_INET ? 4 : 16);
	for (int any = 0; any < 2; any++) {
		dst.port = any ? 0 : htons(port);
		for (uint32_t i = 0; i < pol.n; i++) {
			netpolicy_key(&k, SESSION, GEN, &pol.rules[i]);
			if (lpm_match(&k, &dst))
				return true;
		}
	}
	return false;
}

static bool allows4(const char *ip, uint16_t port)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET, ip, a), 1);
	return kernel_allows(AF_INET, a, port);
}

static bool allows6(const char *ip, uint16_t port)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
	return kernel_allows(AF_INET6, a, port);
}

static int setup(void **state)
{
	memset(&pol, 0, sizeof(pol));
	pol.enforce = true;
	return 0;
}

static void test_netpolicy_parses_cidr_and_port(void **state)
{
	struct netpolicy_rule r;
	char err[256];

	assert_int_equal(netpolicy_parse_rule("10.0.0.0/8:443", &r, err, sizeof(err)), 0);
	assert_int_equal(r.family, AF_INET);
	assert_int_equal(r.prefix, 8);
	assert_int_equal(r.port, 443);
	assert_int_equal(r.addr[0], 10);
	assert_int_equal(netpolicy_parse_rule("127.0.0.1", &r, err, sizeof(err)), 0);
	assert_int_equal(r.prefix, 32);
	assert_int_equal(r.port, 0);
	assert_int_equal(netpolicy_parse_rule("[fd00::/8]:53", &r, err, sizeof(err)), 0);
	assert_int_equal(r.family, AF_INET6);
	assert_int_equal(r.prefix, 8);
	assert_int_equal(r.port, 53);
	assert_int_equal(netpolicy_parse_rule("::1", &r, err, sizeof(err)), 0);
	assert_int_equal(r.prefix, 128);
	/* an IPv6 address holding dots is no "IPv4:PORT" */
	assert_int_equal(netpolicy_parse_rule("::ffff:10.0.0.0/104", &r, err, sizeof(err)), 0);
	assert_int_equal(r.family, AF_INET6);
	assert_int_equal(r.prefix, 104);
	assert_int_equal(r.port, 0);
	assert_int_equal(netpolicy_parse_rule("[::ffff:1.2.3.0/120]:80", &r, err, sizeof(err)), 0);
	assert_int_equal(r.family, AF_INET6);
	assert_int_equal(r.prefix, 120);
	assert_int_equal(r.port, 80);
}

static void test_netpolicy_rejects_malformed_rules(void **state)
{
	static const char *const bad[] = { "", "10.0.0.0/33", "10.0.0.1/8", "1.2.3.4:0", "1.2.3.4:65536",
					   "1.2.3.4:", "example.com:443", "[::1", "[::1]x", "1.2.3.4/-1",
					   "300.1.1.1", "fd00::/129", "1.2.3.4:80:90" };
	struct netpolicy_rule r;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(netpolicy_parse_rule(bad[i], &r, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "'"));
	}
}

static void test_netpolicy_allows_only_listed_destinations(void **state)
{
	add("10.0.0.0/8:443");
	add("127.0.0.1:8080");
	add("[2001:db8::/32]:80");
	assert_true(allows4("10.1.2.3", 443));
	assert_false(allows4("10.1.2.3", 80));
	assert_false(allows4("11.0.0.1", 443));
	assert_true(allows4("127.0.0.1", 8080));
	assert_false(allows4("127.0.0.1", 8081));
	assert_false(allows4("169.254.169.254", 80));
	assert_true(allows6("2001:db8:1::5", 80));
	assert_false(allows6("2001:db9::5", 80));
}

static void test_netpolicy_v4_mapped_v6_follows_v4_rules(void **state)
{
	add("192.168.1.0/24");
	assert_true(allows6("::ffff:192.168.1.7", 22));
	assert_false(allows6("::ffff:192.168.2.7", 22));
	/* and a mapped rule is an IPv4 rule */
	add("[::ffff:127.0.4.0/120]:80");
	assert_true(allows4("127.0.4.1", 80));
	assert_true(allows6("::ffff:127.0.4.1", 80));
	assert_false(allows4("127.0.5.0", 80));
	assert_false(allows4("127.0.4.1", 81));
}

/* The proxy's question (--network proxy --allow): which rule, as written,
 * let an address through; enforce is the kernel's switch, not the rules'. */
static void test_netpolicy_match_names_the_first_rule(void **state)
{
	uint8_t a[16];

	add("192.0.2.10:80");
	add("192.0.2.0/24");
	pol.enforce = false;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.10", a), 1);
	assert_int_equal(netpolicy_match(&pol, AF_INET, a, 80), 0);
	assert_int_equal(netpolicy_match(&pol, AF_INET, a, 443), 1);
	assert_int_equal(inet_pton(AF_INET, "192.0.3.10", a), 1);
	assert_int_equal(netpolicy_match(&pol, AF_INET, a, 80), -1);
	assert_true(netpolicy_allows(&pol, AF_INET, a, 80));
	pol.enforce = true;
	assert_false(netpolicy_allows(&pol, AF_INET, a, 80));
}

_Static_assert((offsetof(struct st_np_key, addr) - sizeof(__u32)) * 8 == ST_NP_FIXED_BITS,
	       "the fixed part of the key is what ST_NP_FIXED_BITS says");

static void expect_key(const char *spec, int family, unsigned prefix, uint16_t port, const char *addr)
{
	struct netpolicy_rule r;
	struct st_np_key k;
	uint8_t want[16] = { 0 };
	uint64_t session;
	char err[256];

	assert_int_equal(netpolicy_parse_rule(spec, &r, err, sizeof(err)), 0);
	netpolicy_key(&k, SESSION, GEN, &r);
	assert_int_equal(k.prefixlen, ST_NP_FIXED_BITS + prefix);
	assert_int_equal(k.family, family);
	assert_int_equal(k.gen, GEN);
	assert_int_equal(k.port, htons(port));
	memcpy(&session, k.session, sizeof(session));
	assert_int_equal(session, SESSION);
	assert_int_equal(inet_pton(family, addr, want), 1);
	assert_memory_equal(k.addr, want, sizeof(want));
}

static void test_netpolicy_kernel_keys_carry_the_rule_prefix(void **state)
{
	expect_key("10.0.0.0/8:443", AF_INET, 8, 443, "10.0.0.0");
	expect_key("127.0.9.0/24:80", AF_INET, 24, 80, "127.0.9.0");
	expect_key("1.2.3.4", AF_INET, 32, 0, "1.2.3.4");
	expect_key("0.0.0.0/0:53", AF_INET, 0, 53, "0.0.0.0");
	expect_key("[2001:db8::/32]:80", AF_INET6, 32, 80, "2001:db8::");
	expect_key("[::/127]:22", AF_INET6, 127, 22, "::");
	expect_key("::1", AF_INET6, 128, 0, "::1");
	/* IPv4-mapped rules are keyed as IPv4: the kernel looks mapped destinations up so */
	expect_key("[::ffff:127.0.4.0/120]:80", AF_INET, 24, 80, "127.0.4.0");
	expect_key("::ffff:10.0.0.0/104", AF_INET, 8, 0, "10.0.0.0");
}

static void test_netpolicy_ranges_reach_every_address_of_the_prefix(void **state)
{
	add("127.0.9.0/24:80");
	add("127.0.2.0/24");
	add("[::/127]:80");
	assert_true(allows4("127.0.9.0", 80));
	assert_true(allows4("127.0.9.255", 80));
	assert_false(allows4("127.0.10.0", 80));
	assert_false(allows4("127.0.8.255", 80));
	assert_false(allows4("127.0.9.77", 81));
	assert_true(allows4("127.0.2.9", 1));
	assert_true(allows4("127.0.2.9", 65535));
	assert_false(allows4("127.0.3.0", 1));
	assert_true(allows6("::", 80));
	assert_true(allows6("::1", 80));
	assert_false(allows6("::2", 80));
	assert_false(allows6("::1", 81));
}

static void test_netpolicy_not_enforced_allows_everything(void **state)
{
	pol.enforce = false;
	assert_true(allows4("8.8.8.8", 53));
}

static void test_netpolicy_json_round_trip(void **state)
{
	struct netpolicy back;
	char err[256];
	json_t *j;

	add("10.0.0.0/8:443");
	add("[fd00::/8]:53");
	add("1.2.3.4");
	add("[::ffff:127.0.4.0/120]:80");
	add("::ffff:10.0.0.0/104");
	j = netpolicy_to_json(&pol);
	assert_int_equal(netpolicy_from_json(j, &back, err, sizeof(err)), 0);
	assert_true(back.enforce);
	assert_int_equal(back.n, 5);
	assert_memory_equal(back.rules, pol.rules, 5 * sizeof(pol.rules[0]));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "allow"), 0), "cidr")),
			    "10.0.0.0/8");
	json_decref(j);
}

static void test_netpolicy_from_json_names_the_field(void **state)
{
	struct netpolicy out;
	char err[256];
	json_t *j = json_loads("{\"enforce\":true,\"allow\":[{\"cidr\":\"1.2.3.0/24\"},{\"cidr\":\"1.2.3.0/24\",\"port\":70000}]}",
			       0, NULL);

	assert_int_equal(netpolicy_from_json(j, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "network.allow[1].port: expected 1 to 65535");
	json_decref(j);
	j = json_loads("{\"allow\":[]}", 0, NULL);
	assert_int_equal(netpolicy_from_json(j, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "network.enforce: expected true or false");
	json_decref(j);
	j = json_loads("{\"enforce\":true,\"allow\":[{\"cidr\":\"1.2.3.0/24:80\"}]}", 0, NULL);
	assert_int_equal(netpolicy_from_json(j, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "network.allow[0].cidr: a port belongs in \"port\"");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_netpolicy_parses_cidr_and_port, setup),
		cmocka_unit_test_setup(test_netpolicy_rejects_malformed_rules, setup),
		cmocka_unit_test_setup(test_netpolicy_allows_only_listed_destinations, setup),
		cmocka_unit_test_setup(test_netpolicy_match_names_the_first_rule, setup),
		cmocka_unit_test_setup(test_netpolicy_v4_mapped_v6_follows_v4_rules, setup),
		cmocka_unit_test_setup(test_netpolicy_kernel_keys_carry_the_rule_prefix, setup),
		cmocka_unit_test_setup(test_netpolicy_ranges_reach_every_address_of_the_prefix, setup),
		cmocka_unit_test_setup(test_netpolicy_not_enforced_allows_everything, setup),
		cmocka_unit_test_setup(test_netpolicy_json_round_trip, setup),
		cmocka_unit_test_setup(test_netpolicy_from_json_names_the_field, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
