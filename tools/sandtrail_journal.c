/* sandtrail-journal: the commands of `sandtrail` that read and sign
 * journals, run by it through exec (tools/sandtrail.c says why). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct command commands[] = {
	{ "keygen", cmd_keygen, cmd_keygen_usage },
	{ "replay", cmd_replay, cmd_replay_usage },
	{ "verify", cmd_verify, cmd_verify_usage },
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "sandtrail-journal: run by sandtrail as `sandtrail keygen|replay|verify ...`\n");
	return 2;
}
