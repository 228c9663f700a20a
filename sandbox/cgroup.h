/* The session cgroup: a cgroup v2 directory (what sandtraild traces and the
 * BPF programs attach to) plus resource limits through whichever hierarchy
 * has the controller: v2 where it is enabled, v1 on hybrid hosts. */
#ifndef SANDTRAIL_CGROUP_H
#define SANDTRAIL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cgroup_ctl { CGROUP_MEMORY, CGROUP_PIDS, CGROUP_CPU, CGROUP_NCTL };

struct cgroup_limits {
	uint64_t memory;     /* bytes; 0: none */
	uint64_t cpus_milli; /* 0: none */
	uint64_t pids;       /* 0: none */
};

struct cgroup_session {
	char v2[4096];              /* <cgroup2 mount>/sandtrail/<name> */
	int v2_fd;                  /* for clone3(CLONE_INTO_CGROUP) */
	bool on_v2[CGROUP_NCTL];    /* controller enabled in v2 */
	char v1[CGROUP_NCTL][4096]; /* v1 directory, "" when unused */
	uint64_t oom_before;        /* oom_kill count at creation */
};

struct cgroup_usage {
	bool oom;
	bool has_memory_peak, has_pids_peak, has_cpu;
	uint64_t memory_peak, pids_peak, cpu_usec;
};

/* The cgroup2 mount point (/sys/fs/cgroup or /sys/fs/cgroup/unified); NULL if none. */
const char *cgroup_v2_root(void);
/* Creates <name> in the cgroup2 hierarchy, and in a v1 one only for a limit
 * whose controller v2 lacks; sets the limits.  On failure nothing is left and
 * err names the file. */
int cgroup_create(struct cgroup_session *cg, const char *name, const struct cgroup_limits *lim,
		  char *err, size_t errlen);
/* Moves pid into the v1 hierarchies (clone3 put it in the v2 one already). */
int cgroup_attach_parent(struct cgroup_session *cg, pid_t pid);
/* Kills every process of the session (cgroup.kill, else SIGKILL per pid). */
void cgroup_kill(struct cgroup_session *cg);
/* Peaks, CPU time and whether the OOM killer struck, read before destroy. */
void cgroup_usage(struct cgroup_session *cg, struct cgroup_usage *u);
/* Kills what is left, waits for it to go and removes every directory. */
void cgroup_destroy(struct cgroup_session *cg);

#endif
