#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "journal/crypto.h"
#include "policy.h"

static struct policy pol;
static char err[1024];

static int setup(void **state)
{
	policy_init(&pol);
	err[0] = 0;
	return 0;
}

static int teardown(void **state)
{
	policy_free(&pol);
	return 0;
}

static int load(const char *json)
{
	return policy_load_json(&pol, json, strlen(json), "policy.json", "/", err, sizeof(err));
}

static void expect_error(const char *json, const char *want)
{
	assert_int_equal(load(json), -1);
	assert_string_equal(err, want);
	assert_null(strchr(err, '\n'));
}

static void test_policy_loads_every_field(void **state)
{
	assert_int_equal(load("{\"version\":1,\"mode\":\"hardened\",\"user\":\"1001:1002\",\"hostname\":\"box\","
			      "\"workdir\":\"/work\",\"mounts\":[{\"type\":\"bind\",\"src\":\"/usr\",\"dst\":\"/work\",\"ro\":true},"
			      "{\"type\":\"tmpfs\",\"dst\":\"/scratch\",\"size\":\"64m\"}],"
			      "\"network\":{\"mode\":\"allowlist\",\"allow\":[\"10.0.0.0/8:443\",\"localhost:8080\"]},"
			      "\"capabilities\":{\"add\":[\"NET_BIND_SERVICE\",\"CAP_CHOWN\"]},"
			      "\"env\":{\"A\":\"1\"},\"secrets\":[{\"name\":\"TOKEN\"}],\"labels\":{\"team\":\"sec\"},"
			      "\"resources\":{\"memory\":\"256m\",\"cpus\":1.5,\"pids\":64,\"timeout\":\"90s\"},"
			      "\"rlimits\":{\"nofile\":[100,200],\"core\":0}}"),
			 0);
	assert_int_equal(pol.uid, 1001);
	assert_int_equal(pol.gid, 1002);
	assert_string_equal(pol.hostname, "box");
	assert_int_equal(pol.nmounts, 2);
	assert_true(pol.mounts[0].ro);
	assert_int_equal(pol.mounts[1].size, 64 << 20);
	assert_int_equal(pol.network, POLICY_NET_ALLOWLIST);
	assert_int_equal(pol.nallow, 2);
	assert_int_equal(pol.caps_add, (1ull << 10) | 1ull);
	assert_string_equal(pol.env[0], "A=1");
	assert_string_equal(pol.secrets[0].name, "TOKEN");
	assert_null(pol.secrets[0].file);
	assert_int_equal(pol.memory, 256 << 20);
	assert_int_equal(pol.cpus_milli, 1500);
	assert_int_equal(pol.pids, 64);
	assert_int_equal(pol.timeout_ms, 90000);
	assert_true(pol.rlimits[RLIMIT_NOFILE].set);
	assert_int_equal(pol.rlimits[RLIMIT_NOFILE].hard, 200);
}

static void test_policy_errors_name_the_field(void **state)
{
	expect_error("{\"network\":{\"mode\":\"allowlist\",\"allow\":[\"1.2.3.4\",\"5.6.7.8:80\",\"not a rule\"]}}",
		     "policy.json: network.allow[2]: expected \"CIDR[:PORT]\" or \"HOST:PORT\", got 'not a rule'");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"network\":{\"mode\":\"bridge\"}}", "policy.json: network.mode: 'bridge': expected none, host, allowlist or proxy");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"mounts\":[{\"type\":\"bind\",\"src\":\"/usr\",\"dst\":\"/w\"},{\"type\":\"nfs\",\"dst\":\"/x\"}]}",
		     "policy.json: mounts[1].type: expected \"bind\" or \"tmpfs\"");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"mounts\":[{\"src\":\"/usr\"}]}", "policy.json: mounts[0].dst: missing");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"resources\":{\"memory\":\"lots\"}}", "policy.json: resources.memory: expected a positive size like 512m");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"capabilities\":{\"add\":[\"CAP_FLY\"]}}", "policy.json: capabilities.add[0]: 'CAP_FLY': unknown capability");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"rlimits\":{\"nofile\":[10,5]}}", "policy.json: rlimits.nofile: soft limit above the hard one");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"secrets\":[{\"name\":\"1BAD\"}]}", "policy.json: secrets[0].name: '1BAD': not a valid variable name");
}

static void test_policy_rejects_unknown_fields(void **state)
{
	expect_error("{\"netwrok\":{}}", "policy.json: netwrok: unknown field");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"network\":{\"mode\":\"none\",\"alow\":[]}}", "policy.json: network.alow: unknown field");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"mounts\":[{\"dst\":\"/x\",\"type\":\"tmpfs\",\"readonly\":true}]}",
		     "policy.json: mounts[0].readonly: unknown field");
}

static void test_policy_rejects_malformed_json_with_position(void **state)
{
	assert_int_equal(load("{\"user\": \"1000\",,}"), -1);
	assert_non_null(strstr(err, "policy.json: line 1 column"));
	policy_free(&pol), policy_init(&pol);
	expect_error("[1]", "policy.json: (top): expected a JSON object");
	policy_free(&pol), policy_init(&pol);
	assert_int_equal(load("{\"user\":\"1\",\"user\":\"2\"}"), -1);
}

static void test_policy_relative_paths_start_at_the_policy_directory(void **state)
{
	const char *j = "{\"seccomp\":\"prof.json\",\"mounts\":[{\"src\":\"bin\",\"dst\":\"/b\"}]}";

	assert_int_equal(policy_load_json(&pol, j, strlen(j), "p.json", "/usr", err, sizeof(err)),
			 0);
	assert_string_equal(pol.seccomp, "/usr/prof.json");
	assert_string_equal(pol.mounts[0].src, "/usr/bin");
}

static void test_policy_flags_override_the_file(void **state)
{
	assert_int_equal(load("{\"user\":\"2000\",\"network\":{\"mode\":\"host\"},"
			      "\"mounts\":[{\"type\":\"tmpfs\",\"dst\":\"/tmp\",\"size\":\"1m\"}],\"env\":{\"A\":\"file\"}}"),
			 0);
	assert_int_equal(policy_set_user(&pol, "3000", err, sizeof(err)), 0);
	assert_int_equal(policy_set_network(&pol, "none", err, sizeof(err)), 0);
	assert_int_equal(policy_add_tmpfs(&pol, "/tmp:size=2m", err, sizeof(err)), 0);
	assert_int_equal(policy_add_env(&pol, "A=flag", err, sizeof(err)), 0);
	assert_int_equal(pol.uid, 3000);
	assert_int_equal(pol.network, POLICY_NET_NONE);
	assert_int_equal(pol.nmounts, 1);
	assert_int_equal(pol.mounts[0].size, 2 << 20);
	assert_int_equal(pol.nenv, 1);
	assert_string_equal(pol.env[0], "A=flag");
}

static void test_policy_flag_parsers(void **state)
{
	uint64_t v;

	assert_int_equal(policy_add_mount_spec(&pol, "type=bind,src=/usr,dst=/w,ro", err, sizeof(err)), 0);
	assert_true(pol.mounts[0].ro);
	assert_int_equal(policy_add_mount_spec(&pol, "type=bind,src=/usr,dst=relative", err, sizeof(err)), -1);
	assert_string_equal(err, "destination 'relative' must be an absolute path");
	assert_int_equal(policy_add_mount_spec(&pol, "type=bind,src=/nonexistent-src,dst=/x", err, sizeof(err)), -1);
	assert_string_equal(err, "source '/nonexistent-src': No such file or directory");
	assert_int_equal(policy_add_mount_spec(&pol, "type=bind,src=/usr,dst=/a/../etc", err, sizeof(err)), -1);
	assert_int_equal(policy_add_volume(&pol, "/usr:/v:rx", err, sizeof(err)), -1);
	assert_int_equal(policy_add_secret(&pol, "TOKEN=value", err, sizeof(err)), -1);
	assert_int_equal(policy_add_secret(&pol, "TOKEN=@/etc/hostname", err, sizeof(err)), 0);
	assert_int_equal(policy_parse_size("512m", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(policy_parse_size("1G", &v), 0);
	assert_int_equal(policy_parse_size("12q", &v), -1);
	assert_int_equal(policy_parse_cpus("0.5", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(policy_parse_cpus("0", &v), -1);
	assert_int_equal(policy_parse_duration("500ms", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(policy_parse_duration("2m", &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(policy_parse_duration("-1", &v), -1);
	assert_int_equal(policy_set_user(&pol, "70000", err, sizeof(err)), -1);
	assert_int_equal(policy_add_allow(&pol, "example.com:443", err, sizeof(err)), 0);
	assert_int_equal(policy_add_allow(&pol, "example.com", err, sizeof(err)), -1);
}

/* The messages users found unclear: what was wrong and how to write it. */
static void test_policy_unclear_inputs_get_a_message_that_says_how(void **state)
{
	expect_error("{\"user\":-1}", "policy.json: user: -1: expected a UID from 0 to 65535, or \"UID:GID\"");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"user\":1000.5}", "policy.json: user: 1000.5: expected a whole UID from 0 to 65535, or \"UID:GID\"");
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"hostname\":\"a\\nb\"}",
		     "policy.json: hostname: not a host name (letters, digits, '-' and '.', at most 64 bytes)");
	assert_int_equal(policy_set_hostname(&pol, "box\n", err, sizeof(err)), -1);
	assert_string_equal(err, "'box\\n': not a host name (letters, digits, '-' and '.', at most 64 bytes)");
	assert_int_equal(policy_set_hostname(&pol, "build-7.example", err, sizeof(err)), 0);
	assert_int_equal(policy_add_allow(&pol, "::1:80", err, sizeof(err)), -1);
	assert_string_equal(err, "'::1:80' is ambiguous: write an IPv6 address with a port as [::1]:80 "
				 "(or ::1:80/128 for that address on every port)");
	assert_int_equal(policy_add_allow(&pol, "[::1]:80", err, sizeof(err)), 0);
	assert_int_equal(policy_add_allow(&pol, "::1:80/128", err, sizeof(err)), 0);
	assert_int_equal(policy_add_allow(&pol, "2001:db8::/32", err, sizeof(err)), 0);
	assert_int_equal(policy_add_allow(&pol, "::1", err, sizeof(err)), 0);
}

/* docker's -p: the forms it takes, canonical in the digest's JSON, refused
 * outside allowlist mode; allowlist refuses raw packets. */
static void test_policy_publish_and_allowlist_caps(void **state)
{
	char spec[80];
	json_t *j;

	assert_int_equal(policy_add_publish(&pol, "8080:80", err, sizeof(err)), 0);
	assert_int_equal(policy_add_publish(&pol, "127.0.0.1:5353:53/udp", err, sizeof(err)), 0);
	assert_int_equal(policy_add_publish(&pol, "[::1]:9000:9000/tcp", err, sizeof(err)), 0);
	assert_int_equal(pol.npublish, 3);
	assert_int_equal(pol.publish[1].host_port, 5353);
	assert_int_equal(pol.publish[1].port, 53);
	assert_true(pol.publish[1].udp);
	assert_string_equal(pol.publish[2].addr, "::1");
	policy_publish_str(&pol.publish[0], spec, sizeof(spec));
	assert_string_equal(spec, "8080:80/tcp");
	policy_publish_str(&pol.publish[2], spec, sizeof(spec));
	assert_string_equal(spec, "[::1]:9000:9000/tcp");
	assert_int_equal(policy_add_publish(&pol, "8080:81", err, sizeof(err)), -1);
	assert_string_equal(err, "'8080:81': host port 8080/tcp is published already");
	assert_int_equal(policy_add_publish(&pol, "80", err, sizeof(err)), -1);
	assert_string_equal(err, "'80': expected [IP:]HOST_PORT:PORT[/tcp|/udp], ports 1 to 65535, as docker's -p");
	assert_int_equal(policy_add_publish(&pol, "0:80", err, sizeof(err)), -1);
	assert_int_equal(policy_add_publish(&pol, "70000:80", err, sizeof(err)), -1);
	assert_int_equal(policy_add_publish(&pol, "1:2/sctp", err, sizeof(err)), -1);
	assert_string_equal(err, "'1:2/sctp': the protocol is tcp or udp");
	assert_int_equal(policy_add_publish(&pol, "::1:80:80", err, sizeof(err)), -1);
	assert_string_equal(err, "'::1:80:80': an IPv6 address goes in brackets: [ADDR]:HOST_PORT:PORT");
	assert_int_equal(policy_add_publish(&pol, "1.2.3:80:80", err, sizeof(err)), -1);
	assert_string_equal(err, "'1.2.3:80:80': '1.2.3' is not an IPv4 address (an IPv6 one goes in brackets)");
	j = policy_to_json(&pol);
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(j, "network"), "publish"), 1)),
			    "127.0.0.1:5353:53/udp");
	json_decref(j);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), -1);
	assert_string_equal(err, "published ports need network mode allowlist (none has no way in, "
				 "host shares the host's ports)");
	policy_free(&pol), policy_init(&pol);
	assert_int_equal(load("{\"network\":{\"mode\":\"allowlist\",\"publish\":[\"8080:80\"]}}"), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), 0);
	expect_error("{\"network\":{\"publish\":[80]}}",
		     "policy.json: network.publish[0]: expected \"[IP:]HOST_PORT:PORT[/tcp|/udp]\"");
	policy_free(&pol), policy_init(&pol);
	assert_int_equal(policy_set_network(&pol, "allowlist", err, sizeof(err)), 0);
	assert_int_equal(policy_add_cap(&pol, "NET_RAW", err, sizeof(err)), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), -1);
	assert_string_equal(err, "capability NET_RAW with network mode allowlist: its packets would bypass "
				 "the allowlist; refused");
	pol.caps_add = 0;
	assert_int_equal(policy_add_cap(&pol, "NET_BIND_SERVICE", err, sizeof(err)), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), 0);
}

/* --network proxy: domains canonical and once, from flags, a file and the
 * policy; refused outside proxy mode and proxy mode refused without one. */
static void test_policy_proxy_domains(void **state)
{
	char path[] = "/tmp/test_policy_domains.XXXXXX";
	int fd = mkstemp(path);
	json_t *j;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "# registries\n pypi.org \n\n*.GitHubUserContent.com # raw\nbad..name\n", 65), 65);
	close(fd);
	assert_int_equal(policy_add_domain_file(&pol, path, err, sizeof(err)), -1);
	assert_string_equal(err + strlen(path), ":5: 'bad..name': empty label or a label ending in '-'");
	assert_int_equal(pol.ndomains, 2);
	assert_string_equal(pol.domains[1], "*.githubusercontent.com");
	unlink(path);
	assert_int_equal(policy_add_domain(&pol, "PyPI.org", err, sizeof(err)), 0);
	assert_int_equal(pol.ndomains, 2);
	assert_int_equal(policy_add_domain(&pol, "10.0.0.1", err, sizeof(err)), -1);
	assert_string_equal(err, "'10.0.0.1': an IP address, not a domain (the proxy decides by name)");
	assert_int_equal(policy_add_domain(&pol, "*.com", err, sizeof(err)), -1);
	assert_int_equal(policy_add_domain(&pol, "a.*.com", err, sizeof(err)), -1);
	assert_string_equal(err, "'a.*.com': '*' only as a leading '*.'");
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), -1);
	assert_string_equal(err, "allowed domains need network mode proxy");
	assert_int_equal(policy_set_network(&pol, "proxy", err, sizeof(err)), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), 0);
	j = policy_to_json(&pol);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "network"), "mode")), "proxy");
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "network"), "domains")), 2);
	json_decref(j);
	policy_free(&pol), policy_init(&pol);
	assert_int_equal(load("{\"network\":{\"mode\":\"proxy\"}}"), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), -1);
	assert_string_equal(err, "network mode proxy needs at least one allowed domain (--allow-domain NAME or "
				 "*.SUFFIX) or address (--allow ADDR[/PREFIX][:PORT]); without one, --network none says it");
	/* an address rule alone will do; a host name is an --allow-domain's */
	assert_int_equal(policy_add_allow(&pol, "192.0.2.0/24:443", err, sizeof(err)), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), 0);
	assert_int_equal(policy_add_allow(&pol, "registry.test:443", err, sizeof(err)), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), -1);
	assert_string_equal(err, "--allow registry.test:443 with network mode proxy: a host name is an --allow-domain "
				 "(the proxy decides by name and resolves it itself); --allow takes ADDR[/PREFIX][:PORT] here");
	expect_error("{\"network\":{\"mode\":\"proxy\",\"domains\":[\"ok.org\",\"x_y.org\",\"-a.org\"]}}",
		     "policy.json: network.domains[2]: '-a.org': only letters, digits, '-', '_' and '.' belong in a name");
	policy_free(&pol), policy_init(&pol);
	assert_int_equal(load("{\"network\":{\"mode\":\"proxy\",\"domains\":[\"api.anthropic.com\"]}}"), 0);
	assert_int_equal(policy_add_cap(&pol, "NET_ADMIN", err, sizeof(err)), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), -1);
	assert_string_equal(err, "capability NET_ADMIN with network mode proxy: its packets would bypass the proxy; "
				 "refused");
}

/* --inject-header: a value from a file only, for one allowed name, with
 * --inspect-tls; the policy's JSON names the file, never the value. */
static void test_policy_inject_header(void **state)
{
	json_t *j;
	char *text;

	assert_int_equal(policy_add_inject(&pol, "api.test:X-Api-Key=secret", err, sizeof(err)), -1);
	assert_string_equal(err, "'api.test:X-Api-Key=secret': expected DOMAIN:NAME=@FILE (values never go on the "
				 "command line)");
	assert_int_equal(policy_add_inject(&pol, "*.test:x=@/k", err, sizeof(err)), -1);
	assert_string_equal(err, "'*.test:x=@/k': '*.test' is not a host name (one name: no wildcard, no address)");
	assert_int_equal(policy_add_inject(&pol, "api.test:bad name=@/k", err, sizeof(err)), -1);
	assert_string_equal(err, "'api.test:bad name=@/k': 'bad name' is not an HTTP header name");
	assert_int_equal(policy_add_inject(&pol, "API.test:X-Api-Key=@/run/key", err, sizeof(err)), 0);
	assert_string_equal(pol.inject[0].domain, "api.test");
	assert_string_equal(pol.inject[0].name, "x-api-key");
	assert_int_equal(policy_add_inject(&pol, "api.test:x-api-key=@/other", err, sizeof(err)), -1);
	assert_int_equal(policy_set_network(&pol, "proxy", err, sizeof(err)), 0);
	assert_int_equal(policy_add_domain(&pol, "registry.test", err, sizeof(err)), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), -1);
	assert_string_equal(err, "--inject-header needs --inspect-tls: the proxy adds a header only to requests it reads");
	pol.inspect_tls = true;
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), -1);
	assert_string_equal(err, "--inject-header for api.test: no allowed domain matches it");
	assert_int_equal(policy_add_domain(&pol, "*.test", err, sizeof(err)), -1); /* too wide */
	assert_int_equal(policy_add_domain(&pol, "api.test", err, sizeof(err)), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), 0);
	j = policy_to_json(&pol);
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(text, "\"inject\":[{\"domain\":\"api.test\",\"file\":\"/run/key\",\"name\":\"x-api-key\"}]"));
	assert_non_null(strstr(text, "\"inspect_tls\":true"));
	free(text);
	json_decref(j);
	policy_free(&pol), policy_init(&pol);
	expect_error("{\"network\":{\"mode\":\"proxy\",\"domains\":[\"a.test\"],\"inspect_tls\":1}}",
		     "policy.json: network.inspect_tls: expected true or false");
}

/* What the session writes in a volume is never root's unasked: sudo's
 * caller by default, an explicit owner otherwise; no file capabilities. */
static void test_policy_volume_owner_and_setfcap(void **state)
{
	assert_int_equal(policy_set_volume_owner(&pol, "0", err, sizeof(err)), 0);
	assert_true(pol.volume_owner_set);
	assert_int_equal(pol.volume_uid, 0);
	assert_int_equal(policy_set_volume_owner(&pol, "100000:5", err, sizeof(err)), 0);
	assert_int_equal(pol.volume_uid, 100000);
	assert_int_equal(pol.volume_gid, 5);
	assert_int_equal(policy_set_volume_owner(&pol, "-1", err, sizeof(err)), -1);
	assert_string_equal(err, "'-1': expected UID[:GID] of the host, numbers");
	policy_free(&pol), policy_init(&pol);
	setenv("SUDO_UID", "1234", 1);
	setenv("SUDO_GID", "99", 1);
	policy_default_volume_owner(&pol);
	if (getuid() == 0) {
		assert_true(pol.volume_owner_set);
		assert_int_equal(pol.volume_uid, 1234);
		assert_int_equal(pol.volume_gid, 99);
	}
	policy_free(&pol), policy_init(&pol);
	assert_int_equal(load("{\"volume_owner\":\"7:8\"}"), 0);
	policy_default_volume_owner(&pol); /* the policy's word stands */
	assert_int_equal(pol.volume_uid, 7);
	unsetenv("SUDO_UID");
	unsetenv("SUDO_GID");
	assert_int_equal(policy_add_cap(&pol, "SETFCAP", err, sizeof(err)), -1);
	assert_string_equal(err, "'SETFCAP': file capabilities set in a session would hold on the host: never granted");
	assert_int_equal(policy_add_cap(&pol, "ALL", err, sizeof(err)), 0);
	assert_false(pol.caps_add & (1ull << 31));
	assert_true(pol.caps_add & (1ull << 21));
}

/* Volume options: follow only where asked; sources absolute, links kept
 * (mntns refuses them) unless follow resolves them here. */
static void test_policy_volume_sources_and_follow(void **state)
{
	assert_int_equal(policy_add_volume(&pol, "/usr/./bin/../lib:/l:ro,follow", err, sizeof(err)), 0);
	assert_true(pol.mounts[0].ro);
	assert_true(pol.mounts[0].follow);
	assert_int_equal(policy_add_volume(&pol, "/usr/./bin/../lib:/m", err, sizeof(err)), 0);
	assert_false(pol.mounts[1].follow);
	assert_int_equal(policy_add_volume(&pol, "/usr:/n:ro,sideways", err, sizeof(err)), -1);
	assert_string_equal(err, "'/usr:/n:ro,sideways': option 'sideways' is not ro, rw or follow");
	assert_int_equal(policy_add_mount_spec(&pol, "type=tmpfs,dst=/t,follow", err, sizeof(err)), -1);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), 0);
	assert_string_equal(pol.mounts[1].src, "/usr/lib");
}

static void test_policy_finish_adds_tmp_and_checks_network(void **state)
{
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), 0);
	assert_int_equal(pol.nmounts, 1);
	assert_string_equal(pol.mounts[0].dst, "/tmp");
	assert_int_equal(pol.mounts[0].size, POLICY_DEFAULT_TMP_SIZE);
	assert_int_equal(policy_add_allow(&pol, "1.2.3.4:80", err, sizeof(err)), 0);
	assert_int_equal(policy_finish(&pol, err, sizeof(err)), -1);
	assert_string_equal(err, "allow rules need network mode allowlist (or proxy, for addresses)");
}

static void test_policy_digest_is_canonical(void **state)
{
	struct policy other;
	char a[72], b[72];

	policy_init(&other);
	assert_int_equal(load("{\"labels\":{\"a\":\"1\",\"b\":\"2\"},\"resources\":{\"pids\":5}}"), 0);
	const char *j = "{\"resources\":{\"pids\":5},\"labels\":{\"b\":\"2\",\"a\":\"1\"}}";

	assert_int_equal(policy_load_json(&other, j, strlen(j), "x", NULL, err, sizeof(err)),
			 0);
	assert_int_equal(policy_digest(&pol, a), 0);
	assert_int_equal(policy_digest(&other, b), 0);
	assert_string_equal(a, b);
	assert_int_equal(strncmp(a, "sha256:", 7), 0);
	assert_int_equal(strlen(a), 7 + 64);
	other.pids = 6;
	assert_int_equal(policy_digest(&other, b), 0);
	assert_string_not_equal(a, b);
	policy_free(&other);
}

static void test_policy_digest_is_the_sha256_of_the_canonical_json(void **state)
{
	json_t *j = policy_to_json(&pol);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS), want[72], got[72];
	uint8_t md[CRYPTO_SHA256_LEN];

	/* libcrypto's SHA-256 (the journal's) as the independent reference */
	assert_int_equal(crypto_sha256(text, strlen(text), md), 0);
	strcpy(want, "sha256:");
	for (unsigned i = 0; i < sizeof(md); i++)
		sprintf(want + 7 + 2 * i, "%02x", md[i]);
	assert_int_equal(policy_digest(&pol, got), 0);
	assert_string_equal(got, want);
	free(text);
	json_decref(j);
}

/* A policy file whose digest is recorded in every session_start it started:
 * the canonical form and its digest are pinned here, so that a change to
 * either is a deliberate one (it breaks the comparison of sessions across
 * versions), not a side effect.  The digest is sha256sum of the text. */
static const char golden_policy[] =
	"{\"version\": 1, \"user\": \"1000:1000\", \"hostname\": \"golden\", \"workdir\": \"/tmp\",\n"
	" \"mounts\": [{\"type\": \"tmpfs\", \"dst\": \"/tmp\", \"size\": \"64m\"}],\n"
	" \"network\": {\"mode\": \"allowlist\", \"allow\": [\"10.0.0.0/8:443\", \"[fd00::/8]:53\", \"example.com:443\"]},\n"
	" \"resources\": {\"memory\": \"1g\", \"cpus\": 1.5, \"pids\": 10, \"timeout\": \"30s\"},\n"
	" \"rlimits\": {\"nofile\": [10, 20]}, \"labels\": {\"team\": \"sec\", \"run\": \"42\"}, \"env\": {\"A\": \"1\"},\n"
	" \"secrets\": [{\"name\": \"TOKEN\"}], \"capabilities\": {\"add\": [\"NET_BIND_SERVICE\"]}}\n";
static const char golden_canonical[] =
	"{\"capabilities\":{\"add\":[\"NET_BIND_SERVICE\"]},\"env\":{\"A\":\"1\"},\"hostname\":\"golden\",\"labels\":{\"run\":\"42\",\"team\":\"sec\"},\"mode\":\"hardened\",\"mounts\":[{\"dst\":\"/tmp\",\"ro\":false,\"size\":67108864,\"type\":\"tmpfs\"}],"
	"\"network\":{\"allow\":[\"10.0.0.0/8:443\",\"[fd00::/8]:53\",\"example.com:443\"],\"mode\":\"allowlist\"},\"resources\":{\"cpus\":1.5,\"memory\":1073741824,\"pids\":10,\"timeout\":30000},\"rlimits\":{\"nofile\":[10,20]},\"rootfs\":null,\"seccomp\":\"default\",\"secrets\":[{\"name\":\"TOKEN\"}],\"user\":\"1000:1000\",\"version\":1,\"workdir\":\"/tmp\"}";
static const char golden_digest[] = "sha256:17a135dc7e9107c77911e90563d7d430596ab3659cabb9c506016b276abed3de";

static void test_policy_digest_of_a_fixed_policy_is_pinned(void **state)
{
	char *text, got[72];
	json_t *j;

	assert_int_equal(load(golden_policy), 0);
	j = policy_to_json(&pol);
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, golden_canonical);
	assert_int_equal(policy_digest(&pol, got), 0);
	assert_string_equal(got, golden_digest);
	free(text);
	json_decref(j);
}

static void test_policy_digest_never_covers_secret_values(void **state)
{
	json_t *j;
	char *text;

	setenv("SANDTRAIL_TEST_SECRET", "hunter2-value", 1);
	assert_int_equal(policy_add_secret(&pol, "SANDTRAIL_TEST_SECRET", err, sizeof(err)), 0);
	j = policy_to_json(&pol);
	text = json_dumps(j, 0);
	assert_null(strstr(text, "hunter2"));
	assert_non_null(strstr(text, "SANDTRAIL_TEST_SECRET"));
	free(text);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_policy_loads_every_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_errors_name_the_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_rejects_unknown_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_rejects_malformed_json_with_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_relative_paths_start_at_the_policy_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_flags_override_the_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_flag_parsers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_unclear_inputs_get_a_message_that_says_how, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_volume_owner_and_setfcap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_volume_sources_and_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_finish_adds_tmp_and_checks_network, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_publish_and_allowlist_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_proxy_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_inject_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_digest_is_canonical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_digest_is_the_sha256_of_the_canonical_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_digest_of_a_fixed_policy_is_pinned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_digest_never_covers_secret_values, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
