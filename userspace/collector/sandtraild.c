/* sandtraild: the collector daemon (foreground). */
#include <stdio.h>
#include <unistd.h>

#include "collector.h"
#include "daemon_config.h"

int main(int argc, char **argv)
{
	struct daemon_config cfg;
	int rc = daemon_config_load(&cfg, argc, argv);

	if (rc != 0) {
		daemon_config_free(&cfg);
		return rc > 0 ? 0 : 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "sandtraild: must run as root (loads BPF programs, owns cgroups)\n");
		daemon_config_free(&cfg);
		return 1;
	}
	rc = collector_run(&cfg);
	daemon_config_free(&cfg);
	return rc;
}
