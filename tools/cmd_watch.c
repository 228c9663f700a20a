#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "collector/collector.h"
#include "labels.h"

const char cmd_watch_usage[] =
	"watch --cgroup PATH [--label k=v]... [--id-file F]\n"
	"  Traces an existing cgroup v2 directory and its descendants as a session.\n"
	"  --cgroup PATH   the cgroup (under the cgroup2 mount)\n"
	"  --label k=v     a label on every record of the session (repeatable)\n"
	"  --id-file F     also write the session id to F\n"
	"  --socket PATH   sandtraild's control socket\n";

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, 'c' }, { "label", required_argument, NULL, 'l' },
		{ "id-file", required_argument, NULL, 'i' }, { "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },         { 0 },
	};
	const char *cgroup = NULL, *id_file = NULL, *sock = NULL, *id;
	json_t *labels = json_object(), *req, *rep;
	char real[PATH_MAX], err[512];
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cgroup = optarg; break;
		case 'i': id_file = optarg; break;
		case 's': sock = optarg; break;
		case 'l':
			if (labels_parse(labels, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "sandtrail watch: --label %s\n", err);
				json_decref(labels);
				return 2;
			}
			break;
		case 'h': json_decref(labels); return command_usage(cmd_watch_usage, 0);
		default: json_decref(labels); return command_usage(cmd_watch_usage, 1);
		}
	}
	if (!cgroup || optind != argc) {
		json_decref(labels);
		return command_usage(cmd_watch_usage, 1);
	}
	if (!realpath(cgroup, real)) {
		fprintf(stderr, "sandtrail watch: --cgroup %s: %m\n", cgroup);
		json_decref(labels);
		return 1;
	}
	req = json_pack("{s:s, s:s, s:s, s:o, s:b}", "cmd", "watch", "mode", "watch", "cgroup", real,
			"labels", labels, "keep", 1);
	rep = control_call(control_socket_path(sock), req, err, sizeof(err));
	json_decref(req);
	if (!rep) {
		fprintf(stderr, "sandtrail watch: %s\n", err);
		return 1;
	}
	id = json_string_value(json_object_get(rep, "id"));
	if (id) {
		printf("%s\n", id);
		rc = 0;
		if (id_file) {
			FILE *f = fopen(id_file, "we");

			if (!f || fprintf(f, "%s\n", id) < 0 || fclose(f) != 0) {
				fprintf(stderr, "sandtrail watch: --id-file %s: %m\n", id_file);
				rc = 1;
			}
		}
	}
	json_decref(rep);
	return rc;
}
