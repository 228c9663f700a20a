/* Seccomp profiles in Docker's JSON format (schemas/seccomp/default.json is
 * ours), compiled with libseccomp: prepare (parent, before anything exists)
 * -> apply (child, last step before exec) -> release. */
#ifndef SANDTRAIL_SECCOMP_PROFILE_H
#define SANDTRAIL_SECCOMP_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

/* The built-in default profile (schemas/seccomp/default.json, embedded). */
extern const char seccomp_default_profile[];
extern const size_t seccomp_default_profile_len;

/* Compiles a profile; caps (bit n = capability n) decide the rules whose
 * "includes"/"excludes" name capabilities.  NULL with "NAME: field: reason". */
scmp_filter_ctx seccomp_profile_prepare(const char *json, size_t len, const char *name, uint64_t caps,
					char *err, size_t errlen);
/* As seccomp_profile_prepare for a file; path NULL: the default profile. */
scmp_filter_ctx seccomp_profile_prepare_file(const char *path, uint64_t caps, char *err, size_t errlen);
/* Loads the filter into the calling thread (no_new_privs must be set). */
int seccomp_profile_apply(scmp_filter_ctx ctx);
void seccomp_profile_release(scmp_filter_ctx ctx);

#endif
