/* The session manager behind `sandtrail run`: session cgroup, the watch
 * handshake with sandtraild (fail closed), the backend of --mode, timeout,
 * signal forwarding, allowlist refresh, and the end: unwatch with the reason
 * and resource peaks, then cleanup on every path. */
#ifndef SANDTRAIL_MANAGER_H
#define MANAGER_CA_BUNDLE "/etc/sandtrail-ca.crt" /* --inspect-tls: inside the sandbox */
#define SANDTRAIL_MANAGER_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "policy.h"

#define MANAGER_START_FAILED 125
#define MANAGER_STOP_TIMEOUT_MS 10000 /* as docker stop */

struct manager_opts {
	struct policy *p;      /* effective, policy_finish()ed */
	const struct backend_ops *backend; /* --mode */
	char *const *argv;     /* CMD */
	const char *socket;    /* sandtraild's control socket */
	const char *id_file;   /* NULL: none */
	bool no_audit;         /* run without sandtraild */
	uint64_t stop_timeout_ms; /* after a stop signal, SIGKILL for the session */
};

/* Runs CMD; returns its exit status (128+signal when killed), or 125 when
 * the session could not start (a one-line reason already on stderr), or
 * 128+signal when a stop signal (INT, TERM, HUP, QUIT) came before CMD ran. */
int manager_run(const struct manager_opts *o);

#endif
