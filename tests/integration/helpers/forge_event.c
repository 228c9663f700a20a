/* Writes samples that are no event into a running collector's ring buffer,
 * as a kernel program of another version or a bug would: the collector
 * must count them (loss records, reason "decode"), never drop them silently.
 *
 *   forge_event MAP_ID N    N samples into the ring buffer map MAP_ID; prints N
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "forge_event.skel.h"

int main(int argc, char **argv)
{
	struct forge_event_bpf *skel;
	long n;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: forge_event MAP_ID N\n");
		return 2;
	}
	n = atol(argv[2]);
	fd = bpf_map_get_fd_by_id((__u32)atoi(argv[1]));
	if (fd < 0) {
		fprintf(stderr, "forge_event: map %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	skel = forge_event_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->forger_tgid = (__u32)getpid();
	if (bpf_map__reuse_fd(skel->maps.events, fd) || forge_event_bpf__load(skel) || forge_event_bpf__attach(skel)) {
		fprintf(stderr, "forge_event: loading the forger: %s\n", strerror(errno));
		forge_event_bpf__destroy(skel);
		return 1;
	}
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	forge_event_bpf__destroy(skel);
	close(fd);
	printf("%ld\n", n);
	return 0;
}
