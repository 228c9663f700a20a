#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "collector/collector.h"
#include "escape.h"

const char cmd_ps_usage[] =
	"ps [--json]\n"
	"  Lists live sessions.\n"
	"  --json          one JSON object per session\n"
	"  --socket PATH   sandtraild's control socket\n";

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
	json_decref(rep);
	return 0;
}
