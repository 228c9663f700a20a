/* sandtraild's settings: one table drives the flags, the JSON config file,
 * the defaults and --help. */
#ifndef SANDTRAIL_DAEMON_CONFIG_H
#define SANDTRAIL_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAEMON_PIN_DIR "/sys/fs/bpf/sandtrail"

struct daemon_config {
	char *journal;
	char *socket;
	char *metrics_socket;    /* "": metrics.sock beside the control socket */
	char *metrics_listen;    /* "": none; ADDR:PORT */
	char *socket_group;      /* "": root only */
	uint32_t socket_gid;     /* socket_group's gid, resolved at load */
	char *gvisor_socket;
	char *key;
	bool create_key;
	uint64_t ringbuf_size;
	uint64_t pending_max;
	uint64_t seal_records;
	uint64_t seal_ms;
	uint64_t segment_bytes;
	uint64_t epoch_seconds;
	uint64_t epoch_seals;
	char *fsync;
	char *pin_dir;           /* bpffs directory, "none", or "auto" (see daemon_config.c) */
	char *state;             /* default: "state" beside the journal directory */
	char **export;           /* --export URLs, NULL-terminated */
	char *proxy;             /* sandtrail-proxy's path; "": beside sandtraild; "none" */
	char *proxy_user;
	char *proxy_dns;         /* "": the host's resolv.conf */
	char *proxy_upstream_ca; /* "": the proxy's default trust store, for --inspect-tls origins */
	size_t nexport;
	struct exporters *exporters; /* parsed from export */
	uint64_t retain_bytes;
	char *retain_days;       /* decimal days, "" for none */
	uint64_t retain_age_ns;  /* parsed from retain_days */
};

/* Fills cfg from defaults, then the --config file, then the flags.  Returns
 * 0, 1 when --help was printed, or -1 after printing a one-line error. */
int daemon_config_load(struct daemon_config *cfg, int argc, char **argv);
void daemon_config_free(struct daemon_config *cfg);

#endif
