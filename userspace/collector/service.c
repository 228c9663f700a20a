#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "service.h"

#define SERVICE_STATUS_MS 1000

void service_init(struct service *s)
{
	uint64_t usec = 0;

	*s = (struct service){ 0 };
	/* 0 clears nothing: a child (runsc, exporters' threads) has no business notifying */
	if (sd_watchdog_enabled(0, &usec) > 0)
		s->watchdog_ms = usec / 2000;
}

static void status(size_t sessions, const char *state)
{
	sd_notifyf(0, "STATUS=%s: %zu session%s", state, sessions, sessions == 1 ? "" : "s");
}

void service_ready(struct service *s, size_t sessions)
{
	sd_notifyf(0, "READY=1\nSTATUS=recording: %zu session%s", sessions, sessions == 1 ? "" : "s");
	(void)s;
}

void service_tick(struct service *s, uint64_t now_ms, size_t sessions)
{
	if (s->watchdog_ms && now_ms - s->last_ping_ms >= s->watchdog_ms) {
		s->last_ping_ms = now_ms;
		sd_notify(0, "WATCHDOG=1");
	}
	if (now_ms - s->last_status_ms >= SERVICE_STATUS_MS) {
		s->last_status_ms = now_ms;
		status(sessions, "recording");
	}
}

void service_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=draining and sealing");
}
