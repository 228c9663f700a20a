#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "resolve.h"

/* the rule family/addr/prefix/port is in np */
static bool has_rule(const struct netpolicy *np, int family, const char *addr, unsigned prefix, uint16_t port)
{
	uint8_t a[16] = { 0 };

	assert_int_equal(inet_pton(family, addr, a), 1);
	for (uint32_t i = 0; i < np->n; i++) {
		const struct netpolicy_rule *r = &np->rules[i];

		if (r->family == family && r->prefix == prefix && r->port == port && !memcmp(r->addr, a, 16))
			return true;
	}
	return false;
}

static void test_resolve_builds_the_kernel_allowlist(void **state)
{
	struct policy p;
	struct netpolicy np;
	uint32_t ttl = 99;
	char err[256];

	policy_init(&p);
	assert_int_equal(policy_set_network(&p, "allowlist", err, sizeof(err)), 0);
	assert_int_equal(policy_add_allow(&p, "10.0.0.0/8:443", err, sizeof(err)), 0);
	assert_int_equal(policy_add_allow(&p, "localhost:8080", err, sizeof(err)), 0);
	assert_int_equal(resolve_netpolicy(&p, &np, &ttl, err, sizeof(err)), 0);
	assert_true(np.enforce);
	assert_true(has_rule(&np, AF_INET, "10.0.0.0", 8, 443));
	/* localhost comes from /etc/hosts: an exact host rule, nothing to refresh */
	assert_true(has_rule(&np, AF_INET, "127.0.0.1", 32, 8080));
	for (uint32_t i = 0; i < np.n; i++)
		assert_true(np.rules[i].port == 443 || np.rules[i].port == 8080);
	assert_int_equal(ttl, 0);
	policy_free(&p);
}

static void test_resolve_names_an_unresolvable_rule(void **state)
{
	struct policy p;
	struct netpolicy np;
	uint32_t ttl;
	char err[256];

	policy_init(&p);
	assert_int_equal(policy_set_network(&p, "allowlist", err, sizeof(err)), 0);
	assert_int_equal(policy_add_allow(&p, "no-such-host.invalid:443", err, sizeof(err)), 0);
	assert_int_equal(resolve_netpolicy(&p, &np, &ttl, err, sizeof(err)), -1);
	assert_string_equal(err, "no-such-host.invalid:443: cannot resolve no-such-host.invalid");
	policy_free(&p);
}

static void test_resolve_other_modes_do_not_enforce(void **state)
{
	struct policy p;
	struct netpolicy np;
	uint32_t ttl;
	char err[256];

	policy_init(&p);
	assert_int_equal(policy_set_network(&p, "host", err, sizeof(err)), 0);
	assert_int_equal(resolve_netpolicy(&p, &np, &ttl, err, sizeof(err)), 0);
	assert_false(np.enforce);
	assert_int_equal(np.n, 0);
	policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_builds_the_kernel_allowlist),
		cmocka_unit_test(test_resolve_names_an_unresolvable_rule),
		cmocka_unit_test(test_resolve_other_modes_do_not_enforce),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
