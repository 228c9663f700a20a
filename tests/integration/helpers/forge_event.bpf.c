/* The kernel side of forge_event: while the forger calls getppid(), a
 * sample that is no event goes into the ring buffer it was given (by fd:
 * sandtraild's own). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define NR_GETPPID 110 /* x86_64 */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

const volatile __u32 forger_tgid;

/* a raw tracepoint: no tracefs needed */
SEC("tp_btf/sys_enter")
int BPF_PROG(forge, struct pt_regs *regs, long id)
{
	char junk[12] = "not an evnt";

	if (id != NR_GETPPID || bpf_get_current_pid_tgid() >> 32 != forger_tgid)
		return 0;
	bpf_ringbuf_output(&events, junk, sizeof(junk), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
