/* Build tool, not part of the library: compiles a seccomp profile (the
 * default one) to the raw BPF program that sandbox/seccomp_default.c embeds.
 * A profile whose rules depend on capabilities or the kernel gives an empty
 * program: `sandtrail run` then compiles it at every start.
 * Usage: seccomp_export PROFILE.json OUT.bpf */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "seccomp_profile.h"

int main(int argc, char **argv)
{
	struct seccomp_prog prog;
	bool conditional = false;
	char err[512], *text;
	size_t len, bytes;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: seccomp_export PROFILE.json OUT.bpf\n");
		return 2;
	}
	if (policy_read_file(argv[1], &text, &len) < 0) {
		fprintf(stderr, "seccomp_export: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (seccomp_profile_compile(text, len, argv[1], 0, &prog, &conditional, err, sizeof(err)) < 0) {
		fprintf(stderr, "seccomp_export: %s\n", err);
		free(text);
		return 1;
	}
	free(text);
	bytes = conditional ? 0 : prog.fprog.len * sizeof(prog.fprog.filter[0]);
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, prog.fprog.filter, bytes) != (ssize_t)bytes || close(fd) < 0) {
		fprintf(stderr, "seccomp_export: %s: %s\n", argv[2], strerror(errno));
		seccomp_profile_release(&prog);
		return 1;
	}
	if (conditional)
		fprintf(stderr, "seccomp_export: %s has rules that depend on capabilities or the kernel: "
				"compiled at every run\n", argv[1]);
	seccomp_profile_release(&prog);
	return 0;
}
