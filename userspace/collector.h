/* The collector: one event loop over the kernel's ring buffer, the control
 * socket, signals and a tick; every record goes through it to the journal. */
#ifndef SANDTRAIL_COLLECTOR_H
#define SANDTRAIL_COLLECTOR_H

#include "daemon_config.h"

/* Runs until SIGTERM/SIGINT; returns the process exit status.  Prints
 * "sandtraild: ready" on stderr once tracing and the socket are up. */
int collector_run(const struct daemon_config *cfg);

#endif
