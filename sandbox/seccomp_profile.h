/* Seccomp profiles in Docker's JSON format (schemas/seccomp/default.json is
 * ours), compiled with libseccomp to a BPF program: prepare (parent, before
 * anything exists) -> apply (child, last step before exec) -> release.  The
 * default profile is compiled once, at build time (sandbox/seccomp_export.c),
 * unless its rules depend on what only the run knows (capabilities, kernel).
 * Under it, always, the fixed filter (seccomp_fixed_apply). */
#ifndef SANDTRAIL_SECCOMP_PROFILE_H
#define SANDTRAIL_SECCOMP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/filter.h>
#include <jansson.h>

struct seccomp_prog {
	struct sock_fprog fprog;
	bool owned; /* fprog.filter is ours to free */
};

/* The built-in default profile (schemas/seccomp/default.json) and its
 * build-time program (empty when the profile has conditional rules). */
extern const char seccomp_default_profile[];
extern const size_t seccomp_default_profile_len;
extern const struct sock_filter seccomp_default_filter[];
extern const size_t seccomp_default_filter_len; /* instructions */

/* Compiles a profile; caps (bit n = capability n) decide the rules whose
 * "includes"/"excludes" name capabilities.  *conditional (may be NULL): the
 * profile has such rules.  -1 with "NAME: field: reason" in err. */
int seccomp_profile_compile(const char *json, size_t len, const char *name, uint64_t caps, struct seccomp_prog *out,
			    bool *conditional, char *err, size_t errlen);
/* The program of a profile file; path NULL: the default profile. */
int seccomp_profile_prepare(const char *path, uint64_t caps, struct seccomp_prog *out, char *err, size_t errlen);
/* Loads the filter into the calling thread (no_new_privs must be set); -errno. */
int seccomp_profile_apply(const struct seccomp_prog *p);
void seccomp_profile_release(struct seccomp_prog *p);

/* The fixed filter every session gets beside its profile (sandbox/seccomp_fixed.c
 * lists what it refuses): filters stack and the strictest answer wins, so no
 * profile can relax it. */
extern const struct sock_fprog seccomp_fixed_prog;
/* Loads it into the calling thread (no_new_privs must be set); -errno. */
int seccomp_fixed_apply(void);
/* The same refusals as OCI seccomp rules, for a runtime that applies them
 * itself (gVisor's --oci-seccomp): every refusal answers EPERM there. */
json_t *seccomp_fixed_oci(void);

#endif
