/* What the microvm backend (microvm.c) asks of a virtual machine monitor:
 * start a guest held before its first instruction inside the session
 * cgroup, let it boot with its event port connected, say when it ended,
 * stop it.  The guest speaks over two byte channels the VMM carries: the
 * control port (a socket the caller holds the other end of) and the event
 * port (connected at go() to where the events go); its console is a file
 * descriptor.  QEMU's microvm machine is the backend built (vmm_qemu.c);
 * a Firecracker one (API socket, jailer, vsock) would fill the same ops. */
#ifndef SANDTRAIL_VMM_H
#define SANDTRAIL_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define VMM_SHARES_MAX 32

struct vmm_share {
	const char *tag;  /* the guest mounts it by this name */
	const char *path; /* host directory, when fd is -1 */
	int fd;           /* else the directory itself (O_PATH): no path is walked again */
	bool ro;
};

struct vmm_spec {
	const char *kernel, *initrd, *cmdline;
	unsigned memory_mib, cpus;
	int cgroup_fd;      /* cgroup v2 directory the VMM is born in */
	int ctl_fd;         /* the VMM's end of the control port (a stream socket) */
	int console_fd;     /* where the guest's console goes */
	struct vmm_share shares[VMM_SHARES_MAX];
	size_t nshares;
	uid_t uid;          /* the VMM drops to these ids once set up */
	gid_t gid;
	bool kvm;           /* hardware virtualisation; else emulation */
};

struct vmm {
	const struct vmm_ops *ops;
	pid_t pid;
	int pidfd;
	int go_fd;          /* held open until go() */
};

struct vmm_ops {
	const char *name;
	/* Spawns the VMM held in the session cgroup; -1 with err. */
	int (*start)(struct vmm *v, const struct vmm_spec *s, char *err, size_t errlen);
	/* Lets it boot, the event port connected to the unix socket at
	 * events (NULL: no event port); -1 with errno. */
	int (*go)(struct vmm *v, const char *events);
	/* Once v->pidfd is readable: the VMM's wait status. */
	int (*wait)(struct vmm *v, int *status);
	/* Kills the VMM (when it still runs) and reaps it. */
	void (*stop)(struct vmm *v);
};

extern const struct vmm_ops vmm_qemu;

/* KVM where it works: hardware virtualisation (kvm_intel or kvm_amd), not
 * PVM (kvm_pvm: stock guest kernels fail under it); SANDTRAIL_MICROVM_ACCEL
 * (kvm|tcg) overrides. */
bool vmm_kvm_usable(void);

#endif
