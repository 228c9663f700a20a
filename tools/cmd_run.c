#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "collector/collector.h"
#include "labels.h"
#include "policy.h"
#include "manager.h"

const char cmd_run_usage[] =
	"run [--mode hardened|gvisor|microvm] [options] -- CMD [ARG]...\n"
	"  Runs CMD in a new sandbox session recorded by sandtraild; returns CMD's status\n"
	"  (128+signal when killed), 125 when the session could not start.\n"
	"  microvm: CMD in a QEMU microVM of its own (the guest: make microvm), network none;\n"
	"  SANDTRAIL_BOOT_TIMEOUT (ms, default 60000) bounds its boot.\n"
	"  --policy FILE            JSON policy (schemas/policy.schema.json); flags override it\n"
	"  -u, --user UID[:GID]     ids inside the sandbox (default 1000:1000)\n"
	"  --rootfs DIR             root filesystem (default: the host's /, read-only)\n"
	"  --mount type=bind,src=S,dst=D[,ro] | type=tmpfs,dst=D[,size=N]\n"
	"  -v, --volume SRC:DST[:ro|rw]\n"
	"  --volume-owner UID[:GID]  host owner of what the session creates in writable\n"
	"                           binds (default: the sudo caller, else the source's owner;\n"
	"                           a root-owned source needs it said: --volume-owner 0)\n"
	"  --tmpfs DST[:size=N]     (default: /tmp, 512m)\n"
	"  --network none|host|allowlist|proxy   (default none: loopback only)\n"
	"  --allow CIDR[:PORT] | HOST:PORT egress allowed with --network allowlist; with\n"
	"                           --network proxy, CIDR[:PORT] only: the proxy lets those through\n"
	"  --allow-domain NAME | *.SUFFIX  a domain reachable with --network proxy, through\n"
	"                           sandtrail's proxy (HTTP CONNECT, plain HTTP, TLS by SNI)\n"
	"  --allow-domain-file F    one such domain a line ('#' comments)\n"
	"  --inspect-tls            the proxy ends the session's TLS with a CA of the session's\n"
	"                           (trusted inside, its key never is) and records each request\n"
	"  --inject-header DOMAIN:NAME=@FILE  the proxy adds NAME: <FILE> to requests to DOMAIN\n"
	"                           (--inspect-tls); the value never enters the sandbox\n"
	"  -p, --publish [IP:]HOST_PORT:PORT[/tcp|/udp]  the only way in (--network allowlist)\n"
	"  --cap-add CAP            keep a capability (all are dropped)\n"
	"  --security-opt seccomp=FILE     seccomp profile in Docker's JSON format\n"
	"  -m, --memory SIZE   --cpus N   --pids-limit N   --timeout DURATION\n"
	"  --stop-timeout DURATION  SIGINT/TERM/HUP/QUIT to run go to CMD's process group;\n"
	"                           after this long (default 10s) the session is killed\n"
	"  --ulimit NAME=SOFT[:HARD]\n"
	"  -e, --env K=V | K        -w, --workdir DIR        --hostname NAME\n"
	"  --secret NAME | NAME=@FILE      injected as an environment variable, redacted in records\n"
	"  -l, --label k=v          --id-file F    --no-audit    --socket PATH\n";

enum {
	OPT_MODE = 256, OPT_ROOTFS, OPT_MOUNT, OPT_TMPFS, OPT_NETWORK, OPT_ALLOW, OPT_CAP_ADD, OPT_SECOPT,
	OPT_CPUS, OPT_PIDS, OPT_TIMEOUT, OPT_SECRET, OPT_POLICY, OPT_ID_FILE, OPT_NO_AUDIT, OPT_SOCKET,
	OPT_HOSTNAME, OPT_ULIMIT, OPT_VOLUME_OWNER, OPT_STOP_TIMEOUT, OPT_ALLOW_DOMAIN, OPT_ALLOW_DOMAIN_FILE, OPT_INSPECT_TLS, OPT_INJECT_HEADER,
};

static const struct option opts[] = {
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "user", required_argument, NULL, 'u' },
	{ "rootfs", required_argument, NULL, OPT_ROOTFS },
	{ "mount", required_argument, NULL, OPT_MOUNT },
	{ "volume", required_argument, NULL, 'v' },
	{ "volume-owner", required_argument, NULL, OPT_VOLUME_OWNER },
	{ "tmpfs", required_argument, NULL, OPT_TMPFS },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "net", required_argument, NULL, OPT_NETWORK },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "allow-domain", required_argument, NULL, OPT_ALLOW_DOMAIN },
	{ "allow-domain-file", required_argument, NULL, OPT_ALLOW_DOMAIN_FILE },
	{ "inspect-tls", no_argument, NULL, OPT_INSPECT_TLS },
	{ "inject-header", required_argument, NULL, OPT_INJECT_HEADER },
	{ "publish", required_argument, NULL, 'p' },
	{ "cap-add", required_argument, NULL, OPT_CAP_ADD },
	{ "security-opt", required_argument, NULL, OPT_SECOPT },
	{ "memory", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "pids-limit", required_argument, NULL, OPT_PIDS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
	{ "ulimit", required_argument, NULL, OPT_ULIMIT },
	{ "env", required_argument, NULL, 'e' },
	{ "workdir", required_argument, NULL, 'w' },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "secret", required_argument, NULL, OPT_SECRET },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "label", required_argument, NULL, 'l' },
	{ "id-file", required_argument, NULL, OPT_ID_FILE },
	{ "no-audit", no_argument, NULL, OPT_NO_AUDIT },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};
static const char shortopts[] = "+u:v:m:e:w:l:p:h";

/* The flag as the user wrote it, for error messages. */
static const char *flag_name(int c)
{
	static char buf[32];

	for (const struct option *o = opts; o->name; o++)
		if (o->val == c) {
			snprintf(buf, sizeof(buf), "--%s", o->name);
			return buf;
		}
	return "?";
}

static int apply(struct policy *p, json_t *labels, int c, const char *arg, struct manager_opts *so, char *err,
		 size_t errlen)
{
	switch (c) {
	case OPT_MODE:
		if (!backend_find(arg)) {
			snprintf(err, errlen, "'%s': expected hardened, gvisor or microvm", arg);
			return -1;
		}
		p->mode = backend_find(arg)->mode;
		return 0;
	case 'u': return policy_set_user(p, arg, err, errlen);
	case OPT_ROOTFS: return policy_set_path(&p->rootfs, arg, err, errlen);
	case OPT_MOUNT: return policy_add_mount_spec(p, arg, err, errlen);
	case 'v': return policy_add_volume(p, arg, err, errlen);
	case OPT_TMPFS: return policy_add_tmpfs(p, arg, err, errlen);
	case OPT_NETWORK: return policy_set_network(p, arg, err, errlen);
	case OPT_ALLOW: return policy_add_allow(p, arg, err, errlen);
	case OPT_ALLOW_DOMAIN: return policy_add_domain(p, arg, err, errlen);
	case OPT_ALLOW_DOMAIN_FILE: return policy_add_domain_file(p, arg, err, errlen);
	case OPT_INSPECT_TLS: p->inspect_tls = true; return 0;
	case OPT_INJECT_HEADER: return policy_add_inject(p, arg, err, errlen);
	case 'p': return policy_add_publish(p, arg, err, errlen);
	case OPT_CAP_ADD: return policy_add_cap(p, arg, err, errlen);
	case OPT_SECOPT:
		if (!strncmp(arg, "seccomp=", 8) && strcmp(arg + 8, "unconfined"))
			return policy_set_path(&p->seccomp, arg + 8, err, errlen);
		if (!strcmp(arg, "no-new-privileges") || !strcmp(arg, "no-new-privileges=true") ||
		    !strcmp(arg, "no-new-privileges:true"))
			return 0; /* always on */
		snprintf(err, errlen, "'%s': expected seccomp=FILE or no-new-privileges", arg);
		return -1;
	case 'm':
		if (policy_parse_size(arg, &p->memory) == 0)
			return 0;
		snprintf(err, errlen, "'%s': expected a size like 512m", arg);
		return -1;
	case OPT_CPUS:
		if (policy_parse_cpus(arg, &p->cpus_milli) == 0)
			return 0;
		snprintf(err, errlen, "'%s': expected a positive number like 1.5", arg);
		return -1;
	case OPT_PIDS: {
		char *end;
		unsigned long long v = strtoull(arg, &end, 10);

		if (*arg >= '0' && *arg <= '9' && !*end && v > 0) {
			p->pids = v;
			return 0;
		}
		snprintf(err, errlen, "'%s': expected a positive integer", arg);
		return -1;
	}
	case OPT_TIMEOUT:
		if (policy_parse_duration(arg, &p->timeout_ms) == 0)
			return 0;
		snprintf(err, errlen, "'%s': expected seconds or a duration like 30s, 500ms, 2m", arg);
		return -1;
	case OPT_ULIMIT: return policy_set_rlimit(p, arg, err, errlen);
	case OPT_STOP_TIMEOUT:
		if (policy_parse_duration(arg, &so->stop_timeout_ms) == 0)
			return 0;
		snprintf(err, errlen, "'%s': expected seconds or a duration like 10s, 500ms", arg);
		return -1;
	case 'e': return policy_add_env(p, arg, err, errlen);
	case 'w':
		if (arg[0] != '/') {
			snprintf(err, errlen, "'%s': expected an absolute path inside the sandbox", arg);
			return -1;
		}
		return policy_set_path(&p->workdir, arg, err, errlen);
	case OPT_HOSTNAME: return policy_set_hostname(p, arg, err, errlen);
	case OPT_VOLUME_OWNER: return policy_set_volume_owner(p, arg, err, errlen);
	case OPT_SECRET: return policy_add_secret(p, arg, err, errlen);
	case 'l': return labels_parse(labels, arg, err, errlen);
	case OPT_ID_FILE: so->id_file = arg; return 0;
	case OPT_NO_AUDIT: so->no_audit = true; return 0;
	case OPT_SOCKET: so->socket = arg; return 0;
	case OPT_POLICY: return 0; /* loaded in the first pass */
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct policy p;
	struct manager_opts so = { .p = &p, .stop_timeout_ms = MANAGER_STOP_TIMEOUT_MS };
	json_t *labels = json_object();
	const char *policy_file = NULL, *sock = NULL;
	char err[1024];
	int c, rc = MANAGER_START_FAILED;

	/* pass 1: the policy file, since every flag overrides it */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (c == 'h') {
			json_decref(labels);
			return command_usage(cmd_run_usage, 0);
		}
		if (c == OPT_POLICY)
			policy_file = optarg;
	}
	policy_init(&p);
	if (policy_file && policy_load_file(&p, policy_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "sandtrail run: %s\n", err);
		goto out;
	}
	/* pass 2: the flags over the policy */
	optind = 0;
	opterr = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			fprintf(stderr, "sandtrail run: bad option (see sandtrail run --help)\n");
			goto out;
		}
		if (apply(&p, labels, c, optarg, &so, err, sizeof(err)) < 0) {
			fprintf(stderr, "sandtrail run: %s %s\n", flag_name(c), err);
			goto out;
		}
		if (c == OPT_SOCKET)
			sock = optarg;
	}
	if (optind >= argc) {
		fprintf(stderr, "sandtrail run: no command given (sandtrail run [options] -- CMD [ARG]...)\n");
		goto out;
	}
	json_object_update(p.labels, labels);
	policy_default_volume_owner(&p);
	if (policy_finish(&p, err, sizeof(err)) < 0) {
		fprintf(stderr, "sandtrail run: %s%s%s\n", policy_file ? policy_file : "", policy_file ? " (with flags): " : "",
			err);
		goto out;
	}
	so.socket = control_socket_path(sock);
	so.argv = argv + optind;
	so.backend = backend_find(p.mode);
	rc = manager_run(&so);
out:
	json_decref(labels);
	policy_free(&p);
	return rc;
}
