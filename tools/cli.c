#include <stdio.h>
#include <string.h>

#include "commands.h"

int command_usage(const char *usage, int misuse)
{
	FILE *f = misuse ? stderr : stdout;

	fprintf(f, "usage: sandtrail %s", usage);
	if (usage[strlen(usage) - 1] != '\n')
		fputc('\n', f);
	return misuse ? 2 : 0;
}
