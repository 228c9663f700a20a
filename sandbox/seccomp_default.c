#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "seccomp_profile.h"

/* The default profile is part of the binary: a sandbox must not depend on a
 * file someone can edit next to it.  So is its program, compiled by the
 * build (SECCOMP_DEFAULT_BPF, written by sandbox/seccomp_export.c): parsing
 * the JSON and generating the filter took about 1.5 ms of every start. */
#ifndef SECCOMP_DEFAULT_BPF
#error "SECCOMP_DEFAULT_BPF: the build-time program's path (set by the Makefile)"
#endif
__asm__(".section .rodata\n"
	".global seccomp_default_profile\n"
	".type seccomp_default_profile, @object\n"
	".balign 16\n"
	"seccomp_default_profile:\n"
	".incbin \"schemas/seccomp/default.json\"\n"
	"seccomp_default_profile_end:\n"
	".byte 0\n"
	".global seccomp_default_profile_len\n"
	".type seccomp_default_profile_len, @object\n"
	".balign 8\n"
	"seccomp_default_profile_len:\n"
	".quad seccomp_default_profile_end - seccomp_default_profile\n"
	".global seccomp_default_filter\n"
	".type seccomp_default_filter, @object\n"
	".balign 8\n"
	"seccomp_default_filter:\n"
	".incbin \"" SECCOMP_DEFAULT_BPF "\"\n"
	"seccomp_default_filter_end:\n"
	".global seccomp_default_filter_len\n"
	".type seccomp_default_filter_len, @object\n"
	".balign 8\n"
	"seccomp_default_filter_len:\n"
	".quad (seccomp_default_filter_end - seccomp_default_filter) / 8\n"
	".previous\n");
_Static_assert(sizeof(struct sock_filter) == 8, "the .quad above divides by the instruction size");

int seccomp_profile_prepare(const char *path, uint64_t caps, struct seccomp_prog *out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	if (!path && seccomp_default_filter_len) {
		*out = (struct seccomp_prog){
			.fprog = { .len = (unsigned short)seccomp_default_filter_len,
				   .filter = (struct sock_filter *)seccomp_default_filter },
		};
		return 0;
	}
	if (!path)
		return seccomp_profile_compile(seccomp_default_profile, seccomp_default_profile_len,
					       "seccomp default.json", caps, out, NULL, err, errlen);
	if (policy_read_file(path, &text, &len) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = seccomp_profile_compile(text, len, path, caps, out, NULL, err, errlen);
	free(text);
	return rc;
}
