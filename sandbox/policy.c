#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sodium.h>

#include "escape.h"
#include "labels.h"
#include "collector/collector.h"
#include "proxy/domain.h"
#include "backend.h"
#include "policy.h"

static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
	"SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
	"AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "as", RLIMIT_AS },         { "core", RLIMIT_CORE },       { "cpu", RLIMIT_CPU },
	{ "data", RLIMIT_DATA },     { "fsize", RLIMIT_FSIZE },     { "locks", RLIMIT_LOCKS },
	{ "memlock", RLIMIT_MEMLOCK }, { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },
	{ "nofile", RLIMIT_NOFILE }, { "nproc", RLIMIT_NPROC },     { "rss", RLIMIT_RSS },
	{ "rtprio", RLIMIT_RTPRIO }, { "rttime", RLIMIT_RTTIME },   { "sigpending", RLIMIT_SIGPENDING },
	{ "stack", RLIMIT_STACK },
};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->uid = POLICY_DEFAULT_ID;
	p->gid = POLICY_DEFAULT_ID;
	p->network = POLICY_NET_NONE;
	p->mode = hardened_backend.mode;
	p->labels = json_object();
}

void policy_free(struct policy *p)
{
	free(p->rootfs);
	free(p->hostname);
	free(p->workdir);
	free(p->seccomp);
	for (size_t i = 0; i < p->nmounts; i++) {
		free(p->mounts[i].src);
		free(p->mounts[i].dst);
	}
	for (size_t i = 0; i < p->nallow; i++)
		free(p->allow[i]);
	for (size_t i = 0; i < p->ndomains; i++)
		free(p->domains[i]);
	for (size_t i = 0; i < p->ninject; i++) {
		free(p->inject[i].domain);
		free(p->inject[i].name);
		free(p->inject[i].file);
	}
	for (size_t i = 0; i < p->nenv; i++)
		free(p->env[i]);
	for (size_t i = 0; i < p->nsecrets; i++) {
		free(p->secrets[i].name);
		free(p->secrets[i].file);
	}
	json_decref(p->labels);
	memset(p, 0, sizeof(*p));
}

/* ---- scalar parsers ---- */

int policy_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case 0: break;
	case 'b': end++; break;
	case 'k': shift = 10; end++; break;
	case 'm': shift = 20; end++; break;
	case 'g': shift = 30; end++; break;
	case 't': shift = 40; end++; break;
	default: return -1;
	}
	if (shift && tolower((unsigned char)*end) == 'b')
		end++;
	if (*end || v == 0 || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int policy_parse_cpus(const char *s, uint64_t *out)
{
	unsigned long long whole = 0, frac = 0, scale = 100;
	const char *c = s;

	if (!isdigit((unsigned char)*c))
		return -1;
	for (; isdigit((unsigned char)*c); c++) {
		whole = whole * 10 + (unsigned)(*c - '0');
		if (whole > 100000)
			return -1;
	}
	if (*c == '.') {
		for (c++; isdigit((unsigned char)*c); c++) {
			frac += (unsigned)(*c - '0') * scale;
			scale /= 10;
		}
	}
	if (*c || whole * 1000 + frac == 0)
		return -1;
	*out = whole * 1000 + frac;
	return 0;
}

int policy_parse_duration(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1000;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "s") || !*end)
		mult = 1000;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else
		return -1;
	if (v == 0 || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

const char *policy_cap_name(int n)
{
	return n >= 0 && (size_t)n < sizeof(cap_names) / sizeof(cap_names[0]) ? cap_names[n] : NULL;
}

const char *policy_rlimit_name(int resource)
{
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
		if (rlimit_names[i].resource == resource)
			return rlimit_names[i].name;
	return NULL;
}

int policy_cap_number(const char *name)
{
	if (!strncasecmp(name, "CAP_", 4))
		name += 4;
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (!strcasecmp(name, cap_names[i]))
			return (int)i;
	return -1;
}

/* ---- setters shared by flags and files ---- */

int policy_set_path(char **slot, const char *path, char *err, size_t errlen)
{
	char *dup;

	if (!*path)
		return fail(err, errlen, "empty path");
	dup = strdup(path);
	if (!dup)
		return fail(err, errlen, "out of memory");
	free(*slot);
	*slot = dup;
	return 0;
}

static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > 65535 ? -1 : 0;
}

int policy_set_user(struct policy *p, const char *spec, char *err, size_t errlen)
{
	char buf[32], *colon;
	unsigned long uid, gid;

	if (strlen(spec) >= sizeof(buf))
		goto bad;
	strcpy(buf, spec);
	colon = strchr(buf, ':');
	if (colon)
		*colon++ = 0;
	if (parse_id(buf, &uid) < 0)
		goto bad;
	gid = uid;
	if (colon && parse_id(colon, &gid) < 0)
		goto bad;
	p->uid = (uid_t)uid;
	p->gid = (gid_t)gid;
	return 0;
bad:
	return fail(err, errlen, "'%s': expected UID[:GID], numbers from 0 to 65535", spec);
}

/* A host id: 0 to 2^32-2 (-1 is "no id" to the kernel). */
static int parse_host_id(const char *s, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out >= 0xffffffffUL ? -1 : 0;
}

int policy_set_volume_owner(struct policy *p, const char *spec, char *err, size_t errlen)
{
	char buf[32], *colon;
	unsigned long uid, gid;

	if (strlen(spec) >= sizeof(buf))
		goto bad;
	strcpy(buf, spec);
	colon = strchr(buf, ':');
	if (colon)
		*colon++ = 0;
	if (parse_host_id(buf, &uid) < 0 || (colon && parse_host_id(colon, &gid) < 0))
		goto bad;
	p->volume_owner_set = true;
	p->volume_uid = (uid_t)uid;
	p->volume_gid = colon ? (gid_t)gid : (gid_t)uid;
	return 0;
bad:
	return fail(err, errlen, "'%s': expected UID[:GID] of the host, numbers", spec);
}

void policy_default_volume_owner(struct policy *p)
{
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");
	unsigned long uid, gid;

	if (p->volume_owner_set || getuid() != 0 || !u || parse_host_id(u, &uid) < 0 || uid == 0)
		return;
	if (!g || parse_host_id(g, &gid) < 0)
		gid = uid;
	p->volume_owner_set = true;
	p->volume_uid = (uid_t)uid;
	p->volume_gid = (gid_t)gid;
}

/* RFC 1123 labels: what sethostname would take and every tool can print. */
#define HOSTNAME_RULE "not a host name (letters, digits, '-' and '.', at most 64 bytes)"
int policy_set_hostname(struct policy *p, const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);
	bool ok = len > 0 && len <= 64 && name[0] != '-' && name[0] != '.';

	for (size_t i = 0; ok && i < len; i++)
		ok = isalnum((unsigned char)name[i]) || name[i] == '-' || name[i] == '.';
	if (!ok) {
		char *safe = escape_bytes(name, len);

		fail(err, errlen, "'%s': " HOSTNAME_RULE, safe ? safe : "?");
		free(safe);
		return -1;
	}
	return policy_set_path(&p->hostname, name, err, errlen);
}

static int check_dst(const char *dst, char *err, size_t errlen)
{
	if (dst[0] != '/')
		return fail(err, errlen, "destination '%s' must be an absolute path", dst);
	for (const char *c = dst; (c = strstr(c, "/..")); c += 3)
		if (c[3] == '/' || c[3] == 0)
			return fail(err, errlen, "destination '%s' must not hold '..'", dst);
	if (!strcmp(dst, "/"))
		return fail(err, errlen, "destination '/' would hide the root (use --rootfs)");
	if (strlen(dst) >= PATH_MAX)
		return fail(err, errlen, "destination longer than PATH_MAX");
	return 0;
}

int policy_add_mount(struct policy *p, const struct policy_mount *m, char *err, size_t errlen)
{
	struct policy_mount *slot = NULL;

	if (check_dst(m->dst, err, errlen) < 0)
		return -1;
	if (m->type == POLICY_MOUNT_BIND && (!m->src || !*m->src))
		return fail(err, errlen, "a bind mount needs a source");
	if (m->type == POLICY_MOUNT_BIND && access(m->src, F_OK) < 0)
		return fail(err, errlen, "source '%s': %s", m->src, strerror(errno));
	/* a later mount on the same destination (a flag over a policy) replaces it */
	for (size_t i = 0; i < p->nmounts; i++)
		if (!strcmp(p->mounts[i].dst, m->dst))
			slot = &p->mounts[i];
	if (!slot) {
		if (p->nmounts == POLICY_MOUNTS_MAX)
			return fail(err, errlen, "more than %d mounts", POLICY_MOUNTS_MAX);
		slot = &p->mounts[p->nmounts++];
	} else {
		free(slot->src);
		free(slot->dst);
	}
	*slot = *m;
	slot->src = m->src ? strdup(m->src) : NULL;
	slot->dst = strdup(m->dst);
	return 0;
}

int policy_add_mount_spec(struct policy *p, const char *spec, char *err, size_t errlen)
{
	struct policy_mount m = { .type = POLICY_MOUNT_BIND };
	char *buf = strdup(spec), *save = NULL, *tok;
	const char *type = NULL;
	int rc = -1;

	if (!buf)
		return fail(err, errlen, "out of memory");
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *val = eq ? eq + 1 : NULL;

		if (eq)
			*eq = 0;
		if (!strcmp(tok, "type") && val) {
			type = val;
		} else if ((!strcmp(tok, "src") || !strcmp(tok, "source")) && val) {
			m.src = (char *)val;
		} else if ((!strcmp(tok, "dst") || !strcmp(tok, "destination") || !strcmp(tok, "target")) && val) {
			m.dst = (char *)val;
		} else if ((!strcmp(tok, "ro") || !strcmp(tok, "readonly")) &&
			   (!val || !strcmp(val, "true") || !strcmp(val, "1"))) {
			m.ro = true;
		} else if ((!strcmp(tok, "ro") || !strcmp(tok, "readonly")) &&
			   (!strcmp(val, "false") || !strcmp(val, "0"))) {
			m.ro = false;
		} else if (!strcmp(tok, "follow") && !val) {
			m.follow = true;
		} else if ((!strcmp(tok, "size") || !strcmp(tok, "tmpfs-size")) && val) {
			if (policy_parse_size(val, &m.size) < 0) {
				fail(err, errlen, "size=%s: expected a size like 64m", val);
				goto out;
			}
		} else {
			fail(err, errlen, "unknown option '%s%s%s' (expected type=, src=, dst=, ro, follow, size=)",
			     tok, val ? "=" : "", val ? val : "");
			goto out;
		}
	}
	if (!type || !strcmp(type, "bind")) {
		m.type = POLICY_MOUNT_BIND;
		if (m.size) {
			fail(err, errlen, "size= applies to type=tmpfs only");
			goto out;
		}
	} else if (!strcmp(type, "tmpfs")) {
		m.type = POLICY_MOUNT_TMPFS;
		if (m.src || m.follow) {
			fail(err, errlen, "type=tmpfs takes no src= nor follow");
			goto out;
		}
		if (!m.size)
			m.size = POLICY_DEFAULT_TMP_SIZE;
	} else {
		fail(err, errlen, "type=%s: expected bind or tmpfs", type);
		goto out;
	}
	if (!m.dst) {
		fail(err, errlen, "dst= is missing");
		goto out;
	}
	rc = policy_add_mount(p, &m, err, errlen);
out:
	free(buf);
	return rc;
}

int policy_add_volume(struct policy *p, const char *spec, char *err, size_t errlen)
{
	struct policy_mount m = { .type = POLICY_MOUNT_BIND };
	char *buf = strdup(spec), *c1, *c2;
	int rc = -1;

	if (!buf)
		return fail(err, errlen, "out of memory");
	c1 = strchr(buf, ':');
	if (!c1) {
		fail(err, errlen, "'%s': expected SRC:DST[:ro|rw]", spec);
		goto out;
	}
	*c1++ = 0;
	c2 = strchr(c1, ':');
	if (c2) {
		char *save = NULL, *opt;

		*c2++ = 0;
		for (opt = strtok_r(c2, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
			if (!strcmp(opt, "ro")) {
				m.ro = true;
			} else if (!strcmp(opt, "rw")) {
				m.ro = false;
			} else if (!strcmp(opt, "follow")) {
				m.follow = true;
			} else {
				fail(err, errlen, "'%s': option '%s' is not ro, rw or follow", spec, opt);
				goto out;
			}
		}
	}
	m.src = buf;
	m.dst = c1;
	rc = policy_add_mount(p, &m, err, errlen);
out:
	free(buf);
	return rc;
}

int policy_add_tmpfs(struct policy *p, const char *spec, char *err, size_t errlen)
{
	struct policy_mount m = { .type = POLICY_MOUNT_TMPFS, .size = POLICY_DEFAULT_TMP_SIZE };
	char *buf = strdup(spec), *opts, *save = NULL, *tok;
	int rc = -1;

	if (!buf)
		return fail(err, errlen, "out of memory");
	opts = strchr(buf, ':');
	if (opts)
		*opts++ = 0;
	for (tok = opts ? strtok_r(opts, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "size=", 5)) {
			if (policy_parse_size(tok + 5, &m.size) < 0) {
				fail(err, errlen, "'%s': expected a size like 64m", tok);
				goto out;
			}
		} else if (!strcmp(tok, "ro")) {
			m.ro = true;
		} else if (strcmp(tok, "rw")) {
			fail(err, errlen, "option '%s' (expected size=N, ro or rw)", tok);
			goto out;
		}
	}
	m.dst = buf;
	rc = policy_add_mount(p, &m, err, errlen);
out:
	free(buf);
	return rc;
}

int policy_set_network(struct policy *p, const char *mode, char *err, size_t errlen)
{
	if (!strcmp(mode, "none"))
		p->network = POLICY_NET_NONE;
	else if (!strcmp(mode, "host"))
		p->network = POLICY_NET_HOST;
	else if (!strcmp(mode, "allowlist"))
		p->network = POLICY_NET_ALLOWLIST;
	else if (!strcmp(mode, "proxy"))
		p->network = POLICY_NET_PROXY;
	else
		return fail(err, errlen, "'%s': expected none, host, allowlist or proxy", mode);
	return 0;
}

int policy_add_domain(struct policy *p, const char *pattern, char *err, size_t errlen)
{
	char canon[DOMAIN_MAX + 1];

	if (domain_pattern_parse(pattern, canon, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < p->ndomains; i++)
		if (!strcmp(p->domains[i], canon))
			return 0;
	if (p->ndomains == POLICY_DOMAINS_MAX)
		return fail(err, errlen, "more than %d domains", POLICY_DOMAINS_MAX);
	p->domains[p->ndomains] = strdup(canon);
	if (!p->domains[p->ndomains])
		return fail(err, errlen, "out of memory");
	p->ndomains++;
	return 0;
}

int policy_add_inject(struct policy *p, const char *spec, char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':'), *eq = colon ? strchr(colon, '=') : NULL;
	char domain[DOMAIN_MAX + 1], name[128], why[320];
	struct policy_inject *in;
	size_t n;

	if (!colon || !eq || eq[1] != '@' || !eq[2])
		return fail(err, errlen, "'%s': expected DOMAIN:NAME=@FILE (values never go on the command line)", spec);
	n = (size_t)(colon - spec);
	if (n > DOMAIN_MAX)
		return fail(err, errlen, "'%s': the domain is longer than 253 bytes", spec);
	memcpy(domain, spec, n);
	domain[n] = 0;
	if (domain_host_canon(domain, n, domain) < 0)
		return fail(err, errlen, "'%s': '%.*s' is not a host name (one name: no wildcard, no address)", spec,
			    (int)n, spec);
	n = (size_t)(eq - colon - 1);
	if (n == 0 || n >= sizeof(name) || strspn(colon + 1, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
					       "ABCDEFGHIJKLMNOPQRSTUVWXYZ") < n)
		return fail(err, errlen, "'%s': '%.*s' is not an HTTP header name", spec, (int)n, colon + 1);
	for (size_t i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)colon[1 + i]);
	name[n] = 0;
	for (size_t i = 0; i < p->ninject; i++)
		if (!strcmp(p->inject[i].domain, domain) && !strcmp(p->inject[i].name, name))
			return fail(err, errlen, "'%s': %s is injected for %s already", spec, name, domain);
	if (p->ninject == POLICY_INJECT_MAX)
		return fail(err, errlen, "more than %d injected headers", POLICY_INJECT_MAX);
	in = &p->inject[p->ninject];
	in->domain = strdup(domain);
	in->name = strdup(name);
	in->file = NULL;
	if (!in->domain || !in->name || policy_set_path(&in->file, eq + 2, why, sizeof(why)) < 0) {
		free(in->domain);
		free(in->name);
		return fail(err, errlen, "out of memory");
	}
	p->ninject++;
	return 0;
}

int policy_add_domain_file(struct policy *p, const char *path, char *err, size_t errlen)
{
	char *text, *line, *next, why[384];
	size_t len, n = 0;
	int rc = 0;

	if (policy_read_file(path, &text, &len) < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	if (strlen(text) != len) {
		free(text);
		return fail(err, errlen, "%s: a NUL byte at offset %zu", path, strlen(text));
	}
	for (line = text; line && rc == 0; line = next) {
		char *hash, *end;

		n++;
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if ((hash = strchr(line, '#')))
			*hash = 0;
		line += strspn(line, " \t\r");
		end = line + strlen(line);
		while (end > line && strchr(" \t\r", end[-1]))
			*--end = 0;
		if (*line && policy_add_domain(p, line, why, sizeof(why)) < 0)
			rc = fail(err, errlen, "%s:%zu: %s", path, n, why);
	}
	free(text);
	return rc;
}

/* "host.name:PORT": the form resolved by DNS at start. */
static int is_host_port(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	char *end;
	unsigned long port;

	if (!colon || colon == spec || strchr(spec, '/') || strchr(spec, '[') || strchr(spec, ':') != colon)
		return 0;
	for (const char *c = spec; c < colon; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_')
			return 0;
	port = strtoul(colon + 1, &end, 10);
	return isdigit((unsigned char)colon[1]) && !*end && port >= 1 && port <= 65535;
}

/* "::1:80": an IPv6 address, but most likely ::1 and port 80.  Only a bare
 * address (no brackets, no prefix) whose head before the last ':' is an
 * address and whose tail is a port reads both ways. */
static bool ipv6_with_port(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	char head[INET6_ADDRSTRLEN + 1];
	unsigned char a[16];
	unsigned long port;
	char *end;

	if (!colon || strchr(spec, '[') || strchr(spec, '/') || strchr(spec, '.') ||
	    (size_t)(colon - spec) >= sizeof(head) || !isdigit((unsigned char)colon[1]))
		return false;
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535 || inet_pton(AF_INET6, spec, a) != 1)
		return false;
	memcpy(head, spec, (size_t)(colon - spec));
	head[colon - spec] = 0;
	return inet_pton(AF_INET6, head, a) == 1;
}

int policy_add_allow(struct policy *p, const char *spec, char *err, size_t errlen)
{
	struct netpolicy_rule rule;
	char why[256];

	if (ipv6_with_port(spec))
		return fail(err, errlen, "'%s' is ambiguous: write an IPv6 address with a port as [%.*s]:%s "
			    "(or %s/128 for that address on every port)", spec,
			    (int)(strrchr(spec, ':') - spec), spec, strrchr(spec, ':') + 1, spec);
	if (netpolicy_parse_rule(spec, &rule, why, sizeof(why)) < 0 && !is_host_port(spec)) {
		/* say what a host:port or CIDR would look like, not the CIDR parser's guess */
		if (strstr(why, "beyond") || strstr(why, "port must"))
			return fail(err, errlen, "%s", why);
		return fail(err, errlen, "expected \"CIDR[:PORT]\" or \"HOST:PORT\", got '%s'", spec);
	}
	for (size_t i = 0; i < p->nallow; i++)
		if (!strcmp(p->allow[i], spec))
			return 0;
	if (p->nallow == POLICY_ALLOW_MAX)
		return fail(err, errlen, "more than %d allow rules", POLICY_ALLOW_MAX);
	p->allow[p->nallow] = strdup(spec);
	if (!p->allow[p->nallow])
		return fail(err, errlen, "out of memory");
	p->nallow++;
	return 0;
}

static int parse_port(const char *s, size_t n, uint16_t *out)
{
	unsigned long v = 0;

	if (!n || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int policy_add_publish(struct policy *p, const char *spec, char *err, size_t errlen)
{
	struct policy_publish pub = { 0 };
	const char *s = spec, *end = spec + strlen(spec), *slash = strchr(spec, '/'), *colon;
	unsigned char a[16];

	if (slash) {
		if (!strcmp(slash, "/udp"))
			pub.udp = true;
		else if (strcmp(slash, "/tcp"))
			return fail(err, errlen, "'%s': the protocol is tcp or udp", spec);
		end = slash;
	}
	/* an address first: "IP:" or "[IPv6]:" */
	if (*s != '[' && strchr(s, ':') && strchr(strchr(s, ':') + 1, ':') &&
	    strchr(strchr(strchr(s, ':') + 1, ':') + 1, ':'))
		return fail(err, errlen, "'%s': an IPv6 address goes in brackets: [ADDR]:HOST_PORT:PORT", spec);
	if (*s == '[') {
		const char *close = memchr(s, ']', (size_t)(end - s));

		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(pub.addr))
			goto usage;
		memcpy(pub.addr, s + 1, (size_t)(close - s - 1));
		if (inet_pton(AF_INET6, pub.addr, a) != 1)
			return fail(err, errlen, "'%s': '%s' is not an IPv6 address", spec, pub.addr);
		s = close + 2;
	} else if ((colon = memchr(s, ':', (size_t)(end - s))) && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
		if ((size_t)(colon - s) >= sizeof(pub.addr))
			goto usage;
		memcpy(pub.addr, s, (size_t)(colon - s));
		if (inet_pton(AF_INET, pub.addr, a) != 1)
			return fail(err, errlen, "'%s': '%s' is not an IPv4 address (an IPv6 one goes in brackets)",
				    spec, pub.addr);
		s = colon + 1;
	}
	colon = memchr(s, ':', (size_t)(end - s));
	if (!colon || parse_port(s, (size_t)(colon - s), &pub.host_port) < 0 ||
	    parse_port(colon + 1, (size_t)(end - colon - 1), &pub.port) < 0)
		goto usage;
	for (size_t i = 0; i < p->npublish; i++)
		if (p->publish[i].host_port == pub.host_port && p->publish[i].udp == pub.udp)
			return fail(err, errlen, "'%s': host port %u/%s is published already", spec, pub.host_port,
				    pub.udp ? "udp" : "tcp");
	if (p->npublish == POLICY_PUBLISH_MAX)
		return fail(err, errlen, "more than %d published ports", POLICY_PUBLISH_MAX);
	p->publish[p->npublish++] = pub;
	return 0;
usage:
	return fail(err, errlen, "'%s': expected [IP:]HOST_PORT:PORT[/tcp|/udp], ports 1 to 65535, as docker's -p",
		    spec);
}

void policy_publish_str(const struct policy_publish *pub, char *out, size_t len)
{
	bool v6 = strchr(pub->addr, ':');

	snprintf(out, len, "%s%s%s%s%u:%u/%s", v6 ? "[" : "", pub->addr, v6 ? "]" : "", pub->addr[0] ? ":" : "",
		 pub->host_port, pub->port, pub->udp ? "udp" : "tcp");
}

json_t *policy_publish_json(const struct policy *p)
{
	json_t *pub = json_array();
	char spec[80];

	for (size_t i = 0; i < p->npublish; i++) {
		policy_publish_str(&p->publish[i], spec, sizeof(spec));
		json_array_append_new(pub, json_string(spec));
	}
	return pub;
}

int policy_add_cap(struct policy *p, const char *name, char *err, size_t errlen)
{
	int n;

	/* a file capability set inside is one on the host, once the workspace
	 * file is run there: never granted, not even by ALL */
	if (!strcasecmp(name, "ALL")) {
		p->caps_add = ((1ull << (sizeof(cap_names) / sizeof(cap_names[0]))) - 1) & ~(1ull << CAP_SETFCAP);
		return 0;
	}
	n = policy_cap_number(name);
	if (n < 0)
		return fail(err, errlen, "'%s': unknown capability", name);
	if (n == CAP_SETFCAP)
		return fail(err, errlen, "'%s': file capabilities set in a session would hold on the host: never granted",
			    name);
	p->caps_add |= 1ull << n;
	return 0;
}

static int env_name_ok(const char *s, size_t len)
{
	if (!len || isdigit((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

static int set_env(struct policy *p, const char *name, size_t nlen, const char *val, char *err, size_t errlen)
{
	char *kv;
	size_t i;

	if (!env_name_ok(name, nlen))
		return fail(err, errlen, "'%.*s': not a valid variable name", (int)nlen, name);
	if (asprintf(&kv, "%.*s=%s", (int)nlen, name, val) < 0)
		return fail(err, errlen, "out of memory");
	for (i = 0; i < p->nenv; i++)
		if (!strncmp(p->env[i], kv, nlen + 1))
			break;
	if (i == p->nenv) {
		if (p->nenv == POLICY_ENV_MAX) {
			free(kv);
			return fail(err, errlen, "more than %d variables", POLICY_ENV_MAX);
		}
		p->nenv++;
	} else {
		free(p->env[i]);
	}
	p->env[i] = kv;
	return 0;
}

int policy_add_env(struct policy *p, const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	const char *val;

	if (eq)
		return set_env(p, spec, (size_t)(eq - spec), eq + 1, err, errlen);
	val = getenv(spec);
	if (!val)
		return fail(err, errlen, "'%s' is not set in the caller's environment", spec);
	return set_env(p, spec, strlen(spec), val, err, errlen);
}

static int add_secret(struct policy *p, const char *name, size_t nlen, const char *file, char *err,
		      size_t errlen)
{
	struct policy_secret *slot = NULL;

	if (!env_name_ok(name, nlen))
		return fail(err, errlen, "'%.*s': not a valid variable name", (int)nlen, name);
	if (file && !*file)
		return fail(err, errlen, "'%.*s=@': the file name is missing", (int)nlen, name);
	for (size_t i = 0; i < p->nsecrets; i++)
		if (strlen(p->secrets[i].name) == nlen && !strncmp(p->secrets[i].name, name, nlen))
			slot = &p->secrets[i];
	if (!slot) {
		if (p->nsecrets == POLICY_SECRETS_MAX)
			return fail(err, errlen, "more than %d secrets", POLICY_SECRETS_MAX);
		slot = &p->secrets[p->nsecrets++];
	} else {
		free(slot->name);
		free(slot->file);
	}
	slot->name = strndup(name, nlen);
	slot->file = file ? strdup(file) : NULL;
	return 0;
}

int policy_add_secret(struct policy *p, const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');

	if (!eq)
		return add_secret(p, spec, strlen(spec), NULL, err, errlen);
	if (eq[1] != '@')
		return fail(err, errlen, "'%s': expected NAME or NAME=@FILE (values never go on the command line)",
			    spec);
	return add_secret(p, spec, (size_t)(eq - spec), eq + 2, err, errlen);
}

static int rlimit_index(const char *name)
{
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
		if (!strcmp(name, rlimit_names[i].name))
			return rlimit_names[i].resource;
	return -1;
}

static int parse_rlim(const char *s, rlim_t *out)
{
	char *end;

	if (!strcmp(s, "unlimited") || !strcmp(s, "-1")) {
		*out = RLIM_INFINITY;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

int policy_set_rlimit(struct policy *p, const char *spec, char *err, size_t errlen)
{
	char buf[96], *eq, *colon;
	rlim_t soft, hard;
	int r;

	if (strlen(spec) >= sizeof(buf) || !(eq = strchr(strcpy(buf, spec), '=')))
		return fail(err, errlen, "'%s': expected name=soft[:hard]", spec);
	*eq++ = 0;
	r = rlimit_index(buf);
	if (r < 0)
		return fail(err, errlen, "'%s': unknown limit (nofile, nproc, core, stack, as, ...)", buf);
	colon = strchr(eq, ':');
	if (colon)
		*colon++ = 0;
	if (parse_rlim(eq, &soft) < 0 || (colon && parse_rlim(colon, &hard) < 0))
		return fail(err, errlen, "'%s': expected numbers or unlimited", spec);
	if (!colon)
		hard = soft;
	if (soft > hard)
		return fail(err, errlen, "'%s': soft limit above the hard one", spec);
	p->rlimits[r] = (struct policy_rlimit){ .set = true, .soft = soft, .hard = hard };
	return 0;
}

/* ---- policy files ---- */

struct loader {
	struct policy *p;
	const char *base; /* directory relative paths start from; NULL: as written */
	char *err;
	size_t errlen;
	char field[256];
};

/* field-named failure: "network.allow[2]: reason" */
static int lfail(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lfail(struct loader *l, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s: %s", l->field, why);
	return -1;
}

static void at(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void at(struct loader *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->field, sizeof(l->field), fmt, ap);
	va_end(ap);
}

static const char *want_string(struct loader *l, const json_t *v)
{
	if (!json_is_string(v)) {
		lfail(l, "expected a string");
		return NULL;
	}
	return json_string_value(v);
}

const char *policy_unknown_key(const json_t *obj, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		size_t i;

		for (i = 0; keys[i] && strcmp(k, keys[i]); i++)
			;
		if (!keys[i])
			return k;
	}
	return NULL;
}

static int only_keys(struct loader *l, const json_t *obj, const char *prefix, const char *const *keys)
{
	const char *k = policy_unknown_key(obj, keys);

	if (!k)
		return 0;
	at(l, "%s%s%s", prefix, *prefix ? "." : "", k);
	return lfail(l, "unknown field");
}

/* Element i of array name: an object with only the listed keys; prefix
 * receives "name[i]". */
static int array_item(struct loader *l, const json_t *o, const char *name, size_t i, const char *const *keys,
		      char *prefix, size_t plen)
{
	snprintf(prefix, plen, "%s[%zu]", name, i);
	at(l, "%s", prefix);
	if (!json_is_object(o))
		return lfail(l, "expected an object");
	return only_keys(l, o, prefix, keys);
}

/* A JSON object of strings (env, labels): each value through add. */
static int load_string_map(struct loader *l, const json_t *obj, const char *name,
			   int (*add)(struct policy *p, const char *k, const char *v, char *err, size_t errlen))
{
	const char *k;
	json_t *x;
	char why[256];

	at(l, "%s", name);
	if (!json_is_object(obj))
		return lfail(l, "expected an object of strings");
	json_object_foreach((json_t *)obj, k, x) {
		at(l, "%s.%s", name, k);
		if (!want_string(l, x))
			return -1;
		if (add(l->p, k, json_string_value(x), why, sizeof(why)) < 0)
			return lfail(l, "%s", why);
	}
	return 0;
}

/* Relative paths in a policy file start at the file's directory. */
static int set_file_path(struct loader *l, char **slot, const json_t *v)
{
	const char *s = want_string(l, v);
	char *full = NULL, why[128];
	int rc;

	if (!s)
		return -1;
	if (s[0] != '/' && l->base && asprintf(&full, "%s/%s", l->base, s) < 0)
		return lfail(l, "out of memory");
	rc = policy_set_path(slot, full ? full : s, why, sizeof(why));
	free(full);
	return rc < 0 ? lfail(l, "%s", why) : 0;
}

/* A size or a count: a JSON number or a string with a suffix. */
static int want_size(struct loader *l, const json_t *v, uint64_t *out)
{
	if (json_is_integer(v) && json_integer_value(v) > 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && policy_parse_size(json_string_value(v), out) == 0)
		return 0;
	return lfail(l, "expected a positive size like 512m");
}

static int load_mounts(struct loader *l, const json_t *arr)
{
	static const char *const keys[] = { "type", "src", "dst", "ro", "follow", "size", NULL };
	const json_t *m;
	size_t i;

	if (!json_is_array(arr))
		return lfail(l, "expected an array");
	json_array_foreach(arr, i, m) {
		struct policy_mount pm = { .type = POLICY_MOUNT_BIND };
		const json_t *type = json_object_get(m, "type"), *v;
		char prefix[32], why[256];
		char *src = NULL;
		int rc;

		if (array_item(l, m, "mounts", i, keys, prefix, sizeof(prefix)) < 0)
			return -1;
		at(l, "%s.type", prefix);
		if (type && !json_is_string(type))
			return lfail(l, "expected \"bind\" or \"tmpfs\"");
		if (!type || !strcmp(json_string_value(type), "bind"))
			pm.type = POLICY_MOUNT_BIND;
		else if (!strcmp(json_string_value(type), "tmpfs"))
			pm.type = POLICY_MOUNT_TMPFS, pm.size = POLICY_DEFAULT_TMP_SIZE;
		else
			return lfail(l, "expected \"bind\" or \"tmpfs\"");
		at(l, "%s.dst", prefix);
		v = json_object_get(m, "dst");
		if (!v)
			return lfail(l, "missing");
		if (!(pm.dst = (char *)want_string(l, v)))
			return -1;
		if ((v = json_object_get(m, "ro"))) {
			at(l, "%s.ro", prefix);
			if (!json_is_boolean(v))
				return lfail(l, "expected true or false");
			pm.ro = json_is_true(v);
		}
		if ((v = json_object_get(m, "follow"))) {
			at(l, "%s.follow", prefix);
			if (!json_is_boolean(v))
				return lfail(l, "expected true or false");
			if (pm.type != POLICY_MOUNT_BIND)
				return lfail(l, "applies to bind mounts only");
			pm.follow = json_is_true(v);
		}
		if ((v = json_object_get(m, "size"))) {
			at(l, "%s.size", prefix);
			if (pm.type != POLICY_MOUNT_TMPFS)
				return lfail(l, "applies to tmpfs mounts only");
			if (want_size(l, v, &pm.size) < 0)
				return -1;
		}
		v = json_object_get(m, "src");
		at(l, "%s.src", prefix);
		if (pm.type == POLICY_MOUNT_TMPFS && v)
			return lfail(l, "a tmpfs mount takes no src");
		if (pm.type == POLICY_MOUNT_BIND) {
			if (!v)
				return lfail(l, "missing");
			if (set_file_path(l, &src, v) < 0)
				return -1;
			pm.src = src;
		}
		at(l, "%s", prefix);
		rc = policy_add_mount(l->p, &pm, why, sizeof(why));
		free(src);
		if (rc < 0)
			return lfail(l, "%s", why);
	}
	return 0;
}

static int load_network(struct loader *l, const json_t *net)
{
	static const char *const keys[] = { "mode", "allow", "publish", "domains", "inspect_tls", "inject", NULL };
	const json_t *mode, *allow, *publish, *domains, *inject, *v;
	char why[256];
	size_t i;

	if (!json_is_object(net))
		return lfail(l, "expected an object");
	if (only_keys(l, net, "network", keys) < 0)
		return -1;
	if ((mode = json_object_get(net, "mode"))) {
		at(l, "network.mode");
		if (!want_string(l, mode))
			return -1;
		if (policy_set_network(l->p, json_string_value(mode), why, sizeof(why)) < 0)
			return lfail(l, "%s", why);
	}
	if ((allow = json_object_get(net, "allow"))) {
		at(l, "network.allow");
		if (!json_is_array(allow))
			return lfail(l, "expected an array");
		json_array_foreach(allow, i, v) {
			at(l, "network.allow[%zu]", i);
			if (!json_is_string(v))
				return lfail(l, "expected \"CIDR[:PORT]\" or \"HOST:PORT\"");
			if (policy_add_allow(l->p, json_string_value(v), why, sizeof(why)) < 0)
				return lfail(l, "%s", why);
		}
	}
	if ((domains = json_object_get(net, "domains"))) {
		at(l, "network.domains");
		if (!json_is_array(domains))
			return lfail(l, "expected an array");
		json_array_foreach(domains, i, v) {
			at(l, "network.domains[%zu]", i);
			if (!json_is_string(v))
				return lfail(l, "expected \"NAME\" or \"*.SUFFIX\"");
			if (policy_add_domain(l->p, json_string_value(v), why, sizeof(why)) < 0)
				return lfail(l, "%s", why);
		}
	}
	if ((v = json_object_get(net, "inspect_tls"))) {
		at(l, "network.inspect_tls");
		if (!json_is_boolean(v))
			return lfail(l, "expected true or false");
		l->p->inspect_tls = json_is_true(v);
	}
	if ((inject = json_object_get(net, "inject"))) {
		at(l, "network.inject");
		if (!json_is_array(inject))
			return lfail(l, "expected an array");
		json_array_foreach(inject, i, v) {
			at(l, "network.inject[%zu]", i);
			if (!json_is_string(v))
				return lfail(l, "expected \"DOMAIN:NAME=@FILE\"");
			if (policy_add_inject(l->p, json_string_value(v), why, sizeof(why)) < 0)
				return lfail(l, "%s", why);
		}
	}
	if ((publish = json_object_get(net, "publish"))) {
		at(l, "network.publish");
		if (!json_is_array(publish))
			return lfail(l, "expected an array");
		json_array_foreach(publish, i, v) {
			at(l, "network.publish[%zu]", i);
			if (!json_is_string(v))
				return lfail(l, "expected \"[IP:]HOST_PORT:PORT[/tcp|/udp]\"");
			if (policy_add_publish(l->p, json_string_value(v), why, sizeof(why)) < 0)
				return lfail(l, "%s", why);
		}
	}
	return 0;
}

static int load_resources(struct loader *l, const json_t *res)
{
	static const char *const keys[] = { "memory", "cpus", "pids", "timeout", NULL };
	const json_t *v;

	if (!json_is_object(res))
		return lfail(l, "expected an object");
	if (only_keys(l, res, "resources", keys) < 0)
		return -1;
	if ((v = json_object_get(res, "memory"))) {
		at(l, "resources.memory");
		if (want_size(l, v, &l->p->memory) < 0)
			return -1;
	}
	if ((v = json_object_get(res, "cpus"))) {
		at(l, "resources.cpus");
		if (json_is_number(v) && json_number_value(v) > 0 && json_number_value(v) <= 100000)
			l->p->cpus_milli = (uint64_t)(json_number_value(v) * 1000 + 0.5);
		else if (!json_is_string(v) || policy_parse_cpus(json_string_value(v), &l->p->cpus_milli) < 0)
			return lfail(l, "expected a positive number of CPUs like 1.5");
		if (!l->p->cpus_milli)
			return lfail(l, "expected at least 0.001 CPUs");
	}
	if ((v = json_object_get(res, "pids"))) {
		at(l, "resources.pids");
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return lfail(l, "expected a positive integer");
		l->p->pids = (uint64_t)json_integer_value(v);
	}
	if ((v = json_object_get(res, "timeout"))) {
		at(l, "resources.timeout");
		if (json_is_integer(v) && json_integer_value(v) > 0)
			l->p->timeout_ms = (uint64_t)json_integer_value(v) * 1000;
		else if (!json_is_string(v) || policy_parse_duration(json_string_value(v), &l->p->timeout_ms) < 0)
			return lfail(l, "expected seconds or a duration like 30s, 500ms, 2m");
	}
	return 0;
}

static int load_rlimits(struct loader *l, const json_t *obj)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return lfail(l, "expected an object");
	json_object_foreach((json_t *)obj, k, v) {
		int r = rlimit_index(k);
		json_int_t soft, hard;

		at(l, "rlimits.%s", k);
		if (r < 0)
			return lfail(l, "unknown limit");
		if (json_is_integer(v)) {
			soft = hard = json_integer_value(v);
		} else if (json_is_array(v) && json_array_size(v) == 2 &&
			   json_is_integer(json_array_get(v, 0)) && json_is_integer(json_array_get(v, 1))) {
			soft = json_integer_value(json_array_get(v, 0));
			hard = json_integer_value(json_array_get(v, 1));
		} else {
			return lfail(l, "expected N or [soft, hard] (-1: unlimited)");
		}
		if (soft < -1 || hard < -1)
			return lfail(l, "expected N or [soft, hard] (-1: unlimited)");
		l->p->rlimits[r].set = true;
		l->p->rlimits[r].soft = soft < 0 ? RLIM_INFINITY : (rlim_t)soft;
		l->p->rlimits[r].hard = hard < 0 ? RLIM_INFINITY : (rlim_t)hard;
		if (l->p->rlimits[r].soft > l->p->rlimits[r].hard)
			return lfail(l, "soft limit above the hard one");
	}
	return 0;
}

static int load_secrets(struct loader *l, const json_t *arr)
{
	static const char *const keys[] = { "name", "file", NULL };
	const json_t *s;
	size_t i;

	if (!json_is_array(arr))
		return lfail(l, "expected an array");
	json_array_foreach(arr, i, s) {
		char prefix[32], why[256], *file = NULL;
		const char *name;
		const json_t *f;
		int rc;

		if (array_item(l, s, "secrets", i, keys, prefix, sizeof(prefix)) < 0)
			return -1;
		at(l, "%s.name", prefix);
		if (!json_object_get(s, "name"))
			return lfail(l, "missing");
		if (!(name = want_string(l, json_object_get(s, "name"))))
			return -1;
		if ((f = json_object_get(s, "file"))) {
			at(l, "%s.file", prefix);
			if (set_file_path(l, &file, f) < 0)
				return -1;
		}
		rc = add_secret(l->p, name, strlen(name), file, why, sizeof(why));
		free(file);
		if (rc < 0)
			return lfail(l, "%s", why);
	}
	return 0;
}

static int env_pair(struct policy *p, const char *k, const char *v, char *err, size_t errlen)
{
	return set_env(p, k, strlen(k), v, err, errlen);
}

static int label_pair(struct policy *p, const char *k, const char *v, char *err, size_t errlen)
{
	if (labels_check(k, v, err, errlen) < 0)
		return -1;
	return json_object_set_new(p->labels, k, json_string(v)) < 0 ? -1 : 0;
}

static int load_object(struct loader *l, const json_t *root)
{
	static const char *const keys[] = { "version", "mode", "user", "volume_owner", "rootfs", "hostname", "workdir",
					    "mounts", "network", "capabilities", "seccomp", "env",
					    "secrets", "labels", "resources", "rlimits", NULL };
	/* the sections that have a loader of their own */
	static const struct {
		const char *key;
		int (*load)(struct loader *l, const json_t *v);
	} sections[] = {
		{ "mounts", load_mounts },     { "network", load_network }, { "secrets", load_secrets },
		{ "resources", load_resources }, { "rlimits", load_rlimits },
	};
	struct policy *p = l->p;
	const json_t *v, *x;
	char why[256];
	size_t i;

	at(l, "(top)");
	if (!json_is_object(root))
		return lfail(l, "expected a JSON object");
	if (only_keys(l, root, "", keys) < 0)
		return -1;
	if ((v = json_object_get(root, "version"))) {
		at(l, "version");
		if (!json_is_integer(v) || json_integer_value(v) != 1)
			return lfail(l, "expected 1");
	}
	if ((v = json_object_get(root, "mode"))) {
		const struct backend_ops *b = json_is_string(v) ? backend_find(json_string_value(v)) : NULL;

		at(l, "mode");
		if (!b)
			return lfail(l, "expected \"hardened\", \"gvisor\" or \"microvm\"");
		l->p->mode = b->mode;
	}
	if ((v = json_object_get(root, "user"))) {
		at(l, "user");
		if (json_is_integer(v)) {
			if (json_integer_value(v) < 0 || json_integer_value(v) > 65535)
				return lfail(l, "%lld: expected a UID from 0 to 65535, or \"UID:GID\"",
					     (long long)json_integer_value(v));
			snprintf(why, sizeof(why), "%lld", (long long)json_integer_value(v));
			policy_set_user(p, why, why, sizeof(why));
		} else if (json_is_real(v)) {
			return lfail(l, "%g: expected a whole UID from 0 to 65535, or \"UID:GID\"", json_real_value(v));
		} else if (!json_is_string(v)) {
			return lfail(l, "expected a UID from 0 to 65535, or \"UID:GID\"");
		} else if (policy_set_user(p, json_string_value(v), why, sizeof(why)) < 0) {
			return lfail(l, "%s", why);
		}
	}
	if ((v = json_object_get(root, "volume_owner"))) {
		at(l, "volume_owner");
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			snprintf(why, sizeof(why), "%lld", (long long)json_integer_value(v));
		else if (json_is_string(v))
			snprintf(why, sizeof(why), "%s", json_string_value(v));
		else
			return lfail(l, "expected a host UID or \"UID:GID\"");
		if (policy_set_volume_owner(p, why, why, sizeof(why)) < 0)
			return lfail(l, "%s", why);
	}
	if ((v = json_object_get(root, "rootfs"))) {
		at(l, "rootfs");
		if (set_file_path(l, &p->rootfs, v) < 0)
			return -1;
	}
	if ((v = json_object_get(root, "hostname"))) {
		at(l, "hostname");
		if (!want_string(l, v))
			return -1;
		/* the value itself is in the document; escaped once, by the caller */
		if (policy_set_hostname(p, json_string_value(v), why, sizeof(why)) < 0)
			return lfail(l, HOSTNAME_RULE);
	}
	if ((v = json_object_get(root, "workdir"))) {
		at(l, "workdir");
		if (!want_string(l, v))
			return -1;
		if (json_string_value(v)[0] != '/')
			return lfail(l, "expected an absolute path inside the sandbox");
		policy_set_path(&p->workdir, json_string_value(v), why, sizeof(why));
	}
	if ((v = json_object_get(root, "capabilities"))) {
		static const char *const ckeys[] = { "add", NULL };

		at(l, "capabilities");
		if (!json_is_object(v))
			return lfail(l, "expected {\"add\": [...]}");
		if (only_keys(l, v, "capabilities", ckeys) < 0)
			return -1;
		at(l, "capabilities.add");
		v = json_object_get(v, "add");
		if (v && !json_is_array(v))
			return lfail(l, "expected an array");
		json_array_foreach(v, i, x) {
			at(l, "capabilities.add[%zu]", i);
			if (!want_string(l, x))
				return -1;
			if (policy_add_cap(p, json_string_value(x), why, sizeof(why)) < 0)
				return lfail(l, "%s", why);
		}
	}
	if ((v = json_object_get(root, "seccomp"))) {
		at(l, "seccomp");
		if (set_file_path(l, &p->seccomp, v) < 0)
			return -1;
	}
	if ((v = json_object_get(root, "env")) && load_string_map(l, v, "env", env_pair) < 0)
		return -1;
	if ((v = json_object_get(root, "labels")) && load_string_map(l, v, "labels", label_pair) < 0)
		return -1;
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (!(v = json_object_get(root, sections[i].key)))
			continue;
		at(l, "%s", sections[i].key);
		if (sections[i].load(l, v) < 0)
			return -1;
	}
	return 0;
}

int policy_load_json(struct policy *p, const char *text, size_t len, const char *name,
		     const char *base, char *err, size_t errlen)
{
	struct loader l = { .p = p, .base = base, .err = err, .errlen = errlen };
	char inner[512];
	json_error_t jerr;
	json_t *root;
	int rc;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		char *safe = escape_bytes(jerr.text, strlen(jerr.text));

		fail(err, errlen, "%s: line %d column %d: %s", name, jerr.line, jerr.column, safe ? safe : "bad JSON");
		free(safe);
		return -1;
	}
	l.err = inner;
	l.errlen = sizeof(inner);
	rc = load_object(&l, root);
	json_decref(root);
	if (rc < 0) {
		/* field names and values come from the document: never raw on a terminal */
		char *safe = escape_bytes(inner, strlen(inner));

		fail(err, errlen, "%s: %s", name, safe ? safe : "malformed policy");
		free(safe);
		return -1;
	}
	return 0;
}

int policy_read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "re"), *m;
	char buf[8192];
	size_t n;
	int e = 0;

	*text = NULL;
	*len = 0;
	if (!f)
		return -1;
	m = open_memstream(text, len);
	if (!m) {
		e = errno;
		fclose(f);
		errno = e;
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	if (ferror(f))
		e = errno ? errno : EIO;
	fclose(f);
	if (fclose(m) != 0 && !e)
		e = ENOMEM;
	if (e) {
		free(*text);
		*text = NULL;
		errno = e;
		return -1;
	}
	return 0;
}

int policy_load_file(struct policy *p, const char *path, char *err, size_t errlen)
{
	char dirbuf[PATH_MAX], *text;
	size_t len;
	int rc;

	if (policy_read_file(path, &text, &len) < 0 || !realpath(path, dirbuf)) {
		rc = errno;
		free(text);
		return fail(err, errlen, "%s: %s", path, strerror(rc));
	}
	rc = policy_load_json(p, text, len, path, dirname(dirbuf), err, errlen);
	free(text);
	return rc;
}

/* ---- the effective policy ---- */

/* path made absolute against the working directory, "." and ".." taken out
 * by name ("a/../b" is "b" when no link is involved, which mntns checks);
 * -1 with errno. */
static int absolute_path(const char *path, char *out, size_t outlen)
{
	char joined[PATH_MAX * 2], *save = NULL, *c;
	size_t n = 0;

	if (path[0] == '/') {
		snprintf(joined, sizeof(joined), "%s", path);
	} else {
		if (!getcwd(joined, PATH_MAX))
			return -1;
		strcat(joined, "/");
		strncat(joined, path, sizeof(joined) - strlen(joined) - 1);
	}
	out[0] = 0;
	for (c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			while (n > 0 && out[--n] != '/')
				;
			out[n] = 0;
			continue;
		}
		if (n + 1 + strlen(c) + 1 > outlen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		out[n++] = '/';
		strcpy(out + n, c);
		n += strlen(c);
	}
	if (!n)
		strcpy(out, "/");
	return 0;
}

int policy_finish(struct policy *p, char *err, size_t errlen)
{
	bool has_tmp = false;
	struct stat st;

	for (size_t i = 0; i < p->nmounts; i++) {
		struct policy_mount *m = &p->mounts[i];
		char real[PATH_MAX];

		if (!strcmp(m->dst, "/tmp"))
			has_tmp = true;
		if (m->type != POLICY_MOUNT_BIND)
			continue;
		/* canonical sources for the digest: resolved only where links may be
		 * followed; elsewhere mntns opens them refusing every link */
		if (m->follow ? !realpath(m->src, real) : absolute_path(m->src, real, sizeof(real)) < 0)
			return fail(err, errlen, "mount %s -> %s: %s", m->src, m->dst, strerror(errno));
		if (policy_set_path(&m->src, real, err, errlen) < 0)
			return -1;
	}
	if (!has_tmp) {
		struct policy_mount tmp = { .type = POLICY_MOUNT_TMPFS, .dst = "/tmp",
					    .size = POLICY_DEFAULT_TMP_SIZE };

		if (policy_add_mount(p, &tmp, err, errlen) < 0)
			return -1;
	}
	if (p->rootfs) {
		char real[PATH_MAX];

		if (!realpath(p->rootfs, real) || stat(real, &st) < 0)
			return fail(err, errlen, "rootfs %s: %s", p->rootfs, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return fail(err, errlen, "rootfs %s: not a directory", p->rootfs);
		policy_set_path(&p->rootfs, real, err, errlen);
	}
	if (p->seccomp && stat(p->seccomp, &st) < 0)
		return fail(err, errlen, "seccomp profile %s: %s", p->seccomp, strerror(errno));
	if (p->nallow && p->network != POLICY_NET_ALLOWLIST && p->network != POLICY_NET_PROXY)
		return fail(err, errlen, "allow rules need network mode allowlist (or proxy, for addresses)");
	/* with the proxy, a rule is an address it lets through; names are
	 * --allow-domain's: the proxy resolves them itself, when asked */
	for (size_t i = 0; i < p->nallow && p->network == POLICY_NET_PROXY; i++) {
		struct netpolicy_rule rule;
		char why[256];

		if (netpolicy_parse_rule(p->allow[i], &rule, why, sizeof(why)) < 0)
			return fail(err, errlen, "--allow %s with network mode proxy: a host name is an --allow-domain "
				    "(the proxy decides by name and resolves it itself); --allow takes ADDR[/PREFIX][:PORT] here",
				    p->allow[i]);
	}
	if (p->npublish && p->network != POLICY_NET_ALLOWLIST)
		return fail(err, errlen, "published ports need network mode allowlist (none has no way in, "
			    "host shares the host's ports)");
	/* in its own network namespace the session could write raw packets that
	 * pasta would carry out without a connect the hooks see */
	for (int cap = CAP_NET_ADMIN; cap <= CAP_NET_RAW; cap++)
		if ((p->network == POLICY_NET_ALLOWLIST || p->network == POLICY_NET_PROXY) &&
		    (p->caps_add & (1ull << cap)))
			return fail(err, errlen, "capability %s with network mode %s: its packets would "
				    "bypass the %s; refused", cap_names[cap],
				    p->network == POLICY_NET_PROXY ? "proxy" : "allowlist",
				    p->network == POLICY_NET_PROXY ? "proxy" : "allowlist");
	if (p->ndomains && p->network != POLICY_NET_PROXY)
		return fail(err, errlen, "allowed domains need network mode proxy");
	if ((p->inspect_tls || p->ninject) && p->network != POLICY_NET_PROXY)
		return fail(err, errlen, "--inspect-tls and --inject-header need network mode proxy");
	if (p->ninject && !p->inspect_tls)
		return fail(err, errlen, "--inject-header needs --inspect-tls: the proxy adds a header only to requests it reads");
	for (size_t i = 0; i < p->ninject; i++) {
		bool matched = false;

		for (size_t j = 0; j < p->ndomains && !matched; j++)
			matched = domain_match(p->domains[j], p->inject[i].domain);
		if (!matched)
			return fail(err, errlen, "--inject-header for %s: no allowed domain matches it", p->inject[i].domain);
	}
	if (p->network == POLICY_NET_PROXY && !p->ndomains && !p->nallow)
		return fail(err, errlen, "network mode proxy needs at least one allowed domain (--allow-domain NAME "
			    "or *.SUFFIX) or address (--allow ADDR[/PREFIX][:PORT]); without one, --network none says it");
	if (p->workdir && p->workdir[0] != '/')
		return fail(err, errlen, "workdir '%s' must be an absolute path", p->workdir);
	return 0;
}

json_t *policy_to_json(const struct policy *p)
{
	static const char *const nets[] = { "none", "host", "allowlist", "proxy" };
	json_t *j = json_object(), *mounts = json_array(), *allow = json_array(), *env = json_object();
	json_t *secrets = json_array(), *caps = json_array(), *rl = json_object(), *res = json_object();
	char user[32];

	snprintf(user, sizeof(user), "%u:%u", (unsigned)p->uid, (unsigned)p->gid);
	for (size_t i = 0; i < p->nmounts; i++) {
		const struct policy_mount *m = &p->mounts[i];
		json_t *o = json_pack("{s:s, s:s, s:b}", "type", m->type == POLICY_MOUNT_BIND ? "bind" : "tmpfs",
				      "dst", m->dst, "ro", m->ro);

		if (m->follow)
			json_object_set_new(o, "follow", json_true());
		if (m->src)
			json_object_set_new(o, "src", json_string(m->src));
		if (m->type == POLICY_MOUNT_TMPFS)
			json_object_set_new(o, "size", json_integer((json_int_t)m->size));
		json_array_append_new(mounts, o);
	}
	for (size_t i = 0; i < p->nallow; i++)
		json_array_append_new(allow, json_string(p->allow[i]));
	for (size_t i = 0; i < p->nenv; i++) {
		const char *eq = strchr(p->env[i], '=');
		char *k = strndup(p->env[i], (size_t)(eq - p->env[i]));

		json_object_set_new(env, k, json_string(eq + 1));
		free(k);
	}
	for (size_t i = 0; i < p->nsecrets; i++) {
		json_t *o = json_pack("{s:s}", "name", p->secrets[i].name);

		if (p->secrets[i].file)
			json_object_set_new(o, "file", json_string(p->secrets[i].file));
		json_array_append_new(secrets, o);
	}
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (p->caps_add & (1ull << i))
			json_array_append_new(caps, json_string(cap_names[i]));
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++) {
		const struct policy_rlimit *r = &p->rlimits[rlimit_names[i].resource];

		if (r->set)
			json_object_set_new(rl, rlimit_names[i].name,
					    json_pack("[I, I]", r->soft == RLIM_INFINITY ? -1 : (json_int_t)r->soft,
						      r->hard == RLIM_INFINITY ? -1 : (json_int_t)r->hard));
	}
	if (p->memory)
		json_object_set_new(res, "memory", json_integer((json_int_t)p->memory));
	if (p->cpus_milli)
		json_object_set_new(res, "cpus", json_real((double)p->cpus_milli / 1000));
	if (p->pids)
		json_object_set_new(res, "pids", json_integer((json_int_t)p->pids));
	if (p->timeout_ms)
		json_object_set_new(res, "timeout", json_integer((json_int_t)p->timeout_ms));
	json_object_set_new(j, "version", json_integer(1));
	json_object_set_new(j, "mode", json_string(p->mode));
	json_object_set_new(j, "user", json_string(user));
	if (p->volume_owner_set) {
		snprintf(user, sizeof(user), "%u:%u", (unsigned)p->volume_uid, (unsigned)p->volume_gid);
		json_object_set_new(j, "volume_owner", json_string(user));
	}
	json_object_set_new(j, "rootfs", p->rootfs ? json_string(p->rootfs) : json_null());
	json_object_set_new(j, "hostname", p->hostname ? json_string(p->hostname) : json_null());
	json_object_set_new(j, "workdir", p->workdir ? json_string(p->workdir) : json_null());
	json_object_set_new(j, "seccomp", p->seccomp ? json_string(p->seccomp) : json_string("default"));
	json_object_set_new(j, "mounts", mounts);
	json_object_set_new(j, "network", json_pack("{s:s, s:o}", "mode", nets[p->network], "allow", allow));
	if (p->npublish)
		json_object_set_new(json_object_get(j, "network"), "publish", policy_publish_json(p));
	if (p->ndomains) {
		json_t *d = json_array();

		for (size_t i = 0; i < p->ndomains; i++)
			json_array_append_new(d, json_string(p->domains[i]));
		json_object_set_new(json_object_get(j, "network"), "domains", d);
	}
	if (p->inspect_tls)
		json_object_set_new(json_object_get(j, "network"), "inspect_tls", json_true());
	if (p->ninject) {
		json_t *a = json_array();

		/* where the value comes from, never the value */
		for (size_t i = 0; i < p->ninject; i++)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "domain", p->inject[i].domain, "name",
							   p->inject[i].name, "file", p->inject[i].file));
		json_object_set_new(json_object_get(j, "network"), "inject", a);
	}
	json_object_set_new(j, "capabilities", json_pack("{s:o}", "add", caps));
	json_object_set_new(j, "env", env);
	json_object_set_new(j, "secrets", secrets);
	json_object_set_new(j, "labels", json_deep_copy(p->labels));
	json_object_set_new(j, "resources", res);
	json_object_set_new(j, "rlimits", rl);
	return j;
}

int policy_digest(const struct policy *p, char out[72])
{
	json_t *j = policy_to_json(p);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned char md[crypto_hash_sha256_BYTES];

	json_decref(j);
	if (!text)
		return -ENOMEM;
	/* libsodium, not libcrypto: OpenSSL's first digest loads its config and
	 * providers, about 1 ms of every session's start for a few hundred bytes.
	 * No sodium_init (45 us of each start): its SHA-256 is portable C with
	 * no CPU dispatch and no randomness to set up. */
	crypto_hash_sha256(md, (const unsigned char *)text, strlen(text));
	free(text);
	strcpy(out, "sha256:");
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
	return 0;
}
