#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "journal/journal.h"

const char cmd_keygen_usage[] =
	"keygen --out DIR\n"
	"  Creates a journal signing key: DIR/signing.key (0600, for sandtraild --key)\n"
	"  and DIR/signing.pub (for sandtrail verify --pubkey). Never overwrites.\n"
	"  --out DIR       where to write them (created 0700 if missing)\n";

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char key[4096], pub[4096], kid[JOURNAL_KEY_ID_STR];
	uint8_t pk[JOURNAL_PUB_LEN];
	const char *out = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': return command_usage(cmd_keygen_usage, 0);
		default: return command_usage(cmd_keygen_usage, 1);
		}
	}
	if (!out || optind != argc)
		return command_usage(cmd_keygen_usage, 1);
	if (mkdir(out, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "sandtrail keygen: mkdir(\"%s\"): %s\n", out, strerror(errno));
		return 2;
	}
	if ((size_t)snprintf(key, sizeof(key), "%s/signing.key", out) >= sizeof(key) ||
	    keys_pub_path(key, pub, sizeof(pub)) < 0) {
		fprintf(stderr, "sandtrail keygen: --out %s: path too long\n", out);
		return 2;
	}
	rc = keys_create(key);
	if (rc == -EEXIST) {
		fprintf(stderr, "sandtrail keygen: %s or %s already exists; not overwriting\n", key, pub);
		return 1;
	}
	if (rc < 0 || (rc = keys_read_pub(pub, pk)) < 0) {
		fprintf(stderr, "sandtrail keygen: %s: %s\n", key, strerror(-rc));
		return 1;
	}
	seal_key_id(pk, kid);
	printf("%s\n", kid);
	fprintf(stderr, "sandtrail keygen: wrote %s and %s (key id %s)\n", key, pub, kid);
	return 0;
}
