/* A session's effective policy: everything `sandtrail run` can be told, from a
 * JSON policy file (schemas/policy.schema.json) and then from flags, which
 * override it.  Its canonical JSON form is what the session's digest covers. */
#ifndef SANDTRAIL_POLICY_H
#define SANDTRAIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <jansson.h>

#define POLICY_MOUNTS_MAX 64
#define POLICY_ALLOW_MAX 256
#define POLICY_DOMAINS_MAX 256
#define POLICY_INJECT_MAX 16
#define POLICY_PUBLISH_MAX 32
#define POLICY_ENV_MAX 256
#define POLICY_SECRETS_MAX 64
#define POLICY_RLIMITS 16 /* RLIM_NLIMITS on Linux */
#define POLICY_DEFAULT_TMP_SIZE (512ull << 20)
#define POLICY_DEFAULT_ID 1000

enum policy_network { POLICY_NET_NONE, POLICY_NET_HOST, POLICY_NET_ALLOWLIST, POLICY_NET_PROXY };
enum policy_mount_type { POLICY_MOUNT_BIND, POLICY_MOUNT_TMPFS };

struct policy_mount {
	enum policy_mount_type type;
	char *src; /* bind only: absolute host path */
	char *dst; /* absolute path inside the sandbox */
	bool ro;
	bool follow;   /* bind only: src may pass through symbolic links */
	uint64_t size; /* tmpfs only: bytes */
};

/* A port published as docker's -p HOST_PORT:PORT: the session's only inbound
 * path (allowlist mode, through pasta; netns.h). */
struct policy_publish {
	char addr[INET6_ADDRSTRLEN]; /* host address bound; "": every address */
	uint16_t host_port, port;
	bool udp;
};

struct policy_secret {
	char *name;
	char *file; /* NULL: the value comes from the caller's environment */
};

/* --inject-header DOMAIN:NAME=@FILE: the proxy adds NAME: <FILE's content>
 * to requests to DOMAIN; the value never enters the sandbox. */
struct policy_inject {
	char *domain; /* a name (no wildcard), matched by an allowed domain */
	char *name;   /* an HTTP header name, lower case */
	char *file;
};

struct policy_rlimit {
	bool set;
	rlim_t soft, hard;
};

struct policy {
	uid_t uid;
	gid_t gid;
	/* the host owner of files the session creates in writable binds; unset:
	 * the caller under sudo, else each source's owner, never root unasked */
	bool volume_owner_set;
	uid_t volume_uid;
	gid_t volume_gid;
	char *rootfs;   /* NULL: the host's / */
	char *hostname;
	char *workdir;
	char *seccomp;  /* profile file; NULL: the built-in default profile */
	const char *mode;     /* the backend's name (backend.h): hardened, gvisor */
	enum policy_network network;
	size_t nmounts, nallow, nenv, nsecrets;
	struct policy_mount mounts[POLICY_MOUNTS_MAX];
	char *allow[POLICY_ALLOW_MAX]; /* "CIDR[:PORT]" or "HOST:PORT" as written */
	size_t ndomains;
	char *domains[POLICY_DOMAINS_MAX]; /* proxy mode: "name" or "*.suffix", canonical */
	bool inspect_tls; /* proxy mode: TLS ends at the proxy with a per-session CA */
	size_t ninject;
	struct policy_inject inject[POLICY_INJECT_MAX];
	size_t npublish;
	struct policy_publish publish[POLICY_PUBLISH_MAX];
	char *env[POLICY_ENV_MAX];     /* "K=V" */
	struct policy_secret secrets[POLICY_SECRETS_MAX];
	uint64_t caps_add;    /* bit n: capability n */
	json_t *labels;
	uint64_t memory;      /* bytes; 0: no limit */
	uint64_t cpus_milli;  /* thousandths of a CPU; 0: no limit */
	uint64_t pids;        /* 0: no limit */
	uint64_t timeout_ms;  /* 0: none */
	struct policy_rlimit rlimits[POLICY_RLIMITS];
};

/* Reads a whole file into a NUL-terminated malloc'd buffer; -1 with errno. */
int policy_read_file(const char *path, char **text, size_t *len);
/* The first key of obj that keys (NULL-terminated) does not list; NULL if none.
 * Both JSON loaders refuse such keys: a misspelt one must not weaken a sandbox. */
const char *policy_unknown_key(const json_t *obj, const char *const *keys);
/* Defaults: uid/gid 1000, network none, no limits. */
void policy_init(struct policy *p);
void policy_free(struct policy *p);
/* Applies a policy file on top of p; -1 with "FILE: field: reason" in err. */
int policy_load_file(struct policy *p, const char *path, char *err, size_t errlen);
/* As policy_load_file for JSON text; name prefixes errors, base resolves relative paths. */
int policy_load_json(struct policy *p, const char *text, size_t len, const char *name,
		     const char *base, char *err, size_t errlen);

/* Setters shared by the JSON loader and the flags; -1 with a reason (no prefix). */
int policy_set_user(struct policy *p, const char *spec, char *err, size_t errlen);
/* "UID[:GID]" on the host (0 is allowed: asking for root in so many words) */
int policy_set_volume_owner(struct policy *p, const char *spec, char *err, size_t errlen);
/* Under sudo (caller root, SUDO_UID set): the invoking user owns what the
 * session creates, unless the policy says otherwise. */
void policy_default_volume_owner(struct policy *p);
int policy_set_hostname(struct policy *p, const char *name, char *err, size_t errlen);
/* "type=bind,src=A,dst=B[,ro][,follow]" or "type=tmpfs,dst=B[,size=N]" */
int policy_add_mount_spec(struct policy *p, const char *spec, char *err, size_t errlen);
/* docker -v: "SRC:DST[:OPTS]", OPTS a comma list of ro, rw, follow */
int policy_add_volume(struct policy *p, const char *spec, char *err, size_t errlen);
/* docker --tmpfs: "DST[:size=N]" */
int policy_add_tmpfs(struct policy *p, const char *spec, char *err, size_t errlen);
int policy_add_mount(struct policy *p, const struct policy_mount *m, char *err, size_t errlen);
int policy_set_network(struct policy *p, const char *mode, char *err, size_t errlen);
int policy_add_allow(struct policy *p, const char *spec, char *err, size_t errlen);
/* "name" or "*.suffix" (proxy/domain.h), kept lower case and once */
int policy_add_domain(struct policy *p, const char *pattern, char *err, size_t errlen);
/* "DOMAIN:NAME=@FILE" (the value is never on the command line) */
int policy_add_inject(struct policy *p, const char *spec, char *err, size_t errlen);
/* One pattern a line; blank lines and '#' comments skipped; -1 with "FILE:LINE: reason". */
int policy_add_domain_file(struct policy *p, const char *path, char *err, size_t errlen);
/* docker -p: "[IP:]HOST_PORT:PORT[/tcp|/udp]", an IPv6 IP in brackets */
int policy_add_publish(struct policy *p, const char *spec, char *err, size_t errlen);
/* "[IP:]HOST_PORT:PORT/PROTO" of pub, canonical, into out (64 bytes or more) */
void policy_publish_str(const struct policy_publish *pub, char *out, size_t len);
/* The published ports as an array of such strings */
json_t *policy_publish_json(const struct policy *p);
int policy_add_cap(struct policy *p, const char *name, char *err, size_t errlen);
/* "K=V", or "K" to take the caller's value */
int policy_add_env(struct policy *p, const char *spec, char *err, size_t errlen);
/* "NAME" (caller's environment) or "NAME=@FILE" */
int policy_add_secret(struct policy *p, const char *spec, char *err, size_t errlen);
/* "name=soft[:hard]" as docker's --ulimit */
int policy_set_rlimit(struct policy *p, const char *spec, char *err, size_t errlen);
int policy_set_path(char **slot, const char *path, char *err, size_t errlen);

/* "512m" -> bytes; "1.5" -> 1500 milli-CPUs; "30s"/"500ms"/"2m" -> ms. */
int policy_parse_size(const char *s, uint64_t *out);
int policy_parse_cpus(const char *s, uint64_t *out);
int policy_parse_duration(const char *s, uint64_t *out);
/* Capability name ("NET_RAW" or "CAP_NET_RAW", any case) -> number; -1 unknown. */
int policy_cap_number(const char *name);
/* Capability n's name without CAP_ ("NET_RAW"); NULL when unknown. */
const char *policy_cap_name(int n);
/* An RLIMIT_* resource's --ulimit name ("nofile"); NULL when unknown. */
const char *policy_rlimit_name(int resource);

/* Completes p: the default /tmp, bind sources made absolute (resolved through
 * symbolic links only with follow; mntns opens them without), checks that
 * allowlist rules and published ports are given only with --network allowlist,
 * domains only with (and at least one for) --network proxy; both refuse NET_RAW
 * and NET_ADMIN.  -1 with a reason. */
int policy_finish(struct policy *p, char *err, size_t errlen);
/* The canonical effective policy (sorted keys, no secret values). */
json_t *policy_to_json(const struct policy *p);
/* "sha256:<hex>" of the canonical JSON's compact text. */
int policy_digest(const struct policy *p, char out[72]);

#endif
