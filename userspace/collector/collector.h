/* The collector: one event loop over the kernel's ring buffer, the control
 * socket, signals and a tick; every record goes through it to the journal.
 * This header is the collector's public face: sandtraild runs it; session
 * managers and the CLI speak its control protocol (control.h) with network
 * policies (netpolicy.h) about cgroup v2 directories (cgroup2.h). */
#ifndef SANDTRAIL_COLLECTOR_H
#define SANDTRAIL_COLLECTOR_H

#include "cgroup2.h"
#include "control.h"
#include "daemon_config.h"
#include "netpolicy.h"

/* Runs until SIGTERM/SIGINT; returns the process exit status.  Prints
 * "sandtraild: ready" on stderr once tracing and the socket are up. */
int collector_run(const struct daemon_config *cfg);

#endif
