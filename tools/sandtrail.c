/* sandtrail: the command-line client.  Subcommands are a sorted table.
 * replay, verify and keygen read and sign journals: they live in
 * sandtrail-journal beside this binary (tools/sandtrail_journal.c), so that
 * run, which every session starts with, loads and relocates none of the
 * journal's libraries (zlib, libdeflate, libzstd, msgpack, libcrypto). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "beside.h"
#include "commands.h"

static int journal_tool(int argc, char **argv);

static const struct command commands[] = {
	{ "keygen", journal_tool, "keygen --out DIR" },
	{ "ps", cmd_ps, cmd_ps_usage },
	{ "replay", journal_tool, "replay [--journal DIR | --kafka BROKERS --topic T] [--session ID | --all] [options]" },
	{ "run", cmd_run, cmd_run_usage },
	{ "stop", cmd_stop, cmd_stop_usage },
	{ "unwatch", cmd_unwatch, cmd_unwatch_usage },
	{ "verify", journal_tool, "verify [--journal DIR | FILE... | --kafka BROKERS --topic T] --pubkey FILE" },
	{ "watch", cmd_watch, cmd_watch_usage },
};

/* argv is main's from its second element: argv[-1] is the program. */
static int journal_tool(int argc, char **argv)
{
	char path[PATH_MAX];
	int rc = beside_self("sandtrail-journal", path, sizeof(path));

	(void)argc;
	if (rc < 0) {
		fprintf(stderr, "sandtrail %s: /proc/self/exe: %s\n", argv[0], strerror(-rc));
		return 2;
	}
	execv(path, argv - 1);
	fprintf(stderr, "sandtrail %s: %s: %s (installed beside sandtrail)\n", argv[0], path, strerror(errno));
	return 2;
}

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
