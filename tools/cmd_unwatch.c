#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "collector/collector.h"

const char cmd_unwatch_usage[] =
	"unwatch ID\n"
	"  Ends a session started by watch; its cgroup is left as it is.\n"
	"  --socket PATH   sandtraild's control socket\n";

const char cmd_stop_usage[] =
	"stop ID\n"
	"  Kills every process of a session (cgroup.kill) and ends it.\n"
	"  --socket PATH   sandtraild's control socket\n";

/* unwatch and stop: one session id, one request. */
static int session_request(int argc, char **argv, const char *cmd, const char *usage)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sock = NULL;
	json_t *req, *rep;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'h': return command_usage(usage, 0);
		default: return command_usage(usage, 1);
		}
	}
	if (optind + 1 != argc)
		return command_usage(usage, 1);
	req = json_pack("{s:s, s:s}", "cmd", cmd, "id", argv[optind]);
	rep = control_call(control_socket_path(sock), req, err, sizeof(err));
	json_decref(req);
	if (!rep) {
		fprintf(stderr, "sandtrail %s: %s\n", cmd, err);
		return 1;
	}
	json_decref(rep);
	return 0;
}

int cmd_unwatch(int argc, char **argv)
{
	return session_request(argc, argv, "unwatch", cmd_unwatch_usage);
}

int cmd_stop(int argc, char **argv)
{
	return session_request(argc, argv, "stop", cmd_stop_usage);
}
