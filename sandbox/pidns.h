/* The pid namespace's init: pid 1 starts the workload as a process group
 * leader, forwards the signals sandtrail sends to that group, reaps orphans,
 * and reports the workload's
 * wait status.  When it exits the kernel kills whatever is left. */
#ifndef SANDTRAIL_PIDNS_H
#define SANDTRAIL_PIDNS_H

/* Runs the workload fn(arg) in a child (signals unblocked and default), then
 * waits; writes the workload's wait status (int) to status_fd.  Never returns. */
void pidns_init_child(int status_fd, void (*fn)(void *), void *arg) __attribute__((noreturn));

#endif
