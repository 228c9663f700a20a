#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "collector/collector.h"
#include "escape.h"

const char cmd_ps_usage[] =
	"ps [--json]\n"
	"  Lists live sessions, then sandtraild's exporters: connected or not, lag (records\n"
	"  and seconds behind the journal), records delivered and refused, the last error.\n"
	"  --json          one JSON object per session, then one per exporter (key \"exporter\")\n"
	"  --socket PATH   sandtraild's control socket\n";

static void print_exporters(json_t *list, bool as_json)
{
	json_t *x;
	size_t i;

	if (!as_json && json_array_size(list))
		printf("\n%-20s  %-12s  %10s  %9s  %12s  %8s  %s\n", "EXPORTER", "STATE", "LAG", "LAG-SEC", "DELIVERED",
		       "FAILED", "LAST ERROR");
	json_array_foreach(list, i, x) {
		const char *err = json_string_value(json_object_get(x, "last_error"));

		if (as_json) {
			json_dumpf(x, stdout, JSON_COMPACT);
			putchar('\n');
			continue;
		}
		printf("%-20s  %-12s  %10" JSON_INTEGER_FORMAT "  %9.1f  %12" JSON_INTEGER_FORMAT "  %8" JSON_INTEGER_FORMAT
		       "  ", json_string_value(json_object_get(x, "exporter")),
		       json_is_true(json_object_get(x, "connected")) ? "connected" : "disconnected",
		       json_integer_value(json_object_get(x, "lag_records")),
		       json_real_value(json_object_get(x, "lag_seconds")),
		       json_integer_value(json_object_get(x, "delivered")), json_integer_value(json_object_get(x, "failed")));
		escape_fput(stdout, err ? err : "-", err ? strlen(err) : 1);
		putchar('\n');
	}
}

int cmd_ps(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sock = NULL;
	json_t *req, *rep, *s;
	int c, as_json = 0;
	size_t i;
	char err[512];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = 1; break;
		case 's': sock = optarg; break;
		case 'h': return command_usage(cmd_ps_usage, 0);
		default: return command_usage(cmd_ps_usage, 1);
		}
	}
	if (optind != argc)
		return command_usage(cmd_ps_usage, 1);
	req = json_pack("{s:s}", "cmd", "ps");
	rep = control_call(control_socket_path(sock), req, err, sizeof(err));
	json_decref(req);
	if (!rep) {
		fprintf(stderr, "sandtrail ps: %s\n", err);
		return 1;
	}
	if (!as_json)
		printf("%-16s  %-8s  %-20s  %s\n", "SESSION", "MODE", "STARTED", "CGROUP");
	json_array_foreach(json_object_get(rep, "sessions"), i, s) {
		time_t start = (time_t)json_integer_value(json_object_get(s, "start"));
		const char *cg = json_string_value(json_object_get(s, "cgroup"));
		char when[32];

		if (as_json) {
			json_dumpf(s, stdout, JSON_COMPACT);
			putchar('\n');
			continue;
		}
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&start));
		printf("%-16s  %-8s  %-20s  ", json_string_value(json_object_get(s, "id")),
		       json_string_value(json_object_get(s, "mode")), when);
		escape_fput(stdout, cg ? cg : "", cg ? strlen(cg) : 0);
		putchar('\n');
	}
	print_exporters(json_object_get(rep, "exporters"), as_json);
	json_decref(rep);
	return 0;
}
