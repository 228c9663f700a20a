#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_config.h"

enum opt_type { OPT_STR, OPT_SIZE, OPT_BOOL };

struct opt {
	const char *name; /* flag without "--"; config key with '-' as '_' */
	enum opt_type type;
	size_t off;
	const char *def;
	const char *help;
};

#define OFF(f) offsetof(struct daemon_config, f)

static const struct opt opts[] = {
	{ "journal", OPT_STR, OFF(journal), "/var/lib/sandtrail/journal", "journal directory" },
	{ "socket", OPT_STR, OFF(socket), "/run/sandtrail/control.sock", "control socket" },
	{ "key", OPT_STR, OFF(key), "/etc/sandtrail/signing.key", "signing key (public half beside it, .pub)" },
	{ "create-key", OPT_BOOL, OFF(create_key), "false", "create the signing key if it does not exist" },
	{ "ringbuf-size", OPT_SIZE, OFF(ringbuf_size), "16M", "kernel ring buffer size (power of two)" },
	{ "pending-max", OPT_SIZE, OFF(pending_max), "65536",
	  "threads of all sessions inside one traced syscall at once (each holds up to 8K of its strings)" },
	{ "seal-records", OPT_SIZE, OFF(seal_records), "262144", "records between seals" },
	{ "seal-ms", OPT_SIZE, OFF(seal_ms), "20", "milliseconds between seals (bounds the loss on a crash)" },
	{ "segment-bytes", OPT_SIZE, OFF(segment_bytes), "64M", "journal segment size before rotation" },
	{ "epoch-seconds", OPT_SIZE, OFF(epoch_seconds), "60",
	  "signing key lifetime: then a new key, certified by the old one, which is erased" },
	{ "epoch-seals", OPT_SIZE, OFF(epoch_seals), "0", "also evolve the key after this many seals (0: never)" },
	{ "fsync", OPT_STR, OFF(fsync), "seal", "when to fsync: seal, always, none" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* "16M", "4096", "1G": a size with an optional binary suffix. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int set_opt(struct daemon_config *cfg, const struct opt *o, const char *val, const char *where)
{
	void *field = (char *)cfg + o->off;

	switch (o->type) {
	case OPT_STR:
		free(*(char **)field);
		*(char **)field = strdup(val);
		return *(char **)field ? 0 : -1;
	case OPT_SIZE:
		if (parse_size(val, field) == 0)
			return 0;
		fprintf(stderr, "sandtraild: %s%s: '%s' is not a size (e.g. 4096, 64K, 16M)\n", where, o->name, val);
		return -1;
	case OPT_BOOL:
		if (!strcmp(val, "true") || !strcmp(val, "false")) {
			*(bool *)field = !strcmp(val, "true");
			return 0;
		}
		fprintf(stderr, "sandtraild: %s%s: expected true or false\n", where, o->name);
		return -1;
	}
	return -1;
}

static void usage(void)
{
	printf("usage: sandtraild [options]\n"
	       "Loads the kernel programs, records watched sessions into the sealed journal.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char flag[48];

		snprintf(flag, sizeof(flag), "--%s%s", opts[i].name, opts[i].type == OPT_BOOL ? "" : " VALUE");
		printf("  %-28s %s (default: %s)\n", flag, opts[i].help, opts[i].def);
	}
	printf("  %-28s %s\n", "--config FILE", "JSON object of the same settings (keys with '_'); flags win");
}

static int load_file(struct daemon_config *cfg, const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *val;
	const char *key;
	char where[512];

	if (!root) {
		fprintf(stderr, "sandtraild: --config %s: line %d: %s\n", path, jerr.line, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		fprintf(stderr, "sandtraild: --config %s: expected a JSON object\n", path);
		json_decref(root);
		return -1;
	}
	snprintf(where, sizeof(where), "%s: ", path);
	json_object_foreach(root, key, val) {
		const struct opt *o = NULL;
		char text[64];
		const char *s = text;

		for (size_t i = 0; i < NOPTS; i++) {
			char k[32];

			snprintf(k, sizeof(k), "%s", opts[i].name);
			for (char *p = k; *p; p++)
				if (*p == '-')
					*p = '_';
			if (!strcmp(k, key))
				o = &opts[i];
		}
		if (!o) {
			fprintf(stderr, "sandtraild: %s%s: unknown setting\n", where, key);
			json_decref(root);
			return -1;
		}
		if (json_is_string(val))
			s = json_string_value(val);
		else if (json_is_integer(val))
			snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(val));
		else if (json_is_boolean(val))
			s = json_is_true(val) ? "true" : "false";
		else
			s = "";
		if (set_opt(cfg, o, s, where) < 0) {
			json_decref(root);
			return -1;
		}
	}
	json_decref(root);
	return 0;
}

int daemon_config_load(struct daemon_config *cfg, int argc, char **argv)
{
	struct option longopts[NOPTS + 3];
	const char *config = NULL;
	int c, idx;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NOPTS; i++) {
		if (set_opt(cfg, &opts[i], opts[i].def, "default ") < 0)
			return -1;
		longopts[i] = (struct option){ opts[i].name,
					       opts[i].type == OPT_BOOL ? no_argument : required_argument, NULL,
					       (int)i };
	}
	longopts[NOPTS] = (struct option){ "config", required_argument, NULL, 'c' };
	longopts[NOPTS + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[NOPTS + 2] = (struct option){ 0 };

	/* the config file first, so that flags override it whatever their order */
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		if (c == 'h') {
			usage();
			return 1;
		}
		if (c == 'c')
			config = optarg;
		if (c == '?')
			return -1;
	}
	if (optind != argc) {
		fprintf(stderr, "sandtraild: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -1;
	}
	if (config && load_file(cfg, config) < 0)
		return -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		if (c < 0 || c >= (int)NOPTS)
			continue;
		if (set_opt(cfg, &opts[c], opts[c].type == OPT_BOOL ? "true" : optarg, "--") < 0)
			return -1;
	}
	if (strcmp(cfg->fsync, "seal") && strcmp(cfg->fsync, "always") && strcmp(cfg->fsync, "none")) {
		fprintf(stderr, "sandtraild: --fsync: '%s' is not one of seal, always, none\n", cfg->fsync);
		return -1;
	}
	if (cfg->epoch_seconds == 0 || cfg->epoch_seconds > UINT32_MAX / 1000) {
		fprintf(stderr, "sandtraild: --epoch-seconds: must be between 1 and %u\n", UINT32_MAX / 1000);
		return -1;
	}
	if (cfg->seal_records > UINT32_MAX || cfg->seal_ms > UINT32_MAX || cfg->epoch_seals > UINT32_MAX) {
		fprintf(stderr, "sandtraild: --seal-records, --seal-ms and --epoch-seals must be below 2^32\n");
		return -1;
	}
	if (cfg->pending_max == 0 || cfg->pending_max > (1u << 22)) {
		fprintf(stderr, "sandtraild: --pending-max: must be between 1 and %u\n", 1u << 22);
		return -1;
	}
	if (cfg->ringbuf_size < 4096 || (cfg->ringbuf_size & (cfg->ringbuf_size - 1)) ||
	    cfg->ringbuf_size > (1u << 30)) {
		fprintf(stderr, "sandtraild: --ringbuf-size: %" PRIu64 " is not a power of two between 4K and 1G\n",
			cfg->ringbuf_size);
		return -1;
	}
	return 0;
}

void daemon_config_free(struct daemon_config *cfg)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].type == OPT_STR)
			free(*(char **)((char *)cfg + opts[i].off));
}
