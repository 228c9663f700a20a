#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include "daemon_config.h"
#include "exporter.h"
#include "units.h"

enum opt_type { OPT_STR, OPT_SIZE, OPT_BOOL, OPT_LIST };

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
	{ "metrics-socket", OPT_STR, OFF(metrics_socket), "",
	  "Prometheus metrics over HTTP on a root-only unix socket (default: metrics.sock beside the control socket)" },
	{ "metrics-listen", OPT_STR, OFF(metrics_listen), "",
	  "also serve the metrics on ADDR:PORT (127.0.0.1:9464, [::1]:9464); off by default" },
	{ "socket-group", OPT_STR, OFF(socket_group), "",
	  "group whose members may use the control socket for ps (default: root only)" },
	{ "gvisor-socket", OPT_STR, OFF(gvisor_socket), "",
	  "gVisor's remote sink (default: gvisor.sock beside the control socket)" },
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
	{ "pin-dir", OPT_STR, OFF(pin_dir), "auto", "bpffs directory where the kernel side is pinned, so that it "
	  "keeps recording the sessions while sandtraild restarts and the next one takes them over; none: "
	  "nothing pinned; auto: " DAEMON_PIN_DIR " with the default --socket, else none (one directory per collector)" },
	{ "state", OPT_STR, OFF(state), "", "state kept outside the journal: the exporters' cursors "
	  "(default: DIR/../state for --journal DIR)" },
	{ "export", OPT_LIST, OFF(export), "", "ship the journal to a sink, URL below (repeatable)" },
	{ "proxy", OPT_STR, OFF(proxy), "", "the egress proxy of --network proxy sessions (default: sandtrail-proxy "
	  "beside sandtraild; none: such sessions are refused)" },
	{ "proxy-user", OPT_STR, OFF(proxy_user), "nobody", "the unprivileged user the proxy runs as" },
	{ "proxy-dns", OPT_STR, OFF(proxy_dns), "", "the name server the proxy asks, ADDR[:PORT] (default: "
	  "/etc/resolv.conf's; never the sandbox's)" },
	{ "proxy-upstream-ca", OPT_STR, OFF(proxy_upstream_ca), "", "the certificates the proxy trusts for the "
	  "origins of --inspect-tls sessions (default: the system's bundle)" },
	{ "retain-bytes", OPT_SIZE, OFF(retain_bytes), "0",
	  "remove the oldest closed segments, once every sink shipped them, to keep the journal under this size (0: keep all)" },
	{ "retain-days", OPT_STR, OFF(retain_days), "",
	  "remove closed segments, once every sink shipped them, whose records are all older than this many days "
	  "(a decimal number; empty: keep all)" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void free_list(struct daemon_config *cfg)
{
	for (size_t i = 0; i < cfg->nexport; i++)
		free(cfg->export[i]);
	free(cfg->export);
	cfg->export = NULL;
	cfg->nexport = 0;
}

static int list_add(struct daemon_config *cfg, const char *val)
{
	char **v = realloc(cfg->export, (cfg->nexport + 2) * sizeof(*v));

	if (!v)
		return -1;
	cfg->export = v;
	v[cfg->nexport] = strdup(val);
	if (!v[cfg->nexport])
		return -1;
	v[++cfg->nexport] = NULL;
	return 0;
}

static int set_opt(struct daemon_config *cfg, const struct opt *o, const char *val, const char *where)
{
	void *field = (char *)cfg + o->off;

	switch (o->type) {
	case OPT_LIST:
		return *val ? list_add(cfg, val) : 0;
	case OPT_STR:
		free(*(char **)field);
		*(char **)field = strdup(val);
		return *(char **)field ? 0 : -1;
	case OPT_SIZE:
		if (units_size(val, field) == 0)
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

		snprintf(flag, sizeof(flag), "--%s%s", opts[i].name,
			 opts[i].type == OPT_BOOL ? "" : opts[i].type == OPT_LIST ? " URL" : " VALUE");
		printf("  %-28s %s", flag, opts[i].help);
		if (*opts[i].def)
			printf(" (default: %s)", opts[i].def);
		putchar('\n');
	}
	printf("  %-28s %s\n", "--config FILE", "JSON object of the same settings (keys with '_'; \"export\": "
	       "a list); flags win");
	exporters_help(stdout);
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
		if (o->type == OPT_LIST && json_is_array(val)) {
			size_t i;
			json_t *u;

			json_array_foreach(val, i, u) {
				if (!json_is_string(u)) {
					fprintf(stderr, "sandtraild: %s%s[%zu]: expected a string\n", where, key, i);
					json_decref(root);
					return -1;
				}
				if (set_opt(cfg, o, json_string_value(u), where) < 0) {
					json_decref(root);
					return -1;
				}
			}
			continue;
		}
		if (json_is_string(val))
			s = json_string_value(val);
		else if (json_is_integer(val))
			snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(val));
		else if (json_is_boolean(val))
			s = json_is_true(val) ? "true" : "false";
		else
			s = NULL;
		if (!s) {
			fprintf(stderr, "sandtraild: %s%s: expected a string, a number or true/false\n", where, key);
			json_decref(root);
			return -1;
		}
		if (set_opt(cfg, o, s, where) < 0) {
			json_decref(root);
			return -1;
		}
	}
	json_decref(root);
	return 0;
}

/* "state" beside the journal directory: outside it, so that whoever can
 * replace the journal does not replace the state with it by the same move. */
static int default_state(struct daemon_config *cfg)
{
	char *copy = strdup(cfg->journal), *dir = copy ? dirname(copy) : NULL;

	free(cfg->state);
	cfg->state = NULL;
	if (dir && asprintf(&cfg->state, "%s/state", dir) < 0)
		cfg->state = NULL;
	free(copy);
	return cfg->state ? 0 : -1;
}

int daemon_config_load(struct daemon_config *cfg, int argc, char **argv)
{
	struct option longopts[NOPTS + 3];
	const char *config = NULL;
	int c, idx, flag_lists = 0;
	char err[512];

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
		/* a list on the command line replaces the config file's */
		if (opts[c].type == OPT_LIST && !flag_lists++)
			free_list(cfg);
		if (set_opt(cfg, &opts[c], opts[c].type == OPT_BOOL ? "true" : optarg, "--") < 0)
			return -1;
	}
	if (strcmp(cfg->fsync, "seal") && strcmp(cfg->fsync, "always") && strcmp(cfg->fsync, "none")) {
		fprintf(stderr, "sandtraild: --fsync: '%s' is not one of seal, always, none\n", cfg->fsync);
		return -1;
	}
	if (*cfg->socket_group) {
		struct group *g = getgrnam(cfg->socket_group);

		if (!g) {
			fprintf(stderr, "sandtraild: --socket-group: no group '%s' (create it: groupadd --system %s)\n",
				cfg->socket_group, cfg->socket_group);
			return -1;
		}
		cfg->socket_gid = g->gr_gid;
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
	if (*cfg->retain_days) {
		char *end;
		double d = strtod(cfg->retain_days, &end);

		if (*end || !(d > 0) || d > 1e6) {
			fprintf(stderr, "sandtraild: --retain-days: '%s' is not a number of days above 0\n", cfg->retain_days);
			return -1;
		}
		cfg->retain_age_ns = (uint64_t)(d * 86400e9);
	}
	if (!*cfg->state && default_state(cfg) < 0)
		return -1;
	/* auto: only the system's collector pins by default; a private one (its
	 * own socket) does so where told, in a directory of its own */
	if (!strcmp(cfg->pin_dir, "auto")) {
		free(cfg->pin_dir);
		struct statfs fs;
		bool bpffs = statfs("/sys/fs/bpf", &fs) == 0 && fs.f_type == BPF_FS_MAGIC;

		cfg->pin_dir = strdup(strcmp(cfg->socket, opts[1].def) || !bpffs ? "none" : DAEMON_PIN_DIR);
		if (!cfg->pin_dir)
			return -1;
	}
	if (strcmp(cfg->pin_dir, "none") && cfg->pin_dir[0] != '/') {
		fprintf(stderr, "sandtraild: --pin-dir: '%s' is not an absolute path, none or auto\n", cfg->pin_dir);
		return -1;
	}
	if (exporters_parse(&cfg->exporters, cfg->export, cfg->nexport, err, sizeof(err)) < 0) {
		fprintf(stderr, "sandtraild: --export %s\n", err);
		return -1;
	}
	return 0;
}

void daemon_config_free(struct daemon_config *cfg)
{
	free_list(cfg);
	exporters_free(cfg->exporters);
	cfg->exporters = NULL;
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].type == OPT_STR)
			free(*(char **)((char *)cfg + opts[i].off));
}
