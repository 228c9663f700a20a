/* Holds every fork by a task of one cgroup inside the kernel for a while,
 * between the programs attached to sched_process_fork before this one and
 * those attached after: a collector that takes over from another then
 * switches, most of the time, while a fork is between the two loads'
 * programs (by chance, a window of a microsecond or so).
 *
 *   fork_stall CGROUP_DIR MICROSECONDS   prints "ready" once attached, detaches when stdin closes
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "collector/cgroup2.h"
#include "fork_stall.skel.h"

int main(int argc, char **argv)
{
	struct fork_stall_bpf *skel;
	char err[512], buf[64];
	uint64_t id;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: fork_stall CGROUP_DIR MICROSECONDS\n");
		return 2;
	}
	if (cgroup2_open(argv[1], &fd, &id, err, sizeof(err)) < 0) {
		fprintf(stderr, "fork_stall: %s\n", err);
		return 1;
	}
	close(fd);
	skel = fork_stall_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->cgroup_id = id;
	skel->rodata->stall_ns = strtoull(argv[2], NULL, 10) * 1000;
	if (fork_stall_bpf__load(skel) || fork_stall_bpf__attach(skel)) {
		fprintf(stderr, "fork_stall: loading: %s\n", strerror(errno));
		fork_stall_bpf__destroy(skel);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	fork_stall_bpf__destroy(skel);
	return 0;
}
