#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "service.h"

#define SERVICE_STATUS_MS 1000
#define SERVICE_BUS_TIMEOUT_US 2000000 /* asked while stopping: never hold the stop long */
#define SYSTEMD_BUS "org.freedesktop.systemd1"

void service_init(struct service *s)
{
	uint64_t usec = 0;

	*s = (struct service){ .notify = getenv("NOTIFY_SOCKET") != NULL };
	/* 0 clears nothing: a child (runsc, exporters' threads) has no business notifying */
	if (sd_watchdog_enabled(0, &usec) > 0)
		s->watchdog_ms = usec / 2000;
}

void service_ready(struct service *s, size_t sessions)
{
	sd_notifyf(0, "READY=1\nSTATUS=recording: %zu session%s", sessions, sessions == 1 ? "" : "s");
	(void)s;
}

bool service_tick(struct service *s, uint64_t now_ms)
{
	if (s->watchdog_ms && now_ms - s->last_ping_ms >= s->watchdog_ms) {
		s->last_ping_ms = now_ms;
		sd_notify(0, "WATCHDOG=1");
	}
	if (!s->notify || now_ms - s->last_status_ms < SERVICE_STATUS_MS)
		return false;
	s->last_status_ms = now_ms;
	return true;
}

void service_status(size_t sessions, int64_t export_lag)
{
	if (export_lag < 0)
		sd_notifyf(0, "STATUS=recording: %zu session%s", sessions, sessions == 1 ? "" : "s");
	else
		sd_notifyf(0, "STATUS=recording: %zu session%s, export lag %" PRId64 " record%s", sessions,
			   sessions == 1 ? "" : "s", export_lag, export_lag == 1 ? "" : "s");
}

void service_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=draining and sealing");
}

bool service_restarting(void)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL;
	sd_bus *bus = NULL;
	const char *unit, *job;
	char *type = NULL;
	uint32_t id = 0;
	bool restart = false;

	if (!getenv("INVOCATION_ID") || sd_bus_open_system(&bus) < 0)
		goto out;
	sd_bus_set_method_call_timeout(bus, SERVICE_BUS_TIMEOUT_US);
	if (sd_bus_call_method(bus, SYSTEMD_BUS, "/org/freedesktop/systemd1", SYSTEMD_BUS ".Manager", "GetUnitByPID",
			       &e, &m, "u", (uint32_t)getpid()) < 0 || sd_bus_message_read(m, "o", &unit) < 0)
		goto out;
	unit = strdupa(unit);
	m = sd_bus_message_unref(m);
	/* the unit's job: (0, "/") when none is queued */
	if (sd_bus_get_property(bus, SYSTEMD_BUS, unit, SYSTEMD_BUS ".Unit", "Job", &e, &m, "(uo)") < 0 ||
	    sd_bus_message_read(m, "(uo)", &id, &job) < 0 || !id)
		goto out;
	if (sd_bus_get_property_string(bus, SYSTEMD_BUS, job, SYSTEMD_BUS ".Job", "JobType", &e, &type) == 0)
		restart = !strcmp(type, "restart");
out:
	free(type);
	sd_bus_message_unref(m);
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(bus);
	return restart;
}
