#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netns.h"

static struct netpolicy np;
static char out[64];

static void rule(const char *spec)
{
	char err[160];

	assert_int_equal(netpolicy_parse_rule(spec, &np.rules[np.n++], err, sizeof(err)), 0);
}

/* Inside the session's namespace 127.0.0.1 and ::1 are its own: only the
 * ports allow rules open on them are forwarded to the host's loopback. */
static void test_netns_host_ports_are_the_loopback_rules_ports(void **state)
{
	(void)state;
	memset(&np, 0, sizeof(np));
	netns_host_ports(&np, out, sizeof(out));
	assert_string_equal(out, "none");
	rule("10.0.0.0/8:443");
	rule("127.0.9.0/24:81"); /* the session's own loopback */
	netns_host_ports(&np, out, sizeof(out));
	assert_string_equal(out, "none");
	rule("127.0.0.1/32:8080");
	rule("[::1/128]:8080");
	rule("[::/127]:9090");
	rule("[::ffff:127.0.0.0/104]:7070");
	netns_host_ports(&np, out, sizeof(out));
	assert_string_equal(out, "8080,9090,7070");
	rule("127.0.0.0/8"); /* every port */
	netns_host_ports(&np, out, sizeof(out));
	assert_string_equal(out, "auto");
}

/* A list too long for pasta's argument: every port (the hooks still police
 * each connect). */
static void test_netns_host_ports_overflow_is_auto(void **state)
{
	char small[8];

	(void)state;
	memset(&np, 0, sizeof(np));
	rule("127.0.0.1/32:10001");
	rule("127.0.0.1/32:10002");
	netns_host_ports(&np, small, sizeof(small));
	assert_string_equal(small, "auto");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netns_host_ports_are_the_loopback_rules_ports),
		cmocka_unit_test(test_netns_host_ports_overflow_is_auto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
