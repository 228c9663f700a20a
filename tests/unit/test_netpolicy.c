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

static bool allows4(const char *ip, uint16_t port)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET, ip, a), 1);
	return netpolicy_allows(&pol, AF_INET, a, port);
}

static bool allows6(const char *ip, uint16_t port)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
	return netpolicy_allows(&pol, AF_INET6, a, port);
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
}

static void test_netpolicy_rejects_malformed_rules(void **state)
{
	static const char *const bad[] = { "", "10.0.0.0/33", "10.0.0.1/8", "1.2.3.4:0", "1.2.3.4:65536",
					   "1.2.3.4:", "example.com:443", "[::1", "[::1]x", "1.2.3.4/-1",
					   "300.1.1.1", "fd00::/129" };
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
	j = netpolicy_to_json(&pol);
	assert_int_equal(netpolicy_from_json(j, &back, err, sizeof(err)), 0);
	assert_true(back.enforce);
	assert_int_equal(back.n, 3);
	assert_memory_equal(back.rules, pol.rules, 3 * sizeof(pol.rules[0]));
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_netpolicy_parses_cidr_and_port, setup),
		cmocka_unit_test_setup(test_netpolicy_rejects_malformed_rules, setup),
		cmocka_unit_test_setup(test_netpolicy_allows_only_listed_destinations, setup),
		cmocka_unit_test_setup(test_netpolicy_v4_mapped_v6_follows_v4_rules, setup),
		cmocka_unit_test_setup(test_netpolicy_not_enforced_allows_everything, setup),
		cmocka_unit_test_setup(test_netpolicy_json_round_trip, setup),
		cmocka_unit_test_setup(test_netpolicy_from_json_names_the_field, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
