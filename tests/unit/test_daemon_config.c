#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "collector/collector.h"
#include "exporter.h"

static char config_path[64];

static int write_config(const char *text)
{
	int fd;

	strcpy(config_path, "/tmp/sandtraild-config-XXXXXX");
	fd = mkstemp(config_path);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		return -1;
	close(fd);
	return 0;
}

static int load(struct daemon_config *cfg, int argc, char **argv)
{
	int rc;

	optind = 1;
	rc = daemon_config_load(cfg, argc, argv);
	return rc;
}

static void test_defaults_are_the_documented_paths(void **state)
{
	char *argv[] = { "sandtraild", NULL };
	struct daemon_config cfg;

	assert_int_equal(load(&cfg, 1, argv), 0);
	assert_string_equal(cfg.journal, "/var/lib/sandtrail/journal");
	assert_string_equal(cfg.socket, "/run/sandtrail/control.sock");
	assert_string_equal(cfg.key, "/etc/sandtrail/signing.key");
	assert_int_equal(cfg.ringbuf_size, 16u << 20);
	assert_int_equal(cfg.pending_max, 65536);
	assert_false(cfg.create_key);
	daemon_config_free(&cfg);
}

static void test_flags_override_the_config_file_whatever_their_order(void **state)
{
	struct daemon_config cfg;
	char *argv[] = { "sandtraild", "--journal", "/flag", "--config", config_path, "--create-key", NULL };

	assert_int_equal(write_config("{\"journal\": \"/file\", \"seal_ms\": 5, \"ringbuf_size\": \"1M\"}"), 0);
	assert_int_equal(load(&cfg, 6, argv), 0);
	assert_string_equal(cfg.journal, "/flag");
	assert_int_equal(cfg.seal_ms, 5);
	assert_int_equal(cfg.ringbuf_size, 1u << 20);
	assert_true(cfg.create_key);
	daemon_config_free(&cfg);
	unlink(config_path);
}

static void test_bad_values_are_refused(void **state)
{
	struct daemon_config cfg;
	char *size[] = { "sandtraild", "--ringbuf-size", "3000", NULL };
	char *fsync_[] = { "sandtraild", "--fsync", "sometimes", NULL };
	char *num[] = { "sandtraild", "--seal-ms", "12x", NULL };
	char *pending[] = { "sandtraild", "--pending-max", "0", NULL };
	char *file[] = { "sandtraild", "--config", config_path, NULL };
	static const char *const wrong[] = {
		"{\"create_key\": \"yes\"}", "{\"create_key\": 1}", "{\"journal\": null}",
		"{\"journal\": {\"path\": \"/x\"}}", "{\"journal\": [\"/x\"]}", "{\"export\": [\"kafka://k:9092/t\", 5]}",
	};

	assert_int_equal(load(&cfg, 3, size), -1);
	daemon_config_free(&cfg);
	assert_int_equal(load(&cfg, 3, fsync_), -1);
	daemon_config_free(&cfg);
	assert_int_equal(load(&cfg, 3, num), -1);
	daemon_config_free(&cfg);
	assert_int_equal(load(&cfg, 3, pending), -1);
	daemon_config_free(&cfg);
	assert_int_equal(write_config("{\"jornal\": \"/x\"}"), 0);
	assert_int_equal(load(&cfg, 3, file), -1);
	daemon_config_free(&cfg);
	/* values of the wrong kind are refused, never taken for "" or false */
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		assert_int_equal(write_config(wrong[i]), 0);
		assert_int_equal(load(&cfg, 3, file), -1);
		daemon_config_free(&cfg);
	}
	unlink(config_path);
}

static void test_export_urls_from_the_file_are_replaced_by_flags(void **state)
{
	struct daemon_config cfg;
	char *none[] = { "sandtraild", "--config", config_path, NULL };
	char *flags[] = { "sandtraild", "--config", config_path, "--export", "file:///c.ndjson", NULL };

	assert_int_equal(write_config("{\"export\": [\"file:///a.ndjson\", \"file:///b.ndjson?keep=2\"]}"), 0);
	assert_int_equal(load(&cfg, 3, none), 0);
	assert_int_equal(cfg.nexport, 2);
	assert_string_equal(cfg.export[1], "file:///b.ndjson?keep=2");
	assert_int_equal(exporters_count(cfg.exporters), 2);
	daemon_config_free(&cfg);
	assert_int_equal(load(&cfg, 5, flags), 0);
	assert_int_equal(cfg.nexport, 1);
	assert_string_equal(cfg.export[0], "file:///c.ndjson");
	daemon_config_free(&cfg);
	unlink(config_path);
}

static void test_state_defaults_to_beside_the_journal(void **state)
{
	struct daemon_config cfg;
	char *argv[] = { "sandtraild", "--journal", "/srv/st/journal", NULL };

	assert_int_equal(load(&cfg, 3, argv), 0);
	assert_string_equal(cfg.state, "/srv/st/state");
	daemon_config_free(&cfg);
}

static void test_bad_export_urls_are_refused_at_load(void **state)
{
	struct daemon_config cfg;
	char *scheme[] = { "sandtraild", "--export", "ftp://h/x", NULL };
	char *option[] = { "sandtraild", "--export", "file:///x.ndjson?bogus=1", NULL };
	char *file[] = { "sandtraild", "--config", config_path, NULL };

	assert_int_equal(load(&cfg, 3, scheme), -1);
	daemon_config_free(&cfg);
	assert_int_equal(load(&cfg, 3, option), -1);
	daemon_config_free(&cfg);
	assert_int_equal(write_config("{\"export\": [1]}"), 0);
	assert_int_equal(load(&cfg, 3, file), -1);
	daemon_config_free(&cfg);
	unlink(config_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_the_documented_paths),
		cmocka_unit_test(test_flags_override_the_config_file_whatever_their_order),
		cmocka_unit_test(test_bad_values_are_refused),
		cmocka_unit_test(test_export_urls_from_the_file_are_replaced_by_flags),
		cmocka_unit_test(test_state_defaults_to_beside_the_journal),
		cmocka_unit_test(test_bad_export_urls_are_refused_at_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
