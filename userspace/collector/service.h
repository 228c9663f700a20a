/* sandtraild under a service manager (systemd Type=notify): READY once the
 * probes are attached and the control socket listens, STATUS with the
 * sessions and the exporters' lag, and the watchdog fed from the event loop, so a loop that stops
 * turning gets the daemon restarted.  Without NOTIFY_SOCKET all are no-ops. */
#ifndef SANDTRAIL_SERVICE_H
#define SANDTRAIL_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct service {
	uint64_t watchdog_ms;   /* half of WatchdogSec; 0: no watchdog */
	uint64_t last_ping_ms, last_status_ms;
	bool notify;            /* NOTIFY_SOCKET set: someone listens */
};

void service_init(struct service *s);
void service_ready(struct service *s, size_t sessions);
/* From the loop's timer: the watchdog ping; true once a second under a
 * service manager, when STATUS is due (service_status). */
bool service_tick(struct service *s, uint64_t now_ms);
/* STATUS: the live sessions and, with exporters (export_lag >= 0), the
 * records the furthest behind of them has still to deliver. */
void service_status(size_t sessions, int64_t export_lag);
void service_stopping(void);
/* Whether the service manager stops us to start us again (a restart job on
 * our systemd unit, asked over D-Bus): SIGTERM then hands the sessions over
 * instead of ending them.  False outside systemd ($INVOCATION_ID unset) and
 * whenever it cannot be told: a stop that cannot be told apart ends them. */
bool service_restarting(void);

#endif
