/* The microvm backend: the workload runs in a guest kernel of its own,
 * booted per session by a VMM (vmm.h; QEMU's microvm machine) started in
 * the session cgroup after sandtraild acknowledged the session.  The guest
 * (sandbox/guest/) mounts the host's /usr read-only and the volumes over
 * 9p, runs CMD as its uid and reports over the control port; its agent's
 * capture programs stream the session's events to sandtraild's microvm sink
 * (userspace/collector/microvm_sink.h) over the event port. */
#ifndef SANDTRAIL_MICROVM_H
#define SANDTRAIL_MICROVM_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "vmframe.h"
#include "vmm.h"

struct microvm {
	struct backend_spec spec;
	struct vmm vm;
	bool kvm;
	int ctl;                   /* the host's end of the control port */
	int vol_fds[VMM_SHARES_MAX]; /* the volumes' directories, until the VMM has them */
	size_t nvol_fds;
	char sink[4096];           /* sandtraild's microvm sink; "": --no-audit */
	struct vmframe_dec dec;    /* of the control port */
	bool exited;               /* the guest reported CMD's status */
	uint32_t status;
	uint32_t load_us;          /* the guest's capture programs' load, as it reported */
	int stopped_by;            /* the caller's stop signal ended the VM */
	const char *failure;       /* the session_end reason when the guest never ran CMD */
	char why[512];
};

#endif
