/* sandtrail: the command-line client.  Subcommands are a sorted table. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct command commands[] = {
	{ "keygen", cmd_keygen, cmd_keygen_usage },
	{ "ps", cmd_ps, cmd_ps_usage },
	{ "replay", cmd_replay, cmd_replay_usage },
	{ "run", cmd_run, cmd_run_usage },
	{ "stop", cmd_stop, cmd_stop_usage },
	{ "unwatch", cmd_unwatch, cmd_unwatch_usage },
	{ "verify", cmd_verify, cmd_verify_usage },
	{ "watch", cmd_watch, cmd_watch_usage },
};

static int usage(FILE *f)
{
	fprintf(f, "usage: sandtrail <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const char *u = commands[i].usage;
		const char *nl = strchr(u, '\n');

		fprintf(f, "  %.*s\n", nl ? (int)(nl - u) : (int)strlen(u), u);
	}
	fprintf(f, "\nEvery command takes --socket PATH (or SANDTRAIL_SOCKET) and --help.\n");
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return usage(stdout);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "sandtrail: unknown command '%s' (see sandtrail --help)\n", argv[1]);
	return 2;
}
